/* Fused attention: gradient checks (no mask, (Tq, Tk) mask, (B, 1, Tq, Tk) mask with -inf,
 * Tq != Tk), a naive reference in double, fully masked rows, shape errors. */
#include "gradcheck.h"
#include "test.h"

#include <math.h>
#include <string.h>

/* runs a gradient check and prints its max |analytic - numeric| (float64 build only) */
#define GC_PRINT(name, call)                                                               \
    do {                                                                                   \
        double d_ = (call);                                                                \
        if (GRADCHECK_ENABLED) printf("    %-40s max |analytic - numeric| = %.2g\n", name, d_); \
    } while (0)

typedef struct att_ctx {
    lf_tensor mask; /* constant mask, or ndim 0 for none */
    double scale;
} att_ctx;

static lf_tensor *f_att(lf_graph *g, lf_tensor **in, void *ctx)
{
    att_ctx *c = ctx;
    return lf_attention(g, in[0], in[1], in[2], c->mask.ndim ? &c->mask : NULL, c->scale);
}

TEST(grad_attention_nomask)
{
    gc_input in[3] = {{4, {2, 2, 3, 4}, 0, 0, 0}, {4, {2, 2, 5, 4}, 0, 0, 0},
                      {4, {2, 2, 5, 4}, 0, 0, 0}};
    att_ctx c = {.scale = 0.5};
    GC_PRINT("attention Tq=3 Tk=5", GRADCHECK("attention Tq=3 Tk=5", f_att, 3, in, &c));
    gc_input sq[3] = {{4, {1, 3, 4, 2}, -2, 2, 0}, {4, {1, 3, 4, 2}, -2, 2, 0},
                      {4, {1, 3, 4, 2}, 0, 0, 0}};
    att_ctx c2 = {.scale = 1.0 / sqrt(2.0)};
    GC_PRINT("attention Tq=Tk=4", GRADCHECK("attention Tq=Tk=4", f_att, 3, sq, &c2));
}

TEST(grad_attention_masks)
{
    gc_input in[3] = {{4, {2, 2, 3, 4}, 0, 0, 0}, {4, {2, 2, 5, 4}, 0, 0, 0},
                      {4, {2, 2, 5, 4}, 0, 0, 0}};
    /* (Tq, Tk) additive mask with finite values and -inf */
    lf_real m2[15];
    for (int i = 0; i < 15; i++) m2[i] = (lf_real)(0.3 * (i % 4) - 0.5);
    m2[1] = m2[7] = m2[14] = -INFINITY;
    att_ctx c = {.scale = 0.5};
    lf_tensor_set_shape(&c.mask, 2, (int64_t[]){3, 5});
    c.mask.data = m2;
    GC_PRINT("attention (Tq,Tk) mask", GRADCHECK("attention (Tq,Tk) mask", f_att, 3, in, &c));
    /* (B, 1, Tq, Tk) mask: a different pattern per batch item, including a fully masked row */
    lf_real m4[30];
    for (int i = 0; i < 30; i++) m4[i] = (lf_real)(0.2 * (i % 3));
    for (int j = 0; j < 5; j++) m4[15 + 5 + j] = -INFINITY; /* b = 1, query 1 */
    m4[3] = -INFINITY;
    att_ctx c4 = {.scale = 0.7};
    lf_tensor_set_shape(&c4.mask, 4, (int64_t[]){2, 1, 3, 5});
    c4.mask.data = m4;
    GC_PRINT("attention (B,1,Tq,Tk) mask", GRADCHECK("attention (B,1,Tq,Tk) mask", f_att, 3, in, &c4));
}

/* Naive softmax(q k^T s + mask) v in double, for one (B, H) layout. */
static void naive_attention(const lf_real *q, const lf_real *k, const lf_real *v,
                            const lf_real *mask, int per_batch, int B, int H, int Tq, int Tk,
                            int Dh, double s, double *out)
{
    double p[16];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                const lf_real *qi = q + (((b * H + h) * Tq) + i) * Dh;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < Tk; j++) {
                    const lf_real *kj = k + (((b * H + h) * Tk) + j) * Dh;
                    double d = 0;
                    for (int e = 0; e < Dh; e++) d += (double)qi[e] * kj[e];
                    d *= s;
                    if (mask) d += mask[(per_batch ? b * Tq * Tk : 0) + i * Tk + j];
                    p[j] = d;
                    if (d > mx) mx = d;
                }
                for (int j = 0; j < Tk; j++) sum += (p[j] = mx == -INFINITY ? 0 : exp(p[j] - mx));
                double *o = out + (((b * H + h) * Tq) + i) * Dh;
                for (int e = 0; e < Dh; e++) {
                    double acc = 0;
                    for (int j = 0; j < Tk; j++)
                        acc += (sum > 0 ? p[j] / sum : 0) * v[(((b * H + h) * Tk) + j) * Dh + e];
                    o[e] = acc;
                }
            }
}

