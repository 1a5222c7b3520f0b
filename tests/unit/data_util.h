/* Helpers for the data tests: a temporary folder and writers for each image format (the
 * tests write their own fixtures with libpng / libjpeg / libtiff, then decode them). */
#ifndef LF_TEST_DATA_UTIL_H
#define LF_TEST_DATA_UTIL_H

#include "labelfree.h"

#include <stdio.h>

#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

/* A fresh folder under /tmp (static buffer per call site: copy it if you need two). */
static inline const char *tdu_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/lf_data_test_XXXXXX");
    return mkdtemp(buf);
}

static inline void tdu_rm_rf(const char *dir)
{
    char cmd[600];
    if (strncmp(dir, "/tmp/lf_data_test_", 18)) return; /* never anything else */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) { /* nothing to do */ }
}

static inline int tdu_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* interleaved samples (H, W, C), bits 8 or 16 (native uint16), PNG colour type from c */
static inline int tdu_write_png(const char *path, int h, int w, int c, int bits, const void *px)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bits, types[c], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bits == 16) png_set_swap(png);
    size_t rowbytes = (size_t)w * c * (bits / 8);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)px + rowbytes * y);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return fclose(f);
}

static inline int tdu_write_jpeg(const char *path, int h, int w, int c, const uint8_t *px,
                                 int quality)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)y * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f);
}

/* One TIFF page per entry of `pages`; samples interleaved (H, W, spp) when planar = 0, else
 * plane by plane (spp, H, W). bits 8, 16 or 32 (float). tile > 0: tiles of that side. */
static inline int tdu_write_tiff(const char *path, int pages, int h, int w, int spp, int bits,
                                 int planar, int tile, const void *const *data)
{
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return -1;
    size_t bps = (size_t)bits / 8;
    for (int p = 0; p < pages; p++) {
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)h);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)spp);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)bits);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, bits == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, planar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
        if (spp > 1 && spp != 3) {
            uint16_t extra[64];
            for (int k = 0; k < spp - 1; k++) extra[k] = EXTRASAMPLE_UNSPECIFIED;
            TIFFSetField(t, TIFFTAG_EXTRASAMPLES, (uint16_t)(spp - 1), extra);
        }
        const unsigned char *d = data[p];
        if (tile > 0) {
            TIFFSetField(t, TIFFTAG_TILEWIDTH, (uint32_t)tile);
            TIFFSetField(t, TIFFTAG_TILELENGTH, (uint32_t)tile);
            int nsep = planar ? spp : 1, per = planar ? 1 : spp;
            unsigned char *buf = calloc((size_t)tile * tile * per, bps);
            for (int s = 0; s < nsep; s++)
                for (int ty = 0; ty < h; ty += tile)
                    for (int tx = 0; tx < w; tx += tile) {
                        memset(buf, 0, (size_t)tile * tile * per * bps);
                        for (int y = ty; y < ty + tile && y < h; y++)
                            for (int x = tx; x < tx + tile && x < w; x++)
                                for (int k = 0; k < per; k++) {
                                    size_t src = planar ? ((size_t)s * h + y) * w + x
                                                        : ((size_t)y * w + x) * spp + k;
                                    size_t dst = ((size_t)(y - ty) * tile + (x - tx)) * per + k;
                                    memcpy(buf + dst * bps, d + src * bps, bps);
                                }
                        TIFFWriteTile(t, buf, (uint32_t)tx, (uint32_t)ty, 0, (uint16_t)s);
                    }
            free(buf);
        } else {
            TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)4);
            if (planar) {
                for (int s = 0; s < spp; s++)
                    for (int y = 0; y < h; y++)
                        TIFFWriteScanline(t, (void *)(d + ((size_t)s * h + y) * w * bps),
                                          (uint32_t)y, (uint16_t)s);
            } else {
                for (int y = 0; y < h; y++)
                    TIFFWriteScanline(t, (void *)(d + (size_t)y * w * spp * bps), (uint32_t)y, 0);
            }
        }
        TIFFWriteDirectory(t);
    }
    TIFFClose(t);
    return 0;
}

/* .npy with descr ('|u1', '<u2', '<f4'), shape of nd dims, raw little-endian data */
static inline int tdu_write_npy(const char *path, const char *descr, int nd, const int64_t *shape,
                                const void *data, size_t bytes)
{
    char dict[256], sh[128] = "";
    for (int k = 0; k < nd; k++) {
        char t[32];
        snprintf(t, sizeof t, "%lld%s", (long long)shape[k], nd == 1 ? "," : k + 1 < nd ? ", " : "");
        strcat(sh, t);
    }
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     descr, sh);
    int total = 10 + n + 1, pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    int hl = n + pad + 1;
    pre[8] = (unsigned char)(hl & 255);
    pre[9] = (unsigned char)(hl >> 8);
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int k = 0; k < pad; k++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, bytes, f);
    return fclose(f);
}

/* Copies the first `keep` bytes of src into dst (a truncated file). */
static inline int tdu_truncate_copy(const char *src, const char *dst, double keep_frac)
{
    FILE *f = fopen(src, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    FILE *g = fopen(dst, "wb");
    if (!g) { free(b); return -1; }
    fwrite(b, 1, (size_t)((double)got * keep_frac), g);
    free(b);
    return fclose(g);
}

#endif
