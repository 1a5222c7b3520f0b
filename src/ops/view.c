/* Views and layout: reshape, permute/transpose, slice, detach, contiguous, concat,
 * index_select. Forward and backward side by side. */
#include "../core/internal.h"

#include <string.h>

/* ---- strided copy: dst (contiguous) <- src (any strides), or dst += src with accumulate */
static void strided_walk(const lf_tensor *t, lf_real *contig, lf_real *strided, int to_contig,
                         int accumulate)
{
    int64_t n = lf_numel(t);
    int nd = t->ndim;
    int64_t idx[LF_MAX_DIMS] = {0};
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        if (to_contig) {
            if (accumulate) contig[i] += strided[off];
            else contig[i] = strided[off];
        } else {
            if (accumulate) strided[off] += contig[i];
            else strided[off] = contig[i];
        }
        for (int d = nd - 1; d >= 0; d--) {
            idx[d]++;
            off += t->stride[d];
            if (idx[d] < t->shape[d]) break;
            off -= t->stride[d] * t->shape[d];
            idx[d] = 0;
        }
    }
}

/* ---- contiguous */
static lf_status contiguous_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0];
    /* x->grad is contiguous with x's shape; walk x's logical order */
    int64_t m = lf_numel(x);
    for (int64_t i = 0; i < m; i++) x->grad[i] += n->out->grad[i];
    return LF_OK;
}

lf_tensor *lf_contiguous(lf_graph *g, lf_tensor *x)
{
    if (!x) return NULL;
    if (lf_is_contiguous(x)) return x;
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x));
    if (!y) return NULL;
    strided_walk(x, y->data, x->data, 1, 0);
    lf_record(g, "contiguous", contiguous_backward, y, LF_IN(x));
    return y;
}

/* ---- reshape: a view of contiguous data; gradient is the same buffer read in x's shape */
static lf_status reshape_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    int64_t m = lf_numel(n->out);
    lf_real *gx = n->in[0]->grad, *gy = n->out->grad;
    for (int64_t i = 0; i < m; i++) gx[i] += gy[i];
    return LF_OK;
}

lf_tensor *lf_reshape(lf_graph *g, lf_tensor *x, int ndim, const int64_t *shape)
{
    if (!x) return NULL;
    if (ndim < 0 || ndim > LF_MAX_DIMS) {
        lf_error(LF_ERR_ARG, "reshape: %d dims", ndim);
        return NULL;
    }
    int64_t s[LF_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1) {
            if (infer >= 0) {
                lf_error(LF_ERR_ARG, "reshape: more than one -1");
                return NULL;
            }
            infer = i;
        } else known *= s[i];
    }
    int64_t n = lf_numel(x);
    if (infer >= 0) s[infer] = known ? n / known : 0;
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) total *= s[i];
    if (total != n) {
        char b[96];
        lf_error(LF_ERR_SHAPE, "reshape: cannot view %s (%lld elements) as %lld elements",
                 lf_shape_str(x, b, sizeof b), (long long)n, (long long)total);
        return NULL;
    }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_view_of(g, x, x->data, ndim, s, NULL);
    if (!y) return NULL;
    if (g->grad_enabled && lf_needs_grad(x)) y->flags |= LF_TENSOR_REQUIRES_GRAD;
    lf_record(g, "reshape", reshape_backward, y, LF_IN(x));
    return y;
}

/* ---- permute: a strided view; backward scatters the contiguous out-grad through the
 * inverse permutation */
static lf_status permute_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    lf_tensor gv = *y; /* view of x->grad with y's (permuted) strides */
    int64_t cstride[LF_MAX_DIMS], s = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        cstride[i] = s;
        s *= x->shape[i];
    }
    for (int i = 0; i < y->ndim; i++) gv.stride[i] = cstride[n->iarg[i]];
    strided_walk(&gv, y->grad, x->grad, 0, 1);
    return LF_OK;
}

