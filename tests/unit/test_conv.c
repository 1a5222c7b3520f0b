/* Convolution: the im2col/gemm path against naive loops on many shapes (forward, input,
 * weight and bias gradients), finite-difference gradient checks (float64 build), PyTorch
 * parity fixtures (float32 build), shape errors, thread-count independence, no malloc in
 * steady state. */
#include "backend/cpu/conv_cpu.h"
#include "core/internal.h"
#include "fixture_conv.h"
#include "gradcheck.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

typedef struct conv_case {
    const char *name;
    int nd, transposed;
    int64_t n, cin, cout;     /* cout: output channels of the op (conv or transposed) */
    int64_t sp[3];            /* input spatial sizes (nd used) */
    int64_t k[3];
    int s[3], p[3], d[3], op[3];
    int groups, bias;
} conv_case;

static lf_conv_args case_args(const conv_case *c)
{
    lf_conv_args a = lf_conv_args_make(c->nd, 1, 0, 1, c->groups);
    for (int i = 0; i < c->nd; i++) {
        a.stride[i] = c->s[i];
        a.padding[i] = c->p[i];
        a.dilation[i] = c->d[i];
        a.output_padding[i] = c->op[i];
    }
    return a;
}

static void case_shapes(const conv_case *c, int64_t *xs, int64_t *ws, int64_t *ys)
{
    xs[0] = ys[0] = c->n;
    xs[1] = c->cin;
    ys[1] = c->cout;
    ws[0] = c->transposed ? c->cin : c->cout;
    ws[1] = c->transposed ? c->cout / c->groups : c->cin / c->groups;
    for (int i = 0; i < c->nd; i++) {
        xs[2 + i] = c->sp[i];
        ws[2 + i] = c->k[i];
        int64_t span = (int64_t)c->d[i] * (c->k[i] - 1) + 1;
        ys[2 + i] = c->transposed ? (c->sp[i] - 1) * c->s[i] - 2 * c->p[i] + span + c->op[i]
                                  : (c->sp[i] + 2 * c->p[i] - span) / c->s[i] + 1;
    }
}

static int64_t prod(const int64_t *s, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= s[i];
    return p;
}

/* Naive reference in double: y = conv(x, w) + b and, for upstream gy, gx, gw, gb.
 * Spatial dims are padded to 3 with size 1 (2-D). The loop visits every (small-side
 * position, kernel tap) pair once; big-side position = small * s - p + tap * d. For conv the
 * small side is y, for the transposed conv it is x. */
