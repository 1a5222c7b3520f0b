/* The Winograd paths, F(2x2, 3x3) (src/backend/cpu/conv_winograd.c), F(4x4, 3x3)
 * (conv_winograd4.c, forced on or off), the 2x2 images' dual kind (conv_winograd_dual.c,
 * with F(4x4)) and, at the end, the stride-2 kind (conv_winograd_s2.c), against the im2col
 * path and a float64 direct convolution: forward (with and without accumulate), input
 * gradient (+=), weight gradient (+=), a job asking for both gradients, the transposed
 * convolution through the public API, geometries that must stay on im2col, thread-count
 * independence. Skipped in the float64 build and where the AVX-512 gemm is not in use. */
#include "backend/cpu/conv_winograd.h"
#include "backend/cpu/gemm_avx512.h"
#include "core/internal.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#ifndef LF_DOUBLE
static bool skip_unless_available(void)
{
    if (!lf_gemm512_available()) {
        lf_test_skip("no AVX-512 on this CPU (or LF_GEMM=blas): no Winograd path");
        return true;
    }
    return false;
}

/* The start of a test: false (skipped) unless the path is available; else a graph, a
 * random stream and one thread, so that every batch size takes the batch-parallel AVX-512
 * path where Winograd runs (with more threads a batch too small to split takes the shared
 * BLAS path). finish() restores the thread count. */
typedef struct wino_fx {
    lf_graph *g;
    lf_rng r;
    int threads;
} wino_fx;

static bool begin(wino_fx *f, uint64_t seed)
{
    if (skip_unless_available()) return false;
    CHECK_OK(lf_graph_init(&f->g, 0));
    f->r = lf_rng_make(seed, 1);
    f->threads = lf_get_threads();
    lf_set_threads(1);
    return true;
}

static void finish(wino_fx *f)
{
    lf_set_threads(f->threads);
    lf_graph_free(f->g);
}

static lf_conv_geom geom3x3(int64_t ci, int64_t co, int64_t H, int64_t W)
{
    lf_conv_geom q;
    memset(&q, 0, sizeof q);
    q.ci = ci;
    q.co = co;
    q.groups = 1;
    q.in[0] = q.out[0] = 1;
    q.in[1] = q.out[1] = H;
    q.in[2] = q.out[2] = W;
    for (int i = 0; i < 3; i++) q.k[i] = i ? 3 : 1, q.s[i] = q.d[i] = 1, q.p[i] = i ? 1 : 0;
    return q;
}

static float *random_floats(lf_rng *r, int64_t n)
{
    float *p = lf_malloc((size_t)n * sizeof(float));
    lf_rng_fill_uniform(r, p, n, -1, 1);
    return p;
}

/* A random 3x3 problem: weights, input, output gradient, and initial contents for the
 * outputs (init: max(nx, ny, nw) floats) */
typedef struct problem {
    lf_conv_geom q;
    int64_t n, nx, ny, nw;
    float *w, *x, *dy, *init;
} problem;

static int64_t problem_max(const problem *p)
{
    const int64_t m = p->nx > p->ny ? p->nx : p->ny;
    return m > p->nw ? m : p->nw;
}

static problem make_problem(lf_rng *r, int64_t n, int64_t ci, int64_t co, int64_t H, int64_t W)
{
    problem p = {.q = geom3x3(ci, co, H, W), .n = n, .nx = n * ci * H * W, .ny = n * co * H * W,
                 .nw = co * ci * 9};
    p.w = random_floats(r, p.nw);
    p.x = random_floats(r, p.nx);
    p.dy = random_floats(r, p.ny);
    p.init = random_floats(r, problem_max(&p));
    return p;
}

static void free_problem(problem *p)
{
    lf_free(p->w);
    lf_free(p->x);
    lf_free(p->dy);
    lf_free(p->init);
}

/* out (n, co, H, W) = base + conv3x3 pad 1 of in (n, ci, H, W) with w (co, ci, 3, 3) in
 * double; bwd: the input gradient (in is dy (n, co), out is dx (n, ci)) */
static void ref_3x3(const lf_conv_geom *q, int64_t n, const float *w, const float *in,
                    const float *base, bool bwd, double *out)
{
    const int64_t H = q->in[1], W = q->in[2], HW = H * W;
    const int64_t cin = bwd ? q->co : q->ci, cout = bwd ? q->ci : q->co;
    for (int64_t b = 0; b < n; b++)
        for (int64_t o = 0; o < cout; o++)
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++) {
                    const int64_t at = (b * cout + o) * HW + y * W + x;
                    double s = base ? base[at] : 0;
                    for (int64_t i = 0; i < cin; i++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                /* forward reads in[y + kh - 1]; the gradient of that read
                                 * sends dy[y] to dx[y + kh - 1], i.e. dx[y] gets dy[y - kh + 1] */
                                const int64_t sy = bwd ? y - kh + 1 : y + kh - 1;
                                const int64_t sx = bwd ? x - kw + 1 : x + kw - 1;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                                const float wv = bwd ? w[((i * q->ci + o) * 3 + kh) * 3 + kw]
                                                     : w[((o * q->ci + i) * 3 + kh) * 3 + kw];
                                s += (double)wv * in[(b * cin + i) * HW + sy * W + sx];
                            }
                    out[at] = s;
                }
}

