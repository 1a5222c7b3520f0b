/* Reductions, softmax family and losses: finite-difference gradient checks (float64 build)
 * over keepdim / non-keepdim, negative dims and odd shapes; forward values; errors. */
#include "core/internal.h"
#include "gradcheck.h"
#include "test.h"

#include <string.h>

typedef struct rd_ctx {
    int op;
    uint32_t mask;
    int dim, keep;
    double eps;
    const int64_t *target;
    int64_t ignore;
} rd_ctx;

enum { R_SUM, R_MEAN, R_MAX, R_SUMALL, R_MEANALL, R_SOFTMAX, R_LOGSOFTMAX, R_LSE, R_L2N, R_CE,
       R_MSE, R_BCE };

static lf_tensor *f_rd(lf_graph *g, lf_tensor **in, void *vctx)
{
    rd_ctx *c = vctx;
    lf_tensor *x = in[0];
    switch (c->op) {
    case R_SUM: return lf_sum(g, x, c->mask, c->keep);
    case R_MEAN: return lf_mean(g, x, c->mask, c->keep);
    case R_MAX: return lf_max(g, x, c->dim, c->keep);
    case R_SUMALL: return lf_sum_all(g, x);
    case R_MEANALL: return lf_mean_all(g, x);
    case R_SOFTMAX: return lf_softmax(g, x, c->dim);
    case R_LOGSOFTMAX: return lf_log_softmax(g, x, c->dim);
    case R_LSE: return lf_logsumexp(g, x, c->dim, c->keep);
    case R_L2N: return lf_l2_normalize(g, x, c->dim, c->eps);
    case R_CE: return lf_cross_entropy(g, x, c->target, c->ignore, c->eps);
    case R_MSE: return lf_mse_loss(g, x, in[1]);
    default: return lf_bce_with_logits(g, x, in[1]);
    }
}

#define IN(nd, ...) {nd, {__VA_ARGS__}, 0, 0, 0}

TEST(gradcheck_sum_mean)
{
    gc_input x4 = IN(4, 2, 3, 1, 5), x3 = IN(3, 3, 4, 5);
    uint32_t masks[] = {1, 2, 4, 8, 5, 10, 6, 9, 15, 0};
    for (int op = R_SUM; op <= R_MEAN; op++)
        for (int keep = 0; keep < 2; keep++)
            for (size_t k = 0; k < sizeof masks / sizeof masks[0]; k++) {
                rd_ctx c = {.op = op, .mask = masks[k], .keep = keep};
                char name[64];
                snprintf(name, sizeof name, "%s mask %u keep %d", op ? "mean" : "sum",
                         masks[k], keep);
                GRADCHECK(name, f_rd, 1, &x4, &c);
                if (masks[k] < 8) GRADCHECK(name, f_rd, 1, &x3, &c);
            }
    rd_ctx ca = {.op = R_SUMALL}, cm = {.op = R_MEANALL};
    GRADCHECK("sum_all", f_rd, 1, &x3, &ca);
    GRADCHECK("mean_all", f_rd, 1, &x4, &cm);
}

TEST(gradcheck_max_softmax_family)
{
    gc_input shapes[] = {IN(2, 4, 7), IN(3, 2, 5, 3), IN(1, 9), IN(4, 2, 1, 3, 4)};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int dim = -shapes[s].ndim; dim < shapes[s].ndim; dim++)
            for (int op = R_MAX; op <= R_L2N; op++) {
                if (op == R_SUMALL || op == R_MEANALL) continue;
                for (int keep = 0; keep < 2; keep++) {
                    if (keep && op != R_MAX && op != R_LSE) continue;
                    rd_ctx c = {.op = op, .dim = dim, .keep = keep, .eps = 1e-12};
                    char name[64];
                    snprintf(name, sizeof name, "op %d shape %zu dim %d keep %d", op, s, dim, keep);
                    GRADCHECK(name, f_rd, 1, &shapes[s], &c);
                }
            }
    /* l2_normalize with a norm below eps: the gradient is gy / eps */
    gc_input tiny = {2, {3, 4}, -1e-3, 1e-3, 0};
    rd_ctx c = {.op = R_L2N, .dim = 1, .eps = 0.5};
    GRADCHECK("l2_normalize below eps", f_rd, 1, &tiny, &c);
}

