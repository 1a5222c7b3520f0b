/* Image decoding: each format is written here with its own library, then decoded and
 * compared value by value (exact for lossless formats). */
#include "data_util.h"
#include "test.h"

static float max_abs_diff_u16(const lf_image *im, const uint16_t *ref, int planar_ref, int c,
                              int h, int w)
{
    float m = 0;
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t r = planar_ref ? ((size_t)k * h + y) * w + x : ((size_t)y * w + x) * c + k;
                float d = fabsf(im->data[((size_t)k * h + y) * w + x] - ref[r] / 65535.0f);
                if (d > m) m = d;
            }
    return m;
}

TEST(data_png_roundtrip_8_16_bit)
{
    char dir[64], p[128];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    int h = 7, w = 9;
    lf_image im = {0};
    for (int c = 1; c <= 4; c++) {
        /* 8-bit */
        uint8_t px8[7 * 9 * 4];
        for (int i = 0; i < h * w * c; i++) px8[i] = (uint8_t)(i * 37 + c);
        snprintf(p, sizeof p, "%s/u8_c%d.png", dir, c);
        CHECK(tdu_write_png(p, h, w, c, 8, px8) == 0);
        CHECK_OK(lf_image_read(p, &im));
        int keep = c == 2 ? 1 : c == 4 ? 3 : c; /* alpha dropped */
        CHECK(im.c == keep && im.h == h && im.w == w && im.d == 1 && im.bit_depth == 8);
        int bad = 0;
        for (int k = 0; k < keep; k++)
            for (int i = 0; i < h * w; i++)
                bad += im.data[k * h * w + i] != px8[i * c + k] / 255.0f;
        CHECK_MSG(bad == 0, "png 8-bit c=%d: %d values differ", c, bad);
        /* 16-bit */
        uint16_t px16[7 * 9 * 4];
        for (int i = 0; i < h * w * c; i++) px16[i] = (uint16_t)(i * 7919 + 13 * c);
        snprintf(p, sizeof p, "%s/u16_c%d.png", dir, c);
        CHECK(tdu_write_png(p, h, w, c, 16, px16) == 0);
        CHECK_OK(lf_image_read(p, &im));
        CHECK(im.c == keep && im.bit_depth == 16);
        bad = 0;
        for (int k = 0; k < keep; k++)
            for (int i = 0; i < h * w; i++)
                bad += im.data[k * h * w + i] != px16[i * c + k] / 65535.0f;
        CHECK_MSG(bad == 0, "png 16-bit c=%d: %d values differ", c, bad);
    }
    lf_image_free(&im);
    tdu_rm_rf(dir);
}

