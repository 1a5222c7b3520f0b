/* The forward product's columns written straight in the gemm's packed layout
 * (src/backend/cpu/conv_im2col_packed.c) against lf_conv_im2col + the gemm's own packing:
 * the same values in the same places, so the same bits, for strides, dilations, paddings
 * wider than half the kernel, rectangular kernels, rows of 8 outputs and rows that cross
 * panels, and the gathers' geometries (rows of fewer than 8 outputs, 1x1 stride 2 among
 * them); on one thread and two (the batch-parallel path takes the AVX-512 kernels). The
 * values themselves are checked against naive loops by test_conv.c. */
#include "backend/cpu/conv_cpu.h"
#include "backend/cpu/gemm_avx512.h"
#include "core/internal.h"
#include "test.h"

#include <string.h>

typedef struct ip_case {
    int64_t n, ci, co, H, W;
    int kh, kw, stride, pad, dil;
} ip_case;

/* conv(x, w) with the packed columns on or off; y's values into out (n values) */
static int64_t run(lf_graph *g, const ip_case *c, const lf_real *x, const lf_real *w,
                   int packed, lf_real *out)
{
    lf_graph_reset(g);
    lf_conv_im2col_packed_force(packed);
    const int64_t xs[4] = {c->n, c->ci, c->H, c->W}, ws[4] = {c->co, c->ci, c->kh, c->kw};
    lf_tensor *tx = lf_tensor_from(g, 4, xs, x), *tw = lf_tensor_from(g, 4, ws, w);
    lf_conv_args a = lf_conv_args_make(2, c->stride, c->pad, c->dil, 1);
    lf_tensor *y = lf_conv(g, tx, tw, NULL, a);
    lf_conv_im2col_packed_force(1);
    CHECK_MSG(y != NULL, "%s", lf_last_error());
    if (!y) return 0;
    memcpy(out, y->data, (size_t)lf_numel(y) * sizeof(lf_real));
    return lf_numel(y);
}