TEST(gradcheck_losses)
{
    int64_t t2[5] = {0, 3, -100, 2, 1};
    int64_t t4[2 * 3 * 2] = {0, 1, 2, 3, -100, 0, 1, 1, 3, 2, 0, -100};
    gc_input x2 = IN(2, 5, 4), x4 = IN(4, 2, 4, 3, 2);
    double smooth[] = {0, 0.1, 0.35};
    for (int k = 0; k < 3; k++) {
        rd_ctx c = {.op = R_CE, .target = t2, .ignore = -100, .eps = smooth[k]};
        char name[64];
        snprintf(name, sizeof name, "cross_entropy (N,C) smoothing %g", smooth[k]);
        GRADCHECK(name, f_rd, 1, &x2, &c);
        c.target = t4;
        snprintf(name, sizeof name, "cross_entropy (N,C,d1,d2) smoothing %g", smooth[k]);
        GRADCHECK(name, f_rd, 1, &x4, &c);
    }
    gc_input pair[2] = {IN(3, 2, 3, 5), IN(3, 2, 3, 5)};
    rd_ctx m = {.op = R_MSE}, b = {.op = R_BCE};
    GRADCHECK("mse_loss", f_rd, 2, pair, &m);
    pair[0].lo = -6, pair[0].hi = 6, pair[1].lo = 0, pair[1].hi = 1;
    GRADCHECK("bce_with_logits", f_rd, 2, pair, &b);
}

/* forward values against direct formulas (default build too) */
TEST(reduce_softmax_forward_values)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_real v[12];
    for (int i = 0; i < 12; i++) v[i] = (lf_real)(0.3 * i - 1.5 + ((i * 7) % 5) * 0.1);
    lf_tensor *x = lf_tensor_from(g, 3, (int64_t[]){2, 3, 2}, v);
    lf_tensor *s = lf_sum(g, x, 1u << 1, 0), *sk = lf_mean(g, x, 5u, 1);
    CHECK(s && s->ndim == 2 && s->shape[0] == 2 && s->shape[1] == 2);
    CHECK(sk && sk->ndim == 3 && sk->shape[0] == 1 && sk->shape[1] == 3 && sk->shape[2] == 1);
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2; c++)
            CHECK_NEAR(s->data[a * 2 + c], v[a * 6 + c] + v[a * 6 + 2 + c] + v[a * 6 + 4 + c], 1e-5);
    for (int b = 0; b < 3; b++)
        CHECK_NEAR(sk->data[b], (v[b * 2] + v[b * 2 + 1] + v[6 + b * 2] + v[7 + b * 2]) / 4, 1e-5);
    lf_tensor *m = lf_max(g, x, -2, 0);
    CHECK(m && m->ndim == 2);
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2; c++)
            CHECK_NEAR(m->data[a * 2 + c],
                       fmax(fmax(v[a * 6 + c], v[a * 6 + 2 + c]), v[a * 6 + 4 + c]), 0);
    /* softmax along dim 1 (stride 2) sums to 1 and matches exp(x)/sum exp */
    lf_tensor *sm = lf_softmax(g, x, 1), *lse = lf_logsumexp(g, x, 1, 0);
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2; c++) {
            double z = 0;
            for (int b = 0; b < 3; b++) z += exp(v[a * 6 + b * 2 + c]);
            CHECK_NEAR(lse->data[a * 2 + c], log(z), 1e-5);
            for (int b = 0; b < 3; b++)
                CHECK_NEAR(sm->data[a * 6 + b * 2 + c], exp(v[a * 6 + b * 2 + c]) / z, 1e-6);
        }
    /* stability: huge logits do not overflow */
    lf_real big[3] = {1000, 1001, 999};
    lf_tensor *bx = lf_tensor_from(g, 1, (int64_t[]){3}, big);
    lf_tensor *bl = lf_log_softmax(g, bx, 0), *bs = lf_logsumexp(g, bx, 0, 1);
    CHECK(bl && isfinite(bl->data[0]) && bs && fabs(bs->data[0] - 1001.4076) < 1e-2);
    /* max: the gradient goes to the first maximum */
    lf_real tie[4] = {1, 3, 3, 2};
    lf_tensor *tx = lf_tensor_from(g, 1, (int64_t[]){4}, tie);
    tx->flags = LF_TENSOR_REQUIRES_GRAD;
    CHECK_OK(lf_backward(g, lf_max(g, tx, 0, 0)));
    CHECK(tx->grad && tx->grad[1] == 1 && tx->grad[2] == 0);
    lf_graph_free(g);
}

