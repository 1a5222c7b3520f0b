/* Batch norm and layer norm: finite-difference gradient checks for every mode, torch's
 * running-statistics rule, thread-count independence and argument errors. */
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

/* ---------------------------------------------------------------- gradient checks */

typedef struct bn_ctx {
    int affine;     /* inputs: x, then weight and bias when affine */
    int running;    /* use running stats (given as constants) */
    lf_real rm[8], rv[8];
    lf_tensor trm, trv;
} bn_ctx;

static void bn_ctx_init(bn_ctx *c, int affine, int running, int64_t C)
{
    memset(c, 0, sizeof *c);
    c->affine = affine;
    c->running = running;
    for (int64_t i = 0; i < C; i++) {
        c->rm[i] = (lf_real)(0.1 * (double)i - 0.2);
        c->rv[i] = (lf_real)(0.5 + 0.3 * (double)i);
    }
    lf_tensor_set_shape(&c->trm, 1, &C);
    lf_tensor_set_shape(&c->trv, 1, &C);
    c->trm.data = c->rm;
    c->trv.data = c->rv;
}

static lf_tensor *f_bn(lf_graph *g, lf_tensor **in, void *ctx)
{
    bn_ctx *c = ctx;
    /* in training the running stats change at every call, but the output does not read them */
    return lf_batch_norm(g, in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL,
                         c->running ? &c->trm : NULL, c->running ? &c->trv : NULL, 0.1, 1e-5);
}

static void check_bn(const char *name, int ndim, const int64_t *shape, int affine, int running,
                     int training)
{
    gc_input in[3];
    memset(in, 0, sizeof in);
    in[0].ndim = ndim;
    memcpy(in[0].shape, shape, (size_t)ndim * sizeof(int64_t));
    in[0].lo = -2;
    in[0].hi = 3;
    for (int i = 1; i < 3; i++) {
        in[i].ndim = 1;
        in[i].shape[0] = shape[1];
        in[i].lo = 0.5;
        in[i].hi = 1.5;
    }
    bn_ctx c;
    bn_ctx_init(&c, affine, running, shape[1]);
    GC_PRINT(name, gradcheck(name, f_bn, affine ? 3 : 1, in, &c, 1e-6, 1e-5, training));
}

TEST(grad_batch_norm_train)
{
    check_bn("bn (N,C) train affine", 2, (int64_t[]){6, 3}, 1, 1, 1);
    check_bn("bn (N,C,H,W) train affine", 4, (int64_t[]){2, 3, 4, 3}, 1, 1, 1);
    check_bn("bn (N,C,H,W) train no affine", 4, (int64_t[]){3, 2, 2, 3}, 0, 1, 1);
    check_bn("bn (N,C,D,H,W) train affine", 5, (int64_t[]){2, 2, 3, 2, 2}, 1, 1, 1);
    check_bn("bn (N,C,D,H,W) train no affine", 5, (int64_t[]){2, 3, 2, 2, 2}, 0, 1, 1);
}

TEST(grad_batch_norm_eval)
{
    check_bn("bn (N,C) eval affine", 2, (int64_t[]){4, 3}, 1, 1, 0);
    check_bn("bn (N,C,H,W) eval affine", 4, (int64_t[]){2, 3, 2, 3}, 1, 1, 0);
    check_bn("bn (N,C,H,W) eval no affine", 4, (int64_t[]){2, 2, 2, 3}, 0, 1, 0);
    check_bn("bn (N,C,D,H,W) eval affine", 5, (int64_t[]){2, 2, 2, 2, 2}, 1, 1, 0);
}

TEST(grad_batch_norm_no_running_stats)
{
    /* track_running_stats=False: batch statistics even in eval mode */
    check_bn("bn (N,C,H,W) eval, no running stats", 4, (int64_t[]){2, 3, 2, 2}, 1, 0, 0);
    check_bn("bn (N,C) train, no running stats", 2, (int64_t[]){5, 2}, 0, 0, 1);
}

typedef struct ln_ctx {
    int affine;
} ln_ctx;

static lf_tensor *f_ln(lf_graph *g, lf_tensor **in, void *ctx)
{
    ln_ctx *c = ctx;
    return lf_layer_norm(g, in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, 1e-5);
}