static void ref_conv(const conv_case *c, const double *x, const double *w, const double *b,
                     const double *gy, double *y, double *gx, double *gw, double *gb)
{
    int64_t xs[5], ws[5], ys[5];
    case_shapes(c, xs, ws, ys);
    int64_t X[3] = {1, 1, 1}, Y[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1},
            P[3] = {0, 0, 0}, D[3] = {1, 1, 1};
    const int off = 3 - c->nd;
    for (int i = 0; i < c->nd; i++) {
        X[off + i] = xs[2 + i];
        Y[off + i] = ys[2 + i];
        K[off + i] = ws[2 + i];
        S[off + i] = c->s[i];
        P[off + i] = c->p[i];
        D[off + i] = c->d[i];
    }
    const int64_t G = c->groups, cig = c->cin / G, cog = c->cout / G;
    const int64_t Lx = X[0] * X[1] * X[2], Ly = Y[0] * Y[1] * Y[2], kp = K[0] * K[1] * K[2];
    const int64_t *SM = c->transposed ? X : Y, *BG = c->transposed ? Y : X;
    memset(y, 0, (size_t)(c->n * c->cout * Ly) * sizeof(double));
    memset(gx, 0, (size_t)(c->n * c->cin * Lx) * sizeof(double));
    memset(gw, 0, (size_t)(prod(ws, c->nd + 2)) * sizeof(double));
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t g = 0; g < G; g++)
            for (int64_t ci = 0; ci < cig; ci++)
                for (int64_t co = 0; co < cog; co++)
                    for (int64_t a0 = 0; a0 < SM[0]; a0++)
                        for (int64_t a1 = 0; a1 < SM[1]; a1++)
                            for (int64_t a2 = 0; a2 < SM[2]; a2++)
                                for (int64_t t = 0; t < kp; t++) {
                                    int64_t t0 = t / (K[1] * K[2]), t1 = (t / K[2]) % K[1], t2 = t % K[2];
                                    int64_t b0 = a0 * S[0] - P[0] + t0 * D[0];
                                    int64_t b1 = a1 * S[1] - P[1] + t1 * D[1];
                                    int64_t b2 = a2 * S[2] - P[2] + t2 * D[2];
                                    if (b0 < 0 || b0 >= BG[0] || b1 < 0 || b1 >= BG[1] || b2 < 0 ||
                                        b2 >= BG[2])
                                        continue;
                                    int64_t small = (a0 * SM[1] + a1) * SM[2] + a2;
                                    int64_t big = (b0 * BG[1] + b1) * BG[2] + b2;
                                    int64_t xpos = c->transposed ? small : big;
                                    int64_t ypos = c->transposed ? big : small;
                                    int64_t xi = (n * c->cin + g * cig + ci) * Lx + xpos;
                                    int64_t yi = (n * c->cout + g * cog + co) * Ly + ypos;
                                    int64_t wi = c->transposed ? ((g * cig + ci) * cog + co) * kp + t
                                                               : ((g * cog + co) * cig + ci) * kp + t;
                                    y[yi] += x[xi] * w[wi];
                                    gx[xi] += gy[yi] * w[wi];
                                    gw[wi] += gy[yi] * x[xi];
                                }
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t co = 0; co < c->cout; co++)
            for (int64_t l = 0; l < Ly; l++) {
                if (b) y[(n * c->cout + co) * Ly + l] += b[co];
                if (gb) gb[co] += gy[(n * c->cout + co) * Ly + l];
            }
}

static lf_tensor *run_op(lf_graph *g, const conv_case *c, lf_tensor *x, lf_tensor *w,
                         lf_tensor *b)
{
    lf_conv_args a = case_args(c);
    return c->transposed ? lf_conv_transpose(g, x, w, b, a) : lf_conv(g, x, w, b, a);
}

/* a standalone tensor owning malloc'd data and grad */
static void tensor_init(lf_tensor *t, int ndim, const int64_t *shape, lf_rng *r, double scale)
{
    memset(t, 0, sizeof *t);
    lf_tensor_set_shape(t, ndim, shape);
    int64_t n = lf_numel(t);
    t->data = malloc((size_t)n * sizeof(lf_real));
    t->grad = calloc((size_t)n, sizeof(lf_real));
    lf_rng_fill_uniform(r, t->data, n, -scale, scale);
    t->flags = LF_TENSOR_REQUIRES_GRAD;
}

static double *to_double(const lf_real *a, int64_t n)
{
    double *d = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++) d[i] = (double)a[i];
    return d;
}

static double max_rel_err(const lf_real *a, const double *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / fmax(1.0, fabs(b[i]));
        if (e > m || isnan(e)) m = isnan(e) ? INFINITY : e;
    }
    return m;
}