TEST(loss_forward_values_and_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_real v[6] = {1, 2, 3, -1, 0, 1};
    lf_tensor *x = lf_tensor_from(g, 2, (int64_t[]){2, 3}, v);
    int64_t t[2] = {2, -100};
    lf_tensor *ce = lf_cross_entropy(g, x, t, -100, 0);
    /* only row 0 counts: lse(1,2,3) - 3 */
    CHECK(ce && ce->ndim == 0);
    if (ce) CHECK_NEAR(ce->data[0], log(exp(1) + exp(2) + exp(3)) - 3, 1e-5);
    int64_t all_ignored[2] = {-100, -100};
    lf_tensor *ce0 = lf_cross_entropy(g, x, all_ignored, -100, 0);
    CHECK(ce0 && isnan(ce0->data[0])); /* 0 / 0, as torch */
    int64_t bad[2] = {0, 3};
    CHECK(lf_cross_entropy(g, x, bad, -100, 0) == NULL && lf_last_status() == LF_ERR_ARG);
    CHECK(strstr(lf_last_error(), "target[1] = 3") != NULL);
    lf_tensor *y = lf_tensor_zeros(g, 2, (int64_t[]){3, 2});
    CHECK(lf_mse_loss(g, x, y) == NULL && lf_last_status() == LF_ERR_SHAPE);
    CHECK(strstr(lf_last_error(), "(2, 3)") && strstr(lf_last_error(), "(3, 2)"));
    CHECK(lf_bce_with_logits(g, x, y) == NULL && strstr(lf_last_error(), "(3, 2)"));
    lf_clear_error();
    CHECK(lf_mse_loss(g, NULL, y) == NULL && lf_cross_entropy(g, NULL, t, -1, 0) == NULL);
    CHECK(lf_softmax(g, NULL, 0) == NULL && lf_sum(g, NULL, 1, 0) == NULL);
    CHECK(lf_last_status() == LF_OK);
    CHECK(lf_softmax(g, x, 2) == NULL && lf_last_status() == LF_ERR_ARG);
    CHECK(lf_sum(g, x, 4u, 0) == NULL && lf_last_status() == LF_ERR_ARG);
    /* bce stays finite for large logits */
    lf_real lg[2] = {80, -80}, tg[2] = {0, 1};
    lf_tensor *b = lf_bce_with_logits(g, lf_tensor_from(g, 1, (int64_t[]){2}, lg),
                                      lf_tensor_from(g, 1, (int64_t[]){2}, tg));
    CHECK(b && fabs(b->data[0] - 80) < 1e-3);
    lf_graph_free(g);
}

/* large reductions give identical bits with 1 and 3 threads */
TEST(reduce_thread_independence)
{
    int64_t shape[3] = {37, 129, 41};
    lf_real out[2][4];
    for (int r = 0; r < 2; r++) {
        lf_set_threads(r ? 3 : 1);
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_rng rng = lf_rng_make(9, 1);
        lf_tensor *x = lf_tensor_new(g, 3, shape);
        lf_rng_fill_uniform(&rng, x->data, lf_numel(x), -1, 1);
        x->flags = LF_TENSOR_REQUIRES_GRAD;
        lf_tensor *a = lf_sum_all(g, x);
        lf_tensor *b = lf_sum_all(g, lf_mul(g, lf_sum(g, x, 5u, 1), lf_sum(g, x, 5u, 1)));
        lf_tensor *c = lf_sum_all(g, lf_log_softmax(g, x, 1));
        int64_t tgt[37 * 41];
        for (int i = 0; i < 37 * 41; i++) tgt[i] = (i * 13) % 129;
        lf_tensor *d = lf_cross_entropy(g, x, tgt, -100, 0.1);
        CHECK(a && b && c && d);
        if (a && b && c && d) {
            out[r][0] = a->data[0];
            out[r][1] = b->data[0];
            out[r][2] = c->data[0];
            out[r][3] = d->data[0];
        }
        lf_graph_free(g);
    }
    lf_set_threads(2);
    CHECK(memcmp(out[0], out[1], sizeof out[0]) == 0);
}
