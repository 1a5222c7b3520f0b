/* Multinomial L2 logistic regression on standardised features, the linear probe. Same
 * objective as sklearn LogisticRegression(multi_class='multinomial', penalty='l2', C):
 *     f(W, b) = sum_i [logsumexp_k z_ik - z_i,y_i] + 0.5 / C ||W||^2,  z_i = W x_i + b
 * minimised by L-BFGS (lbfgs.c). We minimise f / n (same minimiser, a tolerance that does not
 * grow with n). Parameter vector: W (K, d) row-major, then b (K). */
#include "eval_internal.h"

#include <math.h>
#include <string.h>

#define LBFGS_MEMORY 10
#define ROW_CHUNK 1024

lf_logreg_opts lf_logreg_opts_default(void)
{
    lf_logreg_opts o = {1.0, 1000, 1e-10, NULL, NULL};
    return o;
}

typedef struct problem {
    const double *X; /* (n, d) standardised */
    const int64_t *y;
    int64_t n, d, K;
    double inv_c;
    double *Z;       /* (n, K) logits, then P - onehot */
} problem;

/* Softmax of each row of Z (n, K) in place; returns sum of -log p[y] (y may be NULL). */
static double softmax_rows(double *Z, int64_t n, int64_t K, const int64_t *y)
{
    double loss = 0;
    for (int64_t i = 0; i < n; i++) {
        double *z = Z + i * K, mx = z[0], s = 0;
        for (int64_t k = 1; k < K; k++) mx = fmax(mx, z[k]);
        for (int64_t k = 0; k < K; k++) s += exp(z[k] - mx);
        double lse = mx + log(s);
        if (y) loss += lse - z[y[i]];
        for (int64_t k = 0; k < K; k++) z[k] = exp(z[k] - lse);
    }
    return loss;
}

static double objective(void *ctx, const double *w, double *g)
{
    problem *p = ctx;
    int64_t n = p->n, d = p->d, K = p->K;
    const double *W = w, *b = w + K * d;
    double *gW = g, *gb = g + K * d;
    lf_eval_dgemm(false, true, n, K, d, 1.0, p->X, d, W, d, 0.0, p->Z, K);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < K; k++) p->Z[i * K + k] += b[k];
    double loss = softmax_rows(p->Z, n, K, p->y);
    for (int64_t i = 0; i < n; i++) p->Z[i * K + p->y[i]] -= 1; /* dloss/dz = p - onehot */
    lf_eval_dgemm(true, false, K, d, n, 1.0 / (double)n, p->Z, K, p->X, d, 0.0, gW, d);
    for (int64_t k = 0; k < K; k++) gb[k] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < K; k++) gb[k] += p->Z[i * K + k];
    for (int64_t k = 0; k < K; k++) gb[k] /= (double)n;
    double reg = 0;
    for (int64_t t = 0; t < K * d; t++) {
        reg += W[t] * W[t];
        gW[t] += p->inv_c * W[t] / (double)n;
    }
    return (loss + 0.5 * p->inv_c * reg) / (double)n;
}

static lf_status check_args(const float *X, const int64_t *y, int64_t n, int64_t d, int64_t K,
                            const char *what)
{
    if (n <= 0 || d <= 0 || K < 2)
        return lf_error(LF_ERR_ARG, "logreg: %s needs n > 0, d > 0 and >= 2 classes (n=%lld, d=%lld, classes=%lld)",
                        what, (long long)n, (long long)d, (long long)K);
    if (!X) return lf_error(LF_ERR_ARG, "logreg: %s features are NULL", what);
    lf_status s = lf_eval_check_labels(y, n, K, what);
    if (s) return s;
    for (int64_t t = 0; t < n * d; t++)
        if (!isfinite(X[t]))
            return lf_error(LF_ERR_NUMERIC, "logreg: %s features: row %lld column %lld is %g", what,
                            (long long)(t / d), (long long)(t % d), (double)X[t]);
    return LF_OK;
}

static lf_logreg *model_new(int64_t d, int64_t K)
{
    lf_logreg *m = lf_calloc(1, sizeof *m);
    double *buf = lf_malloc(sizeof(double) * (size_t)(2 * d + K * d + K));
    if (!m || !buf) {
        lf_free(m);
        lf_free(buf);
        lf_error(LF_ERR_NOMEM, "logreg: model of %lld x %lld", (long long)K, (long long)d);
        return NULL;
    }
    m->d = d;
    m->n_classes = K;
    m->mean = buf;
    m->scale = buf + d;
    m->coef = buf + 2 * d;
    m->intercept = buf + 2 * d + K * d;
    return m;
}

void lf_logreg_free(lf_logreg *m)
{
    if (!m) return;
    lf_free(m->mean); /* one block holds mean, scale, coef, intercept */
    lf_free(m);
}

/* mean and population sd of the training features, as sklearn StandardScaler (a scale below
 * 10 eps becomes 1, so constant features stay 0 after centring) */