TEST(attention_matches_naive_and_masked_rows)
{
    enum { B = 2, H = 3, Tq = 4, Tk = 6, Dh = 5 };
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_rng r = lf_rng_make(3, 3);
    lf_tensor *q = lf_tensor_new(g, 4, (int64_t[]){B, H, Tq, Dh});
    lf_tensor *k = lf_tensor_new(g, 4, (int64_t[]){B, H, Tk, Dh});
    lf_tensor *v = lf_tensor_new(g, 4, (int64_t[]){B, H, Tk, Dh});
    lf_tensor *m = lf_tensor_new(g, 4, (int64_t[]){B, 1, Tq, Tk});
    lf_rng_fill_normal(&r, q->data, B * H * Tq * Dh, 0, 1);
    lf_rng_fill_normal(&r, k->data, B * H * Tk * Dh, 0, 1);
    lf_rng_fill_normal(&r, v->data, B * H * Tk * Dh, 0, 1);
    lf_rng_fill_normal(&r, m->data, B * Tq * Tk, 0, 1);
    for (int j = 0; j < Tk; j++) m->data[(1 * Tq + 2) * Tk + j] = -INFINITY; /* b 1, row 2 */
    m->data[3] = -INFINITY;
    q->flags = k->flags = v->flags = LF_TENSOR_REQUIRES_GRAD;
    double s = 1 / sqrt((double)Dh), ref[B * H * Tq * Dh];
    for (int pass = 0; pass < 2; pass++) {
        lf_tensor *mask = pass ? m : NULL;
        lf_tensor *y = lf_attention(g, q, k, v, mask, s);
        CHECK(y != NULL);
        if (!y) break;
        naive_attention(q->data, k->data, v->data, mask ? m->data : NULL, 1, B, H, Tq, Tk, Dh,
                        s, ref);
        double mx = 0;
        for (int i = 0; i < B * H * Tq * Dh; i++) mx = fmax(mx, fabs(y->data[i] - ref[i]));
        CHECK_MSG(mx < 1e-5, "pass %d: max |fused - naive| = %g", pass, mx);
        if (pass == 1) {
            /* fully masked rows: output 0, no NaN anywhere, no gradient through them */
            lf_real seed[B * H * Tq * Dh];
            for (int i = 0; i < B * H * Tq * Dh; i++) seed[i] = 1;
            CHECK_OK(lf_backward_with(g, y, seed));
            for (int h = 0; h < H; h++)
                for (int e = 0; e < Dh; e++) {
                    CHECK(y->data[(((1 * H + h) * Tq) + 2) * Dh + e] == 0);
                    CHECK(q->grad[(((1 * H + h) * Tq) + 2) * Dh + e] == 0);
                }
            CHECK_OK(lf_check_finite(y, "attention output"));
            int finite = 1;
            for (int i = 0; i < B * H * Tk * Dh; i++)
                finite &= isfinite(k->grad[i]) && isfinite(v->grad[i]);
            for (int i = 0; i < B * H * Tq * Dh; i++) finite &= isfinite(q->grad[i]);
            CHECK(finite);
        }
    }
    lf_graph_free(g);
}

TEST(attention_shape_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *q = lf_tensor_zeros(g, 4, (int64_t[]){2, 3, 4, 5});
    lf_tensor *k = lf_tensor_zeros(g, 4, (int64_t[]){2, 3, 6, 5});
    lf_tensor *kb = lf_tensor_zeros(g, 4, (int64_t[]){2, 3, 6, 4});
    lf_tensor *mbad = lf_tensor_zeros(g, 2, (int64_t[]){6, 4});
    CHECK(lf_attention(g, q, kb, kb, NULL, 1) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE && strstr(lf_last_error(), "(2, 3, 6, 4)"));
    CHECK(lf_attention(g, q, k, k, mbad, 1) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE && strstr(lf_last_error(), "(6, 4)") &&
          strstr(lf_last_error(), "(4, 6)"));
    CHECK(lf_attention(g, q, k, k, NULL, 1) != NULL);
    lf_graph_free(g);
}

/* ---- lf_self_attention (packed qkv) */
static lf_tensor *f_self_att(lf_graph *g, lf_tensor **in, void *ctx)
{
    return lf_self_attention(g, in[0], *(int *)ctx, 0.6, NULL);
}

typedef struct sa_mask_ctx {
    int heads;
    lf_tensor mask; /* (B, T) */
} sa_mask_ctx;

static lf_tensor *f_self_att_masked(lf_graph *g, lf_tensor **in, void *ctx)
{
    sa_mask_ctx *c = ctx;
    return lf_self_attention(g, in[0], c->heads, 0.6, &c->mask);
}

