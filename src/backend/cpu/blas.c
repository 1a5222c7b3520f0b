/* The one place that calls BLAS; picks sgemm or dgemm for lf_real. */
#include "../../core/internal.h"

#include "conv_winograd.h"
#include "gemm_avx512.h"

#include <cblas.h>

void lf_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, lf_real alpha,
             const lf_real *A, int64_t lda, const lf_real *B, int64_t ldb, lf_real beta,
             lf_real *C, int64_t ldc)
{
    if (M == 0 || N == 0) return;
#ifdef LF_DOUBLE
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
#endif
}

const char *lf_blas_corename(void) { return openblas_get_corename(); }

const char *lf_conv_gemm_name(void)
{
    if (!lf_gemm512_available()) return "blas";
    return lf_conv_winograd_enabled() ? "avx512+winograd" : "avx512";
}
