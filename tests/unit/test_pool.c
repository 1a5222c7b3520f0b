/* Pooling: naive reference loops, finite-difference gradients (float64 build), the
 * first-max rule for ties, PyTorch parity fixtures (float32 build), errors, thread count. */
#include "fixture_conv.h"
#include "gradcheck.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

typedef struct pool_case {
    const char *name;
    int op; /* 0 max, 1 avg, 2 global */
    int nd;
    int64_t shape[5];
    int k, s, p;
} pool_case;

static lf_tensor *run_pool(lf_graph *g, const pool_case *c, lf_tensor *x)
{
    if (c->op == 0) return lf_max_pool(g, x, c->nd, c->k, c->s, c->p);
    if (c->op == 1) return lf_avg_pool(g, x, c->nd, c->k, c->s, c->p);
    return lf_global_avg_pool(g, x);
}

/* Naive reference: y and gx (from gy) by scanning each window; max takes the first max. */
static void ref_pool(const pool_case *c, const lf_real *x, const lf_real *gy, double *y,
                     double *gx, int64_t *ny)
{
    int64_t X[3] = {1, 1, 1}, O[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1},
            P[3] = {0, 0, 0};
    for (int i = 0; i < c->nd; i++) {
        int j = 3 - c->nd + i;
        X[j] = c->shape[2 + i];
        if (c->op == 2) {
            K[j] = X[j];
            continue;
        }
        K[j] = c->k, S[j] = c->s ? c->s : c->k, P[j] = c->p; /* stride 0: the kernel */
        O[j] = (X[j] + 2 * c->p - c->k) / S[j] + 1;
    }
    const int64_t planes = c->shape[0] * c->shape[1], Lx = X[0] * X[1] * X[2],
                  Ly = O[0] * O[1] * O[2], kp = K[0] * K[1] * K[2];
    *ny = planes * Ly;
    memset(gx, 0, (size_t)(planes * Lx) * sizeof(double));
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t o = 0; o < Ly; o++) {
            int64_t o0 = o / (O[1] * O[2]), o1 = (o / O[2]) % O[1], o2 = o % O[2];
            double best = -INFINITY, sum = 0;
            int64_t arg = -1;
            for (int64_t t = 0; t < kp; t++) {
                int64_t i0 = o0 * S[0] - P[0] + t / (K[1] * K[2]);
                int64_t i1 = o1 * S[1] - P[1] + (t / K[2]) % K[1];
                int64_t i2 = o2 * S[2] - P[2] + t % K[2];
                if (i0 < 0 || i0 >= X[0] || i1 < 0 || i1 >= X[1] || i2 < 0 || i2 >= X[2]) continue;
                int64_t i = pl * Lx + (i0 * X[1] + i1) * X[2] + i2;
                sum += x[i];
                if (arg < 0 || x[i] > best) best = x[i], arg = i;
            }
            double g = gy[pl * Ly + o];
            if (c->op == 0) {
                y[pl * Ly + o] = best;
                gx[arg] += g;
            } else {
                y[pl * Ly + o] = sum / (double)kp;
                for (int64_t t = 0; t < kp; t++) {
                    int64_t i0 = o0 * S[0] - P[0] + t / (K[1] * K[2]);
                    int64_t i1 = o1 * S[1] - P[1] + (t / K[2]) % K[1];
                    int64_t i2 = o2 * S[2] - P[2] + t % K[2];
                    if (i0 < 0 || i0 >= X[0] || i1 < 0 || i1 >= X[1] || i2 < 0 || i2 >= X[2])
                        continue;
                    gx[pl * Lx + (i0 * X[1] + i1) * X[2] + i2] += g / (double)kp;
                }
            }
        }
}