TEST(grad_layer_norm)
{
    gc_input in[3] = {{3, {2, 3, 8}, -2, 3, 0}, {1, {8}, 0.5, 1.5, 0}, {1, {8}, 0, 0, 0}};
    ln_ctx a = {1}, p = {0};
    GC_PRINT("layer_norm affine (2,3,8)", GRADCHECK("layer_norm affine (2,3,8)", f_ln, 3, in, &a));
    GC_PRINT("layer_norm plain (2,3,8)", GRADCHECK("layer_norm plain (2,3,8)", f_ln, 1, in, &p));
    gc_input in2[1] = {{1, {5}, 0, 0, 0}};
    GC_PRINT("layer_norm plain (5)", GRADCHECK("layer_norm plain (5)", f_ln, 1, in2, &p));
}

/* ---------------------------------------------------------------- running statistics */

/* One training step on (N, C, H, W) data; the running stats must follow
 *   r_mean = (1 - m) r_mean + m mean,   r_var = (1 - m) r_var + m var * n / (n - 1)
 * (torch.nn.BatchNorm2d), computed here independently in double. The output must use the
 * biased batch variance. */
/* A 1-D tensor header over n values at data (running statistics given by the caller) */
static lf_tensor vector_over(lf_real *data, int64_t n)
{
    lf_tensor t = {0};
    lf_tensor_set_shape(&t, 1, &n);
    t.data = data;
    return t;
}

TEST(batch_norm_running_stats_rule)
{
    enum { N = 4, C = 3, HW = 5 };
    const double m = 0.3, eps = 1e-5;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){N, C, 1, HW});
    lf_rng r = lf_rng_make(5, 5);
    lf_rng_fill_normal(&r, x->data, N * C * HW, 1.0, 2.0);
    lf_real rm[C] = {0.5f, -1, 0}, rv[C] = {1, 2, 0.25f};
    double rm0[C], rv0[C];
    for (int c = 0; c < C; c++) rm0[c] = rm[c], rv0[c] = rv[c];
    lf_tensor trm = vector_over(rm, C), trv = vector_over(rv, C);
    lf_graph_set_training(g, 1);
    lf_tensor *y = lf_batch_norm(g, x, NULL, NULL, &trm, &trv, m, eps);
    CHECK(y != NULL);
    for (int c = 0; c < C && y; c++) {
        double s = 0, v = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) s += x->data[(n * C + c) * HW + i];
        double mean = s / (N * HW);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                double d = x->data[(n * C + c) * HW + i] - mean;
                v += d * d;
            }
        double var_b = v / (N * HW), var_u = v / (N * HW - 1);
        CHECK_NEAR(rm[c], (1 - m) * rm0[c] + m * mean, 1e-5);
        CHECK_NEAR(rv[c], (1 - m) * rv0[c] + m * var_u, 1e-5);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                int64_t j = (n * C + c) * HW + i;
                CHECK_NEAR(y->data[j], (x->data[j] - mean) / sqrt(var_b + eps), 1e-5);
            }
    }
    /* eval: uses (and keeps) the running stats */
    lf_real rm1[C], rv1[C];
    memcpy(rm1, rm, sizeof rm);
    memcpy(rv1, rv, sizeof rv);
    lf_graph_set_training(g, 0);
    y = lf_batch_norm(g, x, NULL, NULL, &trm, &trv, m, eps);
    CHECK(y != NULL && memcmp(rm1, rm, sizeof rm) == 0 && memcmp(rv1, rv, sizeof rv) == 0);
    for (int c = 0; c < C && y; c++)
        CHECK_NEAR(y->data[c * HW], (x->data[c * HW] - rm[c]) / sqrt(rv[c] + eps), 1e-5);
    lf_graph_free(g);
}

/* The statistics keep their digits for a mean far from the spread (3e6 against values within
 * +-1: a one-pass E[x^2] - E[x]^2 in double would keep about 3 of them), a first value far
 * from the rest (an outlier of 5e3), and a plain channel, against a two-pass float64
 * reference (momentum 1: the running statistics are the batch's, variance unbiased); S = 37
 * is not a multiple of the 16 accumulators */
