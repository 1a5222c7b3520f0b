/* Single-threaded float GEMM with an AVX-512 micro-kernel (see gemm_avx512.c). */
#ifndef LF_GEMM_AVX512_H
#define LF_GEMM_AVX512_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1 when the CPU (and OS) run AVX-512F and the environment does not set LF_GEMM=blas;
 * 0 in float64 builds and on other machines: callers use lf_gemm (BLAS). */
int lf_gemm512_available(void);
/* Floats of packing space one call needs (give this + 16, for alignment). */
size_t lf_gemm512_pack_floats(void);
/* C (M,N) = alpha op(A) op(B) + beta C, row-major, as lf_gemm; C is not read when beta is 0.
 * Runs on the calling thread only. pack: lf_gemm512_pack_floats() + 16 floats. */
void lf_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                float *pack);

#endif
