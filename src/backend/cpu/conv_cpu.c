/* Convolution on the CPU: im2col (vol2col in 3-D) + gemm, col2im for the transposed
 * direction. One driver (lf_conv_cpu_run) serves the forward and both backward products of
 * convolution and of transposed convolution; see conv_cpu.h for what it computes.
 *
 * Speed notes. Small spatial sizes make thin gemms (N = H*W), so several images are put side
 * by side in one column matrix until it has about COL_TARGET columns. 1x1 stride-1
 * unpadded convolutions need no columns at all: the image is already the column matrix.
 * The gather/scatter loops use OpenMP over rows or channels; every element is written by
 * exactly one thread in a fixed order, so results do not depend on the thread count.
 *
 * Why those loops are serial with the pthreads OpenBLAS (Debian's default): its worker
 * threads busy-wait for a long while after each gemm, and an OpenMP region started in that
 * window fights them for the 2 cores. Measured on the ResNet-18 layer (N=32, C=64, 32x32):
 * forward+backward 1.8-2.2 s with OpenMP im2col/col2im against 0.2-0.26 s serial. With an
 * OpenMP (or sequential) OpenBLAS the loops run in parallel. */
#include "conv_cpu.h"
#include "conv_winograd.h"
#include "gemm_avx512.h"

#include <cblas.h>
#include <stdatomic.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int blas_leaves_loops_alone(void)
{
    return openblas_get_parallel() != 1; /* 0 sequential, 1 pthreads, 2 OpenMP */
}

int lf_cpu_parallel_loops(void)
{
    static atomic_int ok = -1;
    return lf_cached(&ok, blas_leaves_loops_alone);
}

#ifndef COL_TARGET
#define COL_TARGET 2048 /* columns per gemm before images stop being batched */
#endif
#define COL_MAX_ELEMS (8LL << 20)  /* cap on one column buffer (32 MB in float) */
/* AVX-512 path: blocks of images whose columns fit in L2 (embedding at 64x64, measured:
 * 256 KB to 1 MB alike, 4-16 MB 10-25 % slower), but at least OWN_MIN_COLS columns wide so
 * that late layers (2x2 positions per image) still fill the kernel's 48-column tiles */
#ifndef OWN_COL_BYTES
#define OWN_COL_BYTES (512 << 10)
#endif
#ifndef OWN_MIN_COLS
#define OWN_MIN_COLS 384
#endif

/* GCC turns copy and zero loops into memcpy/memset calls, which cost more than the copy
 * itself on the short rows of im2col (2-32 values in a ResNet): measured ~9 % of embedding
 * time in those calls. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_LIBCALLS
#endif

/* One column-matrix row segment: output row o (ow_n values) <- input row srow sampled at
 * ow * sw for ow in [lo, hi), zeros outside. */
static inline void gather_row(lf_real *restrict o, const lf_real *restrict srow, int64_t sw,
                              int64_t lo, int64_t hi, int64_t ow_n)
{
    for (int64_t ow = 0; ow < lo; ow++) o[ow] = 0;
    if (sw == 1)
        for (int64_t ow = lo; ow < hi; ow++) o[ow] = srow[ow];
    else if (sw == 2)
        for (int64_t ow = lo; ow < hi; ow++) o[ow] = srow[2 * ow];
    else
        for (int64_t ow = lo; ow < hi; ow++) o[ow] = srow[ow * sw];
    for (int64_t ow = hi; ow < ow_n; ow++) o[ow] = 0;
}

/* Zeros columns [0, lo) and [hi, OW) of output rows [ha, hb) of a plane (OW per row). */
static inline void zero_row_ends(lf_real *plane, int64_t ha, int64_t hb, int64_t OW, int64_t lo,
                                 int64_t hi)
{
    for (int64_t oh = ha; oh < hb; oh++) {
        lf_real *o = plane + oh * OW;
        for (int64_t ow = 0; ow < lo; ow++) o[ow] = 0;
        for (int64_t ow = hi; ow < OW; ow++) o[ow] = 0;
    }
}

/* The contiguous block of a stride-1 same-width row: column-plane positions [ha*OW + t0,
 * ha*OW + t1) map to image-plane positions + base - ha*OW, clipped to the image plane (what is
 * clipped falls on the padding columns zeroed by zero_row_ends). */