TEST(batch_norm_stats_large_mean_and_outlier)
{
    enum { N = 5, C = 3, S = 37 };
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_new(g, 3, (int64_t[]){N, C, S});
    lf_rng r = lf_rng_make(8, 1);
    lf_rng_fill_uniform(&r, x->data, N * C * S, -1, 1);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < S; i++) x->data[(n * C + 0) * S + i] += (lf_real)3e6;
    x->data[1 * S] = (lf_real)5e3; /* channel 1's first value */
    lf_real rm[C] = {0}, rv[C] = {1, 1, 1};
    lf_tensor trm = vector_over(rm, C), trv = vector_over(rv, C);
    lf_graph_set_training(g, 1);
    CHECK(lf_batch_norm(g, x, NULL, NULL, &trm, &trv, 1.0, 1e-5) != NULL);
    for (int c = 0; c < C; c++) {
        double s = 0, v = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < S; i++) s += x->data[(n * C + c) * S + i];
        const double mean = s / (N * S);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < S; i++) {
                const double d = x->data[(n * C + c) * S + i] - mean;
                v += d * d;
            }
        const double var = v / (N * S - 1);
        CHECK_MSG(fabs(rm[c] - mean) <= 1e-6 * fabs(mean) && fabs(rv[c] - var) <= 1e-5 * var,
                  "channel %d: mean %.9g (reference %.9g), variance %.9g (reference %.9g)", c,
                  (double)rm[c], mean, (double)rv[c], var);
    }
    lf_graph_free(g);
}

/* ---------------------------------------------------------------- threads */

/* Large enough for the OpenMP path: forward and backward must be bitwise identical with
 * one thread and with several. */
TEST(batch_norm_layer_norm_thread_independent)
{
    const int64_t shape[4] = {8, 16, 16, 16};
    int64_t n = 8 * 16 * 16 * 16;
    lf_real *out[2], *gx[2], *gw[2], *lo[2], *lg[2];
    int saved = lf_get_threads();
    for (int run = 0; run < 2; run++) {
        lf_set_threads(run == 0 ? 1 : 4);
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_rng r = lf_rng_make(9, 1);
        lf_tensor *x = lf_tensor_new(g, 4, shape);
        lf_tensor *w = lf_tensor_new(g, 1, (int64_t[]){16});
        lf_rng_fill_normal(&r, x->data, n, 0.5, 2);
        lf_rng_fill_uniform(&r, w->data, 16, 0.5, 1.5);
        x->flags = w->flags = LF_TENSOR_REQUIRES_GRAD;
        lf_real *seed = lf_malloc((size_t)n * sizeof(lf_real));
        lf_rng_fill_normal(&r, seed, n, 0, 1);
        lf_tensor *y = lf_batch_norm(g, x, w, NULL, NULL, NULL, 0.1, 1e-5);
        lf_tensor *z = lf_layer_norm(g, y, w, NULL, 1e-5); /* last dim 16 */
        CHECK(z != NULL);
        if (z) CHECK_OK(lf_backward_with(g, z, seed));
        out[run] = lf_malloc((size_t)n * sizeof(lf_real));
        gx[run] = lf_malloc((size_t)n * sizeof(lf_real));
        gw[run] = lf_malloc(16 * sizeof(lf_real));
        lo[run] = lf_malloc((size_t)n * sizeof(lf_real));
        lg[run] = lf_malloc((size_t)n * sizeof(lf_real));
        memcpy(out[run], y->data, (size_t)n * sizeof(lf_real));
        memcpy(lo[run], z->data, (size_t)n * sizeof(lf_real));
        memcpy(gx[run], x->grad, (size_t)n * sizeof(lf_real));
        memcpy(lg[run], y->grad, (size_t)n * sizeof(lf_real));
        memcpy(gw[run], w->grad, 16 * sizeof(lf_real));
        lf_free(seed);
        lf_graph_free(g);
    }
    lf_set_threads(saved);
    CHECK(memcmp(out[0], out[1], (size_t)n * sizeof(lf_real)) == 0);
    CHECK(memcmp(lo[0], lo[1], (size_t)n * sizeof(lf_real)) == 0);
    CHECK(memcmp(gx[0], gx[1], (size_t)n * sizeof(lf_real)) == 0);
    CHECK(memcmp(lg[0], lg[1], (size_t)n * sizeof(lf_real)) == 0);
    CHECK(memcmp(gw[0], gw[1], 16 * sizeof(lf_real)) == 0);
    for (int run = 0; run < 2; run++) {
        lf_free(out[run]);
        lf_free(gx[run]);
        lf_free(gw[run]);
        lf_free(lo[run]);
        lf_free(lg[run]);
    }
}

