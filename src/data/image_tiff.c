/* TIFF decoding with libtiff: 8/16-bit unsigned or 32-bit float samples, any number of
 * samples per pixel, contiguous or planar, strips or tiles; the pages of a multi-page file
 * are stacked as channels. libtiff's messages go to per-call handlers (TIFFOpenExt), so
 * nothing is printed and threads do not share an error buffer. */
#include "data/image_internal.h"

#include <stdarg.h>
#include <string.h>
#include <tiffio.h>

typedef struct {
    char msg[256];
} tiff_err_ctx;

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    tiff_err_ctx *e = user;
    if (!e->msg[0]) { /* keep the first: later ones are consequences */
        int n = snprintf(e->msg, sizeof e->msg, "%s: ", module ? module : "libtiff");
        if (n < 0 || (size_t)n >= sizeof e->msg) n = 0;
        vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
    }
    return 1; /* handled: libtiff's global handler (stderr) is not called */
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

typedef struct {
    uint32_t w, h;
    uint16_t spp, bps, fmt, planar, photo;
    int keep;      /* samples kept (alpha of RGBA dropped) */
    int tiled;
} page_info;

static lf_status page_get(TIFF *tif, const char *path, int page, page_info *p)
{
    uint16_t extra_n = 0, *extra = NULL;
    memset(p, 0, sizeof *p);
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &p->w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &p->h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &p->spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &p->bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &p->fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &p->planar);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &p->photo))
        p->photo = p->spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &extra_n, &extra);
    p->tiled = TIFFIsTiled(tif);
    p->keep = p->spp;
    if (p->photo == PHOTOMETRIC_RGB && p->spp == 4 && extra_n == 1 &&
        (extra[0] == EXTRASAMPLE_ASSOCALPHA || extra[0] == EXTRASAMPLE_UNASSALPHA))
        p->keep = 3;
    if (p->w == 0 || p->h == 0 || p->spp == 0)
        return lf_error(LF_ERR_FORMAT, "%s: TIFF page %d has an empty size", path, page);
    int ok_fmt = (p->fmt == SAMPLEFORMAT_UINT && (p->bps == 8 || p->bps == 16)) ||
                 (p->fmt == SAMPLEFORMAT_IEEEFP && p->bps == 32);
    if (!ok_fmt)
        return lf_error(LF_ERR_UNSUPPORTED,
                        "%s: TIFF page %d: %u-bit samples of format %u (supported: 8/16-bit "
                        "unsigned, 32-bit float)", path, page, p->bps, p->fmt);
    if (p->photo != PHOTOMETRIC_MINISBLACK && p->photo != PHOTOMETRIC_MINISWHITE &&
        p->photo != PHOTOMETRIC_RGB)
        return lf_error(LF_ERR_UNSUPPORTED,
                        "%s: TIFF page %d: photometric interpretation %u (supported: "
                        "grayscale, RGB, multi-sample min-is-black)", path, page, p->photo);
    return LF_OK;
}

static inline float sample_at(const unsigned char *buf, size_t k, const page_info *p)
{
    float v;
    if (p->bps == 8) v = buf[k] / 255.0f;
    else if (p->bps == 16) v = ((const uint16_t *)buf)[k] / 65535.0f;
    else v = ((const float *)buf)[k];
    return p->photo == PHOTOMETRIC_MINISWHITE && p->bps != 32 ? 1.0f - v : v;
}