static const pool_case cases[] = {
    {"max k3 s2 p1", 0, 2, {2, 3, 9, 9}, 3, 2, 1},
    {"max k2 s2 odd", 0, 2, {2, 2, 7, 5}, 2, 2, 0},
    {"max k3 s1 p1", 0, 2, {1, 2, 6, 6}, 3, 1, 1},
    {"max k2 s3", 0, 2, {2, 2, 8, 8}, 2, 3, 0},
    {"max stride default", 0, 2, {2, 2, 6, 6}, 2, 0, 0},
    {"max 3d k3 s2 p1", 0, 3, {1, 2, 5, 6, 7}, 3, 2, 1},
    {"max big (threads)", 0, 2, {4, 32, 16, 16}, 3, 2, 1},
    /* rows of several 16-output chunks (the AVX-512 inference rows), kernels 1 and 4 */
    {"max k3 s2 p1 wide", 0, 2, {2, 2, 7, 70}, 3, 2, 1},
    {"max k4 s2 p2", 0, 2, {1, 2, 6, 37}, 4, 2, 2},
    {"max k1 s2", 0, 2, {1, 2, 5, 33}, 1, 2, 0},
    {"avg k3 s2 p1", 1, 2, {2, 3, 9, 8}, 3, 2, 1},
    {"avg k2 s1", 1, 2, {2, 2, 5, 5}, 2, 1, 0},
    {"avg 3d k2 s2 p1", 1, 3, {1, 2, 5, 4, 6}, 2, 2, 1},
    {"avg big (threads)", 1, 2, {4, 32, 16, 16}, 3, 1, 1},
    {"global 2d", 2, 2, {3, 4, 5, 3}, 0, 0, 0},
    {"global 3d", 2, 3, {2, 3, 3, 4, 2}, 0, 0, 0},
};

TEST(pool_matches_naive_loops)
{
    double worst = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const pool_case *c = &cases[ci];
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_tensor *x = lf_tensor_new(g, c->nd + 2, c->shape);
        lf_rng r = lf_rng_make(11, ci);
        lf_rng_fill_uniform(&r, x->data, lf_numel(x), -1, 1);
        x->flags |= LF_TENSOR_REQUIRES_GRAD;
        lf_tensor *y = run_pool(g, c, x);
        if (!y) {
            lf_test_fail(__FILE__, __LINE__, "%s: %s", c->name, lf_last_error());
            lf_graph_free(g);
            continue;
        }
        lf_real *gy = lf_graph_alloc(g, (size_t)lf_numel(y) * sizeof(lf_real));
        lf_rng_fill_uniform(&r, gy, lf_numel(y), -1, 1);
        CHECK_OK(lf_backward_with(g, y, gy));
        double *ry = malloc((size_t)lf_numel(y) * sizeof(double));
        double *rgx = malloc((size_t)lf_numel(x) * sizeof(double));
        int64_t ny;
        ref_pool(c, x->data, gy, ry, rgx, &ny);
        CHECK_MSG(ny == lf_numel(y), "%s: %lld outputs, expected %lld", c->name,
                  (long long)lf_numel(y), (long long)ny);
        double e = 0;
        for (int64_t i = 0; i < ny && ny == lf_numel(y); i++)
            e = fmax(e, fabs(y->data[i] - ry[i]));
        for (int64_t i = 0; i < lf_numel(x); i++) e = fmax(e, fabs(x->grad[i] - rgx[i]));
        CHECK_MSG(e <= (sizeof(lf_real) == 4 ? 1e-6 : 1e-14), "%s: max diff %.3g", c->name, e);
        worst = fmax(worst, e);
        free(ry);
        free(rgx);
        lf_graph_free(g);
    }
    printf("    %zu cases, max diff vs naive loops %.3g\n", sizeof cases / sizeof cases[0], worst);
}

static lf_tensor *f_pool(lf_graph *g, lf_tensor **in, void *ctx) { return run_pool(g, ctx, in[0]); }

