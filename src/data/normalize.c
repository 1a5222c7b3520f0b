/* Per-channel mean/std over a split (the training split), and their JSON form for the
 * model's metadata. Images are combined with Chan et al.'s parallel variance update, so a
 * large data set does not lose precision to a sum of squares. */
#include "labelfree.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lf_status lf_dataset_channel_stats(const lf_dataset *ds, lf_split split, lf_norm_stats *st)
{
    if (!ds || !st) return lf_error(LF_ERR_ARG, "lf_dataset_channel_stats: NULL argument");
    memset(st, 0, sizeof *st);
    int64_t n = lf_dataset_indices(ds, split, NULL);
    if (n == 0) return lf_error(LF_ERR_ARG, "lf_dataset_channel_stats: the split is empty");
    int64_t *idx = lf_malloc((size_t)n * sizeof(int64_t));
    if (!idx) return LF_ERR_NOMEM;
    lf_dataset_indices(ds, split, idx);
    lf_image img = {0};
    double cnt[LF_IMAGE_MAX_CHANNELS] = {0}, mean[LF_IMAGE_MAX_CHANNELS] = {0},
           m2[LF_IMAGE_MAX_CHANNELS] = {0};
    int c0 = 0, h0 = 0, w0 = 0, d0 = 0;
    int64_t first = -1;
    lf_status s = LF_OK;
    for (int64_t k = 0; k < n && s == LF_OK; k++) {
        int64_t i = idx[k];
        if ((s = lf_dataset_read(ds, i, &img)) != LF_OK) break;
        if (first < 0) {
            first = i;
            c0 = img.c; d0 = img.d; h0 = img.h; w0 = img.w;
        } else if (img.c != c0) {
            s = lf_error(LF_ERR_SHAPE, "%s: %s has %d channels but %s has %d (mixed channel "
                         "counts)", lf_dataset_origin(ds, i), lf_dataset_path(ds, i), img.c,
                         lf_dataset_path(ds, first), c0);
            break;
        } else if (img.h != h0 || img.w != w0 || img.d != d0) {
            s = lf_error(LF_ERR_SHAPE, "%s: %s is %dx%d but %s is %dx%d (mixed image sizes)",
                         lf_dataset_origin(ds, i), lf_dataset_path(ds, i), img.h, img.w,
                         lf_dataset_path(ds, first), h0, w0);
            break;
        }
        size_t plane = (size_t)img.d * img.h * img.w;
        for (int c = 0; c < img.c; c++) {
            const float *p = img.data + c * plane;
            double m = 0, v = 0;
            for (size_t j = 0; j < plane; j++) m += p[j];
            m /= (double)plane;
            for (size_t j = 0; j < plane; j++) v += (p[j] - m) * (p[j] - m);
            double nb = (double)plane, na = cnt[c], delta = m - mean[c];
            mean[c] += delta * nb / (na + nb);
            m2[c] += v + delta * delta * na * nb / (na + nb);
            cnt[c] = na + nb;
        }
    }
    lf_image_free(&img);
    lf_free(idx);
    if (s != LF_OK) return s;
    st->channels = c0;
    for (int c = 0; c < c0; c++) {
        st->mean[c] = mean[c];
        double sd = sqrt(m2[c] / cnt[c]);
        st->std[c] = sd < 1e-6 ? 1e-6 : sd; /* a constant channel must not divide by zero */
    }
    return LF_OK;
}

lf_status lf_norm_stats_to_json(const lf_norm_stats *st, char *buf, size_t size)
{
    if (!st || !buf || st->channels < 1 || st->channels > LF_IMAGE_MAX_CHANNELS)
        return lf_error(LF_ERR_ARG, "lf_norm_stats_to_json: bad arguments");
    size_t o = 0;
    for (int part = 0; part < 2; part++) {
        const double *v = part ? st->std : st->mean;
        int k = snprintf(buf + o, o < size ? size - o : 0, "%s\"%s\":[", part ? "," : "{",
                         part ? "std" : "mean");
        o += (size_t)k;
        for (int c = 0; c < st->channels; c++) {
            k = snprintf(buf + (o < size ? o : size), o < size ? size - o : 0, "%s%.9g",
                         c ? "," : "", v[c]);
            o += (size_t)k;
        }
        k = snprintf(buf + (o < size ? o : size), o < size ? size - o : 0, "]");
        o += (size_t)k;
    }
    if (o + 2 > size) return lf_error(LF_ERR_ARG, "lf_norm_stats_to_json: buffer too small");
    buf[o++] = '}';
    buf[o] = 0;
    return LF_OK;
}

static int parse_array(const char *json, const char *key, double *out)
{
    const char *p = strstr(json, key);
    if (!p || !(p = strchr(p, '['))) return -1;
    p++;
    int n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t') p++;
        if (*p == ']') return n;
        if (n == LF_IMAGE_MAX_CHANNELS) return -1;
        char *end;
        out[n] = strtod(p, &end);
        if (end == p) return -1;
        n++;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ']') return -1;
    }
}

lf_status lf_norm_stats_from_json(const char *json, lf_norm_stats *st)
{
    if (!json || !st) return lf_error(LF_ERR_ARG, "lf_norm_stats_from_json: NULL argument");
    memset(st, 0, sizeof *st);
    int a = parse_array(json, "\"mean\"", st->mean), b = parse_array(json, "\"std\"", st->std);
    if (a < 1 || a != b)
        return lf_error(LF_ERR_FORMAT, "normalisation stats: expected {\"mean\":[...],\"std\":"
                        "[...]} of equal length, got '%.80s'", json);
    for (int c = 0; c < a; c++)
        if (!(st->std[c] > 0))
            return lf_error(LF_ERR_FORMAT, "normalisation stats: std[%d] = %g", c, st->std[c]);
    st->channels = a;
    return LF_OK;
}
