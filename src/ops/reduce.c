/* Reductions: sum and mean over a set of axes (bit mask), max along one axis, and the
 * whole-tensor sum and mean. Forward and backward side by side. Sums are accumulated in
 * double in a fixed order (see reduce_kernel.c), so they do not depend on the thread count. */
#include "reduce_kernel.h"

#include <math.h>
#include <string.h>

/* output shape of a reduction over `mask`; LF_ERR_ARG naming op if mask has axes >= ndim */
static int reduced_shape(const lf_tensor *x, uint32_t mask, int keepdim, int64_t *shape,
                         int64_t *count, const char *op)
{
    if (x->ndim < 32 && (mask >> x->ndim) != 0) {
        char b[96];
        lf_error(LF_ERR_ARG, "%s: axis mask 0x%x names axes beyond the %d dims of %s", op,
                 (unsigned)mask, x->ndim, lf_shape_str(x, b, sizeof b));
        return -1;
    }
    int k = 0;
    *count = 1;
    for (int i = 0; i < x->ndim; i++) {
        if ((mask >> i) & 1) {
            *count *= x->shape[i];
            if (keepdim) shape[k++] = 1;
        } else shape[k++] = x->shape[i];
    }
    return k;
}

/* iarg[0]: mask; farg[0]: scale (1 for sum, 1/count for mean) */
static lf_status sum_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0];
    lf_expand_add(n->out->grad, x->ndim, x->shape, (uint32_t)n->iarg[0], n->farg[0], x->grad);
    return LF_OK;
}

/* mask 0 reduces nothing (a copy): the natural meaning of an empty set of axes. */
static lf_tensor *sum_scaled(lf_graph *g, lf_tensor *x, uint32_t mask, int keepdim, int mean,
                             const char *op)
{
    if (!x) return NULL;
    int64_t shape[LF_MAX_DIMS], count;
    int nd = reduced_shape(x, mask, keepdim, shape, &count, op);
    if (nd < 0) return NULL;
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_op_output(g, nd, shape, LF_IN(x));
    if (!y) return NULL;
    /* mean over zero elements is NaN, as torch */
    double scale = mean ? (count ? 1.0 / (double)count : NAN) : 1.0;
    lf_reduce_sum(x->data, x->ndim, x->shape, mask, scale, y->data, 0);
    if (mean && count == 0) {
        int64_t m = lf_numel(y);
        for (int64_t i = 0; i < m; i++) y->data[i] = NAN;
    }
    lf_node *n = lf_record(g, op, sum_backward, y, LF_IN(x));
    if (n) {
        n->iarg[0] = mask;
        n->farg[0] = scale;
    }
    return y;
}

lf_tensor *lf_sum(lf_graph *g, lf_tensor *x, uint32_t dims, int keepdim)
{
    return sum_scaled(g, x, dims, keepdim, 0, "sum");
}

lf_tensor *lf_mean(lf_graph *g, lf_tensor *x, uint32_t dims, int keepdim)
{
    return sum_scaled(g, x, dims, keepdim, 1, "mean");
}

lf_tensor *lf_sum_all(lf_graph *g, lf_tensor *x)
{
    if (!x) return NULL;
    return sum_scaled(g, x, x->ndim ? (uint32_t)((1ull << x->ndim) - 1) : 0, 0, 0, "sum_all");
}

lf_tensor *lf_mean_all(lf_graph *g, lf_tensor *x)
{
    if (!x) return NULL;
    return sum_scaled(g, x, x->ndim ? (uint32_t)((1ull << x->ndim) - 1) : 0, 0, 1, "mean_all");
}

/* ---- max along one axis: the gradient goes to the first index holding the max (as torch).
 * saved: int64 argmax per output element. NaN counts as the max (it propagates, as torch). */
static lf_status max_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    const int64_t *arg = n->saved;
    int d = (int)n->iarg[0];
    int64_t outer, len, inner;
    lf_split_dim(x, d, &outer, &len, &inner);
    const lf_real *gy = y->grad;
    lf_real *gx = x->grad;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t k = o * inner + j;
            gx[(o * len + arg[k]) * inner + j] += gy[k];
        }
    return LF_OK;
}

lf_tensor *lf_max(lf_graph *g, lf_tensor *x, int dim, int keepdim)
{
    if (!x) return NULL;
    int d = lf_norm_dim(dim, x->ndim, "max");
    if (d < 0) return NULL;
    if (x->shape[d] == 0) {
        char b[96];
        lf_error(LF_ERR_SHAPE, "max: dim %d of %s is empty", dim, lf_shape_str(x, b, sizeof b));
        return NULL;
    }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    int64_t shape[LF_MAX_DIMS], count;
    int nd = reduced_shape(x, 1u << d, keepdim, shape, &count, "max");
    lf_tensor *y = lf_op_output(g, nd, shape, LF_IN(x));
    int64_t outer, len, inner;
    lf_split_dim(x, d, &outer, &len, &inner);
    int64_t *arg = lf_graph_alloc(g, (size_t)(outer * inner) * sizeof(int64_t));
    if (!y || !arg) return NULL;
    const lf_real *X = x->data;
    lf_real *Y = y->data;
#pragma omp parallel for if (outer * len * inner > LF_PAR_MIN) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        const lf_real *xo = X + o * len * inner;
        for (int64_t j = 0; j < inner; j++) {
            lf_real m = xo[j];
            int64_t a = 0;
            for (int64_t k = 1; k < len && m == m; k++) {
                lf_real v = xo[k * inner + j];
                if (v > m || v != v) {
                    m = v;
                    a = k;
                }
            }
            Y[o * inner + j] = m;
            arg[o * inner + j] = a;
        }
    }
    lf_node *n = lf_record(g, "max", max_backward, y, LF_IN(x));
    if (n) {
        n->iarg[0] = d;
        n->saved = arg;
    }
    return y;
}