static inline void contiguous_span(int64_t ha, int64_t hb, int64_t offh, int64_t offw, int64_t W,
                                   int64_t plane, int64_t *base, int64_t *t0, int64_t *t1)
{
    const int64_t n = (hb - ha) * W;
    *base = (ha + offh) * W + offw;
    *t0 = *base < 0 ? -*base : 0;
    *t1 = *base + n > plane ? plane - *base : n;
}

/* The 2-D im2col of one row r = (c, kh, kw) for m images. Output rows of the column matrix
 * whose input row is padding are zeros; the others are gathered. When the convolution
 * keeps the width at stride 1 (3x3 "same" convolutions: most of a ResNet), consecutive
 * output rows read consecutive input rows, so the valid block is one contiguous shifted
 * copy, after which the padding columns at the row ends are zeroed. */
static NO_LIBCALLS void im2col_row_2d(const lf_conv_geom *q, const lf_real *img, int64_t m,
                                      int64_t r, lf_real *col)
{
    const int64_t kp = q->k[1] * q->k[2], c = r / kp, kh = (r % kp) / q->k[2], kw = r % q->k[2];
    const int64_t H = q->in[1], W = q->in[2], OH = q->out[1], OW = q->out[2], L = OH * OW;
    const int64_t plane = H * W, istride = q->ci * plane, ldc = m * L;
    const int64_t offh = kh * q->d[1] - q->p[1], offw = kw * q->d[2] - q->p[2];
    const int64_t sh = q->s[1], sw = q->s[2];
    int64_t ha, hb, lo, hi;
    lf_conv_valid_range(offh, sh, H, OH, &ha, &hb);
    lf_conv_valid_range(offw, sw, W, OW, &lo, &hi);
    const int contiguous = sh == 1 && sw == 1 && W == OW;
    for (int64_t i = 0; i < m; i++) {
        const lf_real *restrict src = img + i * istride + c * plane;
        lf_real *restrict dst = col + r * ldc + i * L;
        for (int64_t t = 0; t < ha * OW; t++) dst[t] = 0;
        for (int64_t t = hb * OW; t < L; t++) dst[t] = 0;
        if (contiguous) {
            int64_t base, t0, t1;
            contiguous_span(ha, hb, offh, offw, W, plane, &base, &t0, &t1);
            lf_real *restrict d = dst + ha * OW;
            for (int64_t t = t0; t < t1; t++) d[t] = src[base + t];
            zero_row_ends(dst, ha, hb, OW, lo, hi);
        } else {
            for (int64_t oh = ha; oh < hb; oh++)
                gather_row(dst + oh * OW, src + (oh * sh + offh) * W + offw, sw, lo, hi, OW);
        }
    }
}

NO_LIBCALLS void lf_conv_im2col(const lf_conv_geom *q, const lf_real *img, int64_t m,
                                lf_real *col)
{
    const int64_t k0 = q->k[0], k1 = q->k[1], k2 = q->k[2], kp = k0 * k1 * k2;
    const int64_t rows = q->ci * kp, L = q->out[0] * q->out[1] * q->out[2], ldc = m * L;
    const int64_t plane = q->in[0] * q->in[1] * q->in[2], istride = q->ci * plane;
    /* depth 1 without depth padding (with it, an output of depth 1 can lie on the padding) */
    const int two_d = q->in[0] == 1 && q->out[0] == 1 && k0 == 1 && q->p[0] == 0;
    /* one parallel region for all m images (a region per image costs a thread wake-up
     * each); a row of the column matrix is written by one thread, in a fixed order */
#pragma omp parallel for schedule(static) if (rows * ldc >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t r = 0; r < rows; r++) {
        if (two_d) {
            im2col_row_2d(q, img, m, r, col);
            continue;
        }
        const int64_t c = r / kp, kk = r % kp;
        const int64_t kd = kk / (k1 * k2), kh = (kk / k2) % k1, kw = kk % k2;
        const int64_t offw = kw * q->d[2] - q->p[2], sw = q->s[2], ow_n = q->out[2];
        int64_t lo, hi;
        lf_conv_valid_range(offw, sw, q->in[2], ow_n, &lo, &hi);
        for (int64_t i = 0; i < m; i++) {
            const lf_real *src = img + i * istride + c * plane;
            lf_real *dst = col + r * ldc + i * L;
            for (int64_t od = 0; od < q->out[0]; od++) {
                const int64_t id = od * q->s[0] - q->p[0] + kd * q->d[0];
                for (int64_t oh = 0; oh < q->out[1]; oh++) {
                    const int64_t ih = oh * q->s[1] - q->p[1] + kh * q->d[1];
                    lf_real *o = dst + (od * q->out[1] + oh) * ow_n;
                    if (id < 0 || id >= q->in[0] || ih < 0 || ih >= q->in[1])
                        for (int64_t ow = 0; ow < ow_n; ow++) o[ow] = 0;
                    else
                        gather_row(o, src + (id * q->in[1] + ih) * q->in[2] + offw, sw, lo, hi,
                                   ow_n);
                }
            }
        }
    }
}