/* dw (co, ci, 3, 3) = base + the weight gradient of the 3x3 pad-1 convolution of x with
 * output gradient dy, in double */
static void ref_dw(const lf_conv_geom *q, int64_t n, const float *x, const float *dy,
                   const float *base, double *dw)
{
    const int64_t H = q->in[1], W = q->in[2], HW = H * W;
    for (int64_t o = 0; o < q->co; o++)
        for (int64_t i = 0; i < q->ci; i++)
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                    const int64_t at = ((o * q->ci + i) * 3 + kh) * 3 + kw;
                    double s = base[at];
                    for (int64_t b = 0; b < n; b++)
                        for (int64_t y = 0; y < H; y++)
                            for (int64_t xx = 0; xx < W; xx++) {
                                const int64_t sy = y + kh - 1, sx = xx + kw - 1;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                                s += (double)dy[(b * q->co + o) * HW + y * W + xx] *
                                     x[(b * q->ci + i) * HW + sy * W + sx];
                            }
                    dw[at] = s;
                }
}

/* max |a - ref| / max |ref| */
static double rel_err(const float *a, const double *ref, int64_t n)
{
    double d = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        const double e = fabs(a[i] - ref[i]);
        if (e > d) d = e;
        if (fabs(ref[i]) > m) m = fabs(ref[i]);
    }
    return m > 0 ? d / m : d;
}

/* The largest relative error seen, F(2x2) and F(4x4) (LF_TEST_VERBOSE=1 prints it per
 * case); whether any Winograd result differed from im2col's at all (rounding: it should). */
static double worst_wino, worst_wino4, worst_im2col;
static bool differed;

/* Tolerance. A float dot product of K terms (K = 9 ci here, up to 4608 in a ResNet) errs by
 * about sqrt(K) ulps of the sum of |products|; Winograd adds the transforms: values scaled by
 * up to 4 (B^T d B sums up to 4 inputs, G g G^T up to 9 weights / 4) before the products and
 * cancelled again in A^T m A, a few more ulps of the same magnitude. With inputs uniform in
 * [-1, 1], max |ref| is ~ 0.3 sqrt(9 ci) and the sum of |products| ~ 2.25 ci, so both errors,
 * relative to max |ref|, grow like sqrt(ci) ulps. The weight gradient's sums run over the
 * n H W positions instead of 9 ci: the same argument with K = n H W (at most 2,331 here).
 * Measured (these cases, against the float64 reference; LF_TEST_VERBOSE=1 prints them):
 * Winograd at most 8.0e-7 of max |ref| (a weight gradient), im2col at most 6.0e-7: the two
 * are alike. The bound 1e-5 leaves a 12x margin for other inputs and compilers.
 * F(4x4, 3x3) (the forward pass and input gradient of images of 3x3 and more) scales values
 * by up to about 10 in its transforms before the products and cancels it after, so its
 * rounding errors are larger: at most 4.2e-6 of max |ref| here (ci 389); the same sqrt(ci)
 * growth puts 2,048 channels near 1e-5. Its bound, 4e-5, keeps a 4x margin there. */
#define WINO_REL_TOL 1e-5
#define WINO4_REL_TOL 4e-5

/* mode 1: F(4x4) where it fits (not the weight gradient), 2: F(2x2) alone */
static double tol_for(const lf_conv_geom *q, int mode, bool weight_gradient)
{
    return mode == 1 && !weight_gradient && lf_conv_winograd4_fits(q) ? WINO4_REL_TOL
                                                                       : WINO_REL_TOL;
}

static void check_close(const char *what, const lf_conv_geom *q, int64_t n, const float *wino,
                        const float *im2col, const double *ref, int64_t cnt, double tol)
{
    const double ew = rel_err(wino, ref, cnt), ei = rel_err(im2col, ref, cnt);
    const bool f4 = tol > WINO_REL_TOL;
    differed = differed || memcmp(wino, im2col, (size_t)cnt * sizeof(float)) != 0;
    if (f4 && ew > worst_wino4) worst_wino4 = ew;
    if (!f4 && ew > worst_wino) worst_wino = ew;
    if (ei > worst_im2col) worst_im2col = ei;
    if (getenv("LF_TEST_VERBOSE"))
        printf("    %s n %lld ci %lld co %lld %lldx%lld: winograd F(%dx%d) %.2e im2col %.2e\n",
               what, (long long)n, (long long)q->ci, (long long)q->co, (long long)q->in[1],
               (long long)q->in[2], f4 ? 4 : 2, f4 ? 4 : 2, ew, ei);
    CHECK_MSG(ew <= tol && ei <= WINO_REL_TOL,
              "%s n %lld ci %lld co %lld %lldx%lld: relative error winograd F(%dx%d) %.3g, "
              "im2col %.3g", what, (long long)n, (long long)q->ci, (long long)q->co,
              (long long)q->in[1], (long long)q->in[2], f4 ? 4 : 2, f4 ? 4 : 2, ew, ei);
}