TEST(data_tiff_16bit_5channel_exact)
{
    char dir[64], p[128];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    enum { H = 21, W = 19, C = 5 };
    static uint16_t inter[H * W * C], planar[C * H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < C; k++) {
                uint16_t v = (uint16_t)((y * 3001 + x * 677 + k * 12007) * 7 % 65536);
                inter[(y * W + x) * C + k] = v;
                planar[(k * H + y) * W + x] = v;
            }
    lf_image im = {0};
    struct { const char *name; int planar, tile; } cases[] = {
        {"contig", 0, 0}, {"planar", 1, 0}, {"contig_tiled", 0, 16}, {"planar_tiled", 1, 16}};
    for (int t = 0; t < 4; t++) {
        snprintf(p, sizeof p, "%s/%s.tif", dir, cases[t].name);
        const void *pages[1] = {cases[t].planar ? (const void *)planar : (const void *)inter};
        CHECK(tdu_write_tiff(p, 1, H, W, C, 16, cases[t].planar, cases[t].tile, pages) == 0);
        CHECK_OK(lf_image_read(p, &im));
        CHECK_MSG(im.c == C && im.h == H && im.w == W && im.bit_depth == 16, "%s: %dx%dx%d",
                  cases[t].name, im.c, im.h, im.w);
        if (im.c == C && im.h == H && im.w == W)
            CHECK_MSG(max_abs_diff_u16(&im, planar, 1, C, H, W) == 0, "%s differs", cases[t].name);
    }
    /* multi-page: five one-channel pages = five channels (one file per stain, stacked) */
    const void *pages[C];
    for (int k = 0; k < C; k++) pages[k] = planar + k * H * W;
    snprintf(p, sizeof p, "%s/pages.tif", dir);
    CHECK(tdu_write_tiff(p, C, H, W, 1, 16, 0, 0, pages) == 0);
    CHECK_OK(lf_image_read(p, &im));
    CHECK(im.c == C && im.h == H && im.w == W);
    if (im.c == C && im.h == H && im.w == W) CHECK(max_abs_diff_u16(&im, planar, 1, C, H, W) == 0);
    /* 8-bit RGB and 32-bit float gray */
    uint8_t rgb[H * W * 3];
    for (int i = 0; i < H * W * 3; i++) rgb[i] = (uint8_t)(i * 11);
    pages[0] = rgb;
    snprintf(p, sizeof p, "%s/rgb8.tif", dir);
    CHECK(tdu_write_tiff(p, 1, H, W, 3, 8, 0, 0, pages) == 0);
    CHECK_OK(lf_image_read(p, &im));
    CHECK(im.c == 3 && im.bit_depth == 8 && im.data[1 * H * W + 5] == rgb[5 * 3 + 1] / 255.0f);
    float fl[H * W];
    for (int i = 0; i < H * W; i++) fl[i] = (float)i * 0.25f - 3.0f;
    pages[0] = fl;
    snprintf(p, sizeof p, "%s/f32.tif", dir);
    CHECK(tdu_write_tiff(p, 1, H, W, 1, 32, 0, 0, pages) == 0);
    CHECK_OK(lf_image_read(p, &im));
    CHECK(im.c == 1 && im.bit_depth == 32 && im.data[100] == fl[100] && im.data[0] == -3.0f);
    lf_image_free(&im);
    tdu_rm_rf(dir);
}

TEST(data_jpeg_roundtrip)
{
    char dir[64], p[128];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    enum { H = 32, W = 40 };
    uint8_t px[H * W * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) { /* smooth content: JPEG at q=95 stays close */
            px[(y * W + x) * 3 + 0] = (uint8_t)(x * 6);
            px[(y * W + x) * 3 + 1] = (uint8_t)(y * 7);
            px[(y * W + x) * 3 + 2] = (uint8_t)(128 + (x - y));
        }
    snprintf(p, sizeof p, "%s/rgb.jpg", dir);
    CHECK(tdu_write_jpeg(p, H, W, 3, px, 95) == 0);
    lf_image im = {0};
    CHECK_OK(lf_image_read(p, &im));
    CHECK(im.c == 3 && im.h == H && im.w == W && im.bit_depth == 8);
    double md = 0;
    for (int k = 0; k < 3 && im.c == 3; k++)
        for (int i = 0; i < H * W; i++)
            md = fmax(md, fabs(im.data[k * H * W + i] - px[i * 3 + k] / 255.0));
    printf("    jpeg q95 max |decoded - original| = %.4f\n", md);
    CHECK(md < 0.05);
    /* gray */
    uint8_t g[H * W];
    for (int i = 0; i < H * W; i++) g[i] = (uint8_t)(i % W * 5);
    snprintf(p, sizeof p, "%s/gray.jpg", dir);
    CHECK(tdu_write_jpeg(p, H, W, 1, g, 95) == 0);
    CHECK_OK(lf_image_read(p, &im));
    CHECK(im.c == 1 && im.h == H);
    lf_image_free(&im);
    tdu_rm_rf(dir);
}