lf_tensor *lf_permute(lf_graph *g, lf_tensor *x, const int *perm)
{
    if (!x) return NULL;
    /* x's gradient is laid out contiguously in x's shape; permuting a strided view that
     * needs a gradient goes through a contiguous copy so backward can index it. */
    if (g->grad_enabled && lf_needs_grad(x) && !lf_is_contiguous(x)) x = lf_contiguous(g, x);
    if (!x) return NULL;
    int seen[LF_MAX_DIMS] = {0};
    int64_t shape[LF_MAX_DIMS], stride[LF_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        int p = perm[i];
        if (p < 0 || p >= x->ndim || seen[p]) {
            lf_error(LF_ERR_ARG, "permute: invalid permutation for a %d-D tensor", x->ndim);
            return NULL;
        }
        seen[p] = 1;
        shape[i] = x->shape[p];
        stride[i] = x->stride[p];
    }
    lf_tensor *y = lf_view_of(g, x, x->data, x->ndim, shape, stride);
    if (!y) return NULL;
    if (g->grad_enabled && lf_needs_grad(x)) y->flags |= LF_TENSOR_REQUIRES_GRAD;
    lf_node *n = lf_record(g, "permute", permute_backward, y, LF_IN(x));
    if (n)
        for (int i = 0; i < x->ndim; i++) n->iarg[i] = perm[i];
    return y;
}

lf_tensor *lf_transpose(lf_graph *g, lf_tensor *x, int d0, int d1)
{
    if (!x) return NULL;
    int a = lf_norm_dim(d0, x->ndim, "transpose"), b = lf_norm_dim(d1, x->ndim, "transpose");
    if (a < 0 || b < 0) return NULL;
    int perm[LF_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return lf_permute(g, x, perm);
}

/* ---- slice along one dim: copies into a contiguous tensor (simple and safe for grads) */
static lf_status slice_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0];
    int d = (int)n->iarg[0];
    int64_t start = n->iarg[1], len = n->out->shape[d];
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) inner *= x->shape[i];
    for (int64_t o = 0; o < outer; o++) {
        lf_real *gx = x->grad + (o * x->shape[d] + start) * inner;
        const lf_real *gy = n->out->grad + o * len * inner;
        for (int64_t i = 0; i < len * inner; i++) gx[i] += gy[i];
    }
    return LF_OK;
}

lf_tensor *lf_slice(lf_graph *g, lf_tensor *x, int dim, int64_t start, int64_t stop)
{
    if (!x) return NULL;
    int d = lf_norm_dim(dim, x->ndim, "slice");
    if (d < 0) return NULL;
    if (start < 0) start += x->shape[d];
    if (stop < 0) stop += x->shape[d];
    if (stop > x->shape[d]) stop = x->shape[d];
    if (start < 0 || start > stop) {
        lf_error(LF_ERR_ARG, "slice: range [%lld, %lld) invalid for size %lld in dim %d",
                 (long long)start, (long long)stop, (long long)x->shape[d], d);
        return NULL;
    }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    int64_t shape[LF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = stop - start;
    lf_tensor *y = lf_op_output(g, x->ndim, shape, LF_IN(x));
    if (!y) return NULL;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) inner *= x->shape[i];
    for (int64_t o = 0; o < outer; o++)
        memcpy(y->data + o * shape[d] * inner, x->data + (o * x->shape[d] + start) * inner,
               (size_t)(shape[d] * inner) * sizeof(lf_real));
    lf_node *n = lf_record(g, "slice", slice_backward, y, LF_IN(x));
    if (n) {
        n->iarg[0] = d;
        n->iarg[1] = start;
    }
    return y;
}

/* ---- detach: same data, no gradient flows back (momentum encoders, teachers) */
lf_tensor *lf_detach(lf_graph *g, lf_tensor *x)
{
    if (!x) return NULL;
    lf_tensor *y = lf_view_of(g, x, x->data, x->ndim, x->shape, x->stride);
    return y;
}

/* ---- concat along one dim */
typedef struct concat_saved {
    int n;
    lf_tensor **xs;
} concat_saved;

static lf_status concat_backward(lf_graph *g, lf_node *n)
{
    concat_saved *s = n->saved;
    int d = (int)n->iarg[0];
    lf_tensor *y = n->out;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= y->shape[i];
    for (int i = d + 1; i < y->ndim; i++) inner *= y->shape[i];
    int64_t off = 0;
    for (int k = 0; k < s->n; k++) {
        lf_tensor *x = s->xs[k];
        int64_t len = x->shape[d];
        if (lf_needs_grad(x)) {
            lf_real *gx = lf_grad(g, x);
            if (!gx) return LF_ERR_NOMEM;
            for (int64_t o = 0; o < outer; o++) {
                const lf_real *gy = y->grad + (o * y->shape[d] + off) * inner;
                lf_real *gxo = gx + o * len * inner;
                for (int64_t i = 0; i < len * inner; i++) gxo[i] += gy[i];
            }
        }
        off += len;
    }
    return LF_OK;
}

