/* Core: errors, rng, arena (no malloc per step), params, views, matmul/linear gradients. */
#include "core/internal.h"
#include "gradcheck.h"
#include "test.h"

#include <string.h>

TEST(philox_known_answer)
{
    /* Random123 known-answer test vector for philox4x32-10, counter = key = 0 */
    uint32_t out[4];
    lf_philox4x32(0, 0, 0, out);
    CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
          out[3] == 0x9b00dbd8u);
}

TEST(rng_reproducible_and_uniform)
{
    lf_rng a = lf_rng_make(42, 1), b = lf_rng_make(42, 1), c = lf_rng_make(42, 2);
    int same = 1, diff = 0;
    double mean = 0;
    for (int i = 0; i < 10000; i++) {
        uint32_t x = lf_rng_u32(&a), y = lf_rng_u32(&b), z = lf_rng_u32(&c);
        same &= x == y;
        diff += x != z;
    }
    CHECK(same);
    CHECK(diff > 9990);
    lf_rng u = lf_rng_make(7, 0);
    for (int i = 0; i < 100000; i++) mean += lf_rng_uniform(&u);
    CHECK_NEAR(mean / 100000, 0.5, 0.01);
    double m = 0, v = 0;
    for (int i = 0; i < 100000; i++) {
        double x = lf_rng_normal(&u);
        m += x;
        v += x * x;
    }
    CHECK_NEAR(m / 100000, 0, 0.02);
    CHECK_NEAR(v / 100000, 1, 0.02);
}

TEST(error_slot_and_shapes)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *a = lf_tensor_zeros(g, 2, (int64_t[]){2, 3});
    lf_tensor *b = lf_tensor_zeros(g, 2, (int64_t[]){4, 5});
    CHECK(lf_matmul(g, a, b) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(strstr(lf_last_error(), "(2, 3)") != NULL);
    CHECK(lf_matmul(g, NULL, b) == NULL); /* NULL propagates */
    lf_graph_free(g);
}

static lf_tensor *linear_chain(lf_graph *g, lf_params *P, lf_tensor *x)
{
    lf_tensor *h = lf_linear(g, x, lf_params_find(P, "w1"), lf_params_find(P, "b1"));
    return lf_matmul(g, h, lf_transpose(g, lf_params_find(P, "w2"), 0, 1));
}

TEST(no_malloc_after_warmup)
{
    lf_params *P;
    CHECK_OK(lf_params_init(&P));
    lf_param_add(P, "w1", 2, (int64_t[]){64, 32}, 0);
    lf_param_add(P, "b1", 1, (int64_t[]){64}, LF_TENSOR_NO_DECAY);
    lf_param_add(P, "w2", 2, (int64_t[]){10, 64}, 0);
    CHECK_OK(lf_params_finalize(P));
    lf_rng r = lf_rng_make(1, 1);
    int64_t n;
    lf_real *blk = lf_params_data_block(P, &n);
    lf_rng_fill_normal(&r, blk, n, 0, 0.1);
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 4096)); /* small on purpose: the arena must grow then settle */
    uint64_t before = 0;
    for (int step = 0; step < 6; step++) {
        if (step == 3) before = lf_alloc_count();
        lf_graph_reset(g);
        lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){16, 32});
        CHECK(x != NULL);
        lf_rng_fill_normal(&r, x->data, 16 * 32, 0, 1);
        lf_tensor *y = linear_chain(g, P, x);
        CHECK(y != NULL);
        lf_params_zero_grad(P);
        lf_real seed[160];
        for (int i = 0; i < 160; i++) seed[i] = 1;
        CHECK_OK(lf_backward_with(g, y, seed));
    }
    CHECK_MSG(lf_alloc_count() == before, "%llu allocations in 3 steady-state steps",
              (unsigned long long)(lf_alloc_count() - before));
    lf_graph_free(g);
    lf_params_free(P);
}

static lf_tensor *f_matmul_bcast(lf_graph *g, lf_tensor **in, void *ctx)
{
    (void)ctx;
    return lf_matmul(g, in[0], in[1]);
}

TEST(grad_matmul_broadcast)
{
    gc_input in[2] = {{3, {2, 3, 4}, 0, 0, 0}, {2, {4, 5}, 0, 0, 0}};
    GRADCHECK("matmul (2,3,4)@(4,5)", f_matmul_bcast, 2, in, NULL);
    gc_input in2[2] = {{4, {2, 1, 3, 4}, 0, 0, 0}, {3, {3, 4, 2}, 0, 0, 0}};
    GRADCHECK("matmul (2,1,3,4)@(3,4,2)", f_matmul_bcast, 2, in2, NULL);
    gc_input in3[2] = {{1, {4}, 0, 0, 0}, {2, {4, 3}, 0, 0, 0}};
    GRADCHECK("matmul (4)@(4,3)", f_matmul_bcast, 2, in3, NULL);
}

static lf_tensor *f_linear(lf_graph *g, lf_tensor **in, void *ctx)
{
    (void)ctx;
    return lf_linear(g, in[0], in[1], in[2]);
}

