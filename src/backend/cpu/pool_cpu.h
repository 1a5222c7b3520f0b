/* CPU pooling kernels beside the generic loops of src/ops/pool.c. Not part of the public
 * API. */
#ifndef LF_POOL_CPU_H
#define LF_POOL_CPU_H

#include "../../core/internal.h"

/* True when lf_max_pool_row_avx512 takes a row with kernel k and stride s (float builds on
 * AVX-512 machines: stride 2, k <= 4). Read once. */
bool lf_max_pool_row_avx512_fits(int64_t k, int64_t s);
/* dst[ow] (ow < OW) = the maximum over the window rows (n_rows of them, in the window's
 * order) and columns 2 ow - p .. 2 ow - p + k - 1 inside [0, W), taken as the scalar loop
 * takes it (a later value when larger or NaN): the same bits */
void lf_max_pool_row_avx512(const float *const *rows, int n_rows, int64_t W, int64_t OW,
                            int64_t k, int64_t p, float *dst);

#endif