void lf_eval_scaler(const float *X, const int64_t *rows, int64_t n, int64_t d, double *mean,
                    double *scale)
{
    for (int64_t j = 0; j < d; j++) mean[j] = scale[j] = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *x = X + (rows ? rows[i] : i) * d;
        for (int64_t j = 0; j < d; j++) mean[j] += x[j];
    }
    for (int64_t j = 0; j < d; j++) mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        const float *x = X + (rows ? rows[i] : i) * d;
        for (int64_t j = 0; j < d; j++) scale[j] += (x[j] - mean[j]) * (x[j] - mean[j]);
    }
    for (int64_t j = 0; j < d; j++) {
        double s = sqrt(scale[j] / (double)n);
        scale[j] = s < 10 * 2.220446049250313e-16 ? 1.0 : s;
    }
}

static void fit_scaler(lf_logreg *m, const float *X, int64_t n)
{
    lf_eval_scaler(X, NULL, n, m->d, m->mean, m->scale);
}

static void standardise(const lf_logreg *m, const float *X, int64_t n, double *out)
{
    int64_t d = m->d;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            out[i * d + j] = (X[i * d + j] - m->mean[j]) / m->scale[j];
}

/* logits -> probabilities for standardised rows */
static void predict_std(const lf_logreg *m, const double *Xs, int64_t n, double *proba)
{
    int64_t K = m->n_classes;
    lf_eval_dgemm(false, true, n, K, m->d, 1.0, Xs, m->d, m->coef, m->d, 0.0, proba, K);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < K; k++) proba[i * K + k] += m->intercept[k];
    softmax_rows(proba, n, K, NULL);
}

static void argmax_rows(const double *P, int64_t n, int64_t K, int64_t *pred)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (P[i * K + k] > P[i * K + best]) best = k;
        pred[i] = best;
    }
}

lf_status lf_logreg_predict(const lf_logreg *m, const float *X, int64_t n, double *proba,
                            int64_t *pred)
{
    if (!m || (!X && n > 0) || n < 0 || !proba)
        return lf_error(LF_ERR_ARG, "logreg_predict: NULL model, features or proba (n=%lld)", (long long)n);
    double *Xs = lf_malloc(sizeof(double) * (size_t)(ROW_CHUNK * m->d));
    if (!Xs) return lf_error(LF_ERR_NOMEM, "logreg_predict: %lld x %lld chunk", (long long)ROW_CHUNK, (long long)m->d);
    for (int64_t i0 = 0; i0 < n; i0 += ROW_CHUNK) {
        int64_t r = n - i0 < ROW_CHUNK ? n - i0 : ROW_CHUNK;
        standardise(m, X + i0 * m->d, r, Xs);
        predict_std(m, Xs, r, proba + i0 * m->n_classes);
    }
    lf_free(Xs);
    if (pred) argmax_rows(proba, n, m->n_classes, pred);
    return LF_OK;
}

/* Fits W, b in place (warm start from the model's current values), then centres b. */
static lf_status fit_problem(lf_logreg *m, problem *p, double C, const lf_logreg_opts *o,
                             double *w)
{
    int64_t K = m->n_classes, d = m->d, nw = K * d + K;
    if (!(C > 0) || !isfinite(C)) return lf_error(LF_ERR_ARG, "logreg: C must be positive and finite, got %g", C);
    memcpy(w, m->coef, sizeof(double) * (size_t)(K * d));
    memcpy(w + K * d, m->intercept, sizeof(double) * (size_t)K);
    p->inv_c = 1.0 / C;
    lf_eval_lbfgs_info info;
    lf_status s = lf_eval_lbfgs(nw, w, objective, p, LBFGS_MEMORY, o->max_iter, o->tol, &info);
    if (s) return s;
    double mb = 0;
    for (int64_t k = 0; k < K; k++) mb += w[K * d + k] / (double)K;
    memcpy(m->coef, w, sizeof(double) * (size_t)(K * d));
    for (int64_t k = 0; k < K; k++) m->intercept[k] = w[K * d + k] - mb;
    m->C = C;
    m->n_iter = info.n_iter;
    m->converged = info.converged;
    return LF_OK;
}

