/* Single-threaded float GEMM with an AVX-512 micro-kernel (see gemm_avx512.c). */
#ifndef LF_GEMM_AVX512_H
#define LF_GEMM_AVX512_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One operand. Element (r, c) is at
 *   p + (c / L) * S + r * ld + c % L   when L > 0: the columns come in blocks of L that are S
 *                                       apart (a batch of (rows, L) images side by side)
 *   p + r * ld + c                     when L == 0 (plain row-major).
 * t: the operand is the transpose of that layout. */
typedef struct lf_gemm_mat {
    float *p;
    int64_t ld, L, S;
    bool t;
} lf_gemm_mat;

/* 1 when the CPU (and OS) run AVX-512F and the environment does not set LF_GEMM=blas;
 * 0 in float64 builds and on other machines: callers use lf_gemm (BLAS). */
int lf_gemm512_available(void);
/* 1 when the CPU (and OS) run AVX-512F, whatever LF_GEMM says (0 in float64 builds); read
 * once. Other AVX-512 kernels (max pooling) check this. */
int lf_cpu_avx512f(void);
/* Floats of packing space one call needs (give this + 16, for alignment). */
size_t lf_gemm512_pack_floats(void);
/* C (M,N) = alpha op(A) op(B) + beta C on the calling thread only; C is not read when beta
 * is 0. C may not be transposed. pack: lf_gemm512_pack_floats() + 16 floats. a_packed: A
 * already packed by lf_gemm512_pack_a (A is then not read), or NULL. */
void lf_gemm512x(int64_t M, int64_t N, int64_t K, float alpha, const lf_gemm_mat *A,
                 const float *a_packed, const lf_gemm_mat *B, float beta, const lf_gemm_mat *C,
                 float *pack);
/* Packs op(A) (M x K) once for several products with the same A (a layer's weights over
 * blocks of images): lf_gemm512_packed_a_floats(M, K) floats at dst. */
size_t lf_gemm512_packed_a_floats(int64_t M, int64_t K);
/* Where element (r, k) of an M x K matrix lives in lf_gemm512_pack_a's layout: blocks of
 * LF_GEMM512_KC columns one after the other, each holding MR-row panels stored column by
 * column (rows M..Mpad-1 of the last panel are zeros). Lets a producer write straight into
 * the packed form (conv_winograd.c's filter transform). */
#define LF_GEMM512_MR 8
#define LF_GEMM512_NR 48 /* the columns of a packed B panel (a C tile's width) */
#ifndef LF_GEMM512_KC
#define LF_GEMM512_KC 192
#endif
static inline int64_t lf_gemm512_packed_a_offset(int64_t M, int64_t K, int64_t r, int64_t k)
{
    const int64_t Mpad = (M + LF_GEMM512_MR - 1) / LF_GEMM512_MR * LF_GEMM512_MR;
    const int64_t pc = k - k % LF_GEMM512_KC;
    const int64_t kc = K - pc < LF_GEMM512_KC ? K - pc : LF_GEMM512_KC;
    return pc * Mpad + (r - r % LF_GEMM512_MR) * kc + (k - pc) * LF_GEMM512_MR +
           r % LF_GEMM512_MR;
}
void lf_gemm512_pack_a(int64_t M, int64_t K, const lf_gemm_mat *A, float *dst);
/* A whole K x N matrix B in the packed layout the gemm reads, for a producer that writes it
 * there itself (conv_im2col_packed.c's columns): the KC-blocks of K one after the other,
 * each holding the NR-column panels of all N columns (kc x NR floats a panel, element
 * (k, j) at (k - pc) * NR + j % NR in its panel; the last panel's columns past N are read,
 * but their products land in lanes of C that are never stored, so they may hold anything).
 * Offset of element (k, j) for k at the start of a block, j at the start of a panel; the
 * size is the offset of (K, 0). */
static inline int64_t lf_gemm512_packed_b_offset(int64_t K, int64_t N, int64_t k, int64_t j)
{
    const int64_t Npad = (N + LF_GEMM512_NR - 1) / LF_GEMM512_NR * LF_GEMM512_NR;
    const int64_t kc = K - k < LF_GEMM512_KC ? K - k : LF_GEMM512_KC;
    return k * Npad + j / LF_GEMM512_NR * kc * LF_GEMM512_NR;
}
/* lf_gemm512x with B given packed whole in that layout (b_packed; B itself not needed) */
void lf_gemm512x_bp(int64_t M, int64_t N, int64_t K, float alpha, const lf_gemm_mat *A,
                    const float *a_packed, const float *b_packed, float beta,
                    const lf_gemm_mat *C, float *pack);
/* The same with plain row-major operands, as lf_gemm. */
void lf_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                float *pack);
/* An epilogue run on each finished block of C (up to MC rows x NC columns, all K summed) while
 * it is still in cache: fn(c, ldc, rows, cols, col0, ctx) with c the block's first element and
 * col0 its first column's index in the caller's whole C (for per-column terms: a bias). */
typedef struct lf_gemm512_epilogue {
    void (*fn)(float *c, int64_t ldc, int64_t rows, int64_t cols, int64_t col0, const void *ctx);
    const void *ctx;
    int64_t col_base; /* added to col0: where this product's C starts in the caller's */
} lf_gemm512_epilogue;
/* lf_gemm512 with an epilogue (NULL: none); C plain row-major. */
void lf_gemm512_epi(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                    float *C, int64_t ldc, float *pack, const lf_gemm512_epilogue *epi);

#endif