/* Runs job (outputs copied from init first) with the Winograd path forced to mode; out is
 * the output the job writes. */
static void run_with(lf_graph *g, const lf_conv_geom *q, lf_conv_job j, int mode, float *out,
                     const float *init, int64_t cnt)
{
    memcpy(out, init, (size_t)cnt * sizeof(float));
    lf_conv_winograd_force(mode);
    CHECK_OK(lf_conv_cpu_run(g, q, &j));
    lf_conv_winograd_force(-1);
}

/* Job j straight on the Winograd path on T threads (out: the output j writes, set from init
 * first). lf_conv_cpu_run sends the weight gradient of layers with few channels to im2col
 * and small batches to one thread; this reaches the path with every shape and thread
 * count. */
static void run_direct(lf_graph *g, const lf_conv_geom *q, lf_conv_job j, int T, float *out,
                       const float *init, int64_t cnt)
{
    memcpy(out, init, (size_t)cnt * sizeof(float));
    CHECK_OK(lf_conv_winograd_run(g, q, &j, T));
}

/* One geometry: forward (accumulate off and on), input gradient and weight gradient, both
 * paths against the float64 reference; Winograd in mode (1: F(4x4) where it fits, 2: F(2x2)
 * alone). */
static void check_case(lf_graph *g, lf_rng *r, int mode, int64_t n, int64_t ci, int64_t co,
                       int64_t H, int64_t W)
{
    problem p = make_problem(r, n, ci, co, H, W);
    const lf_conv_geom *q = &p.q;
    const int64_t cnt = problem_max(&p);
    float *a = lf_malloc((size_t)cnt * sizeof(float)), *b = lf_malloc((size_t)cnt * sizeof(float));
    double *ref = lf_malloc((size_t)cnt * sizeof(double));
    for (int acc = 0; acc < 2; acc++) {
        lf_conv_job j = {.n = n, .w = p.w, .img = p.x, .colside_out = a, .accumulate = acc};
        run_with(g, q, j, mode, a, p.init, p.ny);
        j.colside_out = b;
        run_with(g, q, j, 0, b, p.init, p.ny);
        ref_3x3(q, n, p.w, p.x, acc ? p.init : NULL, false, ref);
        check_close(acc ? "forward, accumulate" : "forward", q, n, a, b, ref, p.ny,
                    tol_for(q, mode, false));
    }
    lf_conv_job j = {.n = n, .w = p.w, .colside = p.dy, .img_out = a};
    run_with(g, q, j, mode, a, p.init, p.nx);
    j.img_out = b;
    run_with(g, q, j, 0, b, p.init, p.nx);
    ref_3x3(q, n, p.w, p.dy, p.init, true, ref);
    check_close("input gradient", q, n, a, b, ref, p.nx, tol_for(q, mode, false));
    if (mode == 2) { /* the weight gradient is the same in both modes */
        j = (lf_conv_job){.n = n, .img = p.x, .colside = p.dy, .dw = a};
        run_direct(g, q, j, 1, a, p.init, p.nw);
        j.dw = b;
        run_with(g, q, j, 0, b, p.init, p.nw);
        ref_dw(q, n, p.x, p.dy, p.init, ref);
        check_close("weight gradient", q, n, a, b, ref, p.nw, WINO_REL_TOL);
    }
    free_problem(&p);
    lf_free(a);
    lf_free(b);
    lf_free(ref);
}
#endif