lf_status lf_logreg_fit_select(lf_logreg **out, const float *X_train, const int64_t *y_train,
                               int64_t n_train, const float *X_val, const int64_t *y_val,
                               int64_t n_val, int64_t d, int64_t K, const double *c_grid,
                               int n_c, const lf_logreg_opts *opts, double *val_bacc)
{
    if (!out) return lf_error(LF_ERR_ARG, "logreg_fit: out is NULL");
    *out = NULL;
    lf_logreg_opts o = opts ? *opts : lf_logreg_opts_default();
    if (o.max_iter < 1 || !(o.tol >= 0)) return lf_error(LF_ERR_ARG, "logreg: max_iter %d, tol %g", o.max_iter, o.tol);
    lf_status s = check_args(X_train, y_train, n_train, d, K, "y_train");
    if (s) return s;
    if (n_c < 1 || !c_grid) return lf_error(LF_ERR_ARG, "logreg: empty C grid");
    if (n_c > 1 || n_val > 0) {
        if (n_val <= 0) return lf_error(LF_ERR_ARG, "logreg: a C grid of %d values needs validation rows", n_c);
        if ((s = check_args(X_val, y_val, n_val, d, K, "y_val"))) return s;
    }
    lf_logreg *m = model_new(d, K);
    if (!m) return lf_last_status();
    int64_t nw = K * d + K;
    double *Xs = lf_malloc(sizeof(double) * (size_t)(n_train * d));
    double *Z = lf_malloc(sizeof(double) * (size_t)(n_train * K));
    double *w = lf_malloc(sizeof(double) * (size_t)nw);
    double *best = lf_malloc(sizeof(double) * (size_t)nw);
    double *Vs = n_val > 0 ? lf_malloc(sizeof(double) * (size_t)(n_val * d)) : NULL;
    double *Pv = n_val > 0 ? lf_malloc(sizeof(double) * (size_t)(n_val * K)) : NULL;
    int64_t *pred = n_val > 0 ? lf_malloc(sizeof(int64_t) * (size_t)n_val) : NULL;
    int *order = lf_malloc(sizeof(int) * (size_t)n_c);
    if (!Xs || !Z || !w || !best || !order || (n_val > 0 && (!Vs || !Pv || !pred))) {
        s = lf_error(LF_ERR_NOMEM, "logreg: %lld x %lld training rows", (long long)n_train, (long long)d);
        goto done;
    }
    if (o.mean && o.scale) {
        for (int64_t j = 0; j < d; j++)
            if (!isfinite(o.mean[j]) || !(o.scale[j] > 0) || !isfinite(o.scale[j])) {
                s = lf_error(LF_ERR_ARG, "logreg: given standardisation of feature %lld is mean %g, scale %g",
                             (long long)j, o.mean[j], o.scale[j]);
                goto done;
            }
        memcpy(m->mean, o.mean, sizeof(double) * (size_t)d);
        memcpy(m->scale, o.scale, sizeof(double) * (size_t)d);
    } else {
        fit_scaler(m, X_train, n_train);
    }
    standardise(m, X_train, n_train, Xs);
    if (n_val > 0) standardise(m, X_val, n_val, Vs);
    memset(m->coef, 0, sizeof(double) * (size_t)(K * d));
    memset(m->intercept, 0, sizeof(double) * (size_t)K);
    /* ascending C: each fit starts from the previous (more regularised) solution */
    for (int i = 0; i < n_c; i++) order[i] = i;
    for (int i = 1; i < n_c; i++)
        for (int j = i; j > 0 && c_grid[order[j]] < c_grid[order[j - 1]]; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    problem p = {Xs, y_train, n_train, d, K, 1.0, Z};
    double best_bacc = -1, best_ll = HUGE_VAL, best_c = 0;
    int best_iter = 0, best_conv = 0;
    for (int oi = 0; oi < n_c; oi++) {
        double C = c_grid[order[oi]];
        if ((s = fit_problem(m, &p, C, &o, w))) goto done;
        double bacc = 0, ll = 0;
        if (n_val > 0) {
            predict_std(m, Vs, n_val, Pv);
            argmax_rows(Pv, n_val, K, pred);
            bacc = lf_balanced_accuracy(y_val, pred, n_val, K);
            for (int64_t i = 0; i < n_val; i++) ll -= log(fmax(Pv[i * K + y_val[i]], 1e-300));
            ll /= (double)n_val;
        }
        if (val_bacc) val_bacc[order[oi]] = bacc;
        /* strict improvements only, so on a full tie the smaller C (seen first) stays */
        if (oi == 0 || bacc > best_bacc || (bacc == best_bacc && ll < best_ll)) {
            best_bacc = bacc; best_ll = ll; best_c = C;
            best_iter = m->n_iter; best_conv = m->converged;
            memcpy(best, m->coef, sizeof(double) * (size_t)(K * d));
            memcpy(best + K * d, m->intercept, sizeof(double) * (size_t)K);
        }
    }
    memcpy(m->coef, best, sizeof(double) * (size_t)(K * d));
    memcpy(m->intercept, best + K * d, sizeof(double) * (size_t)K);
    m->C = best_c;
    m->n_iter = best_iter;
    m->converged = best_conv;
done:
    lf_free(Xs); lf_free(Z); lf_free(w); lf_free(best); lf_free(Vs); lf_free(Pv);
    lf_free(pred); lf_free(order);
    if (s) lf_logreg_free(m);
    else *out = m;
    return s;
}

lf_status lf_logreg_fit(lf_logreg **out, const float *X, const int64_t *y, int64_t n, int64_t d,
                        int64_t n_classes, const lf_logreg_opts *opts)
{
    lf_logreg_opts o = opts ? *opts : lf_logreg_opts_default();
    return lf_logreg_fit_select(out, X, y, n, NULL, NULL, 0, d, n_classes, &o.C, 1, &o, NULL);
}