/* Runs the op and its backward on random data; compares with ref_conv. Returns max error. */
static double check_case(const conv_case *c)
{
    int64_t xs[5], ws[5], ys[5];
    case_shapes(c, xs, ws, ys);
    const int nd = c->nd + 2;
    lf_rng r = lf_rng_make(99, 7);
    lf_tensor x, w, b;
    tensor_init(&x, nd, xs, &r, 1);
    tensor_init(&w, nd, ws, &r, 0.5);
    tensor_init(&b, 1, &c->cout, &r, 1);
    const int64_t nx = prod(xs, nd), nw = prod(ws, nd), ny = prod(ys, nd);
    lf_real *gy = malloc((size_t)ny * sizeof(lf_real));
    lf_rng_fill_uniform(&r, gy, ny, -1, 1);
    double *dx = to_double(x.data, nx), *dw = to_double(w.data, nw), *db = to_double(b.data, c->cout);
    double *dgy = to_double(gy, ny);
    double *ry = malloc((size_t)ny * sizeof(double)), *rgx = malloc((size_t)nx * sizeof(double));
    double *rgw = malloc((size_t)nw * sizeof(double)), *rgb = calloc((size_t)c->cout, sizeof(double));
    ref_conv(c, dx, dw, c->bias ? db : NULL, dgy, ry, rgx, rgw, c->bias ? rgb : NULL);
    lf_graph *g;
    double err = INFINITY;
    if (lf_graph_init(&g, 0) != LF_OK) goto out;
    lf_tensor *y = run_op(g, c, &x, &w, c->bias ? &b : NULL);
    if (!y) {
        lf_test_fail(__FILE__, __LINE__, "%s: %s", c->name, lf_last_error());
    } else if (lf_numel(y) != ny) {
        lf_test_fail(__FILE__, __LINE__, "%s: output has %lld elements, expected %lld", c->name,
                     (long long)lf_numel(y), (long long)ny);
    } else if (lf_backward_with(g, y, gy) != LF_OK) {
        lf_test_fail(__FILE__, __LINE__, "%s: backward: %s", c->name, lf_last_error());
    } else {
        double e[4] = {max_rel_err(y->data, ry, ny), max_rel_err(x.grad, rgx, nx),
                       max_rel_err(w.grad, rgw, nw), c->bias ? max_rel_err(b.grad, rgb, c->cout) : 0};
        err = fmax(fmax(e[0], e[1]), fmax(e[2], e[3]));
        /* float: 3x3 same convolutions of 3x3 images and more run on Winograd F(4x4, 3x3)
         * where the machine has AVX-512; its transforms cost a few more ulps (worst here
         * 1.24e-5 with it, 7.7e-6 with LF_CONV=winograd2 or im2col; test_winograd.c
         * bounds each path per geometry). The other geometries keep the tighter bound. */
        const bool f4 = c->nd == 2 && c->k[0] == 3 && c->k[1] == 3 && c->s[0] == 1 &&
                        c->s[1] == 1 && c->p[0] == 1 && c->p[1] == 1 && c->d[0] == 1 &&
                        c->d[1] == 1 && c->groups == 1 && c->sp[0] >= 3 && c->sp[1] >= 3;
        const double tol = sizeof(lf_real) == 4 ? (f4 ? 5e-5 : 2e-5) : 1e-12;
        CHECK_MSG(err <= tol, "%s: max rel err y %.3g gx %.3g gw %.3g gb %.3g (tol %g)", c->name,
                  e[0], e[1], e[2], e[3], tol);
    }
    lf_graph_free(g);
out:
    free(x.data), free(x.grad), free(w.data), free(w.grad), free(b.data), free(b.grad);
    free(gy), free(dx), free(dw), free(db), free(dgy), free(ry), free(rgx), free(rgw), free(rgb);
    return err;
}

#define C2(nm, tr, n, ci, co, h, w_, kh, kw, s_, p_, d_, op_, g_, b_)                        \
    {nm, 2, tr, n, ci, co, {h, w_, 1}, {kh, kw, 1}, {s_, s_, 1}, {p_, p_, 0}, {d_, d_, 1},  \
     {op_, op_, 0}, g_, b_}
#define C3(nm, tr, n, ci, co, d0, h, w_, k, s_, p_, d_, op_, g_, b_)                         \
    {nm, 3, tr, n, ci, co, {d0, h, w_}, {k, k, k}, {s_, s_, s_}, {p_, p_, p_}, {d_, d_, d_},  \
     {op_, op_, op_}, g_, b_}

