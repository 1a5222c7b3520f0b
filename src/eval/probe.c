/* Label-efficiency driver: for each label fraction and repeat, a stratified subset of the
 * labelled training rows trains a linear probe (C chosen on the validation rows) or serves as
 * the k-NN reference set; metrics on the test rows are summarised as mean +- sd. */
#include "eval_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double default_fractions[] = {0.01, 0.1, 1.0};
static const double default_c_grid[] = {1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4};

lf_probe_opts lf_probe_opts_default(lf_probe_kind kind)
{
    lf_probe_opts o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.repeats = 5;
    o.c_default = 1.0;
    o.logreg = lf_logreg_opts_default();
    o.knn = lf_knn_opts_default();
    return o;
}

const char *lf_probe_metric_name(int metric)
{
    static const char *names[] = {"accuracy", "balanced_accuracy", "macro_f1", "macro_auroc"};
    return metric >= 0 && metric < LF_PROBE_N_METRICS ? names[metric] : "unknown";
}

void lf_probe_result_free(lf_probe_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_rows; i++) {
        lf_free(r->rows[i].per_run);
        lf_free(r->rows[i].c_chosen);
    }
    lf_free(r->rows);
    lf_free((void *)r->opts.fractions);
    lf_free((void *)r->opts.c_grid);
    lf_free(r);
}

/* rows of X / y listed in idx, gathered into contiguous arrays */
static void gather(const float *X, const int64_t *y, int64_t d, const int64_t *idx, int64_t m,
                   float *Xo, int64_t *yo)
{
    for (int64_t i = 0; i < m; i++) {
        memcpy(Xo + i * d, X + idx[i] * d, sizeof(float) * (size_t)d);
        yo[i] = y[idx[i]];
    }
}

typedef struct work {
    const lf_probe_result *r;
    float *Xtr, *Xval, *Xte;
    int64_t *ytr, *yval, *yte, *pred;
    double *proba;
    double *mean, *scale; /* standardisation from all training-split embeddings */
} work;

/* one run: fit/predict on the gathered subset, metrics into m[LF_PROBE_N_METRICS] */
static lf_status one_run(work *w, int64_t n_sub, double *m, double *c_chosen)
{
    const lf_probe_result *r = w->r;
    int64_t d = r->d, K = r->n_classes;
    lf_status s;
    if (r->opts.kind == LF_PROBE_LINEAR) {
        lf_logreg *lr = NULL;
        lf_logreg_opts o = r->opts.logreg;
        o.mean = w->mean;
        o.scale = w->scale;
        if (r->n_val > 0)
            s = lf_logreg_fit_select(&lr, w->Xtr, w->ytr, n_sub, w->Xval, w->yval, r->n_val, d, K,
                                     r->opts.c_grid, r->opts.n_c, &o, NULL);
        else {
            o.C = r->opts.c_default;
            s = lf_logreg_fit(&lr, w->Xtr, w->ytr, n_sub, d, K, &o);
        }
        if (!s) s = lf_logreg_predict(lr, w->Xte, r->n_test, w->proba, w->pred);
        if (!s) *c_chosen = lr->C;
        lf_logreg_free(lr);
    } else {
        s = lf_knn_predict(w->Xtr, w->ytr, n_sub, w->Xte, r->n_test, d, K, &r->opts.knn, w->proba,
                           w->pred);
    }
    if (s) return s;
    m[LF_PROBE_ACC] = lf_accuracy(w->yte, w->pred, r->n_test);
    m[LF_PROBE_BACC] = lf_balanced_accuracy(w->yte, w->pred, r->n_test, K);
    m[LF_PROBE_F1] = lf_macro_f1(w->yte, w->pred, r->n_test, K);
    m[LF_PROBE_AUROC] = lf_auroc_ovr_macro(w->yte, w->proba, r->n_test, K);
    lf_clear_error(); /* a NaN AUROC (one class in the test rows) is a result, not a failure */
    return LF_OK;
}

