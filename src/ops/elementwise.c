/* Elementwise ops: add/sub/mul/div with numpy broadcasting, and unary arithmetic (scale,
 * add_scalar, exp, log, sqrt, pow, clamp). Forward and backward side by side. A broadcast
 * input's gradient is the output gradient summed over the broadcast axes. */
#include "reduce_kernel.h"

#include <string.h>
#include <tgmath.h>

/* ---------------------------------------------------------------- broadcast loops */
enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_NEGDIV /* -a / b (div's b-gradient) */ };

/* The output shape with each operand's element strides (0 along broadcast axes), after
 * merging neighbouring axes that stay one strided axis for both operands. */
typedef struct bcast {
    int nd;
    int64_t shape[LF_MAX_DIMS], sa[LF_MAX_DIMS], sb[LF_MAX_DIMS];
} bcast;

static void bcast_strides(const lf_tensor *t, int nd, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ti = t->ndim - nd + i;
        int64_t sz = ti >= 0 ? t->shape[ti] : 1;
        st[i] = (sz == 1 && shape[i] != 1) ? 0 : s;
        s *= sz;
    }
}

static void bcast_make(const lf_tensor *a, const lf_tensor *b, int nd, const int64_t *shape,
                       bcast *B)
{
    int64_t sa[LF_MAX_DIMS], sb[LF_MAX_DIMS];
    bcast_strides(a, nd, shape, sa);
    bcast_strides(b, nd, shape, sb);
    B->nd = 0;
    for (int i = 0; i < nd; i++) {
        if (shape[i] == 1) continue;
        int k = B->nd;
        if (k > 0 && B->sa[k - 1] == sa[i] * shape[i] && B->sb[k - 1] == sb[i] * shape[i]) {
            /* axis i continues the previous one for both operands: merge */
            B->shape[k - 1] *= shape[i];
            B->sa[k - 1] = sa[i];
            B->sb[k - 1] = sb[i];
        } else {
            B->shape[k] = shape[i];
            B->sa[k] = sa[i];
            B->sb[k] = sb[i];
            B->nd++;
        }
    }
    if (B->nd == 0) { /* a single element */
        B->nd = 1;
        B->shape[0] = 1;
        B->sa[0] = B->sb[0] = 1;
    }
}

/* One innermost row: y[j] (+)= a[j*sa] op b[j*sb] with sa, sb in {0, 1}; each variant is a
 * unit-stride loop the compiler vectorises. */
#define ROW_LOOP(EXPR)                                                                      \
    do {                                                                                    \
        if (sa && sb) {                                                                     \
            for (int64_t j = 0; j < n; j++) {                                               \
                lf_real A = a[j], B = b[j];                                                 \
                y[j] = acc ? y[j] + (EXPR) : (EXPR);                                        \
            }                                                                               \
        } else if (sa) {                                                                    \
            lf_real B = b[0];                                                               \
            for (int64_t j = 0; j < n; j++) {                                               \
                lf_real A = a[j];                                                           \
                y[j] = acc ? y[j] + (EXPR) : (EXPR);                                        \
            }                                                                               \
        } else if (sb) {                                                                    \
            lf_real A = a[0];                                                               \
            for (int64_t j = 0; j < n; j++) {                                               \
                lf_real B = b[j];                                                           \
                y[j] = acc ? y[j] + (EXPR) : (EXPR);                                        \
            }                                                                               \
        } else {                                                                            \
            lf_real A = a[0], B = b[0];                                                     \
            for (int64_t j = 0; j < n; j++) y[j] = acc ? y[j] + (EXPR) : (EXPR);            \
        }                                                                                   \
    } while (0)

static void bin_row(int op, lf_real *restrict y, const lf_real *restrict a, int64_t sa,
                    const lf_real *restrict b, int64_t sb, int64_t n, int acc)
{
    switch (op) {
    case BIN_ADD: ROW_LOOP(A + B); break;
    case BIN_SUB: ROW_LOOP(A - B); break;
    case BIN_MUL: ROW_LOOP(A * B); break;
    case BIN_DIV: ROW_LOOP(A / B); break;
    default: ROW_LOOP(-A / B); break;
    }
}

/* y (contiguous, B's shape) (+)= a op b over the broadcast layout B. Work items are
 * (row, column block) pairs so both many short rows and one long row use the threads. */
