/* Softmax family along one axis: softmax, log_softmax, logsumexp (all shifted by the max for
 * stability) and L2 normalisation. Forward and backward side by side.
 * Layout: x viewed as (O, D, I) around the axis; a "line" is the D values at one (o, i),
 * stride I apart. Lines are independent, so the loops over them can run in parallel. */
#include "reduce_kernel.h"

#include <string.h>
#include <tgmath.h>

typedef struct lines {
    int64_t outer, len, inner, n; /* n = outer * inner lines */
} lines;

static lines lines_of(const lf_tensor *x, int d)
{
    lines L;
    lf_split_dim(x, d, &L.outer, &L.len, &L.inner);
    L.n = L.outer * L.inner;
    return L;
}

/* first element of line l */
static inline int64_t line_base(const lines *L, int64_t l)
{
    return (l / L->inner) * L->len * L->inner + l % L->inner;
}

#define PAR_LINES _Pragma("omp parallel for if (L.n * L.len > LF_PAR_MIN) schedule(static)")

/* max of a line, and sum of exp(x - max) in double */
static inline lf_real line_max(const lf_real *p, int64_t len, int64_t st)
{
    lf_real m = p[0];
    for (int64_t k = 1; k < len; k++) m = p[k * st] > m ? p[k * st] : m;
    return m;
}

static inline double line_sumexp(const lf_real *p, int64_t len, int64_t st, lf_real m)
{
    double s = 0;
    for (int64_t k = 0; k < len; k++) s += (double)exp(p[k * st] - m);
    return s;
}

static inline double line_dot(const lf_real *a, const lf_real *b, int64_t len, int64_t st)
{
    double s = 0;
    for (int64_t k = 0; k < len; k++) s += (double)a[k * st] * (double)b[k * st];
    return s;
}

/* ---- softmax: gx = y * (gy - <gy, y>) along the line */
static lf_status softmax_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    lines L = lines_of(x, (int)n->iarg[0]);
    const lf_real *Y = y->data, *GY = y->grad;
    lf_real *GX = x->grad;
    int64_t st = L.inner;
    PAR_LINES
    for (int64_t l = 0; l < L.n; l++) {
        int64_t b = line_base(&L, l);
        const lf_real *yl = Y + b, *gl = GY + b;
        lf_real dot = (lf_real)line_dot(gl, yl, L.len, st);
        for (int64_t k = 0; k < L.len; k++) GX[b + k * st] += yl[k * st] * (gl[k * st] - dot);
    }
    return LF_OK;
}

/* ---- log_softmax: gx = gy - softmax * sum(gy) */
static lf_status log_softmax_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    lines L = lines_of(x, (int)n->iarg[0]);
    const lf_real *Y = y->data, *GY = y->grad;
    lf_real *GX = x->grad;
    int64_t st = L.inner;
    PAR_LINES
    for (int64_t l = 0; l < L.n; l++) {
        int64_t b = line_base(&L, l);
        double s = 0;
        for (int64_t k = 0; k < L.len; k++) s += (double)GY[b + k * st];
        lf_real sg = (lf_real)s;
        for (int64_t k = 0; k < L.len; k++)
            GX[b + k * st] += GY[b + k * st] - exp(Y[b + k * st]) * sg;
    }
    return LF_OK;
}

enum { SM_SOFTMAX, SM_LOG_SOFTMAX };

static lf_tensor *softmax_common(lf_graph *g, lf_tensor *x, int dim, int mode, const char *op)
{
    if (!x) return NULL;
    int d = lf_norm_dim(dim, x->ndim, op);
    if (d < 0) return NULL;
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x));
    if (!y) return NULL;
    lines L = lines_of(x, d);
    const lf_real *X = x->data;
    lf_real *Y = y->data;
    int64_t st = L.inner;
    if (L.len > 0) {
        PAR_LINES
        for (int64_t l = 0; l < L.n; l++) {
            int64_t b = line_base(&L, l);
            const lf_real *xl = X + b;
            lf_real *yl = Y + b;
            lf_real m = line_max(xl, L.len, st);
            if (mode == SM_SOFTMAX) {
                double s = 0;
                for (int64_t k = 0; k < L.len; k++) {
                    lf_real e = exp(xl[k * st] - m);
                    yl[k * st] = e;
                    s += (double)e;
                }
                lf_real inv = (lf_real)(1.0 / s);
                for (int64_t k = 0; k < L.len; k++) yl[k * st] *= inv;
            } else {
                lf_real lse = m + (lf_real)log(line_sumexp(xl, L.len, st, m));
                for (int64_t k = 0; k < L.len; k++) yl[k * st] = xl[k * st] - lse;
            }
        }
    }
    lf_node *n = lf_record(g, op, mode == SM_SOFTMAX ? softmax_backward : log_softmax_backward,
                           y, LF_IN(x));
    if (n) n->iarg[0] = d;
    return y;
}

