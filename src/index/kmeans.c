/* Spherical k-means for the IVF coarse quantizer: unit-norm data, similarity = inner product,
 * centroids = normalised means. Init: seeded random distinct points (Philox), so the
 * result is a pure function of (data, seed). An empty cluster is re-seeded with the point
 * worst served by its centroid. */
#include "index_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

enum { AB = 4096 };

lf_status lf_assign_nearest(const float *x, int64_t n, const float *c, int64_t kc, int64_t d,
                            int64_t *assign)
{
    int64_t b = n < AB ? n : AB;
    float *S = lf_malloc(sizeof(float) * (size_t)(b * kc));
    if (!S) return lf_error(LF_ERR_NOMEM, "k-means: scratch (%lld x %lld)", (long long)b, (long long)kc);
    for (int64_t i0 = 0; i0 < n; i0 += b) {
        int64_t m = n - i0 < b ? n - i0 : b;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)kc, (int)d, 1.0f,
                    x + i0 * d, (int)d, c, (int)d, 0.0f, S, (int)kc);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++) {
            const float *r = S + i * kc;
            int64_t best = 0;
            for (int64_t j = 1; j < kc; j++)
                if (r[j] > r[best]) best = j;
            assign[i0 + i] = best;
        }
    }
    lf_free(S);
    return LF_OK;
}

lf_status lf_kmeans_spherical(const float *x, int64_t n, int64_t d, int64_t kc, int iters,
                              uint64_t seed, float *c)
{
    if (kc < 1 || kc > n)
        return lf_error(LF_ERR_ARG, "k-means: %lld clusters for %lld points", (long long)kc, (long long)n);
    lf_rng rng = lf_rng_make(seed, 0x1f1f);
    int64_t *assign = lf_malloc(sizeof(int64_t) * (size_t)n);
    int64_t *count = lf_malloc(sizeof(int64_t) * (size_t)kc);
    double *sum = lf_malloc(sizeof(double) * (size_t)(kc * d));
    lf_status st = LF_OK;
    if (!assign || !count || !sum) {
        st = lf_error(LF_ERR_NOMEM, "k-means: %lld points x %lld clusters", (long long)n, (long long)kc);
        goto done;
    }
    /* init: kc distinct points drawn by a seeded partial shuffle (k-means++ costs kc passes
     * over the data, too slow for thousands of lists; random init is what faiss does too) */
    for (int64_t i = 0; i < n; i++) assign[i] = i;
    for (int64_t j = 0; j < kc; j++) {
        int64_t r = j + (int64_t)lf_rng_below(&rng, (uint32_t)(n - j));
        int64_t t = assign[j]; assign[j] = assign[r]; assign[r] = t;
        memcpy(c + j * d, x + assign[j] * d, sizeof(float) * (size_t)d);
    }
    for (int it = 0; it < iters; it++) {
        st = lf_assign_nearest(x, n, c, kc, d, assign);
        if (st) goto done;
        memset(count, 0, sizeof(int64_t) * (size_t)kc);
        memset(sum, 0, sizeof(double) * (size_t)(kc * d));
        for (int64_t i = 0; i < n; i++) {
            int64_t a = assign[i];
            count[a]++;
            double *s = sum + a * d;
            const float *xi = x + i * d;
            for (int64_t t = 0; t < d; t++) s[t] += xi[t];
        }
        for (int64_t j = 0; j < kc; j++) {
            float *cj = c + j * d;
            if (count[j] == 0) {
                /* re-seed from the point least similar to its own centroid */
                int64_t worst = 0;
                float ws = 2.0f;
                for (int64_t i = 0; i < n; i++) {
                    float s = cblas_sdot((int)d, x + i * d, 1, c + assign[i] * d, 1);
                    if (s < ws) { ws = s; worst = i; }
                }
                memcpy(cj, x + worst * d, sizeof(float) * (size_t)d);
                assign[worst] = j;
                continue;
            }
            for (int64_t t = 0; t < d; t++) cj[t] = (float)sum[j * d + t];
            lf_normalize_rows(cj, 1, d);
        }
    }
done:
    lf_free(assign); lf_free(count); lf_free(sum);
    return st;
}