#define COLBLK 16384
static void bin_run(int op, const bcast *B, lf_real *y, const lf_real *a, const lf_real *b,
                    int acc)
{
    int last = B->nd - 1;
    int64_t n = B->shape[last], rows = 1;
    for (int i = 0; i < last; i++) rows *= B->shape[i];
    int64_t nblk = (n + COLBLK - 1) / COLBLK;
#pragma omp parallel for if (rows * n > LF_PAR_MIN) schedule(static)
    for (int64_t w = 0; w < rows * nblk; w++) {
        int64_t r = w / nblk, j0 = (w % nblk) * COLBLK;
        int64_t len = n - j0 < COLBLK ? n - j0 : COLBLK;
        int64_t oa = 0, ob = 0, rem = r;
        for (int i = last - 1; i >= 0; i--) {
            int64_t k = rem % B->shape[i];
            rem /= B->shape[i];
            oa += k * B->sa[i];
            ob += k * B->sb[i];
        }
        int64_t sa = B->sa[last], sb = B->sb[last];
        bin_row(op, y + r * n + j0, a + oa + j0 * sa, sa, b + ob + j0 * sb, sb, len, acc);
    }
}

/* Adds (p op q) into t's gradient, where p is contiguous in y's (the output's) shape and q
 * is broadcast against it; sums over t's broadcast axes through a temporary when needed. */
static lf_status grad_into(lf_graph *g, const lf_tensor *y, lf_tensor *t, int op,
                           const lf_real *p, const lf_tensor *q)
{
    bcast B;
    bcast_make(y, q, y->ndim, y->shape, &B);
    if (lf_numel(t) == lf_numel(y)) { /* t has the full shape: accumulate directly */
        bin_run(op, &B, t->grad, p, q->data, 1);
        return LF_OK;
    }
    lf_real *tmp = lf_graph_alloc(g, (size_t)lf_numel(y) * sizeof(lf_real));
    if (!tmp) return LF_ERR_NOMEM;
    bin_run(op, &B, tmp, p, q->data, 0);
    lf_sum_to_grad(tmp, y->ndim, y->shape, t, t->grad);
    return LF_OK;
}

/* a 0-D tensor holding one constant, broadcast against anything */
static lf_tensor const_scalar(lf_real *v)
{
    lf_tensor c;
    memset(&c, 0, sizeof c);
    c.data = v;
    return c;
}

static lf_status binary_backward(lf_graph *g, lf_node *n)
{
    int op = (int)n->iarg[0];
    lf_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    const lf_real *gy = y->grad;
    lf_real one = 1, minus = -1;
    lf_tensor c1 = const_scalar(&one), cm = const_scalar(&minus);
    lf_status s = LF_OK;
    if (lf_needs_grad(a)) {
        switch (op) {
        case BIN_ADD:
        case BIN_SUB: s = grad_into(g, y, a, BIN_MUL, gy, &c1); break;
        case BIN_MUL: s = grad_into(g, y, a, BIN_MUL, gy, b); break; /* gy * b */
        default: s = grad_into(g, y, a, BIN_DIV, gy, b); break;      /* gy / b */
        }
        if (s != LF_OK) return s;
    }
    if (lf_needs_grad(b)) {
        switch (op) {
        case BIN_ADD: s = grad_into(g, y, b, BIN_MUL, gy, &c1); break;
        case BIN_SUB: s = grad_into(g, y, b, BIN_MUL, gy, &cm); break;
        case BIN_MUL: s = grad_into(g, y, b, BIN_MUL, gy, a); break; /* gy * a */
        default: {
            /* d(a/b)/db = -a/b^2 = -y/b: first gy*y, then -(gy*y)/b */
            int64_t m = lf_numel(y);
            lf_real *t = lf_graph_alloc(g, (size_t)m * sizeof(lf_real));
            if (!t) return LF_ERR_NOMEM;
            const lf_real *yd = y->data;
            LF_FOR_EACH(m, t[i] = gy[i] * yd[i]);
            s = grad_into(g, y, b, BIN_NEGDIV, t, b);
        }
        }
    }
    return s;
}

static lf_tensor *binary(lf_graph *g, lf_tensor *a, lf_tensor *b, int op, const char *name)
{
    if (!a || !b) return NULL;
    int nd;
    int64_t shape[LF_MAX_DIMS];
    if (lf_broadcast_shape(a, b, &nd, shape, name) != LF_OK) return NULL;
    a = lf_contiguous(g, a);
    b = lf_contiguous(g, b);
    if (!a || !b) return NULL;
    lf_tensor *y = lf_op_output(g, nd, shape, LF_IN(a, b));
    if (!y) return NULL;
    bcast B;
    bcast_make(a, b, nd, shape, &B);
    bin_run(op, &B, y->data, a->data, b->data, 0);
    lf_node *n = lf_record(g, name, binary_backward, y, LF_IN(a, b));
    if (n) n->iarg[0] = op;
    return y;
}

lf_tensor *lf_add(lf_graph *g, lf_tensor *a, lf_tensor *b) { return binary(g, a, b, BIN_ADD, "add"); }
lf_tensor *lf_sub(lf_graph *g, lf_tensor *a, lf_tensor *b) { return binary(g, a, b, BIN_SUB, "sub"); }
lf_tensor *lf_mul(lf_graph *g, lf_tensor *a, lf_tensor *b) { return binary(g, a, b, BIN_MUL, "mul"); }
lf_tensor *lf_div(lf_graph *g, lf_tensor *a, lf_tensor *b) { return binary(g, a, b, BIN_DIV, "div"); }