static const conv_case cases[] = {
    C2("3x3 pad1", 0, 2, 3, 4, 7, 7, 3, 3, 1, 1, 1, 0, 1, 1),
    C2("3x3 stride2 odd", 0, 2, 3, 5, 9, 8, 3, 3, 2, 1, 1, 0, 1, 1),
    C2("dilation2", 0, 2, 2, 3, 9, 9, 3, 3, 1, 2, 2, 0, 1, 0),
    C2("groups2", 0, 2, 4, 6, 6, 7, 3, 3, 1, 1, 1, 0, 2, 1),
    C2("depthwise", 0, 2, 4, 4, 6, 6, 3, 3, 2, 1, 1, 0, 4, 1),
    C2("depthwise x2", 0, 3, 3, 6, 5, 5, 3, 3, 1, 1, 1, 0, 3, 1),
    C2("1x1", 0, 3, 5, 3, 5, 4, 1, 1, 1, 0, 1, 0, 1, 1),
    C2("1x1 groups", 0, 2, 6, 4, 5, 5, 1, 1, 1, 0, 1, 0, 2, 1),
    C2("1x1 stride2", 0, 2, 6, 4, 7, 7, 1, 1, 2, 0, 1, 0, 1, 1),
    C2("1x1 pad1", 0, 2, 3, 2, 4, 4, 1, 1, 1, 1, 1, 0, 1, 1),
    C2("rect kernel", 0, 2, 3, 4, 8, 10, 2, 5, 1, 2, 1, 0, 1, 1),
    C2("stem 7x7 s2", 0, 2, 3, 8, 16, 16, 7, 7, 2, 3, 1, 0, 1, 0),
    /* stride-2 rows of 16 and more outputs (vectorised gathers with tails of every length) */
    C2("stem 7x7 s2 wide", 0, 2, 3, 4, 6, 75, 7, 7, 2, 3, 1, 0, 1, 1),
    C2("3x3 s2 32 wide", 0, 2, 2, 3, 5, 64, 3, 3, 2, 1, 1, 0, 1, 0),
    C2("3x3 s2 25 wide", 0, 1, 2, 2, 3, 49, 3, 3, 2, 1, 1, 0, 1, 1),
    C2("kernel = input", 0, 2, 3, 4, 3, 3, 3, 3, 1, 0, 1, 0, 1, 1),
    C2("batched blocks", 0, 9, 5, 6, 9, 11, 3, 3, 1, 1, 1, 0, 1, 1),
    C2("big (threads)", 0, 3, 16, 16, 20, 20, 3, 3, 1, 1, 1, 0, 1, 1),
    C2("stride3 pad2 dil3", 0, 2, 2, 2, 13, 12, 3, 3, 3, 2, 3, 0, 1, 1),
    /* big enough batches for the batch-parallel path (conv_cpu.c), with 2+ threads */
    C2("batch-parallel", 0, 8, 16, 16, 12, 12, 3, 3, 1, 1, 1, 0, 1, 1),
    C2("batch-parallel s2 n10", 0, 10, 16, 16, 17, 15, 3, 3, 2, 1, 1, 0, 1, 1),
    C2("batch-parallel g2", 0, 9, 16, 16, 14, 14, 3, 3, 1, 1, 1, 0, 2, 0),
    C2("batch-parallel 1x1", 0, 8, 64, 64, 12, 12, 1, 1, 1, 0, 1, 0, 1, 1),
    C3("3d 3x3x3", 0, 2, 2, 3, 5, 6, 4, 3, 1, 1, 1, 0, 1, 1),
    C3("3d stride2", 0, 2, 2, 3, 5, 6, 4, 3, 2, 1, 1, 0, 1, 1),
    C3("3d g2 dil2", 0, 1, 4, 4, 6, 6, 6, 2, 1, 1, 2, 0, 2, 0),
    C3("3d 1x1x1", 0, 2, 3, 2, 3, 4, 5, 1, 1, 0, 1, 0, 1, 1),
    /* depth 1 padded by 1, depth stride 3: the one output depth lies on the padding (all
     * bias); the 2-D column paths once ignored the depth padding */
    {"3d depth 1 on padding", 3, 0, 2, 2, 3, {1, 9, 10}, {1, 3, 3}, {3, 1, 1}, {1, 1, 1},
     {1, 1, 1}, {0, 0, 0}, 1, 1},
    {"3d depth 1 on padding 1x1", 3, 0, 2, 2, 3, {1, 6, 6}, {1, 1, 1}, {3, 3, 3}, {1, 1, 1},
     {1, 1, 1}, {0, 0, 0}, 1, 1},
    C2("T 3x3 s2 op1", 1, 2, 4, 3, 5, 5, 3, 3, 2, 1, 1, 1, 1, 1),
    C2("T groups2", 1, 2, 4, 4, 4, 3, 3, 3, 2, 0, 1, 1, 2, 1),
    C2("T dil2", 1, 2, 3, 2, 5, 5, 3, 3, 1, 1, 2, 0, 1, 0),
    C2("T op<dil", 1, 2, 2, 3, 4, 4, 3, 3, 1, 0, 3, 2, 1, 1),
    C2("T depthwise", 1, 2, 3, 3, 4, 5, 2, 2, 2, 0, 1, 0, 3, 1),
    C2("T 1x1", 1, 2, 4, 3, 5, 5, 1, 1, 1, 0, 1, 0, 1, 1),
    C2("T batched", 1, 10, 3, 4, 6, 5, 4, 4, 2, 1, 1, 0, 1, 1),
    C2("T batch-parallel", 1, 8, 16, 16, 8, 8, 3, 3, 2, 1, 1, 1, 1, 1),
    C3("T 3d s2 op1", 1, 1, 2, 3, 3, 4, 3, 3, 2, 1, 1, 1, 1, 1),
    C3("T 3d g2", 1, 2, 4, 2, 3, 3, 3, 2, 1, 0, 1, 0, 2, 1),
};