lf_tensor *lf_softmax(lf_graph *g, lf_tensor *x, int dim)
{
    return softmax_common(g, x, dim, SM_SOFTMAX, "softmax");
}

lf_tensor *lf_log_softmax(lf_graph *g, lf_tensor *x, int dim)
{
    return softmax_common(g, x, dim, SM_LOG_SOFTMAX, "log_softmax");
}

/* ---- logsumexp (reduces the axis): gx = gy * exp(x - lse) */
static lf_status logsumexp_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    lines L = lines_of(x, (int)n->iarg[0]);
    const lf_real *X = x->data, *Y = y->data, *GY = y->grad;
    lf_real *GX = x->grad;
    int64_t st = L.inner;
    PAR_LINES
    for (int64_t l = 0; l < L.n; l++) {
        int64_t b = line_base(&L, l);
        lf_real lse = Y[l], gl = GY[l]; /* line l is output element l in either keepdim */
        for (int64_t k = 0; k < L.len; k++) GX[b + k * st] += gl * exp(X[b + k * st] - lse);
    }
    return LF_OK;
}

lf_tensor *lf_logsumexp(lf_graph *g, lf_tensor *x, int dim, int keepdim)
{
    if (!x) return NULL;
    int d = lf_norm_dim(dim, x->ndim, "logsumexp");
    if (d < 0) return NULL;
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    int64_t shape[LF_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d) shape[nd++] = x->shape[i];
        else if (keepdim) shape[nd++] = 1;
    lf_tensor *y = lf_op_output(g, nd, shape, LF_IN(x));
    if (!y) return NULL;
    lines L = lines_of(x, d);
    const lf_real *X = x->data;
    lf_real *Y = y->data;
    int64_t st = L.inner;
    PAR_LINES
    for (int64_t l = 0; l < L.n; l++) {
        if (L.len == 0) {
            Y[l] = -INFINITY; /* log of an empty sum, as torch */
            continue;
        }
        const lf_real *xl = X + line_base(&L, l);
        lf_real m = line_max(xl, L.len, st);
        /* all -inf (or +inf) lines: keep m itself instead of inf - inf = NaN, as torch */
        Y[l] = isinf(m) ? m : m + (lf_real)log(line_sumexp(xl, L.len, st, m));
    }
    lf_node *n = lf_record(g, "logsumexp", logsumexp_backward, y, LF_IN(x));
    if (n) n->iarg[0] = d;
    return y;
}

/* ---- l2_normalize: y = x / max(||x||, eps) (torch.nn.functional.normalize, p = 2).
 * saved: the norm of each line. Where ||x|| > eps: gx = (gy - y <gy, y>) / ||x||;
 * otherwise the denominator is the constant eps: gx = gy / eps. */
static lf_status l2n_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    lines L = lines_of(x, (int)n->iarg[0]);
    const lf_real *Y = y->data, *GY = y->grad, *norm = n->saved;
    lf_real *GX = x->grad, eps = (lf_real)n->farg[0];
    int64_t st = L.inner;
    PAR_LINES
    for (int64_t l = 0; l < L.n; l++) {
        int64_t b = line_base(&L, l);
        if (norm[l] > eps) {
            lf_real dot = (lf_real)line_dot(GY + b, Y + b, L.len, st), inv = 1 / norm[l];
            for (int64_t k = 0; k < L.len; k++)
                GX[b + k * st] += (GY[b + k * st] - Y[b + k * st] * dot) * inv;
        } else {
            for (int64_t k = 0; k < L.len; k++) GX[b + k * st] += GY[b + k * st] / eps;
        }
    }
    return LF_OK;
}

lf_tensor *lf_l2_normalize(lf_graph *g, lf_tensor *x, int dim, double eps)
{
    if (!x) return NULL;
    int d = lf_norm_dim(dim, x->ndim, "l2_normalize");
    if (d < 0) return NULL;
    if (!(eps >= 0)) {
        lf_error(LF_ERR_ARG, "l2_normalize: eps %g must be >= 0", eps);
        return NULL;
    }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x));
    if (!y) return NULL;
    lines L = lines_of(x, d);
    lf_real *norm = lf_graph_alloc(g, (size_t)(L.n ? L.n : 1) * sizeof(lf_real));
    if (!norm) return NULL;
    const lf_real *X = x->data;
    lf_real *Y = y->data;
    int64_t st = L.inner;
    PAR_LINES
    for (int64_t l = 0; l < L.n; l++) {
        int64_t b = line_base(&L, l);
        lf_real nr = (lf_real)sqrt(line_dot(X + b, X + b, L.len, st));
        norm[l] = nr;
        lf_real inv = 1 / (nr > (lf_real)eps ? nr : (lf_real)eps);
        for (int64_t k = 0; k < L.len; k++) Y[b + k * st] = X[b + k * st] * inv;
    }
    lf_node *n = lf_record(g, "l2_normalize", l2n_backward, y, LF_IN(x));
    if (n) {
        n->iarg[0] = d;
        n->farg[0] = eps;
        n->saved = norm;
    }
    return y;
}