/* The 2-D col2im of one (image, channel) plane: its kp rows of col added into it. For
 * stride-1 same-width convolutions the padding entries of a row are first set to zero in
 * col, after which the whole valid block is one contiguous shifted add (the zeros land on
 * neighbouring row ends and change nothing). */
static NO_LIBCALLS void col2im_plane_2d(const lf_conv_geom *q, lf_real *col, int64_t m,
                                        int64_t i, int64_t c, lf_real *img)
{
    const int64_t H = q->in[1], W = q->in[2], OH = q->out[1], OW = q->out[2], L = OH * OW;
    const int64_t plane = H * W, kp = q->k[1] * q->k[2], ldc = m * L;
    const int64_t sh = q->s[1], sw = q->s[2];
    const int contiguous = sh == 1 && sw == 1 && W == OW;
    lf_real *restrict dst = img + (i * q->ci + c) * plane;
    for (int64_t kk = 0; kk < kp; kk++) {
        const int64_t kh = kk / q->k[2], kw = kk % q->k[2];
        const int64_t offh = kh * q->d[1] - q->p[1], offw = kw * q->d[2] - q->p[2];
        int64_t ha, hb, lo, hi;
        lf_conv_valid_range(offh, sh, H, OH, &ha, &hb);
        lf_conv_valid_range(offw, sw, W, OW, &lo, &hi);
        lf_real *restrict src = col + (c * kp + kk) * ldc + i * L;
        if (contiguous) {
            int64_t base, t0, t1;
            zero_row_ends(src, ha, hb, OW, lo, hi);
            contiguous_span(ha, hb, offh, offw, W, plane, &base, &t0, &t1);
            const lf_real *restrict s = src + ha * OW;
            for (int64_t t = t0; t < t1; t++) dst[base + t] += s[t];
            continue;
        }
        for (int64_t oh = ha; oh < hb; oh++) {
            const lf_real *restrict o = src + oh * OW;
            lf_real *restrict drow = dst + (oh * sh + offh) * W + offw;
            if (sw == 1)
                for (int64_t ow = lo; ow < hi; ow++) drow[ow] += o[ow];
            else
                for (int64_t ow = lo; ow < hi; ow++) drow[ow * sw] += o[ow];
        }
    }
}

