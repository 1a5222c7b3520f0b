/* Classification metrics with scikit-learn's conventions (see labelfree.h for each). */
#include "eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static lf_status check_pair(const int64_t *a, const int64_t *b, int64_t n, int64_t K,
                            const char *fn)
{
    if (n <= 0) return lf_error(LF_ERR_ARG, "%s: no rows (n=%lld)", fn, (long long)n);
    if (K < 1) return lf_error(LF_ERR_ARG, "%s: n_classes = %lld", fn, (long long)K);
    lf_status s = lf_eval_check_labels(a, n, K, "y_true");
    return s ? s : lf_eval_check_labels(b, n, K, "y_pred");
}

double lf_accuracy(const int64_t *y_true, const int64_t *y_pred, int64_t n)
{
    if (n <= 0 || !y_true || !y_pred) {
        lf_error(LF_ERR_ARG, "accuracy: no rows or NULL labels (n=%lld)", (long long)n);
        return NAN;
    }
    int64_t hit = 0;
    for (int64_t i = 0; i < n; i++) hit += y_true[i] == y_pred[i];
    return (double)hit / (double)n;
}

lf_status lf_confusion_matrix(const int64_t *y_true, const int64_t *y_pred, int64_t n,
                              int64_t K, int64_t *out)
{
    lf_status s = check_pair(y_true, y_pred, n, K, "confusion_matrix");
    if (s) return s;
    if (!out) return lf_error(LF_ERR_ARG, "confusion_matrix: out is NULL");
    memset(out, 0, sizeof(int64_t) * (size_t)(K * K));
    for (int64_t i = 0; i < n; i++) out[y_true[i] * K + y_pred[i]]++;
    return LF_OK;
}

/* per class: true count (row sum), predicted count (column sum), true positives */
static int64_t *class_counts(const int64_t *y_true, const int64_t *y_pred, int64_t n, int64_t K,
                             const char *fn)
{
    if (check_pair(y_true, y_pred, n, K, fn)) return NULL;
    int64_t *c = lf_calloc((size_t)(3 * K), sizeof(int64_t));
    if (!c) {
        lf_error(LF_ERR_NOMEM, "%s: %lld classes", fn, (long long)K);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        c[y_true[i]]++;
        c[K + y_pred[i]]++;
        if (y_true[i] == y_pred[i]) c[2 * K + y_true[i]]++;
    }
    return c;
}

double lf_balanced_accuracy(const int64_t *y_true, const int64_t *y_pred, int64_t n, int64_t K)
{
    int64_t *c = class_counts(y_true, y_pred, n, K, "balanced_accuracy");
    if (!c) return NAN;
    double s = 0;
    int64_t m = 0;
    for (int64_t k = 0; k < K; k++)
        if (c[k] > 0) {
            s += (double)c[2 * K + k] / (double)c[k];
            m++;
        }
    lf_free(c);
    return s / (double)m;
}

double lf_macro_f1(const int64_t *y_true, const int64_t *y_pred, int64_t n, int64_t K)
{
    int64_t *c = class_counts(y_true, y_pred, n, K, "macro_f1");
    if (!c) return NAN;
    double s = 0;
    int64_t m = 0;
    for (int64_t k = 0; k < K; k++) {
        int64_t den = c[k] + c[K + k]; /* 2 tp + fp + fn */
        if (den == 0) continue;        /* class neither true nor predicted */
        s += 2.0 * (double)c[2 * K + k] / (double)den;
        m++;
    }
    lf_free(c);
    return s / (double)m;
}

typedef struct ranked {
    double s;
    int64_t i;
} ranked;

static int by_score(const void *a, const void *b)
{
    double x = ((const ranked *)a)->s, y = ((const ranked *)b)->s;
    return x < y ? -1 : x > y;
}

/* AUROC of `pos` (1 = positive) from scores through the Mann-Whitney statistic with average
 * ranks for ties; r is scratch of n entries. NaN when one class is missing. */