lf_tensor *lf_concat(lf_graph *g, lf_tensor *const *xs_in, int nx, int dim)
{
    if (nx <= 0) {
        lf_error(LF_ERR_ARG, "concat: no inputs");
        return NULL;
    }
    for (int k = 0; k < nx; k++)
        if (!xs_in[k]) return NULL;
    lf_tensor **xs = lf_graph_alloc(g, (size_t)nx * sizeof *xs);
    if (!xs) return NULL;
    int d = lf_norm_dim(dim, xs_in[0]->ndim, "concat");
    if (d < 0) return NULL;
    int64_t shape[LF_MAX_DIMS];
    memcpy(shape, xs_in[0]->shape, sizeof shape);
    shape[d] = 0;
    bool any_grad = false;
    for (int k = 0; k < nx; k++) {
        xs[k] = lf_contiguous(g, xs_in[k]);
        if (!xs[k]) return NULL;
        if (xs[k]->ndim != xs_in[0]->ndim) goto bad;
        for (int i = 0; i < xs[k]->ndim; i++)
            if (i != d && xs[k]->shape[i] != xs_in[0]->shape[i]) goto bad;
        shape[d] += xs[k]->shape[d];
        any_grad |= lf_needs_grad(xs[k]);
    }
    lf_tensor *y = lf_op_output(g, xs_in[0]->ndim, shape, NULL, 0);
    if (!y) return NULL;
    if (g->grad_enabled && any_grad) y->flags |= LF_TENSOR_REQUIRES_GRAD;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= shape[i];
    for (int i = d + 1; i < y->ndim; i++) inner *= shape[i];
    int64_t off = 0;
    for (int k = 0; k < nx; k++) {
        int64_t len = xs[k]->shape[d];
        for (int64_t o = 0; o < outer; o++)
            memcpy(y->data + (o * shape[d] + off) * inner, xs[k]->data + o * len * inner,
                   (size_t)(len * inner) * sizeof(lf_real));
        off += len;
    }
    /* inputs beyond LF_NODE_MAX_IN live in saved; the node has none of its own */
    lf_node *n = lf_record(g, "concat", concat_backward, y, NULL, 0);
    if (n) {
        concat_saved *s = lf_graph_alloc(g, sizeof *s);
        if (!s) return NULL;
        s->n = nx;
        s->xs = xs;
        n->saved = s;
        n->iarg[0] = d;
    }
    return y;
bad:;
    char a[96], b[96];
    lf_error(LF_ERR_SHAPE, "concat: shapes %s and %s differ outside dim %d",
             lf_shape_str(xs_in[0], a, sizeof a), lf_shape_str(xs_in[nx > 1 ? 1 : 0], b, sizeof b), d);
    return NULL;
}

/* ---- index_select along one dim (gather rows); backward scatters with += */
static lf_status index_select_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    int d = (int)n->iarg[0];
    const int64_t *idx = n->saved;
    int64_t cnt = y->shape[d], outer = 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) inner *= x->shape[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < cnt; j++) {
            lf_real *gx = x->grad + (o * x->shape[d] + idx[j]) * inner;
            const lf_real *gy = y->grad + (o * cnt + j) * inner;
            for (int64_t i = 0; i < inner; i++) gx[i] += gy[i];
        }
    return LF_OK;
}

lf_tensor *lf_index_select(lf_graph *g, lf_tensor *x, int dim, const int64_t *idx, int64_t cnt)
{
    if (!x) return NULL;
    int d = lf_norm_dim(dim, x->ndim, "index_select");
    if (d < 0) return NULL;
    for (int64_t j = 0; j < cnt; j++)
        if (idx[j] < 0 || idx[j] >= x->shape[d]) {
            lf_error(LF_ERR_ARG, "index_select: index %lld at position %lld out of range [0, %lld)",
                     (long long)idx[j], (long long)j, (long long)x->shape[d]);
            return NULL;
        }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    int64_t shape[LF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = cnt;
    lf_tensor *y = lf_op_output(g, x->ndim, shape, LF_IN(x));
    if (!y) return NULL;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) inner *= x->shape[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < cnt; j++)
            memcpy(y->data + (o * cnt + j) * inner, x->data + (o * x->shape[d] + idx[j]) * inner,
                   (size_t)inner * sizeof(lf_real));
    lf_node *n = lf_record(g, "index_select", index_select_backward, y, LF_IN(x));
    if (n) {
        int64_t *saved = lf_graph_alloc(g, (size_t)(cnt ? cnt : 1) * sizeof(int64_t));
        if (!saved) return NULL;
        memcpy(saved, idx, (size_t)cnt * sizeof(int64_t));
        n->saved = saved;
        n->iarg[0] = d;
    }
    return y;
}