/* ---------------------------------------------------------------- unary
 * farg[0], farg[1]: the op's scalars; x = in[0], y = out. */
enum { UN_SCALE, UN_ADDS, UN_EXP, UN_LOG, UN_SQRT, UN_POW, UN_CLAMP };

static lf_status unary_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    int64_t m = lf_numel(y);
    const lf_real *X = x->data, *Y = y->data, *gy = y->grad;
    lf_real *gx = x->grad;
    lf_real p0 = (lf_real)n->farg[0], p1 = (lf_real)n->farg[1];
    switch ((int)n->iarg[0]) {
    case UN_SCALE: LF_FOR_EACH(m, gx[i] += p0 * gy[i]); break;
    case UN_ADDS: LF_FOR_EACH(m, gx[i] += gy[i]); break;
    case UN_EXP: LF_FOR_EACH(m, gx[i] += gy[i] * Y[i]); break;
    case UN_LOG: LF_FOR_EACH(m, gx[i] += gy[i] / X[i]); break;
    case UN_SQRT: LF_FOR_EACH(m, gx[i] += gy[i] / (2 * Y[i])); break;
    case UN_POW:
        /* torch: exponent 0 gives a zero gradient (not 0 * x^-1, which is NaN at x = 0) */
        if (p0 != 0) LF_FOR_EACH(m, gx[i] += gy[i] * p0 * pow(X[i], p0 - 1));
        break;
    case UN_CLAMP: /* gradient passes where lo <= x <= hi (boundaries included, as torch) */
        LF_FOR_EACH(m, gx[i] += (X[i] >= p0 && X[i] <= p1) ? gy[i] : 0);
        break;
    }
    return LF_OK;
}

static lf_tensor *unary(lf_graph *g, lf_tensor *x, int op, double s0, double s1, const char *name)
{
    if (!x) return NULL;
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x));
    if (!y) return NULL;
    int64_t m = lf_numel(x);
    const lf_real *X = x->data;
    lf_real *Y = y->data;
    lf_real p0 = (lf_real)s0, p1 = (lf_real)s1;
    switch (op) {
    case UN_SCALE: LF_FOR_EACH(m, Y[i] = p0 * X[i]); break;
    case UN_ADDS: LF_FOR_EACH(m, Y[i] = X[i] + p0); break;
    case UN_EXP: LF_FOR_EACH(m, Y[i] = exp(X[i])); break;
    case UN_LOG: LF_FOR_EACH(m, Y[i] = log(X[i])); break;
    case UN_SQRT: LF_FOR_EACH(m, Y[i] = sqrt(X[i])); break;
    case UN_POW:
        if (p0 == 2) LF_FOR_EACH(m, Y[i] = X[i] * X[i]);
        else LF_FOR_EACH(m, Y[i] = pow(X[i], p0));
        break;
    case UN_CLAMP: /* max then min: with lo > hi everything becomes hi, as torch */
        LF_FOR_EACH(m, lf_real v = X[i] < p0 ? p0 : X[i]; Y[i] = v > p1 ? p1 : v);
        break;
    }
    lf_node *n = lf_record(g, name, unary_backward, y, LF_IN(x));
    if (n) {
        n->iarg[0] = op;
        n->farg[0] = s0;
        n->farg[1] = s1;
    }
    return y;
}

lf_tensor *lf_scale(lf_graph *g, lf_tensor *x, double s) { return unary(g, x, UN_SCALE, s, 0, "scale"); }
lf_tensor *lf_add_scalar(lf_graph *g, lf_tensor *x, double s) { return unary(g, x, UN_ADDS, s, 0, "add_scalar"); }
lf_tensor *lf_exp(lf_graph *g, lf_tensor *x) { return unary(g, x, UN_EXP, 0, 0, "exp"); }
lf_tensor *lf_log(lf_graph *g, lf_tensor *x) { return unary(g, x, UN_LOG, 0, 0, "log"); }
lf_tensor *lf_sqrt(lf_graph *g, lf_tensor *x) { return unary(g, x, UN_SQRT, 0, 0, "sqrt"); }
lf_tensor *lf_pow(lf_graph *g, lf_tensor *x, double p) { return unary(g, x, UN_POW, p, 0, "pow"); }

lf_tensor *lf_clamp(lf_graph *g, lf_tensor *x, double lo, double hi)
{
    if (x && (isnan(lo) || isnan(hi))) {
        lf_error(LF_ERR_ARG, "clamp: NaN bound (lo %g, hi %g)", lo, hi);
        return NULL;
    }
    return unary(g, x, UN_CLAMP, lo, hi, "clamp");
}
