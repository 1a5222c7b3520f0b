/* Kernels shared by the elementwise, reduction, softmax and loss ops (src/ops/). Not public.
 * All of them give results that do not depend on the number of OpenMP threads: every output
 * element is summed by one thread in a fixed order, and whole-tensor sums use a fixed chunking
 * that is combined in a fixed order. */
#ifndef LF_REDUCE_KERNEL_H
#define LF_REDUCE_KERNEL_H

#include "core/internal.h"

/* for (int64_t i = 0; i < n; i++) { BODY } — parallel when n is large. Every i is
 * independent, so the result does not depend on the thread count. */
#define LF_FOR_EACH(n, ...)                                                                 \
    do {                                                                                    \
        int64_t n_ = (n);                                                                   \
        _Pragma("omp parallel for if (n_ > LF_PAR_MIN) schedule(static)")                  \
        for (int64_t i = 0; i < n_; i++) { __VA_ARGS__; }                                  \
    } while (0)

/* Sum of n contiguous values, with 8 double partial sums (vectorisable, accurate). */
double lf_sum_run(const lf_real *x, int64_t n);

/* Sum of n contiguous values in a fixed number of chunks, parallel for large n. */
double lf_sum_flat(const lf_real *x, int64_t n);

/* out (+)= scale * sum of x (contiguous, shape[ndim]) over the axes in `mask` (bit i = axis i).
 * out is contiguous in the shape of x with the reduced axes removed (or kept as size 1: the
 * same layout). accumulate: add into out instead of overwriting it. */
void lf_reduce_sum(const lf_real *x, int ndim, const int64_t *shape, uint32_t mask, double scale,
                   lf_real *out, int accumulate);

/* The adjoint of lf_reduce_sum: gx (x's shape) += scale * gy broadcast over the axes in mask. */
void lf_expand_add(const lf_real *gy, int ndim, const int64_t *shape, uint32_t mask,
                   double scale, lf_real *gx);

/* Adds g (contiguous, the broadcast output shape oshape[ondim]) into t's gradient, summing
 * over the axes along which t was broadcast (numpy rules: t's dims align to the right). */
void lf_sum_to_grad(const lf_real *g, int ondim, const int64_t *oshape, const lf_tensor *t,
                    lf_real *tgrad);

/* Splits a tensor around axis d: outer = prod(shape[:d]), n = shape[d], inner = prod(shape[d+1:]). */
static inline void lf_split_dim(const lf_tensor *x, int d, int64_t *outer, int64_t *n,
                                int64_t *inner)
{
    int64_t o = 1, i = 1;
    for (int k = 0; k < d; k++) o *= x->shape[k];
    for (int k = d + 1; k < x->ndim; k++) i *= x->shape[k];
    *outer = o;
    *n = x->shape[d];
    *inner = i;
}

#endif