TEST(conv_matches_naive_loops)
{
    double worst = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double e = check_case(&cases[i]);
        if (e > worst) worst = e;
    }
    printf("    %zu shapes, max rel err vs naive loops %.3g\n", sizeof cases / sizeof cases[0],
           worst);
}

/* ---- finite differences (float64 build) */
static lf_tensor *f_conv(lf_graph *g, lf_tensor **in, void *ctx)
{
    const conv_case *c = ctx;
    return run_op(g, c, in[0], in[1], c->bias ? in[2] : NULL);
}

static void gradcheck_case(const conv_case *c)
{
    int64_t xs[5], ws[5], ys[5];
    case_shapes(c, xs, ws, ys);
    gc_input in[3];
    memset(in, 0, sizeof in);
    in[0].ndim = in[1].ndim = c->nd + 2;
    memcpy(in[0].shape, xs, sizeof xs);
    memcpy(in[1].shape, ws, sizeof ws);
    in[2].ndim = 1;
    in[2].shape[0] = c->cout;
    GRADCHECK(c->name, f_conv, c->bias ? 3 : 2, in, (void *)c);
}

TEST(grad_conv)
{
    static const conv_case gc[] = {
        C2("gc stride2 pad1 odd", 0, 2, 2, 3, 5, 6, 3, 3, 2, 1, 1, 0, 1, 1),
        C2("gc dilation2", 0, 1, 2, 2, 6, 5, 3, 3, 1, 2, 2, 0, 1, 1),
        C2("gc groups2", 0, 2, 4, 2, 4, 4, 3, 3, 1, 1, 1, 0, 2, 1),
        C2("gc depthwise", 0, 1, 3, 3, 5, 5, 3, 3, 2, 1, 1, 0, 3, 0),
        C2("gc 1x1", 0, 2, 3, 2, 3, 3, 1, 1, 1, 0, 1, 0, 1, 1),
        C3("gc 3d", 0, 1, 2, 2, 3, 4, 3, 2, 2, 1, 1, 0, 1, 1),
        C2("gc T s2 op1", 1, 2, 2, 3, 3, 3, 3, 3, 2, 1, 1, 1, 1, 1),
        C2("gc T groups2 dil2", 1, 1, 4, 2, 3, 3, 2, 2, 1, 1, 2, 0, 2, 1),
        C3("gc T 3d", 1, 1, 2, 2, 2, 3, 2, 2, 2, 0, 1, 1, 1, 1),
    };
    for (size_t i = 0; i < sizeof gc / sizeof gc[0]; i++) gradcheck_case(&gc[i]);
}

/* ---- PyTorch parity (float32 build) */
#define FIX_DIR "tests/parity/fixtures/conv"