TEST(im2col_packed_same_bits_as_rows)
{
    if (!lf_gemm512_available()) {
        lf_test_skip("no AVX-512 gemm on this machine (or LF_GEMM=blas): the path is not used");
        return;
    }
    const ip_case cases[] = {
        {8, 3, 64, 64, 64, 7, 7, 2, 3, 1},   /* an ImageNet stem */
        {6, 3, 8, 20, 75, 7, 7, 2, 3, 1},    /* wide rows: pieces across panels */
        {8, 16, 24, 16, 16, 3, 3, 2, 1, 1},  /* a ResNet stage's first convolution */
        {8, 32, 16, 17, 17, 3, 3, 2, 1, 1},  /* rows of 9 outputs: pieces off the rows */
        {6, 8, 12, 13, 30, 3, 3, 3, 2, 3},   /* stride 3, dilation 3 */
        {6, 4, 8, 10, 10, 5, 5, 1, 2, 1},    /* 5x5 stride 1 */
        {6, 5, 7, 9, 11, 2, 5, 1, 2, 1},     /* rectangular kernel */
        {6, 3, 5, 8, 8, 3, 3, 1, 3, 2},      /* padding wider than the kernel's reach */
        {6, 70, 9, 16, 16, 3, 3, 2, 1, 1},   /* K = 630: several of the gemm's k blocks */
        {6, 4, 6, 7, 8, 3, 1, 1, 1, 1},      /* a 3x1 kernel */
        /* gathers (rows under 8 outputs) */
        {8, 40, 24, 8, 8, 3, 3, 2, 1, 1},    /* 8x8 -> 4x4, a late stage's first */
        {20, 24, 16, 4, 4, 3, 3, 2, 1, 1},   /* 4x4 -> 2x2: 80 columns, a partial panel */
        {5, 30, 8, 4, 4, 3, 3, 2, 1, 1},     /* K = 270 over two k blocks */
        {8, 16, 24, 8, 8, 1, 1, 2, 0, 1},    /* 1x1 stride-2 downsampling */
        {7, 12, 10, 7, 9, 1, 1, 2, 0, 1},    /* the same, odd sizes */
        {6, 5, 7, 6, 6, 3, 3, 1, 0, 1},      /* 3x3 unpadded, 4x4 outputs */
        {6, 3, 5, 7, 7, 3, 3, 1, 2, 2},      /* dilation 2, 7x7 outputs */
    };
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_graph_set_training(g, 0);
    lf_graph_set_grad_enabled(g, 0);
    lf_rng r = lf_rng_make(17, 5);
    const int threads = lf_get_threads();
    for (int T = 1; T <= 2; T++) {
        lf_set_threads(T);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const ip_case *c = &cases[i];
            const int64_t nx = c->n * c->ci * c->H * c->W, nw = c->co * c->ci * c->kh * c->kw;
            const int64_t ny = c->n * c->co * (c->H + 2 * c->pad) * (c->W + 2 * c->pad);
            lf_real *x = lf_malloc((size_t)nx * sizeof(lf_real));
            lf_real *w = lf_malloc((size_t)nw * sizeof(lf_real));
            lf_real *a = lf_malloc((size_t)ny * sizeof(lf_real));
            lf_real *b = lf_malloc((size_t)ny * sizeof(lf_real));
            lf_rng_fill_uniform(&r, x, nx, -1, 1);
            lf_rng_fill_uniform(&r, w, nw, -1, 1);
            const int64_t na = run(g, c, x, w, 1, a), nb = run(g, c, x, w, 0, b);
            int64_t bad = 0;
            for (int64_t k = 0; k < na && na == nb; k++)
                bad += memcmp(&a[k], &b[k], sizeof *a) != 0;
            CHECK_MSG(na > 0 && na == nb && bad == 0, "case %zu (%lld -> %lld, %lldx%lld, "
                      "%dx%d, stride %d, pad %d, dilation %d), %d threads: %lld of %lld values "
                      "differ", i, (long long)c->ci, (long long)c->co, (long long)c->H,
                      (long long)c->W, c->kh, c->kw, c->stride, c->pad, c->dil, T,
                      (long long)bad, (long long)na);
            lf_free(x), lf_free(w), lf_free(a), lf_free(b);
        }
    }
    lf_set_threads(threads);
    lf_graph_free(g);
}

/* A 3-D convolution of depth 1 padded in depth (stride 3 there): its one output depth lies
 * on the padding, so every output is 0. The 2-D column paths (this one and lf_conv_im2col)
 * once took it as a 2-D convolution and ignored the depth padding. One thread: the AVX-512
 * path, where the packed columns would be taken. */
TEST(im2col_paths_respect_depth_padding)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_graph_set_training(g, 0);
    lf_graph_set_grad_enabled(g, 0);
    const int threads = lf_get_threads();
    lf_rng r = lf_rng_make(3, 9);
    for (int T = 1; T <= 2; T++) {
        lf_set_threads(T);
        lf_graph_reset(g);
        const int64_t xs[5] = {3, 2, 1, 9, 10}, ws[5] = {4, 2, 1, 3, 3};
        lf_tensor *x = lf_tensor_new(g, 5, xs), *w = lf_tensor_new(g, 5, ws);
        lf_rng_fill_uniform(&r, x->data, lf_numel(x), 0.5, 1);
        lf_rng_fill_uniform(&r, w->data, lf_numel(w), 0.5, 1);
        lf_conv_args a = lf_conv_args_make(3, 1, 1, 1, 1);
        a.stride[0] = 3;
        lf_tensor *y = lf_conv(g, x, w, NULL, a);
        CHECK_MSG(y != NULL, "%s", lf_last_error());
        if (!y) continue;
        CHECK(y->shape[2] == 1 && y->shape[3] == 9 && y->shape[4] == 10);
        int64_t nonzero = 0;
        for (int64_t i = 0; i < lf_numel(y); i++) nonzero += y->data[i] != 0;
        CHECK_MSG(nonzero == 0, "%d threads: %lld of %lld outputs are not 0", T,
                  (long long)nonzero, (long long)lf_numel(y));
    }
    lf_set_threads(threads);
    lf_graph_free(g);
}