TEST(winograd_matches_im2col_and_reference)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    wino_fx fx;
    if (!begin(&fx, 7)) return;
    /* channel counts off the gemm's 8-row / 16-lane tiles; odd sizes; 1x1 and 2x2 images;
     * wide rows (more than 16 tiles); channel counts over the gemm's 192-column blocks of
     * the packed filters, both ways (one thread: winograd_thread_count_independent has more) */
    const int64_t cases[][5] = {{1, 3, 5, 1, 1},   {2, 16, 16, 2, 2},  {3, 17, 33, 5, 7},
                                {4, 32, 64, 8, 8}, {5, 19, 13, 9, 4},  {2, 70, 40, 16, 16},
                                {8, 8, 24, 3, 38}, {1, 5, 7, 35, 33},  {9, 24, 16, 6, 6},
                                {2, 64, 64, 4, 4}, {3, 1, 1, 11, 2},   {2, 203, 389, 3, 5},
                                /* short rows (tw <= 8) packed several units to a vector:
                                 * units that straddle the staging registers (tw 3, 5, 6, 7),
                                 * groups cut by a block's end (many images; thread ends:
                                 * winograd_thread_count_independent) */
                                {11, 9, 10, 10, 5}, {7, 20, 12, 13, 13}, {13, 40, 30, 1, 1},
                                {6, 24, 24, 12, 12}, {37, 12, 20, 7, 9}, {5, 3, 4, 16, 15},
                                /* F(4x4): rows of 18 tiles (two groups of 16 lanes), 3x3
                                 * images (one partial tile), 6 tiles a row (units straddling
                                 * the staging registers), 4x4 images 16 units to a vector */
                                {2, 6, 8, 9, 70},   {3, 5, 7, 3, 3},    {4, 4, 4, 5, 21},
                                {19, 8, 6, 4, 4},
                                /* 2x2 images (the dual kind in mode 1): channels off the
                                 * transforms' groups of 4, images off their 16 and over
                                 * one block (96), channels over the 192-column blocks */
                                {37, 5, 7, 2, 2},   {130, 20, 13, 2, 2}, {3, 203, 197, 2, 2},
                                /* 4x4 images (F(4x4)'s transposed transforms): a partial
                                 * group of 16; then 2x2 and 4x4 images over 2 and 3
                                 * blocks */
                                {150, 20, 24, 4, 4}, {200, 100, 100, 2, 2},
                                {200, 100, 100, 4, 4}};
    for (int mode = 1; mode <= 2; mode++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            check_case(fx.g, &fx.r, mode, cases[i][0], cases[i][1], cases[i][2], cases[i][3],
                       cases[i][4]);
    finish(&fx);
    if (getenv("LF_TEST_VERBOSE"))
        printf("    worst relative error: winograd F(2x2) %.2e, F(4x4) %.2e, im2col %.2e\n",
               worst_wino, worst_wino4, worst_im2col);
    CHECK_MSG(differed, "Winograd gave the im2col path's results bit for bit: not taken?");
#endif
}

/* A backward job asking for both gradients (as the conv op's backward does): both on the
 * path, both against the reference; with few channels the weight gradient stays on im2col
 * (bit for bit). */
TEST(winograd_whole_backward_job)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    wino_fx fx;
    if (!begin(&fx, 8)) return;
    problem p = make_problem(&fx.r, 4, 72, 80, 10, 9);
    CHECK(lf_conv_winograd_dw_fits(&p.q));
    const int64_t nx = p.nx, nw = p.nw;
    float *dx1 = lf_malloc((size_t)nx * sizeof(float)), *dx0 = lf_malloc((size_t)nx * sizeof(float));
    float *dw1 = lf_malloc((size_t)nw * sizeof(float)), *dw0 = lf_malloc((size_t)nw * sizeof(float));
    double *ref = lf_malloc((size_t)(nx > nw ? nx : nw) * sizeof(double));
    memcpy(dw1, p.init, (size_t)nw * sizeof(float));
    memcpy(dw0, p.init, (size_t)nw * sizeof(float));
    lf_conv_job j = {.n = p.n, .w = p.w, .img = p.x, .colside = p.dy, .img_out = dx1, .dw = dw1};
    run_with(fx.g, &p.q, j, 1, dx1, p.init, nx);
    j.img_out = dx0;
    j.dw = dw0;
    run_with(fx.g, &p.q, j, 0, dx0, p.init, nx);
    CHECK(memcmp(dw0, dw1, (size_t)nw * sizeof(float)) != 0); /* dw did take the path */
    ref_3x3(&p.q, p.n, p.w, p.dy, p.init, true, ref);
    check_close("whole job, input gradient", &p.q, p.n, dx1, dx0, ref, nx,
                tol_for(&p.q, 1, false));
    ref_dw(&p.q, p.n, p.x, p.dy, p.init, ref);
    check_close("whole job, weight gradient", &p.q, p.n, dw1, dw0, ref, nw, WINO_REL_TOL);
    free_problem(&p);
    /* 3 input channels (a stem): dw on im2col either way, dx still on the path */
    p = make_problem(&fx.r, 4, 3, 40, 9, 9);
    CHECK(!lf_conv_winograd_dw_fits(&p.q));
    memcpy(dw1, p.init, (size_t)p.nw * sizeof(float));
    memcpy(dw0, p.init, (size_t)p.nw * sizeof(float));
    j = (lf_conv_job){.n = p.n, .w = p.w, .img = p.x, .colside = p.dy, .img_out = dx1, .dw = dw1};
    run_with(fx.g, &p.q, j, 1, dx1, p.init, p.nx);
    j.img_out = dx0;
    j.dw = dw0;
    run_with(fx.g, &p.q, j, 0, dx0, p.init, p.nx);
    CHECK(memcmp(dw0, dw1, (size_t)p.nw * sizeof(float)) == 0);
    CHECK(memcmp(dx0, dx1, (size_t)p.nx * sizeof(float)) != 0);
    free_problem(&p);
    lf_free(dx1);
    lf_free(dx0);
    lf_free(dw1);
    lf_free(dw0);
    lf_free(ref);
    finish(&fx);