TEST(conv_torch_parity)
{
#ifdef LF_DOUBLE
    lf_test_skip("parity fixtures are float32: checked in the float32 build");
#else
    char names[64][64], err[256];
    int nf = fxconv_list(FIX_DIR, names, 64), nconv = 0;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    double worst = 0;
    for (int f = 0; f < nf; f++) {
        fxconv_file fx;
        const int got = fxconv_load_kind(FIX_DIR, names[f], "conv", 16, &fx, err, sizeof err);
        if (got < 0) lf_test_fail(__FILE__, __LINE__, "%s", err);
        if (got <= 0) continue;
        nconv++;
        const long *m = fx.meta;
        const int nd = (int)m[0], tr = (int)m[1], has_b = (int)m[3];
        lf_conv_args a = lf_conv_args_make(nd, 1, 0, 1, (int)m[2]);
        for (int i = 0; i < 3; i++) {
            a.stride[i] = (int)m[4 + i];
            a.padding[i] = (int)m[7 + i];
            a.dilation[i] = (int)m[10 + i];
            a.output_padding[i] = (int)m[13 + i];
        }
        lf_graph_reset(g);
        const char *nm[3] = {"x", "w", "b"};
        lf_tensor *t[3] = {NULL, NULL, NULL};
        for (int i = 0; i < 2 + has_b; i++) {
            const fxconv_array *A = fxconv_get(&fx, nm[i]);
            if (!A) break;
            t[i] = lf_tensor_new(g, A->ndim, A->shape);
            for (int64_t k = 0; k < A->n; k++) t[i]->data[k] = A->data[k];
            t[i]->flags |= LF_TENSOR_REQUIRES_GRAD;
        }
        lf_tensor *y = tr ? lf_conv_transpose(g, t[0], t[1], t[2], a) : lf_conv(g, t[0], t[1], t[2], a);
        const fxconv_array *Y = fxconv_get(&fx, "y"), *GY = fxconv_get(&fx, "gy");
        if (!y || !Y || !GY || lf_numel(y) != Y->n) {
            lf_test_fail(__FILE__, __LINE__, "%s: forward failed or wrong size: %s", names[f],
                         lf_last_error());
            fxconv_free(&fx);
            continue;
        }
        lf_real *seed = lf_graph_alloc(g, (size_t)GY->n * sizeof(lf_real));
        for (int64_t k = 0; k < GY->n; k++) seed[k] = GY->data[k];
        CHECK_OK(lf_backward_with(g, y, seed));
        const char *cmp[4] = {"y", "gx", "gw", "gb"};
        const lf_real *mine[4] = {y->data, t[0]->grad, t[1]->grad, t[2] ? t[2]->grad : NULL};
        printf("    %-26s", names[f]);
        for (int i = 0; i < 3 + has_b; i++) {
            const fxconv_array *R = fxconv_get(&fx, cmp[i]);
            int ok;
            double d = R && mine[i] ? fxconv_compare(mine[i], R->data, R->n, 1e-4, &ok) : INFINITY;
            if (!R || !mine[i]) ok = 0;
            printf(" %s %.2e", cmp[i], d);
            if (d > worst) worst = d;
            CHECK_MSG(ok, "%s: %s differs from torch by %.3g", names[f], cmp[i], d);
        }
        printf("\n");
        fxconv_free(&fx);
    }
    CHECK_MSG(nconv >= 15, "only %d conv fixtures found in %s (run from the repo root)", nconv,
              FIX_DIR);
    printf("    %d conv fixtures, max |diff| %.3g\n", nconv, worst);
    lf_graph_free(g);
#endif
}