static lf_status copy_opts(lf_probe_result *r, const lf_probe_opts *o)
{
    r->opts = *o;
    const double *fr = o->fractions ? o->fractions : default_fractions;
    int nf = o->fractions ? o->n_fractions : 3;
    const double *cg = o->c_grid ? o->c_grid : default_c_grid;
    int nc = o->c_grid ? o->n_c : (int)(sizeof default_c_grid / sizeof *default_c_grid);
    if (nf < 1) return lf_error(LF_ERR_ARG, "probe: no label fractions (n_fractions=%d)", nf);
    if (nc < 1) return lf_error(LF_ERR_ARG, "probe: empty C grid (n_c=%d)", nc);
    if (o->repeats < 1) return lf_error(LF_ERR_ARG, "probe: repeats must be >= 1, got %d", o->repeats);
    if (o->kind != LF_PROBE_LINEAR && o->kind != LF_PROBE_KNN)
        return lf_error(LF_ERR_ARG, "probe: unknown classifier kind %d", (int)o->kind);
    for (int i = 0; i < nf; i++)
        if (!(fr[i] > 0 && fr[i] <= 1))
            return lf_error(LF_ERR_ARG, "probe: fraction %d is %g, not in (0, 1]", i, fr[i]);
    for (int i = 0; i < nc; i++)
        if (!(cg[i] > 0) || !isfinite(cg[i]))
            return lf_error(LF_ERR_ARG, "probe: C grid value %d is %g, not positive", i, cg[i]);
    double *f2 = lf_malloc(sizeof(double) * (size_t)nf), *c2 = lf_malloc(sizeof(double) * (size_t)nc);
    if (!f2 || !c2) {
        lf_free(f2); lf_free(c2);
        return lf_error(LF_ERR_NOMEM, "probe: options");
    }
    memcpy(f2, fr, sizeof(double) * (size_t)nf);
    memcpy(c2, cg, sizeof(double) * (size_t)nc);
    r->opts.fractions = f2;
    r->opts.n_fractions = nf;
    r->opts.c_grid = c2;
    r->opts.n_c = nc;
    return LF_OK;
}

