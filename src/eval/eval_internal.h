/* Shared helpers of src/eval/ (not public). */
#ifndef LF_EVAL_INTERNAL_H
#define LF_EVAL_INTERNAL_H

#include "labelfree.h"

#include <stdbool.h>

/* Row-major double / float GEMM, C = alpha op(A) op(B) + beta C (src/eval/linalg.c). The
 * engine's lf_gemm works on lf_real; evaluation needs double (probe parity with sklearn)
 * whatever lf_real is, and float for large k-NN similarity blocks. */
void lf_eval_dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                   const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                   double *C, int64_t ldc);
void lf_eval_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                   float *C, int64_t ldc);

/* L-BFGS (src/eval/lbfgs.c). fg returns f(x) and writes its gradient into g. */
typedef double (*lf_eval_fg)(void *ctx, const double *x, double *g);
typedef struct lf_eval_lbfgs_info {
    int n_iter, converged;
    double f, gmax;
} lf_eval_lbfgs_info;
/* Minimises from x (updated in place); stops when max|g| <= gtol, when a step lowers f by
 * less than 64 eps relative (both count as converged), or after max_iter. */
lf_status lf_eval_lbfgs(int64_t n, double *x, lf_eval_fg fg, void *ctx, int memory,
                        int max_iter, double gtol, lf_eval_lbfgs_info *info);

/* Mean and population sd per column over rows (NULL: rows 0..n-1) of X (., d), as sklearn
 * StandardScaler: a scale below 10 eps becomes 1 (src/eval/logreg.c). */
void lf_eval_scaler(const float *X, const int64_t *rows, int64_t n, int64_t d, double *mean,
                    double *scale);

/* Checks labels lie in [0, n_classes); `what` names the array in the message. */
lf_status lf_eval_check_labels(const int64_t *y, int64_t n, int64_t n_classes, const char *what);

#endif
