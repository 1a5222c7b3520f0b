/* k-NN classifier on cosine similarity (the SSL evaluation protocol of InstDisc, DINO and
 * solo-learn). Candidates come from a float GEMM of L2-normalised rows in blocks of queries;
 * the k kept similarities are then recomputed in double, so the vote weights exp(sim / T)
 * (T = 0.07 amplifies errors by 14x) do not carry float rounding. */
#include "eval_internal.h"

#include <math.h>
#include <string.h>

#define Q_BLOCK 256

lf_knn_opts lf_knn_opts_default(void)
{
    lf_knn_opts o = {20, 0.07, 0};
    return o;
}

/* 1 / ||x|| in double (0 for a zero row, whose similarities are then all 0) */
static void inv_norms(const float *X, int64_t n, int64_t d, double *out)
{
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += (double)X[i * d + j] * X[i * d + j];
        out[i] = s > 0 ? 1 / sqrt(s) : 0;
    }
}

static void normalise(const float *X, const double *inv, int64_t n, int64_t d, float *out)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) out[i * d + j] = (float)(X[i * d + j] * inv[i]);
}

/* Keeps the k best (similarity desc, index asc) of one row of sims in top/ti (sorted). */
static int64_t top_k(const float *sim, int64_t n, int64_t k, float *top, int64_t *ti)
{
    int64_t m = 0;
    for (int64_t j = 0; j < n; j++) {
        float s = sim[j];
        if (m == k && !(s > top[k - 1])) continue; /* equal: the earlier index stays */
        int64_t p = m < k ? m++ : k - 1;
        while (p > 0 && top[p - 1] < s) {
            top[p] = top[p - 1];
            ti[p] = ti[p - 1];
            p--;
        }
        top[p] = s;
        ti[p] = j;
    }
    return m;
}

lf_status lf_knn_predict(const float *X_train, const int64_t *y_train, int64_t n_train,
                         const float *X_query, int64_t n_query, int64_t d, int64_t K,
                         const lf_knn_opts *opts, double *proba, int64_t *pred)
{
    lf_knn_opts o = opts ? *opts : lf_knn_opts_default();
    if (n_train <= 0 || n_query < 0 || d <= 0 || K < 1 || !X_train || (n_query && !X_query))
        return lf_error(LF_ERR_ARG, "knn: n_train=%lld, n_query=%lld, d=%lld, classes=%lld or NULL input",
                        (long long)n_train, (long long)n_query, (long long)d, (long long)K);
    if (o.k < 1) return lf_error(LF_ERR_ARG, "knn: k must be >= 1, got %d", o.k);
    if (!o.majority && !(o.temperature > 0))
        return lf_error(LF_ERR_ARG, "knn: temperature must be > 0, got %g", o.temperature);
    lf_status s = lf_eval_check_labels(y_train, n_train, K, "knn y_train");
    if (s) return s;
    int64_t k = o.k < n_train ? o.k : n_train;
    int64_t nb = n_query < Q_BLOCK ? n_query : Q_BLOCK;
    double *inv_t = lf_malloc(sizeof(double) * (size_t)n_train);
    double *inv_q = lf_malloc(sizeof(double) * (size_t)(n_query > 0 ? n_query : 1));
    float *Tn = lf_malloc(sizeof(float) * (size_t)(n_train * d));
    float *Qn = lf_malloc(sizeof(float) * (size_t)(nb * d + 1));
    float *S = lf_malloc(sizeof(float) * (size_t)(nb * n_train + 1));
    float *top = lf_malloc(sizeof(float) * (size_t)(nb * k));
    int64_t *ti = lf_malloc(sizeof(int64_t) * (size_t)(nb * k));
    double *score = lf_malloc(sizeof(double) * (size_t)(nb * K + 1));
    if (!inv_t || !inv_q || !Tn || !Qn || !S || !top || !ti || !score) {
        s = lf_error(LF_ERR_NOMEM, "knn: %lld x %lld similarity block", (long long)nb, (long long)n_train);
        goto done;
    }
    for (int64_t t = 0; t < n_query * d; t++)
        if (!isfinite(X_query[t])) {
            s = lf_error(LF_ERR_NUMERIC, "knn: query row %lld column %lld is %g", (long long)(t / d), (long long)(t % d), (double)X_query[t]);
            goto done;
        }
    for (int64_t t = 0; t < n_train * d; t++)
        if (!isfinite(X_train[t])) {
            s = lf_error(LF_ERR_NUMERIC, "knn: training row %lld column %lld is %g", (long long)(t / d), (long long)(t % d), (double)X_train[t]);
            goto done;
        }
    inv_norms(X_train, n_train, d, inv_t);
    inv_norms(X_query, n_query, d, inv_q);
    normalise(X_train, inv_t, n_train, d, Tn);
    for (int64_t q0 = 0; q0 < n_query; q0 += Q_BLOCK) {
        int64_t r = n_query - q0 < Q_BLOCK ? n_query - q0 : Q_BLOCK;
        normalise(X_query + q0 * d, inv_q + q0, r, d, Qn);
        lf_eval_sgemm(false, true, r, n_train, d, 1.0f, Qn, d, Tn, d, 0.0f, S, n_train);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < r; i++) {
            int64_t m = top_k(S + i * n_train, n_train, k, top + i * k, ti + i * k);
            const float *xq = X_query + (q0 + i) * d;
            double *sc = score + i * K, tot = 0;
            for (int64_t c = 0; c < K; c++) sc[c] = 0;
            for (int64_t j = 0; j < m; j++) {
                int64_t t = ti[i * k + j];
                double w = 1;
                if (!o.majority) {
                    double dp = 0;
                    const float *xt = X_train + t * d;
                    for (int64_t u = 0; u < d; u++) dp += (double)xq[u] * xt[u];
                    w = exp(dp * inv_q[q0 + i] * inv_t[t] / o.temperature);
                }
                sc[y_train[t]] += w;
                tot += w;
            }
            int64_t best = 0;
            for (int64_t c = 0; c < K; c++) {
                sc[c] /= tot;
                if (sc[c] > sc[best]) best = c;
            }
            if (pred) pred[q0 + i] = best;
        }
        if (proba) memcpy(proba + q0 * K, score, sizeof(double) * (size_t)(r * K));
    }
done:
    lf_free(inv_t); lf_free(inv_q); lf_free(Tn); lf_free(Qn); lf_free(S); lf_free(top);
    lf_free(ti); lf_free(score);
    return s;
}
