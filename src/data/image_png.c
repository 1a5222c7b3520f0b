/* PNG decoding with libpng: any bit depth / colour type -> float planar in [0, 1].
 * libpng reports errors by longjmp; the error callback keeps the message for lf_error. */
#include "data/image_internal.h"

#include <png.h>
#include <setjmp.h>
#include <string.h>

typedef struct {
    jmp_buf jmp;
    char msg[256];
} png_err_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_err_ctx *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (e.g. unknown chunks) do not make an image unreadable */
}

lf_status lf_png_read(FILE *f, const char *path, lf_image *img)
{
    png_err_ctx e;
    e.msg[0] = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &e, on_error, on_warning);
    if (!png) return lf_error(LF_ERR_NOMEM, "%s: libpng init failed", path);
    png_infop info = png_create_info_struct(png);
    /* volatile: modified after setjmp and read after a longjmp */
    unsigned char *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return lf_error(LF_ERR_NOMEM, "%s: libpng init failed", path);
    }
    if (setjmp(e.jmp)) {
        png_destroy_read_struct(&png, &info, NULL);
        lf_free(buf);
        lf_free(rows);
        return lf_error(LF_ERR_FORMAT, "%s: unreadable PNG: %s", path, e.msg);
    }
    png_init_io(png, f);
    png_read_info(png, info);
    int bits = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && bits < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (bits == 16) png_set_swap(png); /* PNG is big-endian; read native uint16 */
    if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
    int ch = png_get_channels(png, info), obits = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    buf = lf_malloc(rowbytes * (size_t)h);
    rows = lf_malloc(sizeof(png_bytep) * (size_t)h);
    if (!buf || !rows) png_error(png, "out of memory");
    for (int y = 0; y < h; y++) rows[y] = buf + rowbytes * (size_t)y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (lf_image_alloc(img, ch, 1, h, w) != LF_OK) png_error(png, "out of memory");
    img->bit_depth = obits;
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < ch; c++) {
                size_t k = (size_t)x * ch + c;
                float v = obits == 16 ? ((const uint16_t *)rows[y])[k] / 65535.0f
                                      : rows[y][k] / 255.0f;
                img->data[c * plane + (size_t)y * w + x] = v;
            }
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    lf_free(buf);
    lf_free(rows);
    return LF_OK;
}