TEST(grad_pool)
{
    static const pool_case gc[] = {
        {"gc max k3 s2 p1", 0, 2, {2, 2, 5, 6}, 3, 2, 1},
        {"gc max 3d", 0, 3, {1, 2, 4, 3, 4}, 2, 2, 1},
        {"gc avg k3 s2 p1", 1, 2, {2, 2, 5, 6}, 3, 2, 1},
        {"gc avg 3d", 1, 3, {1, 2, 4, 3, 4}, 2, 1, 1},
        {"gc global", 2, 2, {2, 3, 3, 4}, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof gc / sizeof gc[0]; i++) {
        gc_input in;
        memset(&in, 0, sizeof in);
        in.ndim = gc[i].nd + 2;
        memcpy(in.shape, gc[i].shape, sizeof in.shape);
        GRADCHECK(gc[i].name, f_pool, 1, &in, (void *)&gc[i]);
    }
}

/* ties: the gradient goes to the first max in scan order (d, h, w), as torch; a window
 * that is all padding except one element takes that element even when it is negative */
TEST(max_pool_ties_and_padding)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_real v[16] = {1, 5, 5, 0, 5, 2, 0, 0, -3, -3, -1, -2, -4, -3, -2, -7};
    lf_tensor *x = lf_tensor_from(g, 4, (int64_t[]){1, 1, 4, 4}, v);
    x->flags |= LF_TENSOR_REQUIRES_GRAD;
    lf_tensor *y = lf_max_pool(g, x, 2, 2, 2, 1); /* 3x3 output, corners see one element */
    CHECK(y && y->shape[2] == 3 && y->shape[3] == 3);
    if (y) {
        lf_real ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        CHECK_OK(lf_backward_with(g, y, ones));
        /* windows: (0,0):{1} (0,1):{5,5} (0,2):{0} (1,0):{5,-3} (1,1):{2,0,-3,-1}
         * (1,2):{0,-2} (2,0):{-4} (2,1):{-3,-2} (2,2):{-7} */
        const lf_real ey[9] = {1, 5, 0, 5, 2, 0, -4, -2, -7};
        const lf_real eg[16] = {1, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1};
        for (int i = 0; i < 9; i++) CHECK_NEAR(y->data[i], ey[i], 0);
        for (int i = 0; i < 16; i++) CHECK_MSG(x->grad[i] == eg[i], "grad[%d] = %g, expected %g", i, (double)x->grad[i], (double)eg[i]);
    }
    lf_graph_free(g);
}

/* How many windows pick each input of x (planes of shape c), by torch's rule scanned window
 * by window in (d, h, w) order: a later value wins when larger or NaN, so the first of equal
 * maxima, and the window's first value when all are -inf */
static void ref_max_picks(const pool_case *c, const lf_real *x, double *picks)
{
    int64_t X[3] = {1, 1, 1}, O[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1},
            P[3] = {0, 0, 0};
    for (int i = 0; i < c->nd; i++) {
        const int j = 3 - c->nd + i;
        X[j] = c->shape[2 + i];
        K[j] = c->k, S[j] = c->s ? c->s : c->k, P[j] = c->p;
        O[j] = (X[j] + 2 * c->p - c->k) / S[j] + 1;
    }
    const int64_t planes = c->shape[0] * c->shape[1], Lx = X[0] * X[1] * X[2];
    memset(picks, 0, (size_t)(planes * Lx) * sizeof(double));
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t o = 0; o < O[0] * O[1] * O[2]; o++) {
            const int64_t o0 = o / (O[1] * O[2]), o1 = (o / O[2]) % O[1], o2 = o % O[2];
            lf_real best = -INFINITY;
            int64_t arg = -1;
            for (int64_t t = 0; t < K[0] * K[1] * K[2]; t++) {
                const int64_t i0 = o0 * S[0] - P[0] + t / (K[1] * K[2]);
                const int64_t i1 = o1 * S[1] - P[1] + (t / K[2]) % K[1];
                const int64_t i2 = o2 * S[2] - P[2] + t % K[2];
                if (i0 < 0 || i0 >= X[0] || i1 < 0 || i1 >= X[1] || i2 < 0 || i2 >= X[2])
                    continue;
                const int64_t i = pl * Lx + (i0 * X[1] + i1) * X[2] + i2;
                if (arg < 0) arg = i;
                if (x[i] > best || x[i] != x[i]) best = x[i], arg = i;
            }
            picks[arg] += 1;
        }
}

/* Inference (nothing recorded) takes a separate branch-free path (on AVX-512 with stride 2,
 * vector rows): the same bits as the recorded path on every max case above, with NaN (a NaN
 * in a window wins), -inf, ties, and -0 / +0 ties (the first one wins). The recorded path
 * (on AVX-512 with stride 2 too, with the indices) is checked against a scalar scan: its
 * gradient of ones counts each input's picks. */
