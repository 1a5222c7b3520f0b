/* BLAS calls of the evaluation code, which runs in double (and float for k-NN) regardless of
 * lf_real; see eval_internal.h. */
#include "eval_internal.h"

#include <cblas.h>

void lf_eval_dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                   const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                   double *C, int64_t ldc)
{
    if (M == 0 || N == 0) return;
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void lf_eval_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                   float *C, int64_t ldc)
{
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

lf_status lf_eval_check_labels(const int64_t *y, int64_t n, int64_t n_classes, const char *what)
{
    if (n > 0 && !y) return lf_error(LF_ERR_ARG, "%s: NULL label array", what);
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= n_classes)
            return lf_error(LF_ERR_ARG, "%s[%lld] = %lld is not a class id in [0, %lld)", what,
                            (long long)i, (long long)y[i], (long long)n_classes);
    return LF_OK;
}
