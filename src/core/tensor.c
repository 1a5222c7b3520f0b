/* Tensor shape helpers. */
#include "internal.h"

#include <math.h>
#include <stdio.h>

int64_t lf_numel(const lf_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

void lf_tensor_set_shape(lf_tensor *t, int ndim, const int64_t *shape)
{
    t->ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = s;
        s *= shape[i];
    }
    for (int i = ndim; i < LF_MAX_DIMS; i++) {
        t->shape[i] = 1;
        t->stride[i] = 0;
    }
}

int lf_is_contiguous(const lf_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

int lf_same_shape(const lf_tensor *a, const lf_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *lf_shape_str(const lf_tensor *t, char *buf, size_t size)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, size - k, "(");
    for (int i = 0; i < t->ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (k < size) snprintf(buf + k, size - k, ")");
    return buf;
}

char *lf_dims_str(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < size) snprintf(buf + k, size - k, ndim == 1 ? ",)" : ")");
    return buf;
}

lf_status lf_check_finite(const lf_tensor *t, const char *what)
{
    int64_t n = lf_numel(t);
    if (!lf_is_contiguous(t)) return lf_error(LF_ERR_ARG, "%s: not contiguous", what);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite((double)t->data[i]))
            return lf_error(LF_ERR_NUMERIC, "%s: element %lld is %s", what, (long long)i,
                            isnan((double)t->data[i]) ? "NaN" : "Inf");
    return LF_OK;
}

int lf_norm_dim(int dim, int ndim, const char *op)
{
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim) {
        lf_error(LF_ERR_ARG, "%s: dim %d out of range for a %d-D tensor", op, dim, ndim);
        return -1;
    }
    return d;
}

lf_status lf_broadcast_shape(const lf_tensor *a, const lf_tensor *b, int *ndim, int64_t *shape,
                             const char *op)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char x[96], y[96];
            return lf_error(LF_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)",
                            op, lf_shape_str(a, x, sizeof x), lf_shape_str(b, y, sizeof y), i,
                            (long long)sa, (long long)sb);
        }
        shape[i] = sa == 1 ? sb : sa;
    }
    *ndim = n;
    return LF_OK;
}
