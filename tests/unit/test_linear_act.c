/* lf_linear_act and lf_linear_add: in inference the bias and the activation or the residual
 * are applied inside the product's epilogue; the values must be those of lf_linear then
 * lf_gelu / lf_relu / lf_add, bit for bit, for shapes that cross the kernel's blocks (rows >
 * 128, columns > 48), with one and two threads; with gradients they record the two ops. */
#include "test.h"

#include <math.h>
#include <string.h>

TEST(linear_act_matches_two_ops)
{
    const int64_t shapes[3][3] = {{300, 37, 100}, {5, 3, 7}, {130, 200, 50}}; /* rows, in, out */
    const lf_activation acts[3] = {LF_ACT_GELU, LF_ACT_RELU, LF_ACT_NONE};
    int saved = lf_get_threads();
    for (int t = 1; t <= 2; t++) {
        lf_set_threads(t);
        for (int si = 0; si < 3; si++)
            for (int ai = 0; ai < 3; ai++)
                for (int with_bias = 0; with_bias < 2; with_bias++) {
                    const int64_t R = shapes[si][0], I = shapes[si][1], O = shapes[si][2];
                    lf_graph *g;
                    CHECK_OK(lf_graph_init(&g, 0));
                    lf_graph_set_grad_enabled(g, 0);
                    lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){R, I});
                    lf_tensor *w = lf_tensor_new(g, 2, (int64_t[]){O, I});
                    lf_tensor *b = with_bias ? lf_tensor_new(g, 1, (int64_t[]){O}) : NULL;
                    lf_rng r = lf_rng_make(8, (uint64_t)si);
                    lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
                    lf_rng_fill_normal(&r, w->data, lf_numel(w), 0, 0.3);
                    if (b) lf_rng_fill_normal(&r, b->data, O, 0, 1);
                    lf_tensor *fused = lf_linear_act(g, x, w, b, acts[ai]);
                    lf_tensor *two = lf_linear(g, x, w, b);
                    if (acts[ai] == LF_ACT_GELU) two = lf_gelu(g, two);
                    if (acts[ai] == LF_ACT_RELU) two = lf_relu(g, two);
                    CHECK(fused && two);
                    if (fused && two)
                        CHECK_MSG(!memcmp(fused->data, two->data, (size_t)(R * O) * sizeof(lf_real)),
                                  "threads %d shape %d act %d bias %d: values differ", t, si, ai,
                                  with_bias);
                    lf_graph_free(g);
                }
    }
    lf_set_threads(saved);
}

TEST(linear_act_with_gradients_and_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){4, 3});
    lf_tensor *w = lf_tensor_new(g, 2, (int64_t[]){2, 3});
    lf_rng r = lf_rng_make(1, 1);
    lf_rng_fill_normal(&r, x->data, 12, 0, 1);
    lf_rng_fill_normal(&r, w->data, 6, 0, 1);
    w->flags |= LF_TENSOR_REQUIRES_GRAD;
    lf_tensor *y = lf_linear_act(g, x, w, NULL, LF_ACT_GELU);
    CHECK_OK(lf_backward(g, lf_sum_all(g, y)));
    /* d/dw sum gelu(x w^T) = sum_r gelu'(z_r) x_r, against a central difference */
    double h = 1e-2, num;
    lf_real keep = w->data[0], g0 = w->grad[0];
    lf_graph *g2;
    CHECK_OK(lf_graph_init(&g2, 0));
    lf_graph_set_grad_enabled(g2, 0);
    w->data[0] = keep + (lf_real)h;
    double up = lf_sum_all(g2, lf_linear_act(g2, x, w, NULL, LF_ACT_GELU))->data[0];
    w->data[0] = keep - (lf_real)h;
    double dn = lf_sum_all(g2, lf_linear_act(g2, x, w, NULL, LF_ACT_GELU))->data[0];
    w->data[0] = keep;
    num = (up - dn) / (2 * h);
    CHECK_MSG(fabs(num - g0) < 1e-2 * (1 + fabs(num)), "gradient %g, difference quotient %g", (double)g0, num);
    CHECK(lf_linear_act(g, x, w, NULL, (lf_activation)7) == NULL && strstr(lf_last_error(), "activation"));
    lf_graph_free(g2);
    lf_graph_free(g);
}

/* lf_linear_add: in inference the residual is added in the product's epilogue, the bits of
 * lf_add(res, lf_linear(...)); with a gradient to record, the two ops (res gets the
 * upstream gradient); a residual of another shape is lf_add's error. */
TEST(linear_add_matches_two_ops)
{
    const int64_t shapes[3][3] = {{300, 37, 100}, {5, 3, 7}, {130, 200, 50}}; /* rows, in, out */
    int saved = lf_get_threads();
    for (int t = 1; t <= 2; t++) {
        lf_set_threads(t);
        for (int si = 0; si < 3; si++)
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                const int64_t R = shapes[si][0], I = shapes[si][1], O = shapes[si][2];
                lf_graph *g;
                CHECK_OK(lf_graph_init(&g, 0));
                lf_graph_set_grad_enabled(g, 0);
                lf_tensor *x = lf_tensor_new(g, 3, (int64_t[]){1, R, I});
                lf_tensor *w = lf_tensor_new(g, 2, (int64_t[]){O, I});
                lf_tensor *b = with_bias ? lf_tensor_new(g, 1, (int64_t[]){O}) : NULL;
                lf_tensor *res = lf_tensor_new(g, 3, (int64_t[]){1, R, O});
                lf_rng r = lf_rng_make(9, (uint64_t)si);
                lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
                lf_rng_fill_normal(&r, w->data, lf_numel(w), 0, 0.3);
                lf_rng_fill_normal(&r, res->data, lf_numel(res), 0, 1);
                if (b) lf_rng_fill_normal(&r, b->data, O, 0, 1);
                lf_tensor *fused = lf_linear_add(g, x, w, b, res);
                lf_tensor *two = lf_add(g, res, lf_linear(g, x, w, b));
                CHECK(fused && two);
                if (fused && two)
                    CHECK_MSG(!memcmp(fused->data, two->data, (size_t)(R * O) * sizeof(lf_real)),
                              "threads %d shape %d bias %d: values differ", t, si, with_bias);
                lf_graph_free(g);
            }
    }
    lf_set_threads(saved);

    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){4, 3});
    lf_tensor *w = lf_tensor_new(g, 2, (int64_t[]){2, 3});
    lf_tensor *res = lf_tensor_new(g, 2, (int64_t[]){4, 2});
    lf_rng r = lf_rng_make(2, 2);
    lf_rng_fill_normal(&r, x->data, 12, 0, 1);
    lf_rng_fill_normal(&r, w->data, 6, 0, 1);
    lf_rng_fill_normal(&r, res->data, 8, 0, 1);
    res->flags |= LF_TENSOR_REQUIRES_GRAD;
    lf_tensor *y = lf_linear_add(g, x, w, NULL, res);
    CHECK(y != NULL);
    if (y) CHECK_OK(lf_backward(g, lf_sum_all(g, y)));
    for (int i = 0; i < 8 && res->grad; i++) CHECK(res->grad[i] == 1);
    lf_tensor *bad = lf_tensor_new(g, 2, (int64_t[]){4, 3});
    CHECK(lf_linear_add(g, x, w, NULL, bad) == NULL);
    lf_graph_free(g);
}
