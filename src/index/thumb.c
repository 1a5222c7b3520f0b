/* Browser-viewable thumbnails of microscopy images: 8-bit PNG through libpng. */
#include "index_internal.h"
#include "io/io_internal.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

lf_status lf_thumbnail_png(const char *src_path, const char *dst_path, int max_side)
{
    if (!src_path || !dst_path || max_side < 8 || max_side > 4096)
        return lf_error(LF_ERR_ARG, "thumbnail: bad arguments (max_side %d: 8..4096)", max_side);
    lf_image img = {0}, one = {0}, small = {0};
    lf_status st = lf_image_read(src_path, &img);
    if (st) return st;
    int c = img.c >= 3 ? 3 : 1; /* RGB from the first three channels, else channel 0 */
    int h = img.h, w = img.w;
    float scale = (float)max_side / (float)(h > w ? h : w);
    if (scale > 1) scale = 1;
    int th = (int)(h * scale + 0.5f), tw = (int)(w * scale + 0.5f);
    if (th < 1) th = 1;
    if (tw < 1) tw = 1;
    unsigned char *px = NULL;
    float *sorted = NULL;
    st = lf_image_alloc(&one, c, 1, h, w);
    if (!st) st = lf_image_alloc(&small, c, 1, th, tw);
    if (st) goto done;
    size_t plane = (size_t)h * (size_t)w;
    int mid = img.d / 2;
    for (int ch = 0; ch < c; ch++)
        memcpy(one.data + ch * plane, img.data + ((size_t)ch * img.d + mid) * plane, sizeof(float) * plane);
    st = lf_image_resize_region(&one, 0, 0, h, w, &small);
    if (st) goto done;
    size_t tn = (size_t)th * tw * c;
    sorted = lf_malloc(sizeof(float) * tn);
    px = lf_malloc(tn);
    if (!sorted || !px) { st = lf_error(LF_ERR_NOMEM, "thumbnail of %s", src_path); goto done; }
    memcpy(sorted, small.data, sizeof(float) * tn);
    qsort(sorted, tn, sizeof(float), cmp_float);
    float lo = sorted[(size_t)(0.005 * (double)(tn - 1))], hi = sorted[(size_t)(0.995 * (double)(tn - 1))];
    if (!(hi > lo)) { lo = sorted[0]; hi = sorted[tn - 1]; }
    float span = hi > lo ? hi - lo : 1;
    size_t tplane = (size_t)th * tw;
    for (size_t p = 0; p < tplane; p++)
        for (int ch = 0; ch < c; ch++) {
            float v = (small.data[ch * tplane + p] - lo) / span * 255.0f + 0.5f;
            px[p * c + ch] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    lf_atomic_file a;
    st = lf_atomic_begin(&a, dst_path);
    if (st) goto done;
    png_structp pp = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = pp ? png_create_info_struct(pp) : NULL;
    if (!pp || !info || setjmp(png_jmpbuf(pp))) {
        png_destroy_write_struct(&pp, &info);
        lf_atomic_abort(&a);
        st = lf_error(LF_ERR_IO, "%s: PNG encoding failed", dst_path);
        goto done;
    }
    png_init_io(pp, a.fp);
    png_set_IHDR(pp, info, (png_uint_32)tw, (png_uint_32)th, 8, c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(pp, info);
    for (int y = 0; y < th; y++) png_write_row(pp, px + (size_t)y * tw * c);
    png_write_end(pp, NULL);
    png_destroy_write_struct(&pp, &info);
    st = lf_atomic_commit(&a);
done:
    lf_free(sorted);
    lf_free(px);
    lf_image_free(&img);
    lf_image_free(&one);
    lf_image_free(&small);
    return st;
}
