/* JPEG decoding with libjpeg(-turbo). libjpeg's default error handler calls exit(); ours
 * longjmps back. A truncated file is only a *warning* for libjpeg (it pads with grey), so
 * that warning is turned into an error here. */
#include "data/image_internal.h"

#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <string.h>

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
} jpeg_err_ctx;

static void on_error_exit(j_common_ptr cinfo)
{
    jpeg_err_ctx *e = (jpeg_err_ctx *)cinfo->err;
    e->mgr.format_message(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

static void on_message(j_common_ptr cinfo, int level)
{
    jpeg_err_ctx *e = (jpeg_err_ctx *)cinfo->err;
    if (level < 0 && e->mgr.msg_code == JWRN_JPEG_EOF) {
        e->truncated = 1;
        e->mgr.format_message(cinfo, e->msg);
    }
}

lf_status lf_jpeg_read(FILE *f, const char *path, lf_image *img)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err_ctx e;
    memset(&e, 0, sizeof e);
    cinfo.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = on_error_exit;
    e.mgr.emit_message = on_message;
    unsigned char *volatile row = NULL;
    if (setjmp(e.jmp)) {
        jpeg_destroy_decompress(&cinfo);
        lf_free(row);
        return lf_error(LF_ERR_FORMAT, "%s: unreadable JPEG: %s", path, e.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    int ch = cinfo.output_components;
    if (lf_image_alloc(img, ch, 1, h, w) != LF_OK) {
        jpeg_destroy_decompress(&cinfo);
        return LF_ERR_NOMEM;
    }
    img->bit_depth = 8;
    row = lf_malloc((size_t)w * ch);
    if (!row) {
        jpeg_destroy_decompress(&cinfo);
        return LF_ERR_NOMEM;
    }
    size_t plane = (size_t)h * w;
    while (cinfo.output_scanline < cinfo.output_height && !e.truncated) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rp = row;
        jpeg_read_scanlines(&cinfo, &rp, 1);
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                img->data[c * plane + (size_t)y * w + x] = row[x * ch + c] / 255.0f;
    }
    if (!e.truncated) jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    lf_free(row);
    if (e.truncated)
        return lf_error(LF_ERR_FORMAT, "%s: truncated JPEG (%s)", path, e.msg);
    return LF_OK;
}
