/* lf_image: allocation, format dispatch by magic bytes, bilinear resampling. */
#include "data/image_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

lf_status lf_image_alloc(lf_image *img, int c, int d, int h, int w)
{
    if (!img || c < 1 || d < 1 || h < 1 || w < 1)
        return lf_error(LF_ERR_ARG, "lf_image_alloc: bad size %dx%dx%dx%d", c, d, h, w);
    size_t n = (size_t)c * (size_t)d * (size_t)h * (size_t)w;
    if (n > img->cap) {
        float *p = lf_realloc(img->data, n * sizeof(float));
        if (!p) return LF_ERR_NOMEM;
        img->data = p;
        img->cap = n;
    }
    img->c = c;
    img->d = d;
    img->h = h;
    img->w = w;
    return LF_OK;
}

void lf_image_free(lf_image *img)
{
    if (!img) return;
    lf_free(img->data);
    memset(img, 0, sizeof *img);
}

lf_status lf_image_read(const char *path, lf_image *img)
{
    if (!path || !img) return lf_error(LF_ERR_ARG, "lf_image_read: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return lf_error(LF_ERR_IO, "%s: cannot open image: %s", path, strerror(errno));
    unsigned char m[8] = {0};
    size_t got = fread(m, 1, sizeof m, f);
    rewind(f);
    lf_status s;
    if (got >= 8 && !memcmp(m, "\x89PNG\r\n\x1a\n", 8)) {
        s = lf_png_read(f, path, img);
    } else if (got >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) {
        s = lf_jpeg_read(f, path, img);
    } else if (got >= 4 && (!memcmp(m, "II*\0", 4) || !memcmp(m, "MM\0*", 4) ||
                            !memcmp(m, "II+\0", 4) || !memcmp(m, "MM\0+", 4))) {
        fclose(f);
        f = NULL;
        s = lf_tiff_read(path, img); /* libtiff opens the file itself */
    } else if (got >= 6 && !memcmp(m, "\x93NUMPY", 6)) {
        s = lf_npy_read(f, path, img);
    } else {
        const char *ext = strrchr(path, '.');
        s = lf_error(LF_ERR_FORMAT,
                     "%s: %s (expected PNG, JPEG, TIFF or .npy; extension '%s')", path,
                     got == 0 ? "empty file" : "not a recognised image format",
                     ext ? ext : "");
    }
    if (f) fclose(f);
    return s;
}

/* Source coordinate of output pixel i when n_out pixels cover [start, start + len) of the
 * source: pixel centres, as align_corners = false. */
static inline void bilinear_tap(double start, double len, int n_out, int n_src, int i,
                                int *i0, int *i1, float *t)
{
    double x = start + (i + 0.5) * len / n_out - 0.5;
    if (x < 0) x = 0;
    if (x > n_src - 1) x = n_src - 1;
    int a = (int)floor(x);
    int b = a + 1 < n_src ? a + 1 : a;
    *i0 = a;
    *i1 = b;
    *t = (float)(x - a);
}

lf_status lf_image_resize_region(const lf_image *src, double y0, double x0, double hh,
                                 double ww, lf_image *dst)
{
    if (!src || !dst || !src->data || !dst->data || dst->c != src->c || hh <= 0 || ww <= 0)
        return lf_error(LF_ERR_ARG, "lf_image_resize_region: bad arguments");
    if (src->d != 1 || dst->d != 1)
        return lf_error(LF_ERR_UNSUPPORTED, "lf_image_resize_region: 2-D images only");
    int H = src->h, W = src->w, h = dst->h, w = dst->w;
    /* Precomputed horizontal taps; w is small (an output side), so a stack array is fine. */
    enum { MAXW = 4096 };
    if (w > MAXW) return lf_error(LF_ERR_UNSUPPORTED, "resize: output width %d > %d", w, MAXW);
    int xa[MAXW], xb[MAXW];
    float xt[MAXW];
    for (int j = 0; j < w; j++) bilinear_tap(x0, ww, w, W, j, &xa[j], &xb[j], &xt[j]);
    for (int c = 0; c < src->c; c++) {
        const float *s = src->data + (size_t)c * H * W;
        float *o = dst->data + (size_t)c * h * w;
        for (int i = 0; i < h; i++) {
            int ya, yb;
            float yt;
            bilinear_tap(y0, hh, h, H, i, &ya, &yb, &yt);
            const float *r0 = s + (size_t)ya * W, *r1 = s + (size_t)yb * W;
            float *orow = o + (size_t)i * w;
            for (int j = 0; j < w; j++) {
                float top = r0[xa[j]] + (r0[xb[j]] - r0[xa[j]]) * xt[j];
                float bot = r1[xa[j]] + (r1[xb[j]] - r1[xa[j]]) * xt[j];
                orow[j] = top + (bot - top) * yt;
            }
        }
    }
    return LF_OK;
}
