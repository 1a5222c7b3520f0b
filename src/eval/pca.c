/* Two leading principal components for a 2-D map of embeddings: covariance of the centred
 * rows, block power (subspace) iteration with a few extra vectors, then Rayleigh-Ritz with a
 * small Jacobi eigensolver. Plenty for a plot; no LAPACK needed. */
#include "eval_internal.h"

#include <math.h>
#include <string.h>

#define MAX_FIT_ROWS 20000
#define BLOCK 8
#define MAX_ITERS 500

/* Eigen-decomposition of a small symmetric p x p matrix A (destroyed): eigenvalues in w,
 * eigenvectors in the columns of V (cyclic Jacobi rotations). */
static void jacobi(double *A, int p, double *w, double *V)
{
    for (int i = 0; i < p * p; i++) V[i] = 0;
    for (int i = 0; i < p; i++) V[i * p + i] = 1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, tot = 0;
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++) {
                tot += A[i * p + j] * A[i * p + j];
                if (i != j) off += A[i * p + j] * A[i * p + j];
            }
        if (off <= 1e-30 * tot) break;
        for (int a = 0; a < p; a++)
            for (int b = a + 1; b < p; b++) {
                double apq = A[a * p + b];
                if (apq == 0) continue;
                double theta = (A[b * p + b] - A[a * p + a]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < p; k++) { /* A = J^T A J, columns then rows */
                    double x = A[k * p + a], y = A[k * p + b];
                    A[k * p + a] = c * x - s * y;
                    A[k * p + b] = s * x + c * y;
                }
                for (int k = 0; k < p; k++) {
                    double x = A[a * p + k], y = A[b * p + k];
                    A[a * p + k] = c * x - s * y;
                    A[b * p + k] = s * x + c * y;
                }
                for (int k = 0; k < p; k++) {
                    double x = V[k * p + a], y = V[k * p + b];
                    V[k * p + a] = c * x - s * y;
                    V[k * p + b] = s * x + c * y;
                }
            }
    }
    for (int i = 0; i < p; i++) w[i] = A[i * p + i];
}

/* modified Gram-Schmidt on the p columns of Q (d, p) row-major; a vanishing column is
 * replaced by a unit vector (rank-deficient data) */
static void orthonormalise(double *Q, int64_t d, int p)
{
    for (int j = 0; j < p; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < j; i++) {
                double s = 0;
                for (int64_t t = 0; t < d; t++) s += Q[t * p + i] * Q[t * p + j];
                for (int64_t t = 0; t < d; t++) Q[t * p + j] -= s * Q[t * p + i];
            }
        double nn = 0;
        for (int64_t t = 0; t < d; t++) nn += Q[t * p + j] * Q[t * p + j];
        if (nn < 1e-300) {
            for (int64_t t = 0; t < d; t++) Q[t * p + j] = t == (j % d);
            j--; /* re-orthogonalise the replacement (terminates: p <= d) */
            continue;
        }
        nn = 1 / sqrt(nn);
        for (int64_t t = 0; t < d; t++) Q[t * p + j] *= nn;
    }
}

