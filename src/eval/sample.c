/* Seeded stratified label fractions (rule in labelfree.h, lf_stratified_subset). */
#include "eval_internal.h"

#include <math.h>
#include <string.h>

/* One Philox stream per (fraction, repeat): the fraction in parts per million times a large
 * odd constant, plus the repeat, so nearby fractions and repeats never share a stream. */
static uint64_t subset_stream(double fraction, uint64_t repeat)
{
    uint64_t ppm = (uint64_t)llround(fraction * 1e6);
    return (ppm * 0x9E3779B97F4A7C15ull) ^ (repeat + 0x632BE59BD9B4E019ull);
}

lf_status lf_stratified_subset(const int64_t *y, const int64_t *idx, int64_t n_idx, int64_t K,
                               double fraction, uint64_t seed, uint64_t repeat, int64_t *out,
                               int64_t *n_out)
{
    if (!y || (!idx && n_idx > 0) || n_idx < 0 || K < 1 || !out || !n_out)
        return lf_error(LF_ERR_ARG, "stratified_subset: NULL argument, n_idx=%lld or classes=%lld", (long long)n_idx, (long long)K);
    if (!(fraction > 0) || fraction > 1)
        return lf_error(LF_ERR_ARG, "stratified_subset: fraction must be in (0, 1], got %g", fraction);
    for (int64_t i = 0; i < n_idx; i++)
        if (y[idx[i]] < 0 || y[idx[i]] >= K)
            return lf_error(LF_ERR_ARG, "stratified_subset: label of row %lld is %lld, not in [0, %lld)",
                            (long long)idx[i], (long long)y[idx[i]], (long long)K);
    /* counting sort of the candidates by class, keeping their given order within a class */
    int64_t *start = lf_calloc((size_t)(K + 1), sizeof(int64_t));
    int64_t *by_class = lf_malloc(sizeof(int64_t) * (size_t)(n_idx ? n_idx : 1));
    uint8_t *keep = lf_calloc((size_t)(n_idx ? n_idx : 1), 1);
    if (!start || !by_class || !keep) {
        lf_free(start); lf_free(by_class); lf_free(keep);
        return lf_error(LF_ERR_NOMEM, "stratified_subset: %lld rows", (long long)n_idx);
    }
    for (int64_t i = 0; i < n_idx; i++) start[y[idx[i]] + 1]++;
    for (int64_t c = 0; c < K; c++) start[c + 1] += start[c];
    int64_t *fill = lf_malloc(sizeof(int64_t) * (size_t)K);
    if (!fill) {
        lf_free(start); lf_free(by_class); lf_free(keep);
        return lf_error(LF_ERR_NOMEM, "stratified_subset: %lld classes", (long long)K);
    }
    memcpy(fill, start, sizeof(int64_t) * (size_t)K);
    for (int64_t i = 0; i < n_idx; i++) by_class[fill[y[idx[i]]]++] = i; /* positions in idx */
    lf_free(fill);
    lf_rng rng = lf_rng_make(seed, subset_stream(fraction, repeat));
    for (int64_t c = 0; c < K; c++) {
        int64_t nc = start[c + 1] - start[c];
        if (nc == 0) continue;
        int64_t mc = (int64_t)floor(fraction * (double)nc + 0.5);
        if (mc < 1) mc = 1;
        if (mc > nc) mc = nc;
        int64_t *cls = by_class + start[c];
        if (mc < nc) lf_rng_shuffle(&rng, cls, nc);
        for (int64_t j = 0; j < mc; j++) keep[cls[j]] = 1;
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n_idx; i++)
        if (keep[i]) out[m++] = idx[i];
    *n_out = m;
    lf_free(start); lf_free(by_class); lf_free(keep);
    return LF_OK;
}