TEST(grad_linear)
{
    gc_input in[3] = {{3, {2, 3, 5}, 0, 0, 0}, {2, {7, 5}, 0, 0, 0}, {1, {7}, 0, 0, 0}};
    GRADCHECK("linear", f_linear, 3, in, NULL);
}

static lf_tensor *f_views(lf_graph *g, lf_tensor **in, void *ctx)
{
    (void)ctx;
    lf_tensor *t = lf_transpose(g, in[0], 0, 2);                  /* (4, 3, 2) */
    lf_tensor *s = lf_slice(g, t, 1, 1, 3);                         /* (4, 2, 2) */
    lf_tensor *r = lf_reshape(g, s, 2, (int64_t[]){-1, 4});        /* (4, 4) */
    lf_tensor *parts[2] = {r, in[1]};
    lf_tensor *c = lf_concat(g, parts, 2, 0);                       /* (6, 4) */
    int64_t idx[5] = {5, 0, 0, 3, 2};
    return lf_index_select(g, c, 0, idx, 5);
}

TEST(grad_views)
{
    gc_input in[2] = {{3, {2, 3, 4}, 0, 0, 0}, {2, {2, 4}, 0, 0, 0}};
    GRADCHECK("transpose/slice/reshape/concat/index_select", f_views, 2, in, NULL);
}

TEST(detach_stops_gradient)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_real xd[4] = {1, 2, 3, 4}, xg[4] = {0};
    lf_tensor x = {0};
    lf_tensor_set_shape(&x, 1, (int64_t[]){4});
    x.data = xd;
    x.grad = xg;
    x.flags = LF_TENSOR_REQUIRES_GRAD;
    lf_tensor *d = lf_detach(g, &x);
    lf_tensor *y = lf_matmul(g, &x, d); /* x . stopgrad(x): gradient is x, not 2x */
    CHECK_OK(lf_backward(g, y));
    for (int i = 0; i < 4; i++) CHECK_NEAR(xg[i], xd[i], 1e-6);
    lf_graph_free(g);
}

TEST(device_without_backend_is_an_error)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *a = lf_tensor_zeros(g, 2, (int64_t[]){2, 3});
    lf_tensor *b = lf_tensor_zeros(g, 2, (int64_t[]){3, 2});
    b->device = LF_DEVICE_CUDA; /* as a CUDA-resident tensor would be */
    CHECK(lf_matmul(g, a, b) == NULL);
    CHECK(lf_last_status() == LF_ERR_UNSUPPORTED);
    CHECK(strstr(lf_last_error(), "cuda") != NULL);
    a->device = LF_DEVICE_CUDA;
    CHECK(lf_relu(g, a) == NULL);
    CHECK(strstr(lf_last_error(), "no backend") != NULL);
    lf_graph_free(g);
}

/* Gradient accumulation: two micro-batches, backward each without zeroing, give the
 * gradient of the whole batch (losses summed), as one optimizer step over both expects. */
TEST(gradient_accumulation_over_micro_batches)
{
    lf_params *P;
    CHECK_OK(lf_params_init(&P));
    lf_tensor *w = lf_param_add(P, "w", 2, (int64_t[]){5, 7}, 0);
    lf_tensor *b = lf_param_add(P, "b", 1, (int64_t[]){5}, LF_TENSOR_NO_DECAY);
    CHECK_OK(lf_params_finalize(P));
    lf_rng r = lf_rng_make(5, 5);
    int64_t n;
    lf_real *blk = lf_params_data_block(P, &n);
    lf_rng_fill_normal(&r, blk, n, 0, 0.5);
    lf_real x[8 * 7];
    lf_rng_fill_normal(&r, x, 8 * 7, 0, 1);
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    /* whole batch */
    lf_tensor *xb = lf_tensor_from(g, 2, (int64_t[]){8, 7}, x);
    lf_tensor *y = lf_linear(g, xb, w, b);
    CHECK_OK(lf_backward(g, lf_sum_all(g, lf_mul(g, y, y))));
    lf_real full[5 * 7 + 5];
    int64_t ng;
    memcpy(full, lf_params_grad_block(P, &ng), sizeof full);
    CHECK(ng == 40);
    /* two micro-batches of 4 */
    lf_params_zero_grad(P);
    for (int k = 0; k < 2; k++) {
        lf_graph_reset(g);
        lf_tensor *xm = lf_tensor_from(g, 2, (int64_t[]){4, 7}, x + k * 4 * 7);
        lf_tensor *ym = lf_linear(g, xm, w, b);
        CHECK_OK(lf_backward(g, lf_sum_all(g, lf_mul(g, ym, ym))));
    }
    const lf_real *acc = lf_params_grad_block(P, NULL);
    double md = 0;
    for (int i = 0; i < 40; i++) md = fmax(md, fabs((double)acc[i] - (double)full[i]));
    CHECK_MSG(md < 1e-4, "accumulated gradient differs by %g", md);
    lf_graph_free(g);
    lf_params_free(P);
}