/* (N, C) input goes through the channel-block path: also thread independent */
TEST(batch_norm_nc_thread_independent)
{
    enum { N = 256, C = 200 };
    lf_real *res[2][3];
    int saved = lf_get_threads();
    for (int run = 0; run < 2; run++) {
        lf_set_threads(run == 0 ? 1 : 3);
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_rng r = lf_rng_make(4, 2);
        lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){N, C});
        lf_tensor *w = lf_tensor_new(g, 1, (int64_t[]){C});
        lf_rng_fill_normal(&r, x->data, N * C, 3, 2);
        lf_rng_fill_uniform(&r, w->data, C, 0.5, 1.5);
        x->flags = w->flags = LF_TENSOR_REQUIRES_GRAD;
        lf_tensor *y = lf_batch_norm(g, x, w, NULL, NULL, NULL, 0.1, 1e-5);
        lf_real *seed = lf_malloc((size_t)N * C * sizeof(lf_real));
        lf_rng_fill_normal(&r, seed, N * C, 0, 1);
        CHECK(y != NULL);
        if (y) CHECK_OK(lf_backward_with(g, y, seed));
        lf_real *src[3] = {y ? y->data : seed, x->grad ? x->grad : seed, w->grad ? w->grad : seed};
        int64_t cnt[3] = {N * C, N * C, C};
        for (int k = 0; k < 3; k++) {
            res[run][k] = lf_malloc((size_t)cnt[k] * sizeof(lf_real));
            memcpy(res[run][k], src[k], (size_t)cnt[k] * sizeof(lf_real));
        }
        lf_free(seed);
        lf_graph_free(g);
    }
    lf_set_threads(saved);
    CHECK(memcmp(res[0][0], res[1][0], (size_t)N * C * sizeof(lf_real)) == 0);
    CHECK(memcmp(res[0][1], res[1][1], (size_t)N * C * sizeof(lf_real)) == 0);
    CHECK(memcmp(res[0][2], res[1][2], (size_t)C * sizeof(lf_real)) == 0);
    /* and normalised: every channel has mean 0 (no bias) */
    for (int c = 0; c < C; c += 37) {
        double m = 0;
        for (int n = 0; n < N; n++) m += res[0][0][n * C + c];
        CHECK_NEAR(m / N, 0, 1e-5);
    }
    for (int run = 0; run < 2; run++)
        for (int k = 0; k < 3; k++) lf_free(res[run][k]);
}

/* ---------------------------------------------------------------- errors */

TEST(norm_argument_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 4, (int64_t[]){2, 3, 4, 4});
    lf_tensor *w4 = lf_tensor_zeros(g, 1, (int64_t[]){4});
    lf_tensor *w3 = lf_tensor_zeros(g, 1, (int64_t[]){3});
    CHECK(lf_batch_norm(g, x, w4, NULL, NULL, NULL, 0.1, 1e-5) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE && strstr(lf_last_error(), "weight") &&
          strstr(lf_last_error(), "(4)"));
    CHECK(lf_batch_norm(g, x, w3, NULL, w3, NULL, 0.1, 1e-5) == NULL);
    CHECK(lf_last_status() == LF_ERR_ARG);
    lf_tensor *x1 = lf_tensor_zeros(g, 2, (int64_t[]){1, 3});
    lf_graph_set_training(g, 1);
    CHECK(lf_batch_norm(g, x1, NULL, NULL, NULL, NULL, 0.1, 1e-5) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE && strstr(lf_last_error(), "more than 1 value"));
    CHECK(lf_layer_norm(g, x, w3, NULL, 1e-5) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE && strstr(lf_last_error(), "(2, 3, 4, 4)"));
    CHECK(lf_layer_norm(g, NULL, w4, NULL, 1e-5) == NULL); /* NULL propagates */
    lf_graph_free(g);
}