static double auroc_core(const int64_t *pos, const double *score, int64_t stride, int64_t n,
                         ranked *r)
{
    int64_t np = 0;
    for (int64_t i = 0; i < n; i++) {
        r[i].s = score[i * stride];
        r[i].i = i;
        np += pos[i] != 0;
    }
    int64_t nn = n - np;
    if (np == 0 || nn == 0) return NAN;
    qsort(r, (size_t)n, sizeof *r, by_score);
    double rank_sum = 0; /* of the positives, ranks starting at 1 */
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        while (b + 1 < n && r[b + 1].s == r[a].s) b++;
        double avg = 0.5 * (double)(a + b) + 1;
        for (int64_t t = a; t <= b; t++)
            if (pos[r[t].i]) rank_sum += avg;
        a = b + 1;
    }
    return (rank_sum - 0.5 * (double)np * (double)(np + 1)) / ((double)np * (double)nn);
}

static int check_scores(const double *s, int64_t n, int64_t stride, const char *fn)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(s[i * stride])) {
            lf_error(LF_ERR_NUMERIC, "%s: score of row %lld is %g", fn, (long long)i, s[i * stride]);
            return 1;
        }
    return 0;
}

double lf_auroc_binary(const int64_t *y, const double *score, int64_t n)
{
    if (n <= 0 || !y || !score) {
        lf_error(LF_ERR_ARG, "auroc_binary: no rows or NULL input (n=%lld)", (long long)n);
        return NAN;
    }
    if (lf_eval_check_labels(y, n, 2, "auroc_binary y") || check_scores(score, n, 1, "auroc_binary"))
        return NAN;
    ranked *r = lf_malloc(sizeof(ranked) * (size_t)n);
    if (!r) {
        lf_error(LF_ERR_NOMEM, "auroc_binary: %lld rows", (long long)n);
        return NAN;
    }
    double a = auroc_core(y, score, 1, n, r);
    lf_free(r);
    return a;
}

double lf_auroc_ovr_macro(const int64_t *y_true, const double *proba, int64_t n, int64_t K)
{
    if (n <= 0 || !y_true || !proba || K < 2) {
        lf_error(LF_ERR_ARG, "auroc_ovr_macro: n=%lld, classes=%lld or NULL input", (long long)n, (long long)K);
        return NAN;
    }
    if (lf_eval_check_labels(y_true, n, K, "auroc_ovr_macro y_true") ||
        check_scores(proba, n * K, 1, "auroc_ovr_macro"))
        return NAN;
    ranked *r = lf_malloc(sizeof(ranked) * (size_t)n);
    int64_t *pos = lf_malloc(sizeof(int64_t) * (size_t)n);
    double s = 0;
    int64_t m = 0;
    if (!r || !pos) {
        lf_error(LF_ERR_NOMEM, "auroc_ovr_macro: %lld rows", (long long)n);
    } else {
        for (int64_t k = 0; k < K; k++) {
            for (int64_t i = 0; i < n; i++) pos[i] = y_true[i] == k;
            double a = auroc_core(pos, proba + k, K, n, r);
            if (!isnan(a)) {
                s += a;
                m++;
            }
        }
    }
    lf_free(r);
    lf_free(pos);
    return m ? s / (double)m : NAN;
}

double lf_pearson_r(const double *a, const double *b, int64_t n)
{
    if (n < 2 || !a || !b) {
        lf_error(LF_ERR_ARG, "pearson_r: needs 2 or more pairs (n=%lld)", (long long)n);
        return NAN;
    }
    double ma = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0; /* two-pass: centred sums */
    for (int64_t i = 0; i < n; i++) {
        double x = a[i] - ma, y = b[i] - mb;
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if (saa == 0 || sbb == 0) {
        lf_error(LF_ERR_NUMERIC, "pearson_r: a constant input has no correlation");
        return NAN;
    }
    return sab / sqrt(saa * sbb);
}

lf_mean_sd lf_mean_sd_of(const double *v, int64_t n)
{
    lf_mean_sd r = {NAN, NAN};
    double s = 0;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(v[i])) {
            s += v[i];
            m++;
        }
    if (m == 0) return r;
    r.mean = s / (double)m;
    double q = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(v[i])) q += (v[i] - r.mean) * (v[i] - r.mean);
    r.sd = m > 1 ? sqrt(q / (double)(m - 1)) : 0;
    return r;
}