TEST(grad_self_attention)
{
    int heads = 2;
    gc_input in[1] = {{3, {2, 5, 12}, 0, 0, 0}}; /* B 2, T 5, E 4, 2 heads of 2 */
    GC_PRINT("self_attention T=5 E=4 H=2", GRADCHECK("self_attention", f_self_att, 1, in, &heads));
    int one = 1;
    gc_input in1[1] = {{3, {3, 1, 9}, -2, 2, 0}}; /* one token: P = 1 */
    GC_PRINT("self_attention T=1 H=1", GRADCHECK("self_attention T=1", f_self_att, 1, in1, &one));
    /* a key mask: sequence 0 with two padding keys, sequence 1 all padding (zeros) */
    lf_real km[10] = {0, 0, -INFINITY, 0, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    sa_mask_ctx mc = {2, {0}};
    lf_tensor_set_shape(&mc.mask, 2, (int64_t[]){2, 5});
    mc.mask.data = km;
    GC_PRINT("self_attention key mask", GRADCHECK("self_attention key mask", f_self_att_masked, 1, in, &mc));
}

/* The packed op against reshape / permute / lf_attention / transpose on the same qkv: same
 * output and same qkv gradient (to float rounding), one and two threads, training and
 * inference */
TEST(self_attention_matches_composite)
{
    const int64_t B = 3, T = 7, H = 3, Dh = 4, E = H * Dh;
    for (int rep = 0; rep < 2; rep++) {
        int saved = lf_get_threads();
        lf_set_threads(rep + 1);
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_tensor *x[2], *y[2] = {NULL, NULL};
        lf_rng r = lf_rng_make(4, 0);
        for (int way = 0; way < 2; way++) {
            x[way] = lf_tensor_new(g, 3, (int64_t[]){B, T, 3 * E});
            lf_rng rr = r;
            lf_rng_fill_normal(&rr, x[way]->data, lf_numel(x[way]), 0, 1);
            x[way]->flags |= LF_TENSOR_REQUIRES_GRAD;
            if (way == 0) {
                y[0] = lf_self_attention(g, x[0], (int)H, 0.5, NULL);
            } else {
                lf_tensor *p = lf_permute(g, lf_reshape(g, x[1], 5, (int64_t[]){B, T, 3, H, Dh}),
                                          (int[]){2, 0, 3, 1, 4});
                lf_tensor *q[3];
                for (int i = 0; i < 3; i++)
                    q[i] = lf_reshape(g, lf_slice(g, p, 0, i, i + 1), 4, (int64_t[]){B, H, T, Dh});
                lf_tensor *o = lf_attention(g, q[0], q[1], q[2], NULL, 0.5);
                y[1] = lf_reshape(g, lf_transpose(g, o, 1, 2), 3, (int64_t[]){B, T, E});
            }
        }
        CHECK(y[0] && y[1]);
        if (!y[0] || !y[1]) break;
        lf_tensor *w = lf_tensor_new(g, 3, (int64_t[]){B, T, E});
        lf_rng_fill_normal(&r, w->data, lf_numel(w), 0, 1);
        lf_tensor *loss = lf_add(g, lf_sum_all(g, lf_mul(g, y[0], w)), lf_sum_all(g, lf_mul(g, y[1], w)));
        CHECK_OK(lf_backward(g, loss));
        lf_tensor *y1 = lf_contiguous(g, y[1]);
        double dy = 0, dg = 0;
        for (int64_t i = 0; i < lf_numel(y1); i++) dy = fmax(dy, fabs((double)y[0]->data[i] - y1->data[i]));
        for (int64_t i = 0; i < lf_numel(x[0]); i++)
            dg = fmax(dg, fabs((double)x[0]->grad[i] - x[1]->grad[i]));
        CHECK_MSG(dy < 1e-5 && dg < 1e-4, "threads %d: output differs by %.3g, gradient by %.3g",
                  rep + 1, dy, dg);
        /* inference (no tape, per-thread P buffers) gives the training forward's values */
        lf_graph_set_grad_enabled(g, 0);
        lf_tensor *yi = lf_self_attention(g, x[0], (int)H, 0.5, NULL);
        CHECK(yi && memcmp(yi->data, y[0]->data, (size_t)lf_numel(yi) * sizeof(lf_real)) == 0);
        lf_graph_free(g);
        lf_set_threads(saved);
    }
}

TEST(self_attention_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 3, (int64_t[]){2, 4, 10});
    CHECK(lf_self_attention(g, x, 2, 1.0, NULL) == NULL && strstr(lf_last_error(), "self_attention"));
    lf_tensor *x2 = lf_tensor_zeros(g, 2, (int64_t[]){4, 12});
    CHECK(lf_self_attention(g, x2, 2, 1.0, NULL) == NULL);
    lf_tensor *x3 = lf_tensor_zeros(g, 3, (int64_t[]){2, 4, 12}), *bad = lf_tensor_zeros(g, 2, (int64_t[]){2, 5});
    CHECK(lf_self_attention(g, x3, 2, 1.0, bad) == NULL && strstr(lf_last_error(), "key mask"));
    lf_graph_free(g);
}
