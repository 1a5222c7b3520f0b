/* The engine's matrix product: the AVX-512 kernel where there is one (float builds), else
 * BLAS (sgemm or dgemm for lf_real). */
#include "../../core/internal.h"

#include "conv_winograd.h"
#include "gemm_avx512.h"

#include <cblas.h>
#include <stdlib.h>
#include <omp.h>

#ifndef LF_DOUBLE
#include <pthread.h>

/* Packing space of the AVX-512 kernel, one per thread, made on the thread's first product
 * and kept while the thread lives (a step allocates nothing): a thread-specific value whose
 * destructor frees it when the thread exits. The main thread's stays until the process ends
 * (pthread keys' values are reachable: leak checkers do not report it). */
static pthread_key_t pack_key;
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;

static bool pack_key_ok;

static void pack_free(void *p) { free(p); }
static void pack_key_make(void) { pack_key_ok = pthread_key_create(&pack_key, pack_free) == 0; }

/* NULL (the caller then takes BLAS) when there is no memory or no key */
static float *thread_pack(void)
{
    pthread_once(&pack_once, pack_key_make);
    if (!pack_key_ok) return NULL;
    float *p = pthread_getspecific(pack_key);
    if (p) return p;
    p = malloc((lf_gemm512_pack_floats() + 16) * sizeof(float)); /* no lf_malloc: a failure
                                                                    here is not an error */
    if (p && pthread_setspecific(pack_key, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* Products below this many multiply-adds run on one thread (a thread team costs ~2 us). */
#define GEMM_PAR_MIN (1 << 18)

/* C = alpha op(A) op(B) + beta C on the AVX-512 kernel: on the calling thread inside a
 * parallel region or for small products, else split across the threads by rows of C (by
 * columns when C is wide). Every element of C sums its K products in the same order however
 * the work is split, so results do not depend on the thread count. */
static void gemm_own(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, int64_t ldc, const lf_gemm512_epilogue *epi)
{
    int T = lf_get_threads();
    if (omp_in_parallel() || T < 2 || M * N * K < GEMM_PAR_MIN) T = 1;
    const bool by_rows = M >= N;
    /* chunks in whole row panels (8) or 16-column vectors: the kernel's edges are masked */
    const int64_t len = by_rows ? M : N, unit = by_rows ? LF_GEMM512_MR : 16;
    int64_t chunk = (len + T - 1) / T;
    chunk = (chunk + unit - 1) / unit * unit;
    /* the team may be smaller than T (OMP_THREAD_LIMIT, OMP_DYNAMIC, nesting): each thread
     * takes chunks t, t + team, ..., so every chunk runs whatever team OpenMP gives */
#pragma omp parallel num_threads(T) if (T > 1)
    {
        const int64_t team = T > 1 ? omp_get_num_threads() : 1;
        for (int64_t t = T > 1 ? omp_get_thread_num() : 0; t < T; t += team) {
            const int64_t i0 = t * chunk < len ? t * chunk : len;
            const int64_t i1 = i0 + chunk < len ? i0 + chunk : len;
            if (i1 <= i0) continue;
            const float *a = A, *b = B;
            float *c = C;
            int64_t m = M, n = N;
            if (by_rows) {
                a = ta ? A + i0 : A + i0 * lda;
                c = C + i0 * ldc;
                m = i1 - i0;
            } else {
                b = tb ? B + i0 * ldb : B + i0;
                c = C + i0;
                n = i1 - i0;
            }
            float *pack = thread_pack();
            lf_gemm512_epilogue e;
            if (epi) {
                e = *epi;
                e.col_base = by_rows ? 0 : i0;
            }
            if (pack) {
                lf_gemm512_epi(ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc, pack,
                               epi ? &e : NULL);
            } else { /* no memory for packing: BLAS (single-threaded inside a region) */
                cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                            tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)K, alpha, a,
                            (int)lda, b, (int)ldb, beta, c, (int)ldc);
                if (epi) e.fn(c, ldc, m, n, e.col_base, e.ctx);
            }
        }
    }
}
#endif

void lf_gemm_epi(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, lf_real alpha,
                 const lf_real *A, int64_t lda, const lf_real *B, int64_t ldb, lf_real beta,
                 lf_real *C, int64_t ldc, const lf_gemm_epilogue *epi)
{
    if (M == 0 || N == 0) return;
#ifndef LF_DOUBLE
    /* the AVX-512 kernel where the CPU has it (OpenBLAS may run AVX2 kernels there; see
     * gemm_avx512.c), BLAS elsewhere and with LF_GEMM=blas */
    if (lf_gemm512_available() && K > 0) {
        lf_gemm512_epilogue e = {0};
        if (epi) e = (lf_gemm512_epilogue){epi->fn, epi->ctx, 0};
        gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epi ? &e : NULL);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
#else
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
#endif
    if (!epi) return;
    /* after BLAS: the epilogue over blocks of rows, in parallel unless already inside a
     * region (BLAS is single-threaded there too) */
    const int64_t rows = 64;
#pragma omp parallel for schedule(static) if (M * N >= (1 << 16) && !omp_in_parallel())
    for (int64_t r = 0; r < M; r += rows)
        epi->fn(C + r * ldc, ldc, M - r < rows ? M - r : rows, N, 0, epi->ctx);
}

void lf_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, lf_real alpha,
             const lf_real *A, int64_t lda, const lf_real *B, int64_t ldb, lf_real beta,
             lf_real *C, int64_t ldc)
{
    lf_gemm_epi(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

const char *lf_blas_corename(void) { return openblas_get_corename(); }

const char *lf_conv_gemm_name(void)
{
    if (!lf_gemm512_available()) return "blas";
    return lf_conv_winograd_enabled() ? "avx512+winograd" : "avx512";
}