TEST(data_npy_layouts)
{
    char dir[64], p[128];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    lf_image im = {0};
    /* (C, H, W) uint16 */
    uint16_t a[2 * 6 * 5];
    for (int i = 0; i < 60; i++) a[i] = (uint16_t)(i * 1000);
    snprintf(p, sizeof p, "%s/chw.npy", dir);
    CHECK(tdu_write_npy(p, "<u2", 3, (int64_t[]){2, 6, 5}, a, sizeof a) == 0);
    CHECK_OK(lf_image_read(p, &im));
    CHECK(im.c == 2 && im.h == 6 && im.w == 5 && im.bit_depth == 16);
    CHECK(im.data[37] == a[37] / 65535.0f);
    /* (H, W, C) uint8: last dim <= 4, first > 4 */
    uint8_t b[6 * 5 * 3];
    for (int i = 0; i < 90; i++) b[i] = (uint8_t)(i * 2);
    snprintf(p, sizeof p, "%s/hwc.npy", dir);
    CHECK(tdu_write_npy(p, "|u1", 3, (int64_t[]){6, 5, 3}, b, sizeof b) == 0);
    CHECK_OK(lf_image_read(p, &im));
    CHECK(im.c == 3 && im.h == 6 && im.w == 5);
    /* pixel (y=4, x=2) channel 1 */
    CHECK(im.data[1 * 30 + 4 * 5 + 2] == b[(4 * 5 + 2) * 3 + 1] / 255.0f);
    /* (H, W) float32, kept as is */
    float f[4 * 7];
    for (int i = 0; i < 28; i++) f[i] = (float)i - 10.5f;
    snprintf(p, sizeof p, "%s/hw.npy", dir);
    CHECK(tdu_write_npy(p, "<f4", 2, (int64_t[]){4, 7}, f, sizeof f) == 0);
    CHECK_OK(lf_image_read(p, &im));
    CHECK(im.c == 1 && im.h == 4 && im.w == 7 && im.data[27] == 16.5f && im.bit_depth == 32);
    /* unsupported dtype names the file */
    snprintf(p, sizeof p, "%s/i8.npy", dir);
    CHECK(tdu_write_npy(p, "<i8", 2, (int64_t[]){2, 2}, f, 32) == 0);
    CHECK(lf_image_read(p, &im) == LF_ERR_UNSUPPORTED && strstr(lf_last_error(), "i8.npy"));
    lf_image_free(&im);
    tdu_rm_rf(dir);
}

TEST(data_bad_images_name_the_file)
{
    char dir[64], p[128], q[160];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    lf_image im = {0};
    uint8_t px[64 * 64 * 3];
    for (int i = 0; i < 64 * 64 * 3; i++) px[i] = (uint8_t)(i * 131 % 251);
    const char *kinds[] = {"png", "jpg", "tif", "npy"};
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/full.%s", dir, kinds[k]);
        const void *pg[1] = {px};
        if (k == 0) tdu_write_png(p, 64, 64, 3, 8, px);
        if (k == 1) tdu_write_jpeg(p, 64, 64, 3, px, 90);
        if (k == 2) tdu_write_tiff(p, 1, 64, 64, 3, 8, 0, 0, pg);
        if (k == 3) tdu_write_npy(p, "|u1", 3, (int64_t[]){64, 64, 3}, px, sizeof px);
        CHECK_OK(lf_image_read(p, &im));
        snprintf(q, sizeof q, "%s/cut_%s.%s", dir, kinds[k], kinds[k]);
        CHECK(tdu_truncate_copy(p, q, 0.6) == 0);
        lf_status s = lf_image_read(q, &im);
        CHECK_MSG(s != LF_OK && strstr(lf_last_error(), q), "truncated %s: %s -> %s", kinds[k],
                  lf_status_name(s), lf_last_error());
    }
    snprintf(p, sizeof p, "%s/text.png", dir);
    tdu_write_text(p, "this is not an image");
    CHECK(lf_image_read(p, &im) == LF_ERR_FORMAT && strstr(lf_last_error(), "text.png"));
    snprintf(p, sizeof p, "%s/missing.png", dir);
    CHECK(lf_image_read(p, &im) == LF_ERR_IO && strstr(lf_last_error(), "missing.png"));
    lf_image_free(&im);
    tdu_rm_rf(dir);
}