lf_status lf_probe_run(const float *X, int64_t n, int64_t d, const int64_t *y,
                       const int8_t *split, const lf_probe_opts *opts, lf_probe_result **out)
{
    if (!out) return lf_error(LF_ERR_ARG, "probe: out is NULL");
    *out = NULL;
    if (!X || !y || !split || n <= 0 || d <= 0)
        return lf_error(LF_ERR_ARG, "probe: NULL embeddings/labels/split or empty shape (%lld, %lld)", (long long)n, (long long)d);
    lf_probe_opts o = opts ? *opts : lf_probe_opts_default(LF_PROBE_LINEAR);
    lf_probe_result *r = lf_calloc(1, sizeof *r);
    if (!r) return lf_error(LF_ERR_NOMEM, "probe: result");
    lf_status s = copy_opts(r, &o);
    if (s) {
        lf_free(r);
        return s;
    }
    r->n = n;
    r->d = d;
    int64_t K = 0, n_split = 0; /* n_split: training-split rows, labelled or not */
    for (int64_t i = 0; i < n; i++) {
        n_split += split[i] == LF_SPLIT_TRAIN;
        if (y[i] < 0) continue; /* unlabelled */
        if (y[i] + 1 > K) K = y[i] + 1;
        if (split[i] == LF_SPLIT_TRAIN) r->n_train++;
        else if (split[i] == LF_SPLIT_VAL) r->n_val++;
        else if (split[i] == LF_SPLIT_TEST) r->n_test++;
    }
    r->n_classes = K;
    work w;
    memset(&w, 0, sizeof w);
    w.r = r;
    int64_t *tr_idx = NULL, *sub = NULL, *vidx = NULL, *teidx = NULL;
    if (K < 2 || r->n_train == 0 || r->n_test == 0) {
        s = lf_error(LF_ERR_ARG, "probe: needs >= 2 classes and labelled train and test rows (classes %lld, train %lld, val %lld, test %lld)",
                     (long long)K, (long long)r->n_train, (long long)r->n_val, (long long)r->n_test);
        goto done;
    }
    r->rows = lf_calloc((size_t)r->opts.n_fractions, sizeof *r->rows);
    tr_idx = lf_malloc(sizeof(int64_t) * (size_t)r->n_train);
    sub = lf_malloc(sizeof(int64_t) * (size_t)n_split);
    vidx = lf_malloc(sizeof(int64_t) * (size_t)(r->n_val + 1));
    teidx = lf_malloc(sizeof(int64_t) * (size_t)r->n_test);
    w.Xtr = lf_malloc(sizeof(float) * (size_t)(r->n_train * d));
    w.ytr = lf_malloc(sizeof(int64_t) * (size_t)r->n_train);
    w.Xval = lf_malloc(sizeof(float) * (size_t)(r->n_val * d + 1));
    w.yval = lf_malloc(sizeof(int64_t) * (size_t)(r->n_val + 1));
    w.Xte = lf_malloc(sizeof(float) * (size_t)(r->n_test * d));
    w.yte = lf_malloc(sizeof(int64_t) * (size_t)r->n_test);
    w.pred = lf_malloc(sizeof(int64_t) * (size_t)r->n_test);
    w.proba = lf_malloc(sizeof(double) * (size_t)(r->n_test * K));
    w.mean = lf_malloc(sizeof(double) * (size_t)d);
    w.scale = lf_malloc(sizeof(double) * (size_t)d);
    if (!r->rows || !tr_idx || !sub || !vidx || !teidx || !w.Xtr || !w.ytr || !w.Xval || !w.yval ||
        !w.Xte || !w.yte || !w.pred || !w.proba || !w.mean || !w.scale) {
        s = lf_error(LF_ERR_NOMEM, "probe: buffers for %lld x %lld embeddings", (long long)n, (long long)d);
        goto done;
    }
    int64_t a = 0, b = 0, c = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] < 0) continue;
        if (split[i] == LF_SPLIT_TRAIN) tr_idx[a++] = i;
        else if (split[i] == LF_SPLIT_VAL) vidx[b++] = i;
        else if (split[i] == LF_SPLIT_TEST) teidx[c++] = i;
    }
    int64_t ns = 0; /* the scaler sees every training-split row, labelled or not */
    for (int64_t i = 0; i < n; i++)
        if (split[i] == LF_SPLIT_TRAIN) sub[ns++] = i;
    lf_eval_scaler(X, sub, ns, d, w.mean, w.scale);
    gather(X, y, d, vidx, r->n_val, w.Xval, w.yval);
    gather(X, y, d, teidx, r->n_test, w.Xte, w.yte);
    for (int f = 0; f < r->opts.n_fractions; f++) {
        lf_probe_row *row = &r->rows[f];
        r->n_rows = f + 1;
        row->fraction = r->opts.fractions[f];
        row->runs = row->fraction >= 1 ? 1 : r->opts.repeats; /* the full set is one subset */
        row->per_run = lf_malloc(sizeof(double) * (size_t)(row->runs * LF_PROBE_N_METRICS));
        if (o.kind == LF_PROBE_LINEAR) row->c_chosen = lf_calloc((size_t)row->runs, sizeof(double));
        if (!row->per_run || (o.kind == LF_PROBE_LINEAR && !row->c_chosen)) {
            s = lf_error(LF_ERR_NOMEM, "probe: per-run results");
            goto done;
        }
        double n_sum = 0;
        for (int rep = 0; rep < row->runs; rep++) {
            int64_t m;
            if ((s = lf_stratified_subset(y, tr_idx, r->n_train, K, row->fraction, o.seed,
                                          (uint64_t)rep, sub, &m)))
                goto done;
            gather(X, y, d, sub, m, w.Xtr, w.ytr);
            n_sum += (double)m;
            double cc = 0;
            if ((s = one_run(&w, m, row->per_run + rep * LF_PROBE_N_METRICS, &cc))) {
                char why[512];
                snprintf(why, sizeof why, "%s", lf_last_error());
                lf_error(s, "probe: fraction %g, repeat %d: %s", row->fraction, rep, why);
                goto done;
            }
            if (row->c_chosen) row->c_chosen[rep] = cc;
        }
        row->n_labels = n_sum / row->runs;
        double v[64];
        for (int mi = 0; mi < LF_PROBE_N_METRICS; mi++) {
            double *vals = row->runs <= 64 ? v : lf_malloc(sizeof(double) * (size_t)row->runs);
            if (!vals) {
                s = lf_error(LF_ERR_NOMEM, "probe: summary");
                goto done;
            }
            for (int rep = 0; rep < row->runs; rep++) vals[rep] = row->per_run[rep * LF_PROBE_N_METRICS + mi];
            row->metric[mi] = lf_mean_sd_of(vals, row->runs);
            if (vals != v) lf_free(vals);
        }
    }
done:
    lf_free(tr_idx); lf_free(sub); lf_free(vidx); lf_free(teidx);
    lf_free(w.Xtr); lf_free(w.ytr); lf_free(w.Xval); lf_free(w.yval); lf_free(w.Xte);
    lf_free(w.yte); lf_free(w.pred); lf_free(w.proba); lf_free(w.mean); lf_free(w.scale);
    if (s) lf_probe_result_free(r);
    else *out = r;
    return s;
}