TEST(max_pool_inference_path_matches_recorded)
{
    int n_cases = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const pool_case *c = &cases[ci];
        if (c->op != 0) continue;
        n_cases++;
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_tensor *x = lf_tensor_new(g, c->nd + 2, c->shape);
        lf_rng r = lf_rng_make(12, ci);
        lf_rng_fill_uniform(&r, x->data, lf_numel(x), -1, 1);
        for (int64_t i = 0; i < lf_numel(x); i++) { /* ties, NaN, -inf, signed zeros */
            if (i % 7 == 3) x->data[i] = 0.5f;
            if (i % 23 == 5) x->data[i] = NAN;
            if (i % 29 == 11) x->data[i] = -INFINITY;
            if (i % 5 == 1 && x->data[i] < 0.7f) x->data[i] = i % 10 == 1 ? -0.0f : 0.0f;
        }
        x->flags |= LF_TENSOR_REQUIRES_GRAD;
        lf_tensor *y1 = run_pool(g, c, x);
        if (y1) {
            lf_real *ones = lf_graph_alloc(g, (size_t)lf_numel(y1) * sizeof(lf_real));
            for (int64_t i = 0; i < lf_numel(y1); i++) ones[i] = 1;
            CHECK_OK(lf_backward_with(g, y1, ones));
            double *picks = malloc((size_t)lf_numel(x) * sizeof(double));
            ref_max_picks(c, x->data, picks);
            int64_t wrong = 0;
            for (int64_t i = 0; i < lf_numel(x); i++) wrong += x->grad[i] != picks[i];
            CHECK_MSG(wrong == 0, "%s: %lld inputs picked a different number of times than by "
                      "the scalar scan", c->name, (long long)wrong);
            free(picks);
        }
        lf_graph_set_grad_enabled(g, 0);
        lf_tensor *y0 = run_pool(g, c, x);
        CHECK_MSG(y1 && y0 && lf_numel(y0) == lf_numel(y1), "%s: %s", c->name, lf_last_error());
        int64_t nans = 0;
        for (int64_t i = 0; y1 && y0 && i < lf_numel(y1); i++) {
            const lf_real *p0 = &y0->data[i], *p1 = &y1->data[i];
            const int same = isnan(*p1) ? isnan(*p0) : !memcmp(p0, p1, sizeof(lf_real));
            nans += isnan(y1->data[i]);
            CHECK_MSG(same, "%s: output %lld: %g (inference) vs %g (recorded)", c->name,
                      (long long)i, (double)y0->data[i], (double)y1->data[i]);
        }
        CHECK_MSG(nans > 0, "%s: no NaN reached an output", c->name);
        lf_graph_free(g);
    }
    CHECK(n_cases >= 5);
}

TEST(pool_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 4, (int64_t[]){1, 2, 4, 4});
    CHECK(lf_max_pool(g, x, 2, 6, 1, 0) == NULL); /* kernel larger than input */
    CHECK(lf_last_status() == LF_ERR_SHAPE && strstr(lf_last_error(), "(1, 2, 4, 4)"));
    CHECK(lf_avg_pool(g, x, 3, 2, 2, 0) == NULL); /* 4-D input as 3-D */
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(lf_max_pool(g, x, 2, 2, 2, 2) == NULL); /* padding > kernel / 2 */
    CHECK(lf_last_status() == LF_ERR_ARG);
    CHECK(lf_avg_pool(g, x, 2, 0, 1, 0) == NULL);
    CHECK(lf_last_status() == LF_ERR_ARG);
    CHECK(lf_global_avg_pool(g, lf_tensor_zeros(g, 2, (int64_t[]){2, 3})) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(lf_max_pool(g, NULL, 2, 2, 2, 0) == NULL);
    lf_graph_free(g);
}

