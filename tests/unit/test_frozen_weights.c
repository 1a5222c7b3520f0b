/* lf_graph_set_frozen_weights: in inference the convolutions keep their weights' transformed
 * and packed forms between steps (src/core/weight_forms.c). Results stay the bits of a graph
 * without it on every path (Winograd F(4x4), F(2x2), 2x2 images' dual kind and the stride-2
 * kind, im2col, 1x1), forms are made only in eval mode with gradients off, new weight values
 * are noticed (fingerprint), and off frees them. */
#include "backend/cpu/gemm_avx512.h"
#include "core/internal.h"
#include "test.h"

#include <string.h>

typedef struct fw_case {
    int64_t n, ci, co, H, k, stride;
} fw_case;

/* y of conv(x, w) on g (reset first) into out */
static void conv_into(lf_graph *g, const fw_case *c, const lf_real *x, const lf_real *w,
                      lf_real *out, int64_t *ny)
{
    lf_graph_reset(g);
    const int64_t xs[4] = {c->n, c->ci, c->H, c->H}, ws[4] = {c->co, c->ci, c->k, c->k};
    lf_tensor *tx = lf_tensor_from(g, 4, xs, x), *tw = lf_tensor_from(g, 4, ws, w);
    const lf_conv_args a = lf_conv_args_make(2, (int)c->stride, (int)(c->k / 2), 1, 1);
    lf_tensor *y = lf_conv(g, tx, tw, NULL, a);
    CHECK_MSG(y != NULL, "%s", lf_last_error());
    *ny = y ? lf_numel(y) : 0;
    if (y) memcpy(out, y->data, (size_t)*ny * sizeof(lf_real));
}

TEST(frozen_weights_same_bits_and_refresh)
{
    const fw_case cases[] = {
        {4, 16, 24, 12, 3, 1}, /* Winograd F(4x4) (on AVX-512 machines) */
        {4, 32, 32, 2, 3, 1},  /* 2x2 images: the dual kind */
        {4, 32, 32, 1, 3, 1},  /* F(2x2): 1x1 images */
        {4, 8, 16, 15, 3, 2},  /* 3x3 stride 2: the stride-2 kind */
        {4, 8, 16, 15, 5, 2},  /* im2col */
        {4, 16, 32, 7, 1, 1},  /* 1x1 */
    };
    lf_graph *g, *ref;
    CHECK_OK(lf_graph_init(&g, 0));
    CHECK_OK(lf_graph_init(&ref, 0));
    const int threads = lf_get_threads();
    lf_set_threads(1); /* the batch-parallel path, where the AVX-512 kernels run */
    lf_rng r = lf_rng_make(4, 4);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const fw_case *c = &cases[i];
        const int64_t nx = c->n * c->ci * c->H * c->H, nw = c->co * c->ci * c->k * c->k;
        const int64_t ny_max = c->n * c->co * c->H * c->H;
        lf_real *x = lf_malloc((size_t)nx * sizeof(lf_real));
        lf_real *w = lf_malloc((size_t)nw * sizeof(lf_real));
        lf_real *a = lf_malloc((size_t)ny_max * sizeof(lf_real));
        lf_real *b = lf_malloc((size_t)ny_max * sizeof(lf_real));
        lf_rng_fill_uniform(&r, x, nx, -1, 1);
        lf_rng_fill_uniform(&r, w, nw, -1, 1);
        int64_t na, nb;
        /* training mode or gradients on: nothing kept */
        lf_graph_set_frozen_weights(g, 1);
        lf_graph_set_training(g, 1);
        conv_into(g, c, x, w, a, &na);
        CHECK(g->n_forms == 0);
        lf_graph_set_training(g, 0);
        lf_graph_set_grad_enabled(g, 0);
        lf_graph_set_training(ref, 0);
        lf_graph_set_grad_enabled(ref, 0);
        for (int step = 0; step < 3; step++) { /* step 1 and 2 reuse the kept forms */
            if (step == 2)
                for (int64_t k = 0; k < nw; k++) w[k] *= -0.5f; /* new values, same tensor */
            conv_into(g, c, x, w, a, &na);
            conv_into(ref, c, x, w, b, &nb);
            CHECK(na == nb);
            CHECK_MSG(!memcmp(a, b, (size_t)na * sizeof(lf_real)),
                      "case %zu step %d: frozen weights changed the result", i, step);
        }
        /* forms exist where the AVX-512 kernels run (BLAS packs its own, every call) */
        if (lf_gemm512_available()) CHECK_MSG(g->n_forms > 0, "case %zu: nothing kept", i);
        lf_graph_set_frozen_weights(g, 0);
        CHECK(g->n_forms == 0 && g->forms == NULL);
        lf_graph_set_grad_enabled(g, 1);
        lf_free(x), lf_free(w), lf_free(a), lf_free(b);
    }
    lf_set_threads(threads);
    lf_graph_free(g);
    lf_graph_free(ref);
}