#endif
}

#ifndef LF_DOUBLE
/* y = conv or conv_transpose of x (n, c, 12, 12) with args a, then x's and (when w_grad)
 * w's gradients for a fixed upstream gradient, with the path forced to mode; out: y, dx, dw
 * one after the other (sizes in cnt[3]; cnt[2] 0 without w_grad) */
static void api_run_with(bool transposed, bool w_grad, lf_conv_args a, int mode, float *out,
                         int64_t cnt[3])
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_rng r = lf_rng_make(9, 1);
    const int64_t c = 12, xs[4] = {4, c, 12, 12}, ws[4] = {c, c / a.groups, 3, 3};
    lf_tensor *x = lf_tensor_new(g, 4, xs), *w = lf_tensor_new(g, 4, ws);
    lf_rng_fill_uniform(&r, x->data, lf_numel(x), -1, 1);
    lf_rng_fill_uniform(&r, w->data, lf_numel(w), -1, 1);
    x->flags |= LF_TENSOR_REQUIRES_GRAD;
    if (w_grad) w->flags |= LF_TENSOR_REQUIRES_GRAD;
    lf_conv_winograd_force(mode);
    lf_tensor *y = transposed ? lf_conv_transpose(g, x, w, NULL, a) : lf_conv(g, x, w, NULL, a);
    CHECK(y != NULL);
    if (y) {
        float *seed = random_floats(&r, lf_numel(y));
        CHECK_OK(lf_backward_with(g, y, seed));
        lf_free(seed);
        cnt[0] = lf_numel(y), cnt[1] = lf_numel(x), cnt[2] = w_grad ? lf_numel(w) : 0;
        memcpy(out, y->data, (size_t)cnt[0] * sizeof(float));
        memcpy(out + cnt[0], x->grad, (size_t)cnt[1] * sizeof(float));
        if (w_grad) memcpy(out + cnt[0] + cnt[1], w->grad, (size_t)cnt[2] * sizeof(float));
    }
    lf_conv_winograd_force(-1);
    lf_graph_free(g);
}

static void api_run(bool transposed, lf_conv_args a, int mode, float *out, int64_t cnt[3])
{
    api_run_with(transposed, true, a, mode, out, cnt);
}
#endif

/* Through the public API: conv_transpose with k 3, s 1, p 1 takes the path (its forward is
 * the input-gradient product, its backward the forward one) and agrees with im2col; a
 * stride-2 pad-1 convolution's forward product takes the stride-2 kind and its gradients
 * stay on im2col, and so does a stride-2 conv_transpose's input gradient when its weights
 * need none (a forward product alone); dilated, unpadded and grouped 3x3 convolutions stay
 * on im2col (bit-identical results). */