TEST(pool_thread_count_independent)
{
    const int old = lf_get_threads();
    lf_real *res[2][4];
    int64_t n[4];
    for (int run = 0; run < 2; run++) {
        lf_set_threads(run + 1);
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){4, 32, 17, 17});
        lf_rng r = lf_rng_make(8, 8);
        lf_rng_fill_uniform(&r, x->data, lf_numel(x), -1, 1);
        x->flags |= LF_TENSOR_REQUIRES_GRAD;
        lf_tensor *a = lf_max_pool(g, x, 2, 3, 2, 1), *b = lf_avg_pool(g, x, 2, 3, 2, 1);
        lf_tensor *out[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            n[k] = lf_numel(out[k]);
            res[run][k] = malloc((size_t)n[k] * sizeof(lf_real));
            memcpy(res[run][k], out[k]->data, (size_t)n[k] * sizeof(lf_real));
        }
        lf_real *seed = lf_graph_alloc(g, (size_t)n[0] * sizeof(lf_real));
        for (int64_t i = 0; i < n[0]; i++) seed[i] = (lf_real)((i % 5) - 2);
        CHECK_OK(lf_backward_with(g, a, seed));
        n[2] = lf_numel(x);
        res[run][2] = malloc((size_t)n[2] * sizeof(lf_real));
        memcpy(res[run][2], x->grad, (size_t)n[2] * sizeof(lf_real));
        memset(x->grad, 0, (size_t)n[2] * sizeof(lf_real));
        CHECK_OK(lf_backward_with(g, b, seed));
        n[3] = n[2];
        res[run][3] = malloc((size_t)n[3] * sizeof(lf_real));
        memcpy(res[run][3], x->grad, (size_t)n[3] * sizeof(lf_real));
        lf_graph_free(g);
    }
    lf_set_threads(old);
    for (int k = 0; k < 4; k++) {
        CHECK_MSG(memcmp(res[0][k], res[1][k], (size_t)n[k] * sizeof(lf_real)) == 0,
                  "result %d differs between 1 and 2 threads", k);
        free(res[0][k]);
        free(res[1][k]);
    }
}

/* ---- PyTorch parity (float32 build) */
#define FIX_DIR "tests/parity/fixtures/conv"

TEST(pool_torch_parity)
{
#ifdef LF_DOUBLE
    lf_test_skip("parity fixtures are float32: checked in the float32 build");
#else
    char names[64][64], err[256];
    int nf = fxconv_list(FIX_DIR, names, 64), npool = 0;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    double worst = 0;
    for (int f = 0; f < nf; f++) {
        fxconv_file fx;
        const int got = fxconv_load_kind(FIX_DIR, names[f], "pool", 5, &fx, err, sizeof err);
        if (got < 0) lf_test_fail(__FILE__, __LINE__, "%s", err);
        if (got <= 0) continue;
        npool++;
        pool_case c = {names[f], (int)fx.meta[0], (int)fx.meta[1], {0}, (int)fx.meta[2],
                       (int)fx.meta[3], (int)fx.meta[4]};
        lf_graph_reset(g);
        const fxconv_array *X = fxconv_get(&fx, "x"), *Y = fxconv_get(&fx, "y"), *GY = fxconv_get(&fx, "gy"),
                        *GX = fxconv_get(&fx, "gx");
        if (!X || !Y || !GY || !GX) {
            lf_test_fail(__FILE__, __LINE__, "%s: missing arrays", names[f]);
            fxconv_free(&fx);
            continue;
        }
        lf_tensor *x = lf_tensor_new(g, X->ndim, X->shape);
        for (int64_t k = 0; k < X->n; k++) x->data[k] = X->data[k];
        x->flags |= LF_TENSOR_REQUIRES_GRAD;
        lf_tensor *y = run_pool(g, &c, x);
        if (!y || lf_numel(y) != Y->n) {
            lf_test_fail(__FILE__, __LINE__, "%s: forward failed or wrong size: %s", names[f],
                         lf_last_error());
            fxconv_free(&fx);
            continue;
        }
        lf_real *seed = lf_graph_alloc(g, (size_t)GY->n * sizeof(lf_real));
        for (int64_t k = 0; k < GY->n; k++) seed[k] = GY->data[k];
        CHECK_OK(lf_backward_with(g, y, seed));
        int ok1, ok2;
        double d1 = fxconv_compare(y->data, Y->data, Y->n, 1e-4, &ok1);
        double d2 = fxconv_compare(x->grad, GX->data, GX->n, 1e-4, &ok2);
        printf("    %-26s y %.2e gx %.2e\n", names[f], d1, d2);
        worst = fmax(worst, fmax(d1, d2));
        CHECK_MSG(ok1 && ok2, "%s: differs from torch (y %.3g, gx %.3g)", names[f], d1, d2);
        fxconv_free(&fx);
    }
    CHECK_MSG(npool >= 8, "only %d pool fixtures found in %s", npool, FIX_DIR);
    printf("    %d pool fixtures, max |diff| %.3g\n", npool, worst);
    lf_graph_free(g);
#endif
}
