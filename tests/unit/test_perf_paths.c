/* The speed/memory paths give the same numbers as the plain ones: fused batch norm + add +
 * relu against the three separate ops (bit for bit), and a training step with gradient
 * recycling (retain_grads off) against one that keeps every gradient. */
#include "test.h"

#include "../../src/core/internal.h"

#include <string.h>

TEST(perf_fused_bn_add_relu_matches_separate_ops)
{
    const int64_t sh[4] = {4, 6, 5, 7};
    const int64_t n = 4 * 6 * 5 * 7;
    for (int training = 0; training < 2; training++)
        for (int variant = 0; variant < 3; variant++) { /* relu only, add only, add + relu */
            int use_res = variant >= 1, relu = variant != 1;
            lf_real *out[2], *gx[2], *gr[2], *gw[2], *gb[2], *rm[2];
            for (int fused = 0; fused < 2; fused++) {
                lf_graph *g;
                CHECK_OK(lf_graph_init(&g, 0));
                lf_graph_set_training(g, training);
                lf_rng r = lf_rng_make(3, 9);
                lf_tensor *x = lf_tensor_new(g, 4, sh), *res = lf_tensor_new(g, 4, sh);
                lf_tensor *w = lf_tensor_new(g, 1, (int64_t[]){6});
                lf_tensor *b = lf_tensor_new(g, 1, (int64_t[]){6});
                lf_tensor *mean = lf_tensor_zeros(g, 1, (int64_t[]){6});
                lf_tensor *var = lf_tensor_new(g, 1, (int64_t[]){6});
                lf_rng_fill_normal(&r, x->data, n, 0.3, 1.5);
                lf_rng_fill_normal(&r, res->data, n, 0, 1);
                lf_rng_fill_uniform(&r, w->data, 6, 0.5, 1.5);
                lf_rng_fill_uniform(&r, b->data, 6, -0.5, 0.5);
                lf_rng_fill_uniform(&r, var->data, 6, 0.5, 2);
                x->flags = w->flags = b->flags = res->flags = LF_TENSOR_REQUIRES_GRAD;
                lf_tensor *y;
                if (fused) {
                    y = lf_batch_norm_add_relu(g, x, w, b, mean, var, 0.1, 1e-5,
                                               use_res ? res : NULL, relu);
                } else {
                    y = lf_batch_norm(g, x, w, b, mean, var, 0.1, 1e-5);
                    if (use_res) y = lf_add(g, y, res);
                    if (relu) y = lf_relu(g, y);
                }
                CHECK(y != NULL);
                lf_real *seed = lf_malloc((size_t)n * sizeof(lf_real));
                lf_rng_fill_normal(&r, seed, n, 0, 1);
                if (y) CHECK_OK(lf_backward_with(g, y, seed));
                out[fused] = lf_malloc((size_t)n * sizeof(lf_real));
                gx[fused] = lf_malloc((size_t)n * sizeof(lf_real));
                gr[fused] = lf_calloc((size_t)n, sizeof(lf_real));
                gw[fused] = lf_malloc(6 * sizeof(lf_real));
                gb[fused] = lf_malloc(6 * sizeof(lf_real));
                rm[fused] = lf_malloc(6 * sizeof(lf_real));
                memcpy(out[fused], y->data, (size_t)n * sizeof(lf_real));
                memcpy(gx[fused], x->grad, (size_t)n * sizeof(lf_real));
                if (use_res) memcpy(gr[fused], res->grad, (size_t)n * sizeof(lf_real));
                memcpy(gw[fused], w->grad, 6 * sizeof(lf_real));
                memcpy(gb[fused], b->grad, 6 * sizeof(lf_real));
                memcpy(rm[fused], mean->data, 6 * sizeof(lf_real));
                lf_free(seed);
                lf_graph_free(g);
            }
            CHECK_MSG(memcmp(out[0], out[1], (size_t)n * sizeof(lf_real)) == 0,
                      "forward differs (training %d, variant %d)", training, variant);
            CHECK_MSG(memcmp(gx[0], gx[1], (size_t)n * sizeof(lf_real)) == 0,
                      "dx differs (training %d, variant %d)", training, variant);
            CHECK_MSG(memcmp(gr[0], gr[1], (size_t)n * sizeof(lf_real)) == 0,
                      "dres differs (training %d, variant %d)", training, variant);
            CHECK(memcmp(gw[0], gw[1], 6 * sizeof(lf_real)) == 0);
            CHECK(memcmp(gb[0], gb[1], 6 * sizeof(lf_real)) == 0);
            CHECK(memcmp(rm[0], rm[1], 6 * sizeof(lf_real)) == 0);
            for (int k = 0; k < 2; k++) {
                lf_free(out[k]);
                lf_free(gx[k]);
                lf_free(gr[k]);
                lf_free(gw[k]);
                lf_free(gb[k]);
                lf_free(rm[k]);
            }
        }
}

/* Two identical ResNet-18 steps (width 8, 16x16): parameter gradients equal bit for bit with
 * and without gradient recycling; recycling uses less arena and drops the intermediates'. */
TEST(perf_retain_grads_off_same_gradients_less_memory)
{
    lf_real *grads[2];
    size_t arena[2];
    int64_t ng = 0;
    for (int retain = 0; retain < 2; retain++) {
        lf_params *P;
        CHECK_OK(lf_params_init(&P));
        lf_encoder_config c = lf_encoder_config_default("resnet18");
        snprintf(c.stem, sizeof c.stem, "cifar");
        c.width = 8;
        c.num_classes = 0;
        lf_encoder *e;
        CHECK_OK(lf_encoder_init(P, &c, NULL, &e));
        CHECK_OK(lf_params_finalize(P));
        CHECK_OK(lf_encoder_reset_parameters(e, 5, 0));
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 1 << 16));
        lf_graph_set_retain_grads(g, retain);
        lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){4, 3, 16, 16});
        lf_rng r = lf_rng_make(1, 2);
        lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
        lf_tensor *f = lf_encoder_forward(g, e, x);
        lf_tensor *loss = lf_mean_all(g, lf_mul(g, f, f));
        CHECK(loss != NULL);
        if (loss) CHECK_OK(lf_backward(g, loss));
        CHECK(retain ? f->grad != NULL : f->grad == NULL);
        lf_real *gb = lf_params_grad_block(P, &ng);
        grads[retain] = lf_malloc((size_t)ng * sizeof(lf_real));
        memcpy(grads[retain], gb, (size_t)ng * sizeof(lf_real));
        arena[retain] = g->arena.peak_all; /* the step's high-water mark */
        lf_graph_free(g);
        lf_encoder_free(e);
        lf_params_free(P);
    }
    CHECK(memcmp(grads[0], grads[1], (size_t)ng * sizeof(lf_real)) == 0);
    CHECK_MSG(arena[0] < arena[1], "arena high-water mark with recycling %zu, without %zu",
              arena[0], arena[1]);
    lf_free(grads[0]);
    lf_free(grads[1]);
}