TEST(winograd_dispatch_through_ops)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    if (skip_unless_available()) return;
    /* one thread: the batch-parallel path (where Winograd runs) whatever the core count */
    const int threads = lf_get_threads();
    lf_set_threads(1);
    const int64_t big = 3 * 4 * 12 * 26 * 26 + 12 * 12 * 9;
    float *on = lf_malloc((size_t)big * sizeof(float)), *off = lf_malloc((size_t)big * sizeof(float));
    struct {
        bool transposed, same;
        int stride, pad, dil, groups;
    } cases[] = {{true, true, 1, 1, 1, 1},  {false, true, 1, 1, 1, 1}, {false, false, 2, 1, 1, 1},
                 {false, false, 1, 0, 1, 1}, {false, false, 1, 2, 2, 1}, {false, false, 1, 1, 1, 2},
                 {true, false, 2, 1, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lf_conv_args a = lf_conv_args_make(2, cases[i].stride, cases[i].pad, cases[i].dil,
                                           cases[i].groups);
        int64_t c1[3] = {0}, c0[3] = {0};
        api_run(cases[i].transposed, a, 1, on, c1);
        api_run(cases[i].transposed, a, 0, off, c0);
        CHECK(memcmp(c0, c1, sizeof c0) == 0);
        const int64_t tot = c0[0] + c0[1] + c0[2];
        if (!cases[i].transposed && cases[i].stride == 2 && cases[i].pad == 1 &&
            cases[i].dil == 1 && cases[i].groups == 1) {
            /* the stride-2 kind (conv_winograd_s2.c) takes the forward product alone: the
             * output changes (winograd_s2_matches_reference checks it), the gradients stay
             * im2col's */
            CHECK_MSG(memcmp(on, off, (size_t)c0[0] * sizeof(float)) != 0,
                      "case %zu: stride-2 output is im2col's bit for bit: not taken?", i);
            CHECK_MSG(memcmp(on + c0[0], off + c0[0], (size_t)(c0[1] + c0[2]) * sizeof(float)) ==
                          0,
                      "case %zu: stride-2 gradients changed", i);
            continue;
        }
        if (!cases[i].same) {
            CHECK_MSG(memcmp(on, off, (size_t)tot * sizeof(float)) == 0,
                      "case %zu: not a 3x3 same convolution but the results changed", i);
            continue;
        }
        CHECK_MSG(memcmp(on, off, (size_t)c0[0] * sizeof(float)) != 0,
                  "case %zu: the output is im2col's bit for bit: Winograd not taken?", i);
        /* each of y, dx, dw within the tolerance of its own magnitude */
        for (int part = 0, at = 0; part < 3; at += (int)c0[part], part++) {
            double d = 0, m = 0;
            for (int64_t k = at; k < at + c0[part]; k++) {
                if (fabs(on[k] - off[k]) > d) d = fabs(on[k] - off[k]);
                if (fabs(off[k]) > m) m = fabs(off[k]);
            }
            CHECK_MSG(d <= WINO4_REL_TOL * m, /* 12x12 images: F(4x4) but for dw */
                      "case %zu part %d: max diff %.3g of max %.3g", i, part, d, m);
        }
    }
    /* conv_transpose stride 2 with weights that need no gradient: its input gradient is a
     * forward stride-2 product alone, on the stride-2 kind; its output stays im2col's */
    const lf_conv_args a2 = lf_conv_args_make(2, 2, 1, 1, 1);
    int64_t c1[3] = {0}, c0[3] = {0};
    api_run_with(true, false, a2, 1, on, c1);
    api_run_with(true, false, a2, 0, off, c0);
    CHECK(memcmp(c0, c1, sizeof c0) == 0 && c0[2] == 0);
    CHECK_MSG(memcmp(on, off, (size_t)c0[0] * sizeof(float)) == 0,
              "transposed stride 2: the output changed");
    CHECK_MSG(memcmp(on + c0[0], off + c0[0], (size_t)c0[1] * sizeof(float)) != 0,
              "transposed stride 2: dx is im2col's bit for bit: the stride-2 kind not taken?");
    double d = 0, m = 0;
    for (int64_t k = c0[0]; k < c0[0] + c0[1]; k++) {
        if (fabs(on[k] - off[k]) > d) d = fabs(on[k] - off[k]);
        if (fabs(off[k]) > m) m = fabs(off[k]);
    }
    CHECK_MSG(d <= WINO_REL_TOL * m, "transposed stride 2: dx max diff %.3g of max %.3g", d, m);
    lf_free(on);
    lf_free(off);
    lf_set_threads(threads);
#endif
}

/* The same numbers on 1, 2 and 3 threads: in the forward and input gradient each thread
 * owns whole images (a gemm column's sum does not depend on the block it is in); the weight
 * gradient's blocks and sums do not depend on the thread count. Shapes: short rows (tw 7)
 * over two weight-gradient blocks; long rows (tw 10) over three; a batch whose threads get
 * odd unit counts (groups of two units cut at a thread's end); 2x2 images (the dual kind)
 * and 4x4 images over two blocks a thread. */
TEST(winograd_thread_count_independent)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    wino_fx fx;
    if (!begin(&fx, 10)) return;
    const int64_t shapes[][5] = {{12, 40, 48, 14, 14}, {5, 70, 72, 20, 20}, {5, 9, 10, 5, 13},
                                 {150, 66, 70, 2, 2}, {150, 34, 18, 4, 4}};
    for (int mode = 1; mode <= 2; mode++) /* F(4x4) where it fits, F(2x2) alone */
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        lf_conv_winograd_force(mode);
        const int64_t *sh = shapes[si];
        problem p = make_problem(&fx.r, sh[0], sh[1], sh[2], sh[3], sh[4]);
        const int64_t cnt[3] = {p.ny, p.nx, p.nw};
        float *out[3][3];
        for (int t = 0; t < 3; t++) {
            for (int k = 0; k < 3; k++) out[t][k] = lf_malloc((size_t)cnt[k] * sizeof(float));
            const lf_conv_job jobs[3] = {
                {.n = p.n, .w = p.w, .img = p.x, .colside_out = out[t][0]},
                {.n = p.n, .w = p.w, .colside = p.dy, .img_out = out[t][1]},
                {.n = p.n, .img = p.x, .colside = p.dy, .dw = out[t][2]}};
            for (int k = 0; k < 3; k++)
                run_direct(fx.g, &p.q, jobs[k], t + 1, out[t][k], p.init, cnt[k]);
        }
        for (int t = 1; t < 3; t++)
            for (int k = 0; k < 3; k++)
                CHECK_MSG(memcmp(out[0][k], out[t][k], (size_t)cnt[k] * sizeof(float)) == 0,
                          "mode %d shape %zu: product %d differs between 1 and %d threads", mode,
                          si, k, t + 1);
        for (int t = 0; t < 3; t++)
            for (int k = 0; k < 3; k++) lf_free(out[t][k]);
        free_problem(&p);
        lf_conv_winograd_force(-1);
    }
    finish(&fx);