/* Reads one page into channels [c0, c0 + p->keep) of img. */
static lf_status page_read(TIFF *tif, const char *path, int page, const page_info *p,
                           lf_image *img, int c0, tiff_err_ctx *e)
{
    size_t plane = (size_t)p->h * p->w;
    int nsep = p->planar == PLANARCONFIG_SEPARATE ? p->spp : 1;
    int per = p->planar == PLANARCONFIG_SEPARATE ? 1 : p->spp; /* samples per buffer pixel */
    tmsize_t bsize = p->tiled ? TIFFTileSize(tif) : TIFFScanlineSize(tif);
    unsigned char *buf = bsize > 0 ? lf_malloc((size_t)bsize) : NULL;
    if (!buf) return bsize > 0 ? LF_ERR_NOMEM : lf_error(LF_ERR_FORMAT, "%s: bad TIFF", path);
    lf_status st = LF_OK;
    for (int s = 0; s < nsep && st == LF_OK; s++) {
        if (p->tiled) {
            uint32_t tw = 0, th = 0;
            TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
            TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
            for (uint32_t ty = 0; ty < p->h && st == LF_OK; ty += th) {
                for (uint32_t tx = 0; tx < p->w && st == LF_OK; tx += tw) {
                    if (TIFFReadTile(tif, buf, tx, ty, 0, (uint16_t)s) < 0) {
                        st = LF_ERR_FORMAT;
                        break;
                    }
                    for (uint32_t y = ty; y < ty + th && y < p->h; y++)
                        for (uint32_t x = tx; x < tx + tw && x < p->w; x++)
                            for (int k = 0; k < per; k++) {
                                int c = s + k;
                                if (c >= p->keep) continue;
                                size_t idx = ((size_t)(y - ty) * tw + (x - tx)) * per + k;
                                img->data[(size_t)(c0 + c) * plane + (size_t)y * p->w + x] =
                                    sample_at(buf, idx, p);
                            }
                }
            }
        } else {
            for (uint32_t y = 0; y < p->h; y++) {
                if (TIFFReadScanline(tif, buf, y, (uint16_t)s) < 0) {
                    st = LF_ERR_FORMAT;
                    break;
                }
                for (uint32_t x = 0; x < p->w; x++)
                    for (int k = 0; k < per; k++) {
                        int c = s + k;
                        if (c >= p->keep) continue;
                        img->data[(size_t)(c0 + c) * plane + (size_t)y * p->w + x] =
                            sample_at(buf, (size_t)x * per + k, p);
                    }
            }
        }
    }
    lf_free(buf);
    if (st != LF_OK)
        return lf_error(LF_ERR_FORMAT, "%s: unreadable TIFF data on page %d (truncated?): %s",
                        path, page, e->msg[0] ? e->msg : "read failed");
    return LF_OK;
}

lf_status lf_tiff_read(const char *path, lf_image *img)
{
    tiff_err_ctx e;
    e.msg[0] = 0;
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o) return lf_error(LF_ERR_NOMEM, "%s: libtiff options", path);
    TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, &e);
    TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, NULL);
    TIFF *tif = TIFFOpenExt(path, "r", o);
    TIFFOpenOptionsFree(o);
    if (!tif) return lf_error(LF_ERR_FORMAT, "%s: unreadable TIFF: %s", path, e.msg);
    /* pass 1: page geometry, all pages must agree */
    page_info first, p;
    memset(&first, 0, sizeof first);
    int pages = 0, channels = 0;
    lf_status st = LF_OK;
    do {
        if ((st = page_get(tif, path, pages, &p)) != LF_OK) break;
        if (pages == 0) first = p;
        else if (p.w != first.w || p.h != first.h || p.bps != first.bps || p.fmt != first.fmt) {
            st = lf_error(LF_ERR_FORMAT,
                          "%s: TIFF page %d is %ux%u %u-bit but page 0 is %ux%u %u-bit (pages "
                          "are read as channels and must match)", path, pages, p.w, p.h,
                          p.bps, first.w, first.h, first.bps);
            break;
        }
        channels += p.keep;
        pages++;
    } while (TIFFReadDirectory(tif));
    if (st == LF_OK && channels > LF_IMAGE_MAX_CHANNELS)
        st = lf_error(LF_ERR_UNSUPPORTED, "%s: %d channels (at most %d)", path, channels,
                      LF_IMAGE_MAX_CHANNELS);
    if (st == LF_OK) st = lf_image_alloc(img, channels, 1, (int)first.h, (int)first.w);
    /* pass 2: pixels */
    int c0 = 0;
    for (int k = 0; k < pages && st == LF_OK; k++) {
        if (!TIFFSetDirectory(tif, (tdir_t)k)) {
            st = lf_error(LF_ERR_FORMAT, "%s: cannot seek to TIFF page %d: %s", path, k, e.msg);
            break;
        }
        page_get(tif, path, k, &p);
        st = page_read(tif, path, k, &p, img, c0, &e);
        c0 += p.keep;
    }
    if (st == LF_OK) img->bit_depth = first.bps;
    TIFFClose(tif);
    return st;
}