void lf_conv_col2im(const lf_conv_geom *q, lf_real *col, int64_t m, lf_real *img)
{
    const int64_t k0 = q->k[0], k1 = q->k[1], k2 = q->k[2], kp = k0 * k1 * k2;
    const int64_t L = q->out[0] * q->out[1] * q->out[2], ldc = m * L;
    const int64_t plane = q->in[0] * q->in[1] * q->in[2], istride = q->ci * plane;
    /* depth 1 without depth padding (with it, an output of depth 1 can lie on the padding) */
    const int two_d = q->in[0] == 1 && q->out[0] == 1 && k0 == 1 && q->p[0] == 0;
    /* one (image, channel) plane per iteration: its kp rows all land in that plane */
#pragma omp parallel for schedule(static) if (q->ci * kp * ldc >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t pc = 0; pc < m * q->ci; pc++) {
        const int64_t c = pc % q->ci, i = pc / q->ci;
        if (two_d) {
            col2im_plane_2d(q, col, m, i, c, img);
            continue;
        }
        lf_real *dst = img + i * istride + c * plane;
        for (int64_t kk = 0; kk < kp; kk++) {
            const int64_t kd = kk / (k1 * k2), kh = (kk / k2) % k1, kw = kk % k2;
            const lf_real *src = col + (c * kp + kk) * ldc + i * L;
            const int64_t offw = kw * q->d[2] - q->p[2], sw = q->s[2], ow_n = q->out[2];
            int64_t lo, hi;
            lf_conv_valid_range(offw, sw, q->in[2], ow_n, &lo, &hi);
            for (int64_t od = 0; od < q->out[0]; od++) {
                const int64_t id = od * q->s[0] - q->p[0] + kd * q->d[0];
                if (id < 0 || id >= q->in[0]) continue;
                for (int64_t oh = 0; oh < q->out[1]; oh++) {
                    const int64_t ih = oh * q->s[1] - q->p[1] + kh * q->d[1];
                    if (ih < 0 || ih >= q->in[1]) continue;
                    const lf_real *restrict o = src + (od * q->out[1] + oh) * ow_n;
                    lf_real *restrict drow = dst + (id * q->in[1] + ih) * q->in[2] + offw;
                    if (sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++) drow[ow] += o[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++) drow[ow * sw] += o[ow];
                }
            }
        }
    }
}

void lf_conv_epilogue_apply(const lf_conv_epilogue *ep, lf_real *y, int64_t co, int64_t L,
                            int64_t b0, int64_t b1, int64_t off, int64_t len)
{
    /* own threads only where the caller has none running (the shared path) */
    bool par = (b1 - b0) * co * len >= LF_PAR_MIN && lf_cpu_parallel_loops();
#ifdef _OPENMP
    par = par && !omp_in_parallel();
#endif
#pragma omp parallel for schedule(static) if (par)
    for (int64_t p = b0 * co; p < b1 * co; p++) { /* p: (image, channel) plane */
        const int64_t c = p % co, at = p * L + off;
        const lf_real mc = ep->mean[c], ac = ep->a[c], kc = ep->k[c];
        lf_real *restrict yp = y + at;
        if (ep->res) {
            const lf_real *restrict rp = ep->res + at;
            for (int64_t i = 0; i < len; i++) {
                const lf_real v = (yp[i] - mc) * ac + kc + rp[i];
                yp[i] = ep->relu ? (v > 0 ? v : 0) : v;
            }
        } else if (ep->relu) {
            for (int64_t i = 0; i < len; i++) {
                const lf_real v = (yp[i] - mc) * ac + kc;
                yp[i] = v > 0 ? v : 0;
            }
        } else {
            for (int64_t i = 0; i < len; i++) yp[i] = (yp[i] - mc) * ac + kc;
        }
    }
}

/* blk (rows, m*L) <-> t (m images of (rows, L)); to_blk: gather, else scatter (+= if acc) */
static void block_copy(lf_real *blk, lf_real *t, int64_t m, int64_t rows, int64_t L, int to_blk,
                       int acc)
{
    const int64_t nc = m * L;
#pragma omp parallel for schedule(static) if (rows * nc >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < m; i++) {
            lf_real *b = blk + r * nc + i * L, *x = t + (i * rows + r) * L;
            if (to_blk) memcpy(b, x, (size_t)L * sizeof(lf_real));
            else if (acc)
                for (int64_t l = 0; l < L; l++) x[l] += b[l];
            else memcpy(x, b, (size_t)L * sizeof(lf_real));
        }
}

/* Images [b_begin, b_end) in blocks of nb, with the caller's column/staging buffers and
 * weight-gradient accumulator dw (see lf_conv_cpu_run); BLAS products. */