#endif
}

/* ---- The stride-2 kind (conv_winograd_s2.c): the forward pass of 3x3 stride-2 pad-1
 * convolutions on 25 products a 2x2 tile, against a float64 direct sum and the im2col path:
 * odd and even sizes (partial tiles), 1x1, 2x2 and 3x3 images, channel counts off the gemm's
 * tiles and over its k blocks, blocks of tiles and partial groups of 16, accumulate, the
 * epilogue (batch norm, residual, ReLU), dispatch through lf_conv_cpu_run, and results that
 * do not depend on the thread count. */
#ifndef LF_DOUBLE
static lf_conv_geom geom_s2(int64_t ci, int64_t co, int64_t H, int64_t W)
{
    lf_conv_geom q = geom3x3(ci, co, H, W);
    q.out[1] = (H + 1) / 2;
    q.out[2] = (W + 1) / 2;
    q.s[1] = q.s[2] = 2;
    return q;
}

/* n floats uniform in [lo, hi) */
static float *uniform(lf_rng *r, int64_t n, double lo, double hi)
{
    float *p = lf_malloc((size_t)n * sizeof(float));
    lf_rng_fill_uniform(r, p, n, lo, hi);
    return p;
}

/* out (n, co, OH, OW) = base + conv(x) in double, then the epilogue ep (NULL: none) */
static void ref_s2(const lf_conv_geom *q, int64_t n, const float *w, const float *x,
                   const float *base, const lf_conv_epilogue *ep, double *out)
{
    const int64_t H = q->in[1], W = q->in[2], OH = q->out[1], OW = q->out[2];
    for (int64_t b = 0; b < n; b++)
        for (int64_t o = 0; o < q->co; o++)
            for (int64_t y = 0; y < OH; y++)
                for (int64_t xx = 0; xx < OW; xx++) {
                    const int64_t at = ((b * q->co + o) * OH + y) * OW + xx;
                    double s = base ? base[at] : 0;
                    for (int64_t i = 0; i < q->ci; i++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                const int64_t sy = 2 * y + kh - 1, sx = 2 * xx + kw - 1;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                                s += (double)w[((o * q->ci + i) * 3 + kh) * 3 + kw] *
                                     x[((b * q->ci + i) * H + sy) * W + sx];
                            }
                    if (ep) {
                        s = (s - ep->mean[o]) * ep->a[o] + ep->k[o];
                        if (ep->res) s += ep->res[at];
                        if (ep->relu && !(s > 0)) s = 0;
                    }
                    out[at] = s;
                }
}

/* The transforms add at most three values (coefficients 0, +-1) before and after the
 * products: the rounding is the direct sum's plus a few ulps of the same size. Measured
 * (these cases): at most 6e-7 of the largest value; im2col at most 5e-7. */
#define S2_REL_TOL 1e-5

typedef struct s2_case {
    int64_t n, ci, co, H, W;
} s2_case;

/* One geometry: plain, accumulate, and with an epilogue (BN, residual, ReLU), through
 * lf_conv_cpu_run with the path forced on (mode 1) and off (im2col), both against float64 */
