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
 * takes it (a later value when larger or NaN): the same bits. irow (or NULL): the maxima's
 * flat in-plane indices, bases[r] + column for window row r (bases[r]: that row's index of
 * column 0), the window's first value where nothing is taken, as the scalar loop */
void lf_max_pool_row_avx512(const float *const *rows, int n_rows, int64_t W, int64_t OW,
                            int64_t k, int64_t p, float *dst, const int32_t *bases,
                            int32_t *irow);
/* True when lf_max_pool_plane_nonneg takes a 2-D pooling (float builds on AVX-512 machines:
 * stride 2, kernels of at most 4, up to 1024 outputs a row) */
bool lf_max_pool_plane_nonneg_fits(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t OW);
/* dst (OH, OW) = the max pooling of the plane src (H, W) with stride 2, kernel kh x kw and
 * padding ph, pw, for src whose values are all +0 or more and none NaN (a ReLU's output):
 * the bits of the ordered scalar loop */
void lf_max_pool_plane_nonneg(const float *src, int64_t H, int64_t W, int64_t OH, int64_t OW,
                              int64_t kh, int64_t kw, int64_t ph, int64_t pw, float *dst);

#endif