static void conv_range(const lf_conv_geom *q, const lf_conv_job *j, bool direct, int64_t nb,
                       int64_t b_begin, int64_t b_end, lf_real *col, lf_real *stage, lf_real *dw)
{
    const int64_t kp = q->k[0] * q->k[1] * q->k[2];
    const int64_t L = q->out[0] * q->out[1] * q->out[2];
    const int64_t Lin = q->in[0] * q->in[1] * q->in[2];
    const int64_t G = q->groups, Kg = q->ci / G * kp, Mg = q->co / G;
    const lf_real *w = j->w;
    for (int64_t b0 = b_begin; b0 < b_end; b0 += nb) {
        const int64_t m = b_end - b0 < nb ? b_end - b0 : nb, nc = m * L;
        const lf_real *cols = NULL;
        if (direct) {
            if (j->img) cols = j->img + b0 * q->ci * L;
        } else if (j->img) {
            lf_conv_im2col(q, j->img + b0 * q->ci * Lin, m, col);
            cols = col;
        }
        if (j->colside_out) { /* Y = W @ cols, per group */
            lf_real *yo = j->colside_out + b0 * q->co * L;
            lf_real *dst = m == 1 ? yo : stage;
            lf_real beta = (m == 1 && j->accumulate) ? 1 : 0;
            for (int64_t gi = 0; gi < G; gi++)
                lf_gemm(false, false, Mg, nc, Kg, 1, w + gi * Mg * Kg, Kg, cols + gi * Kg * nc, nc,
                        beta, dst + gi * Mg * nc, nc);
            if (m > 1) block_copy(stage, yo, m, q->co, L, 0, j->accumulate);
            if (j->ep) lf_conv_epilogue_apply(j->ep, j->colside_out, q->co, L, b0, b0 + m, 0, L);
        }
        if (dw || j->img_out) {
            const lf_real *cs = j->colside + b0 * q->co * L;
            if (m > 1) {
                block_copy(stage, (lf_real *)cs, m, q->co, L, 1, 0);
                cs = stage;
            }
            if (dw) /* dW += C @ cols^T */
                for (int64_t gi = 0; gi < G; gi++)
                    lf_gemm(false, true, Mg, Kg, nc, 1, cs + gi * Mg * nc, nc, cols + gi * Kg * nc,
                            nc, 1, dw + gi * Mg * Kg, Kg);
            if (j->img_out) { /* dcols = W^T @ C, then back into the image */
                if (direct) {
                    lf_real *xo = j->img_out + b0 * q->ci * L;
                    for (int64_t gi = 0; gi < G; gi++)
                        lf_gemm(true, false, Kg, nc, Mg, 1, w + gi * Mg * Kg, Kg, cs + gi * Mg * nc,
                                nc, 1, xo + gi * Kg * nc, nc);
                } else {
                    for (int64_t gi = 0; gi < G; gi++)
                        lf_gemm(true, false, Kg, nc, Mg, 1, w + gi * Mg * Kg, Kg, cs + gi * Mg * nc,
                                nc, 0, col + gi * Kg * nc, nc);
                    lf_conv_col2im(q, col, m, j->img_out + b0 * q->ci * Lin);
                }
            }
        }
    }
}

/* Threads for the batch-parallel path: 1 (shared path) unless every thread gets a share of
 * images and there is enough work to split. */
static int batch_threads(const lf_conv_geom *q, const lf_conv_job *j)
{
    const int64_t kp = q->k[0] * q->k[1] * q->k[2];
    const int64_t L = q->out[0] * q->out[1] * q->out[2], K = q->ci * kp;
    int T = 1;
#ifdef _OPENMP
    if (lf_cpu_parallel_loops() && !omp_in_parallel()) T = omp_get_max_threads();
#endif
    if (T > 1 && !(j->n >= 4 * T || (j->n >= T && j->n % T == 0))) T = 1;
    if (T > 1 && q->co * K * L * j->n < LF_PAR_MIN * 16) T = 1; /* too little work to split */
    return T;
}

/* The AVX-512 path (conv_avx512.c, conv_winograd.c) where each thread runs its own gemms: in
 * the batch-parallel path, or with a budget of one thread (the shared path keeps BLAS's
 * threads); it needs no staging copies, and takes blocks of images that fit in L2. */
static bool own_gemm(int T)
{
    bool own = lf_gemm512_available();
#ifdef _OPENMP
    own = own && (T > 1 || omp_get_max_threads() == 1 || omp_in_parallel());
#else
    (void)T;
#endif
    return own;
}