static void check_s2(lf_graph *g, lf_rng *r, const s2_case *c, bool *differed)
{
    const lf_conv_geom q = geom_s2(c->ci, c->co, c->H, c->W);
    CHECK(lf_conv_winograd_s2_fits(&q, c->n));
    const int64_t nx = c->n * c->ci * c->H * c->W, ny = c->n * c->co * q.out[1] * q.out[2];
    float *w = uniform(r, c->co * c->ci * 9, -1, 1), *x = uniform(r, nx, -1, 1);
    float *init = uniform(r, ny, -1, 1), *res = uniform(r, ny, -1, 1);
    float *mean = uniform(r, c->co, -0.5, 0.5), *a = uniform(r, c->co, 0.5, 1.5);
    float *k = uniform(r, c->co, -0.5, 0.5);
    float *ya = lf_malloc((size_t)ny * sizeof(float)), *yb = lf_malloc((size_t)ny * sizeof(float));
    double *ref = lf_malloc((size_t)ny * sizeof(double));
    const lf_conv_epilogue ep = {.mean = mean, .a = a, .k = k, .res = res, .relu = true};
    for (int v = 0; v < 3; v++) { /* plain, accumulate, epilogue */
        lf_conv_job j = {.n = c->n, .w = w, .img = x, .accumulate = v == 1,
                         .ep = v == 2 ? &ep : NULL};
        float *outs[2] = {ya, yb};
        for (int m = 0; m < 2; m++) {
            memcpy(outs[m], init, (size_t)ny * sizeof(float));
            j.colside_out = outs[m];
            lf_conv_winograd_force(m == 0 ? 1 : 0);
            if (m == 0) CHECK(lf_conv_winograd_s2_takes(&q, &j) == lf_gemm512_available());
            CHECK_OK(lf_conv_cpu_run(g, &q, &j));
            lf_conv_winograd_force(-1);
        }
        ref_s2(&q, c->n, w, x, v == 1 ? init : NULL, v == 2 ? &ep : NULL, ref);
        const double es = rel_err(ya, ref, ny), ei = rel_err(yb, ref, ny);
        *differed = *differed || memcmp(ya, yb, (size_t)ny * sizeof(float)) != 0;
        if (getenv("LF_TEST_VERBOSE"))
            printf("    n %lld ci %lld co %lld %lldx%lld %s: stride-2 Winograd %.2e im2col %.2e\n",
                   (long long)c->n, (long long)c->ci, (long long)c->co, (long long)c->H,
                   (long long)c->W, v == 0 ? "plain" : v == 1 ? "accumulate" : "epilogue", es, ei);
        CHECK_MSG(es <= S2_REL_TOL && ei <= S2_REL_TOL,
                  "n %lld ci %lld co %lld %lldx%lld variant %d: relative error %.3g (im2col %.3g)",
                  (long long)c->n, (long long)c->ci, (long long)c->co, (long long)c->H,
                  (long long)c->W, v, es, ei);
    }
    lf_free(w), lf_free(x), lf_free(init), lf_free(res), lf_free(mean), lf_free(a), lf_free(k);
    lf_free(ya), lf_free(yb), lf_free(ref);
}
#endif

TEST(winograd_s2_matches_reference)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    wino_fx fx;
    if (!begin(&fx, 31)) return;
    const s2_case cases[] = {
        {4, 16, 32, 16, 16}, /* a ResNet stage's first convolution, 64x64 input */
        {5, 24, 40, 8, 8},   /* the next stage */
        {37, 20, 24, 4, 4},  /* 4x4 -> 2x2, one tile an image, past one block */
        {3, 5, 7, 9, 7},     /* odd sizes: partial tiles */
        {6, 3, 4, 2, 2},     /* 2x2 -> 1x1 */
        {21, 6, 10, 3, 3},   /* 3x3 -> 2x2: the outputs stored by planes, channels off 4 */
        {7, 4, 5, 1, 1},     /* 1x1 -> 1x1 */
        {2, 200, 17, 5, 6},  /* K over the gemm's k blocks, channels off its tiles */
        {3, 9, 11, 3, 18},   /* wide rows: 5 tiles a row */
    };
    bool s2_differed = false;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_s2(fx.g, &fx.r, &cases[i], &s2_differed);
    CHECK_MSG(s2_differed, "the stride-2 path gave im2col's bits everywhere: not taken?");
    finish(&fx);
#endif
}

/* Each thread owns whole images and a tile's sums do not depend on its block: the same bits
 * on 1, 2 and 3 threads (150 images: several blocks a thread) */
TEST(winograd_s2_thread_count_independent)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    wino_fx fx;
    if (!begin(&fx, 32)) return;
    const lf_conv_geom q = geom_s2(12, 20, 8, 8);
    const int64_t n = 150, nx = n * 12 * 64, ny = n * 20 * 16;
    float *w = uniform(&fx.r, 20 * 12 * 9, -1, 1), *x = uniform(&fx.r, nx, -1, 1);
    float *y[3];
    for (int t = 0; t < 3; t++) {
        y[t] = lf_malloc((size_t)ny * sizeof(float));
        const lf_conv_job j = {.n = n, .w = w, .img = x, .colside_out = y[t]};
        CHECK_OK(lf_conv_winograd_s2_run(fx.g, &q, &j, t + 1));
    }
    for (int t = 1; t < 3; t++)
        CHECK_MSG(memcmp(y[0], y[t], (size_t)ny * sizeof(float)) == 0,
                  "1 and %d threads differ", t + 1);
    lf_free(w), lf_free(x);
    for (int t = 0; t < 3; t++) lf_free(y[t]);
    finish(&fx);
#endif
}
