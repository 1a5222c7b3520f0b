#include "protocol.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t *protocol_labels(const lf_dataset *ds)
{
    int64_t n = lf_dataset_count(ds);
    int64_t *y = lf_malloc((size_t)(n ? n : 1) * sizeof *y);
    if (y)
        for (int64_t i = 0; i < n; i++) y[i] = lf_dataset_label(ds, i);
    return y;
}

int8_t *protocol_splits(const lf_dataset *ds, uint64_t seed, int64_t *carved)
{
    int64_t n = lf_dataset_count(ds), n_val = 0;
    int8_t *sp = lf_malloc((size_t)(n ? n : 1));
    int64_t *y = protocol_labels(ds), *tr = lf_malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    int64_t *keep = lf_malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    *carved = 0;
    if (!sp || !y || !tr || !keep) goto done;
    int64_t n_tr = 0;
    for (int64_t i = 0; i < n; i++) {
        sp[i] = (int8_t)lf_dataset_split(ds, i);
        if (sp[i] == LF_SPLIT_VAL) n_val++;
        if (sp[i] == LF_SPLIT_TRAIN && y[i] >= 0) tr[n_tr++] = i;
    }
    if (n_val == 0 && n_tr > 0) {
        int64_t k = 0;
        if (lf_stratified_subset(y, tr, n_tr, lf_dataset_num_classes(ds), 0.2, seed, 7919, keep, &k) == LF_OK) {
            for (int64_t j = 0; j < k; j++) sp[keep[j]] = LF_SPLIT_VAL;
            *carved = k;
        }
    }
done:
    lf_free(y);
    lf_free(tr);
    lf_free(keep);
    return sp;
}

int parse_fractions(const char *s, double *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !(v > 0 && v <= 1) || n >= max) {
            fprintf(stderr, "labelfree: --label-fractions: '%s' is not a list of fractions in (0, 1]\n", s);
            return -1;
        }
        out[n++] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) {
            fprintf(stderr, "labelfree: --label-fractions: unexpected '%c' in '%s'\n", *p, s);
            return -1;
        }
    }
    return n;
}

void protocol_metrics(const float *scores, int logits, const int64_t *y, int64_t n, int64_t K,
                      double m[4])
{
    double *proba = malloc((size_t)(n * K + 1) * sizeof *proba);
    int64_t *pred = malloc((size_t)(n + 1) * sizeof *pred);
    for (int64_t i = 0; i < n; i++) {
        const float *s = scores + i * K;
        double mx = -INFINITY, z = 0;
        int64_t arg = 0;
        for (int64_t k = 0; k < K; k++)
            if (s[k] > mx) {
                mx = s[k];
                arg = k;
            }
        for (int64_t k = 0; k < K; k++) {
            proba[i * K + k] = logits ? exp(s[k] - mx) : s[k];
            z += proba[i * K + k];
        }
        for (int64_t k = 0; k < K; k++) proba[i * K + k] /= z > 0 ? z : 1;
        pred[i] = arg;
    }
    m[0] = lf_accuracy(y, pred, n);
    m[1] = lf_balanced_accuracy(y, pred, n, K);
    m[2] = lf_macro_f1(y, pred, n, K);
    m[3] = lf_auroc_ovr_macro(y, proba, n, K);
    free(proba);
    free(pred);
}