int64_t lf_conv_cpu_chunk(const lf_conv_geom *q, int64_t n, int64_t want)
{
    lf_conv_job j = {.n = n};
    const int T = batch_threads(q, &j);
    if (!own_gemm(T)) return n;
    for (int64_t m = want > 1 ? want : 1; m < n; m *= 2) {
        j.n = m;
        if (batch_threads(q, &j) == T) return m;
    }
    return n;
}

/* Two ways to use the threads. Shared: one block of images at a time, every thread in each
 * gemm (OpenBLAS's threads) and in each gather/scatter loop. Batch-parallel: each thread
 * takes its own contiguous range of images and runs im2col, gemm and col2im on them alone
 * (OpenBLAS runs single-threaded inside an OpenMP region), so columns stay in the cache of
 * the core that wrote them and there is no barrier between the steps; weight gradients go
 * to per-thread accumulators summed in thread order at the end. Used when every thread
 * gets a share of images; a batch smaller than that (one image at serving time) is shared. */
lf_status lf_conv_cpu_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j)
{
    const int64_t kp = q->k[0] * q->k[1] * q->k[2];
    const int64_t L = q->out[0] * q->out[1] * q->out[2];
    const int64_t K = q->ci * kp, nw = q->co * (q->ci / q->groups) * kp;
    bool direct = kp == 1;
    for (int i = 0; i < 3; i++)
        direct = direct && q->s[i] == 1 && q->p[i] == 0 && q->in[i] == q->out[i];
    const int T = batch_threads(q, j);
    const bool own = own_gemm(T);
    /* 3x3 stride-2 pad-1 forward products on the stride-2 kind (conv_winograd_s2.c); 3x3
     * "same" convolutions' products on Winograd (conv_winograd.c, F(4x4) in
     * conv_winograd4.c, 2x2 images in conv_winograd_dual.c); the weight gradient of a layer
     * with few channels stays on the columns below */
    if (own && lf_conv_winograd_s2_takes(q, j)) return lf_conv_winograd_s2_run(g, q, j, T);
    lf_conv_job rest;
    if (own && lf_conv_winograd_fits(q) && lf_conv_winograd_enabled()) {
        if (!j->dw || lf_conv_winograd_dw_fits(q)) return lf_conv_winograd_run(g, q, j, T);
        rest = *j;
        rest.dw = NULL;
        lf_status s = lf_conv_winograd_run(g, q, &rest, T);
        if (s != LF_OK) return s;
        rest = *j;
        rest.colside_out = NULL;
        rest.img_out = NULL;
        j = &rest;
    }
    int64_t nb = 1;
    const int64_t share = (j->n + T - 1) / T; /* images per thread */
    if (own) {
        const int64_t per_image = (direct ? 1 : K) * L * (int64_t)sizeof(lf_real);
        nb = OWN_COL_BYTES / (per_image > 0 ? per_image : 1);
        /* but wide enough for the kernel's 48-column tiles */
        if (nb * L < OWN_MIN_COLS) nb = (OWN_MIN_COLS + L - 1) / (L > 0 ? L : 1);
        if (nb > share) nb = share;
        if (nb < 1) nb = 1;
    } else if (!direct && L < COL_TARGET) {
        nb = COL_TARGET / L;
        if (nb > share) nb = share;
        int64_t cap = COL_MAX_ELEMS / (K * L > 0 ? K * L : 1);
        if (nb > cap) nb = cap > 1 ? cap : 1;
    }
    const int64_t ncols = nb * L;
    lf_real *col = NULL, *stage = NULL, *dwp = NULL, *pack = NULL;
    /* per thread: the columns (or the packed columns of conv_im2col_packed.c), 64-byte
     * aligned for the packed layout's aligned loads */
    const int64_t packed_floats = own ? (int64_t)lf_conv_im2col_packed_floats(q, j, direct, nb) : 0;
    int64_t col_floats = K * ncols > packed_floats ? K * ncols : packed_floats;
    col_floats = (col_floats + 15) / 16 * 16;
    if (!direct && (j->img || j->img_out)) {
        col = lf_graph_scratch(g, 0, (size_t)(T * col_floats + 16) * sizeof(lf_real));
        if (!col) return LF_ERR_NOMEM;
        col = (lf_real *)(((uintptr_t)col + 63) & ~(uintptr_t)63);
    }
    if (!own && nb > 1 && (j->colside_out || j->dw || j->img_out)) {
        stage = lf_graph_scratch(g, 1, (size_t)(T * q->co * ncols) * sizeof(lf_real));
        if (!stage) return LF_ERR_NOMEM;
    }
    /* per thread: the gemm's packing space; shared: the weights packed once (each thread
     * packed its own copy before: the same wall time, T times the memory, 4.7 MB more at a
     * ResNet's layer 4) */
    const int64_t pf = own ? (int64_t)lf_gemm512_pack_floats() + 16 : 0;
    const int64_t wf = own ? (int64_t)lf_conv_avx512_wpack_floats(q, j) : 0;
    lf_conv_wpack wp = {NULL, NULL};
    if (own) {
        pack = lf_graph_scratch(g, 3, (size_t)(T * pf) * sizeof(lf_real));
        if (!pack) return LF_ERR_NOMEM;
        if (wf && j->n > 0) {
            bool fresh = true; /* a forward's packed weights kept with frozen weights */
            lf_real *buf = j->img_out || j->dw ? NULL
                           : lf_graph_weight_form(g, j->w, nw, LF_FORM_GEMM,
                                                  (size_t)wf * sizeof(lf_real), &fresh);
            if (!buf) buf = lf_graph_scratch(g, 4, (size_t)wf * sizeof(lf_real));
            if (!buf) return LF_ERR_NOMEM;
            wp = fresh ? lf_conv_avx512_pack_weights(q, j, buf) : (lf_conv_wpack){buf, NULL};
        }
    }
    if (T == 1) {
        if (own) lf_conv_range_avx512(q, j, direct, nb, 0, j->n, col, j->dw, pack, wp);
        else conv_range(q, j, direct, nb, 0, j->n, col, stage, j->dw);
        return LF_OK;
    }
    if (j->dw) {
        dwp = lf_graph_scratch(g, 2, (size_t)((T - 1) * nw) * sizeof(lf_real));
        if (!dwp) return LF_ERR_NOMEM;
    }
    int team = T; /* the region may get fewer threads than asked for */
#pragma omp parallel num_threads(T)
    {
        const int t = lf_conv_thread_num(), tn = lf_conv_team_size();
        if (t == 0) team = tn;
        lf_real *dw = NULL;
        if (j->dw) {
            dw = t == 0 ? j->dw : dwp + (t - 1) * nw;
            if (t > 0) memset(dw, 0, (size_t)nw * sizeof(lf_real));
        }
        const int64_t lo = j->n * t / tn, hi = j->n * (t + 1) / tn;
        lf_real *ct = col ? col + t * col_floats : NULL;
        if (own)
            lf_conv_range_avx512(q, j, direct, nb, lo, hi, ct, dw, pack + t * pf, wp);
        else conv_range(q, j, direct, nb, lo, hi, ct, stage ? stage + t * q->co * ncols : NULL, dw);
    }
    if (j->dw)
        for (int t = 1; t < team; t++)
            for (int64_t i = 0; i < nw; i++) j->dw[i] += dwp[(t - 1) * nw + i];
    return LF_OK;
}

void lf_conv_bias_forward(lf_real *y, const lf_real *bias, int64_t n, int64_t c, int64_t L)
{
#pragma omp parallel for schedule(static) if (n * c * L >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t p = 0; p < n * c; p++) {
        lf_real v = bias[p % c], *row = y + p * L;
        for (int64_t l = 0; l < L; l++) row[l] += v;
    }
}

void lf_conv_bias_backward(const lf_real *dy, lf_real *db, int64_t n, int64_t c, int64_t L)
{
    /* per channel over all images: one thread owns a channel, the sum order is fixed */
#pragma omp parallel for schedule(static) if (n * c * L >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) {
            const lf_real *row = dy + (i * c + ch) * L;
            for (int64_t l = 0; l < L; l++) s += row[l];
        }
        db[ch] += (lf_real)s;
    }
}
