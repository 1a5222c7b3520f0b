/* CPU convolution kernels (im2col / vol2col + BLAS gemm), shared by convolution and
 * transposed convolution (src/ops/conv.c). Not part of the public API. */
#ifndef LF_CONV_CPU_H
#define LF_CONV_CPU_H

#include "../../core/internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* The geometry of one convolution seen from its column matrix. The "image side" is the
 * tensor the columns are gathered from (the input of a convolution, the output of a
 * transposed one); the "column side" is the other one, whose spatial positions index the
 * columns. 2-D problems use depth 1 (k = s = d = 1, p = 0 in dim 0). */
typedef struct lf_conv_geom {
    int64_t ci, co, groups; /* image-side and column-side channels, groups */
    int64_t in[3], out[3];  /* image-side and column-side spatial sizes (D, H, W) */
    int64_t k[3], s[3], p[3], d[3];
} lf_conv_geom;

/* What a forward pass does to each output value v of channel c before the caller sees it
 * (lf_conv_bn_act, eval-mode inference):
 *   y = (v - mean[c]) a[c] + k[c]  (+ res at the same place)  (then max(y, 0) if relu)
 * the operations, in the order, of batch_norm_add_relu's pass, so the result is bit for bit
 * the same as the two ops (the library builds with -std=c11: no FMA contraction). Applied
 * while a block of outputs is still in the cache instead of in a pass of its own. */
typedef struct lf_conv_epilogue {
    const lf_real *mean, *a, *k; /* (co) */
    const lf_real *res;          /* (n, co, out...) like the output, or NULL */
    bool relu;
} lf_conv_epilogue;

/* The epilogue on y (n, co, L) for images [b0, b1), positions [off, off + len) of each
 * channel plane */
void lf_conv_epilogue_apply(const lf_conv_epilogue *ep, lf_real *y, int64_t co, int64_t L,
                            int64_t b0, int64_t b1, int64_t off, int64_t len);

/* One pass over n images with weight w (co, ci/groups * kprod). Every non-NULL output is
 * produced; the others are skipped:
 *   colside_out  (n, co, out...)  = W @ cols(img)     (+= if accumulate)
 *   dw           (co, ci/g*kprod) += colside @ cols(img)^T
 *   img_out      (n, ci, in...)   += col2im(W^T @ colside)
 * img is needed for colside_out and dw, colside for dw and img_out. Column, staging and
 * per-thread weight-gradient buffers and the AVX-512 gemm's packing buffers come from g's
 * scratch slots 0-4; the Winograd paths (conv_winograd.h) use 0 and 2, never while the
 * im2col path holds them (a split job runs Winograd first). Every path
 * applies ep (if set) to colside_out as it goes. */
typedef struct lf_conv_job {
    int64_t n;
    const lf_real *w;
    const lf_real *img;
    const lf_real *colside;
    lf_real *colside_out;
    int accumulate;
    lf_real *dw;
    lf_real *img_out;
    const lf_conv_epilogue *ep; /* on colside_out (without accumulate), or NULL */
} lf_conv_job;

lf_status lf_conv_cpu_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *job);
/* The smallest batch m >= want (or n) that lf_conv_cpu_run splits over as many threads as n
 * images, so on the same kernel path: the AVX-512 batch-parallel path computes every image
 * alone, so chunks of m (and a last one of up to 2m - 1) give n's bits. n itself on the
 * BLAS paths, whose sums depend on which images share a product (measured: OpenBLAS's). */
int64_t lf_conv_cpu_chunk(const lf_conv_geom *q, int64_t n, int64_t want);

/* Output positions o in [0, out) with 0 <= o*s + off < in: [*lo, *hi). */
static inline void lf_conv_valid_range(int64_t off, int64_t s, int64_t in, int64_t out,
                                       int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = in - 1 - off < 0 ? 0 : (in - 1 - off) / s + 1;
    if (a > out) a = out;
    if (b > out) b = out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* col (ci*kprod rows, m*L columns: image i in columns [i*L, (i+1)*L)) <- patches of m
 * consecutive images (m, ci, in...); L = the column side's spatial size */
void lf_conv_im2col(const lf_conv_geom *q, const lf_real *img, int64_t m, lf_real *col);
/* imgs (m, ci, in...) += the patches in col (laid out as above), summed where they overlap.
 * col is scratch: its entries that fall on padding may be overwritten with zeros. */
void lf_conv_col2im(const lf_conv_geom *q, lf_real *col, int64_t m, lf_real *img);

/* lf_conv_cpu_run's products for images [b_begin, b_end) on the calling thread with the
 * AVX-512 gemm (conv_avx512.c; float builds on AVX-512 machines only): col the columns of a
 * block (K x nb*L; NULL for direct 1x1), dw this thread's weight-gradient accumulator, pack
 * the gemm's packing space, wp the weights packed by lf_conv_avx512_pack_weights (shared by
 * the threads, read only; NULL: packed per product). */
typedef struct lf_conv_wpack {
    const lf_real *fwd, *bwd; /* W packed for the forward product, W^T for the input gradient */
} lf_conv_wpack;
size_t lf_conv_avx512_wpack_floats(const lf_conv_geom *q, const lf_conv_job *j);
/* Packs the weights j's products need into buf (lf_conv_avx512_wpack_floats floats); both
 * NULL with groups */
lf_conv_wpack lf_conv_avx512_pack_weights(const lf_conv_geom *q, const lf_conv_job *j,
                                          lf_real *buf);
void lf_conv_range_avx512(const lf_conv_geom *q, const lf_conv_job *j, bool direct, int64_t nb,
                          int64_t b_begin, int64_t b_end, lf_real *col, lf_real *dw,
                          lf_real *pack, lf_conv_wpack wp);

/* The forward product's columns of m images straight in the AVX-512 gemm's packed B layout
 * (conv_im2col_packed.c; AVX-512 float builds): the floats it needs at buf for blocks of m
 * images of job j, 0 where it does not apply (j more than a forward pass, direct 1x1, or a
 * geometry it does not take), and the call, which returns the packed matrix for
 * lf_gemm512x_bp. buf must be 64-byte aligned. */
size_t lf_conv_im2col_packed_floats(const lf_conv_geom *q, const lf_conv_job *j, bool direct,
                                    int64_t m);
float *lf_conv_im2col_packed(const lf_conv_geom *q, const float *img, int64_t m, float *buf);
/* 0: the forward product takes lf_conv_im2col and the gemm's own packing instead (tests and
 * A/B timing; the same bits); 1: as chosen (the default) */
void lf_conv_im2col_packed_force(int on);

/* The calling thread's number in an OpenMP region (0 outside one, or without OpenMP). */
static inline int lf_conv_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* The number of threads in the calling thread's team (1 outside a region). A region asked
 * for T threads may get fewer (OMP_THREAD_LIMIT, OMP_DYNAMIC): work split by thread number
 * must be split by this, not by T, or the missing threads' shares are never done. */
static inline int lf_conv_team_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* 1 when OpenMP loops may run between BLAS calls without fighting BLAS's own threads for
 * the cores (see conv_cpu.c): not with the pthreads OpenBLAS. */
int lf_cpu_parallel_loops(void);

/* y (n, c, L) += bias[c]; db[c] += sum over n and L of dy */
void lf_conv_bias_forward(lf_real *y, const lf_real *bias, int64_t n, int64_t c, int64_t L);
void lf_conv_bias_backward(const lf_real *dy, lf_real *db, int64_t n, int64_t c, int64_t L);

#endif