/* ---- errors */
TEST(conv_shape_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 4, (int64_t[]){2, 3, 8, 8});
    lf_tensor *w = lf_tensor_zeros(g, 4, (int64_t[]){4, 2, 3, 3});
    CHECK(lf_conv(g, x, w, NULL, lf_conv_args_make(2, 1, 1, 1, 1)) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(strstr(lf_last_error(), "(2, 3, 8, 8)") && strstr(lf_last_error(), "(4, 2, 3, 3)"));
    lf_tensor *w2 = lf_tensor_zeros(g, 4, (int64_t[]){4, 1, 3, 3});
    CHECK(lf_conv(g, x, w2, NULL, lf_conv_args_make(2, 1, 1, 1, 2)) == NULL); /* 2 !| 3 */
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(strstr(lf_last_error(), "groups") != NULL);
    lf_tensor *wbig = lf_tensor_zeros(g, 4, (int64_t[]){4, 3, 11, 3});
    CHECK(lf_conv(g, x, wbig, NULL, lf_conv_args_make(2, 1, 1, 1, 1)) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(strstr(lf_last_error(), "(4, 3, 11, 3)") != NULL);
    lf_tensor *w3 = lf_tensor_zeros(g, 4, (int64_t[]){4, 3, 3, 3});
    lf_tensor *bad_b = lf_tensor_zeros(g, 1, (int64_t[]){5});
    CHECK(lf_conv(g, x, w3, bad_b, lf_conv_args_make(2, 1, 1, 1, 1)) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(lf_conv(g, x, w3, NULL, lf_conv_args_make(3, 1, 1, 1, 1)) == NULL); /* 4-D as 3-D */
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(lf_conv(g, x, w3, NULL, lf_conv_args_make(2, 0, 1, 1, 1)) == NULL);
    CHECK(lf_last_status() == LF_ERR_ARG);
    /* transposed: weight (Cin, Cout/g, k...) */
    CHECK(lf_conv_transpose(g, x, w3, NULL, lf_conv_args_make(2, 1, 0, 1, 1)) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    lf_tensor *wt = lf_tensor_zeros(g, 4, (int64_t[]){3, 2, 3, 3});
    lf_conv_args a = lf_conv_args_make(2, 2, 0, 1, 1);
    a.output_padding[0] = 2;
    CHECK(lf_conv_transpose(g, x, wt, NULL, a) == NULL);
    CHECK(lf_last_status() == LF_ERR_ARG);
    lf_tensor *yt = lf_conv_transpose(g, x, wt, NULL, lf_conv_args_make(2, 2, 0, 1, 1));
    CHECK(yt && yt->shape[1] == 2 && yt->shape[2] == 17 && yt->shape[3] == 17);
    CHECK(lf_conv(g, NULL, w3, NULL, lf_conv_args_make(2, 1, 1, 1, 1)) == NULL);
    lf_graph_free(g);
}

/* ---- thread count: our own loops (im2col, col2im) give the same bits with 1 and 2
 * threads; the whole op agrees to rounding (OpenBLAS's sgemm itself is not bitwise
 * invariant to its thread count: measured, max rel difference printed). */
TEST(conv_thread_count_independent)
{
    lf_conv_geom q;
    memset(&q, 0, sizeof q);
    q.ci = 16, q.co = 8, q.groups = 1;
    const int64_t in[3] = {1, 23, 21}, out[3] = {1, 12, 11}, k[3] = {1, 3, 3};
    for (int i = 0; i < 3; i++) {
        q.in[i] = in[i], q.out[i] = out[i], q.k[i] = k[i];
        q.s[i] = i ? 2 : 1, q.p[i] = i ? 1 : 0, q.d[i] = 1;
    }
    const int64_t nimg = 16 * 23 * 21, ncol = 16 * 9 * 12 * 11;
    lf_real *img = malloc((size_t)nimg * sizeof(lf_real)), *col[2], *back[2];
    lf_rng r = lf_rng_make(5, 5);
    lf_rng_fill_uniform(&r, img, nimg, -1, 1);
    const int old = lf_get_threads();
    for (int run = 0; run < 2; run++) {
        lf_set_threads(run + 1);
        col[run] = malloc((size_t)ncol * sizeof(lf_real));
        back[run] = calloc((size_t)nimg, sizeof(lf_real));
        lf_conv_im2col(&q, img, 1, col[run]);
        lf_conv_col2im(&q, col[run], 1, back[run]);
    }
    CHECK(memcmp(col[0], col[1], (size_t)ncol * sizeof(lf_real)) == 0);
    CHECK(memcmp(back[0], back[1], (size_t)nimg * sizeof(lf_real)) == 0);
    for (int run = 0; run < 2; run++) free(col[run]), free(back[run]);
    free(img);

    const conv_case c = C2("threads", 0, 4, 16, 16, 18, 18, 3, 3, 1, 1, 1, 0, 1, 1);
    int64_t xs[5], ws[5], ys[5];
    case_shapes(&c, xs, ws, ys);
    lf_real *res[2][3];
    int64_t n[3] = {prod(ys, 4), prod(xs, 4), prod(ws, 4)};
    for (int run = 0; run < 2; run++) {
        lf_set_threads(run + 1);
        lf_rng rr = lf_rng_make(5, 5);
        lf_tensor x, w;
        tensor_init(&x, 4, xs, &rr, 1);
        tensor_init(&w, 4, ws, &rr, 0.5);
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_tensor *y = run_op(g, &c, &x, &w, NULL);
        lf_real *seed = lf_graph_alloc(g, (size_t)n[0] * sizeof(lf_real));
        for (int64_t i = 0; i < n[0]; i++) seed[i] = (lf_real)((i % 7) - 3);
        CHECK(y != NULL);
        if (y) CHECK_OK(lf_backward_with(g, y, seed));
        res[run][0] = malloc((size_t)n[0] * sizeof(lf_real));
        memcpy(res[run][0], y ? y->data : seed, (size_t)n[0] * sizeof(lf_real));
        res[run][1] = x.grad;
        res[run][2] = w.grad;
        free(x.data);
        free(w.data);
        lf_graph_free(g);
    }
    lf_set_threads(old);
    double worst = 0;
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; i < n[k]; i++) {
            double e = fabs((double)res[0][k][i] - res[1][k][i]) / fmax(1.0, fabs((double)res[1][k][i]));
            if (e > worst) worst = e;
        }
    CHECK_MSG(worst <= 1e-4, "1 vs 2 threads: max rel difference %.3g", worst);
    printf("    whole op, 1 vs 2 threads: max rel difference %.3g\n", worst);
    for (int run = 0; run < 2; run++)
        for (int k = 0; k < 3; k++) free(res[run][k]);
}

/* ---- column buffers come from the arena: no malloc once the arena has settled */
TEST(conv_no_malloc_steady_state)
{
    lf_params *P;
    CHECK_OK(lf_params_init(&P));
    lf_tensor *w1 = lf_param_add(P, "c1.weight", 4, (int64_t[]){8, 3, 3, 3}, 0);
    lf_tensor *b1 = lf_param_add(P, "c1.bias", 1, (int64_t[]){8}, LF_TENSOR_NO_DECAY);
    lf_tensor *w2 = lf_param_add(P, "c2.weight", 4, (int64_t[]){4, 8, 1, 1}, 0);
    lf_tensor *w3 = lf_param_add(P, "up.weight", 4, (int64_t[]){4, 2, 2, 2}, 0);
    CHECK_OK(lf_params_finalize(P));
    int64_t np;
    lf_rng r = lf_rng_make(3, 3);
    lf_real *blk = lf_params_data_block(P, &np); /* sets np: not in the same call */
    lf_rng_fill_normal(&r, blk, np, 0, 0.2);
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 4096));
    uint64_t before = 0;
    for (int step = 0; step < 6; step++) {
        if (step == 3) before = lf_alloc_count();
        lf_graph_reset(g);
        lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){4, 3, 12, 12});
        lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
        lf_tensor *h = lf_conv(g, x, w1, b1, lf_conv_args_make(2, 2, 1, 1, 1));
        h = lf_max_pool(g, lf_conv(g, h, w2, NULL, lf_conv_args_make(2, 1, 0, 1, 1)), 2, 3, 1, 1);
        h = lf_conv_transpose(g, lf_avg_pool(g, h, 2, 2, 2, 0), w3, NULL,
                              lf_conv_args_make(2, 2, 0, 1, 1));
        lf_tensor *loss = lf_global_avg_pool(g, h);
        CHECK(loss != NULL);
        if (!loss) break;
        lf_params_zero_grad(P);
        lf_real *seed = lf_graph_alloc(g, (size_t)lf_numel(loss) * sizeof(lf_real));
        for (int64_t i = 0; i < lf_numel(loss); i++) seed[i] = 1;
        CHECK_OK(lf_backward_with(g, loss, seed));
    }
    CHECK_MSG(lf_alloc_count() == before, "%llu allocations in 3 steady-state steps",
              (unsigned long long)(lf_alloc_count() - before));
    lf_graph_free(g);
    lf_params_free(P);
}