lf_status lf_pca_2d(const float *X, int64_t n, int64_t d, double *out, double *explained)
{
    if (!X || !out || n < 2 || d < 1)
        return lf_error(LF_ERR_ARG, "pca_2d: needs >= 2 rows and >= 1 column (got %lld x %lld) and non-NULL arrays", (long long)n, (long long)d);
    int p = d < BLOCK ? (int)d : BLOCK, nc = d < 2 ? 1 : 2;
    int64_t step = (n + MAX_FIT_ROWS - 1) / MAX_FIT_ROWS, nf = (n + step - 1) / step;
    double *mean = lf_calloc((size_t)d, sizeof(double));
    double *cov = lf_calloc((size_t)(d * d), sizeof(double));
    double *Xc = lf_malloc(sizeof(double) * (size_t)(nf * d));
    double *Q = lf_malloc(sizeof(double) * (size_t)(d * p)), *Z = lf_malloc(sizeof(double) * (size_t)(d * p));
    double *T = lf_malloc(sizeof(double) * (size_t)(p * p)), *V = lf_malloc(sizeof(double) * (size_t)(p * p));
    double *w = lf_malloc(sizeof(double) * (size_t)p);
    double *C2 = lf_malloc(sizeof(double) * (size_t)(2 * d));
    lf_status s = LF_OK;
    if (!mean || !cov || !Xc || !Q || !Z || !T || !V || !w || !C2) {
        s = lf_error(LF_ERR_NOMEM, "pca_2d: %lld x %lld", (long long)nf, (long long)d);
        goto done;
    }
    for (int64_t i = 0; i < n * d; i++)
        if (!isfinite(X[i])) {
            s = lf_error(LF_ERR_NUMERIC, "pca_2d: row %lld column %lld is %g", (long long)(i / d), (long long)(i % d), (double)X[i]);
            goto done;
        }
    for (int64_t i = 0; i < nf; i++)
        for (int64_t j = 0; j < d; j++) mean[j] += X[i * step * d + j];
    for (int64_t j = 0; j < d; j++) mean[j] /= (double)nf;
    for (int64_t i = 0; i < nf; i++)
        for (int64_t j = 0; j < d; j++) Xc[i * d + j] = X[i * step * d + j] - mean[j];
    lf_eval_dgemm(true, false, d, d, nf, 1.0 / (double)(nf - 1), Xc, d, Xc, d, 0.0, cov, d);
    double trace = 0;
    for (int64_t j = 0; j < d; j++) trace += cov[j * d + j];
    /* deterministic start: a fixed pseudo-random block */
    lf_rng rng = lf_rng_make(0x5ca1ab1e, 0);
    for (int64_t t = 0; t < d * p; t++) Q[t] = lf_rng_normal(&rng);
    orthonormalise(Q, d, p);
    double prev[2] = {0, 0};
    for (int it = 0; it < MAX_ITERS; it++) {
        lf_eval_dgemm(false, false, d, p, d, 1.0, cov, d, Q, p, 0.0, Z, p); /* Z = cov Q */
        /* Rayleigh quotients of the first two columns as a convergence signal */
        double rq[2] = {0, 0};
        for (int c = 0; c < nc; c++)
            for (int64_t t = 0; t < d; t++) rq[c] += Q[t * p + c] * Z[t * p + c];
        memcpy(Q, Z, sizeof(double) * (size_t)(d * p));
        orthonormalise(Q, d, p);
        if (it > 3 && fabs(rq[0] - prev[0]) <= 1e-13 * fabs(rq[0]) &&
            fabs(rq[1] - prev[1]) <= 1e-13 * fabs(rq[0]) + 1e-300)
            break;
        prev[0] = rq[0];
        prev[1] = rq[1];
    }
    /* Rayleigh-Ritz: T = Q^T cov Q, eigenvectors V, components = Q V */
    lf_eval_dgemm(false, false, d, p, d, 1.0, cov, d, Q, p, 0.0, Z, p);
    lf_eval_dgemm(true, false, p, p, d, 1.0, Q, p, Z, p, 0.0, T, p);
    jacobi(T, p, w, V);
    int top[2] = {-1, -1}; /* indices of the two largest Ritz values */
    for (int i = 0; i < p; i++) {
        if (top[0] < 0 || w[i] > w[top[0]]) {
            top[1] = top[0];
            top[0] = i;
        } else if (top[1] < 0 || w[i] > w[top[1]]) {
            top[1] = i;
        }
    }
    for (int c = 0; c < 2; c++) {
        int e = top[c];
        if (explained) explained[c] = (e >= 0 && trace > 0) ? w[e] / trace : 0;
        for (int64_t t = 0; t < d; t++) {
            double v = 0;
            if (e >= 0)
                for (int i = 0; i < p; i++) v += Q[t * p + i] * V[i * p + e];
            C2[c * d + t] = v;
        }
    }
    for (int c = 0; c < 2; c++) {
        double big = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = 0;
            for (int64_t j = 0; j < d; j++) v += (X[i * d + j] - mean[j]) * C2[c * d + j];
            out[i * 2 + c] = v;
            if (fabs(v) > fabs(big)) big = v;
        }
        if (big < 0) /* sign convention: the largest |score| is positive */
            for (int64_t i = 0; i < n; i++) out[i * 2 + c] = -out[i * 2 + c];
    }
done:
    lf_free(mean); lf_free(cov); lf_free(Xc); lf_free(Q); lf_free(Z); lf_free(T); lf_free(V);
    lf_free(w); lf_free(C2);
    return s;
}
