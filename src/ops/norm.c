/* Normalisation: batch norm over (N, C, ...) and layer norm over the last dim.
 * Forward saves the per-channel (or per-row) mean and rstd = 1/sqrt(var + eps) in the arena;
 * backward sits right below each forward.
 *
 * Dimension letters: N batch, C channels, S = product of the spatial dims (1 for (N, C)),
 * R rows (all dims but the last), E the normalised (last) dim. */
#include "../core/internal.h"

#include <math.h>
#include <string.h>

/* Each channel (row) is reduced by one thread in a fixed order, so results never depend on
 * the thread count (loops go parallel above LF_PAR_MIN elements). */

/* ================================================================ batch norm */

typedef struct bn_saved {
    lf_real *mean;  /* (C) the statistics actually used: batch or running */
    lf_real *rstd;  /* (C) */
    int64_t N, C, S;
    bool batch_stats; /* true: mean/rstd depend on x (training path) */
    bool relu;        /* fused: y = relu(bn(x) [+ res]) */
} bn_saved;

static lf_status check_channel_vec(const lf_tensor *t, int64_t C, const char *what)
{
    if (!t) return LF_OK;
    if (t->ndim != 1 || t->shape[0] != C || !lf_is_contiguous(t)) {
        char b[96];
        return lf_error(LF_ERR_SHAPE, "batch_norm: %s has shape %s, expected (%lld)", what,
                        lf_shape_str(t, b, sizeof b), (long long)C);
    }
    return LF_OK;
}

/* Sums over one contiguous segment with BN_LANES independent accumulators, which the
 * compiler keeps in vector registers: with 4 (scalar chains of double adds) the statistics
 * and the gradient sums took 10-14 % of a 64x64 training step (NOTES 40). The order is
 * fixed, so the result does not depend on threads (or on the build's vector width). */
#define BN_LANES 16

static double lanes_total(const double *acc)
{
    double s = 0;
    for (int j = 0; j < BN_LANES; j++) s += acc[j];
    return s;
}

static void seg_sum(const lf_real *restrict x, int64_t n, double *restrict acc)
{
    int64_t i = 0;
    for (; i + BN_LANES <= n; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) acc[j] += x[i + j];
    for (int j = 0; i < n; i++, j++) acc[j] += x[i];
}

static void seg_sqdev(const lf_real *restrict x, int64_t n, double m, double *restrict acc)
{
    int64_t i = 0;
    for (; i + BN_LANES <= n; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) {
            const double d = x[i + j] - m;
            acc[j] += d * d;
        }
    for (int j = 0; i < n; i++, j++) acc[j] += (x[i] - m) * (x[i] - m);
}

/* a += dy, b += dy * (x - m)   (the second times rstd is sum dy * xhat) */
static void seg_dy_dyx(const lf_real *restrict dy, const lf_real *restrict x, int64_t n, double m,
                       double *restrict a, double *restrict b)
{
    int64_t i = 0;
    for (; i + BN_LANES <= n; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) {
            a[j] += dy[i + j];
            b[j] += dy[i + j] * (x[i + j] - m);
        }
    for (int j = 0; i < n; i++, j++) {
        a[j] += dy[i];
        b[j] += dy[i] * (x[i] - m);
    }
}

/* Channel statistics over N and S: two passes in double (exact enough for float inputs with
 * a large mean; a one pass of moments shifted by the channel's first value read the
 * activations once but took 12 % longer here, NOTES 40). (N, C) input (S = 1) goes through
 * blocks of channels instead, so that each thread reads whole row segments rather than one
 * strided value per row. */
#define BN_CBLK 64

static void bn_stats(const lf_real *x, int64_t N, int64_t C, int64_t S, double *mean,
                     double *var)
{
    int64_t M = N * S;
    if (S == 1) {
#pragma omp parallel for schedule(static) if (N * C >= LF_PAR_MIN)
        for (int64_t c0 = 0; c0 < C; c0 += BN_CBLK) {
            int64_t nc = C - c0 < BN_CBLK ? C - c0 : BN_CBLK;
            double sm[BN_CBLK] = {0}, sv[BN_CBLK] = {0};
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < nc; j++) sm[j] += x[n * C + c0 + j];
            for (int64_t j = 0; j < nc; j++) sm[j] /= (double)M;
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < nc; j++) {
                    double d = x[n * C + c0 + j] - sm[j];
                    sv[j] += d * d;
                }
            for (int64_t j = 0; j < nc; j++) {
                mean[c0 + j] = sm[j];
                var[c0 + j] = sv[j] / (double)M;
            }
        }
        return;
    }
#pragma omp parallel for schedule(static) if (N * C * S >= LF_PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        double acc[BN_LANES] = {0}, acv[BN_LANES] = {0};
        for (int64_t n = 0; n < N; n++) seg_sum(x + (n * C + c) * S, S, acc);
        const double m = lanes_total(acc) / (double)M;
        for (int64_t n = 0; n < N; n++) seg_sqdev(x + (n * C + c) * S, S, m, acv);
        mean[c] = m;
        var[c] = lanes_total(acv) / (double)M; /* biased */
    }
}

/* y = (x - mean[c]) * a[c] + k[c] over (N, C, S), with a = rstd w and k = b; then
 * + res (if not NULL) and max(., 0) (if relu): the fused tail of a ResNet block. */
static void bn_apply(const lf_real *x, lf_real *y, const lf_real *mean, const lf_real *a,
                     const lf_real *k, const lf_real *res, bool relu, int64_t N, int64_t C,
                     int64_t S)
{
#pragma omp parallel for schedule(static) if (N * C * S >= LF_PAR_MIN)
    for (int64_t r = 0; r < N * C; r++) {
        lf_real mr = mean[r % C], ar = a[r % C], kr = k[r % C];
        const lf_real *xp = x + r * S;
        lf_real *yp = y + r * S;
        if (!res && !relu) {
            for (int64_t i = 0; i < S; i++) yp[i] = (xp[i] - mr) * ar + kr;
        } else if (!res) {
            for (int64_t i = 0; i < S; i++) {
                lf_real v = (xp[i] - mr) * ar + kr;
                yp[i] = v > 0 ? v : 0;
            }
        } else {
            const lf_real *rp = res + r * S;
            for (int64_t i = 0; i < S; i++) {
                lf_real v = (xp[i] - mr) * ar + kr + rp[i];
                yp[i] = relu ? (v > 0 ? v : 0) : v;
            }
        }
    }
}

/* Per channel sums of dy and dy * (x - mean) over N and S. */
static void bn_grad_sums(const lf_real *dy, const lf_real *x, const lf_real *mean, int64_t N,
                         int64_t C, int64_t S, double *sum_dy, double *sum_dyx)
{
    if (S == 1) {
#pragma omp parallel for schedule(static) if (N * C >= LF_PAR_MIN)
        for (int64_t c0 = 0; c0 < C; c0 += BN_CBLK) {
            int64_t nc = C - c0 < BN_CBLK ? C - c0 : BN_CBLK;
            double a[BN_CBLK] = {0}, b[BN_CBLK] = {0};
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < nc; j++) {
                    lf_real d = dy[n * C + c0 + j];
                    a[j] += d;
                    b[j] += d * ((double)x[n * C + c0 + j] - mean[c0 + j]);
                }
            for (int64_t j = 0; j < nc; j++) {
                sum_dy[c0 + j] = a[j];
                sum_dyx[c0 + j] = b[j];
            }
        }
        return;
    }
#pragma omp parallel for schedule(static) if (N * C * S >= LF_PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        double a[BN_LANES] = {0}, b[BN_LANES] = {0};
        for (int64_t n = 0; n < N; n++)
            seg_dy_dyx(dy + (n * C + c) * S, x + (n * C + c) * S, S, mean[c], a, b);
        sum_dy[c] = lanes_total(a);
        sum_dyx[c] = lanes_total(b);
    }
}

/* Batch statistics: with xhat = (x - mean) rstd and g = dy * w,
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))      (means over N and S)
 *      = dy * ca + (x - mean) * cb + cc  with per-channel constants
 *   ca = rstd w,  cb = -rstd^3 w sum(dy (x - mean)) / M,  cc = -rstd w sum(dy) / M.
 * Running statistics (eval): mean and rstd are constants, so dx = dy * w * rstd. */
static lf_status batch_norm_backward(lf_graph *g, lf_node *n)
{
    bn_saved *s = n->saved;
    lf_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *res = n->in[3];
    /* the tape may have handed out's gradient to x (n->grad_taken): dx is then computed in
     * place over it, after the reductions */
    lf_real *gy = n->grad_taken ? x->grad : n->out->grad;
    const lf_real *dy = gy;
    if (s->relu) { /* fused relu: the gradient passes where the output is positive */
        int64_t m = lf_numel(n->out);
        /* masked in place when the buffer is dead after this node, else in scratch */
        lf_real *d = n->grad_writable ? gy : lf_graph_scratch(g, 0, (size_t)m * sizeof(lf_real));
        if (!d) return LF_ERR_NOMEM;
        const lf_real *Y = n->out->data;
#pragma omp parallel for schedule(static) if (m >= LF_PAR_MIN)
        for (int64_t i = 0; i < m; i++) d[i] = Y[i] > 0 ? gy[i] : 0;
        dy = d;
    }
    if (lf_needs_grad(res)) { /* fused residual add: its gradient is dy itself */
        int64_t m = lf_numel(n->out);
        lf_real *gr = res->grad;
#pragma omp parallel for schedule(static) if (m >= LF_PAR_MIN)
        for (int64_t i = 0; i < m; i++) gr[i] += dy[i];
    }
    int64_t N = s->N, C = s->C, S = s->S;
    double M = (double)(N * S);
    double *sum_dy = lf_graph_alloc(g, (size_t)C * sizeof(double));
    double *sum_dyx = lf_graph_alloc(g, (size_t)C * sizeof(double));
    lf_real *ca = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    lf_real *cb = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    lf_real *cc = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    if (!sum_dy || !sum_dyx || !ca || !cb || !cc) return LF_ERR_NOMEM;
    bn_grad_sums(dy, x->data, s->mean, N, C, S, sum_dy, sum_dyx);
    for (int64_t c = 0; c < C; c++) {
        double rstd = s->rstd[c], wc = w ? w->data[c] : 1;
        if (lf_needs_grad(w)) w->grad[c] += (lf_real)(sum_dyx[c] * rstd);
        if (lf_needs_grad(b)) b->grad[c] += (lf_real)sum_dy[c];
        ca[c] = (lf_real)(rstd * wc);
        cb[c] = s->batch_stats ? (lf_real)(-rstd * rstd * rstd * wc * sum_dyx[c] / M) : 0;
        cc[c] = s->batch_stats ? (lf_real)(-rstd * wc * sum_dy[c] / M) : 0;
    }
    if (!lf_needs_grad(x)) return LF_OK;
    lf_real *gx = x->grad;
    const lf_real *xd = x->data;
    const bool over = n->grad_taken; /* gx is dy's buffer: write, not add */
#pragma omp parallel for schedule(static) if (N * C * S >= LF_PAR_MIN)
    for (int64_t r = 0; r < N * C; r++) {
        int64_t c = r % C;
        lf_real a = ca[c], bb = cb[c], k = cc[c], m = s->mean[c];
        if (over)
            for (int64_t i = r * S; i < (r + 1) * S; i++) gx[i] = dy[i] * a + (xd[i] - m) * bb + k;
        else
            for (int64_t i = r * S; i < (r + 1) * S; i++) gx[i] += dy[i] * a + (xd[i] - m) * bb + k;
    }
    return LF_OK;
}

static lf_tensor *bn_impl(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                          lf_tensor *running_mean, lf_tensor *running_var, double momentum,
                          double eps, lf_tensor *res, bool relu);

/* The per-channel constants of y = (x - mean) a + k from the statistics used: the batch's
 * (dmean, dvar, float64) or, when dmean is NULL, the running ones (rmean, rvar) */
static void bn_constants(const double *dmean, const double *dvar, const lf_real *rmean,
                         const lf_real *rvar, const lf_tensor *weight, const lf_tensor *bias,
                         double eps, int64_t C, lf_real *mean, lf_real *rstd, lf_real *a,
                         lf_real *k)
{
    for (int64_t c = 0; c < C; c++) {
        const double m = dmean ? dmean[c] : (double)rmean[c];
        const double v = dmean ? dvar[c] : (double)rvar[c];
        double rs = 1.0 / sqrt(v + eps); /* biased batch variance, or the running one */
        mean[c] = (lf_real)m;
        if (rstd) rstd[c] = (lf_real)rs;
        a[c] = (lf_real)(rs * (weight ? weight->data[c] : 1));
        k[c] = bias ? bias->data[c] : 0;
    }
}

/* The checks of batch norm's parameters for C channels (the input's are the caller's) */
static lf_status bn_check_params(const lf_tensor *weight, const lf_tensor *bias,
                                 const lf_tensor *running_mean, const lf_tensor *running_var,
                                 double momentum, double eps, int64_t C)
{
    lf_status s;
    if (!running_mean != !running_var)
        return lf_error(LF_ERR_ARG, "batch_norm: running_mean and running_var must both be "
                                    "given or both be NULL");
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return lf_error(LF_ERR_ARG, "batch_norm: eps %g must be > 0 and momentum %g in [0, 1]",
                        eps, momentum);
    if ((s = check_channel_vec(weight, C, "weight")) || (s = check_channel_vec(bias, C, "bias")) ||
        (s = check_channel_vec(running_mean, C, "running_mean")) ||
        (s = check_channel_vec(running_var, C, "running_var")))
        return s;
    return LF_OK;
}

lf_status lf_bn_eval_constants(const lf_tensor *weight, const lf_tensor *bias,
                               const lf_tensor *running_mean, const lf_tensor *running_var,
                               double momentum, double eps, int64_t C, lf_real *mean,
                               lf_real *a, lf_real *k)
{
    lf_status s = bn_check_params(weight, bias, running_mean, running_var, momentum, eps, C);
    if (s != LF_OK) return s;
    if (!running_mean)
        return lf_error(LF_ERR_ARG, "batch_norm: eval mode needs running_mean and running_var");
    bn_constants(NULL, NULL, running_mean->data, running_var->data, weight, bias, eps, C, mean,
                 NULL, a, k);
    return LF_OK;
}

lf_tensor *lf_batch_norm(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                         lf_tensor *running_mean, lf_tensor *running_var, double momentum,
                         double eps)
{
    return bn_impl(g, x, weight, bias, running_mean, running_var, momentum, eps, NULL, false);
}

/* relu(batch_norm(x) + res) in one pass and one output tensor (res may be NULL; relu may be
 * off). Same values, bit for bit, as the three separate ops, with two fewer activations kept
 * for backward and two fewer passes over memory. */
lf_tensor *lf_batch_norm_add_relu(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                                  lf_tensor *running_mean, lf_tensor *running_var,
                                  double momentum, double eps, lf_tensor *res, int relu)
{
    if (!x) return NULL;
    if (res) {
        if (!lf_same_shape(res, x)) {
            char sx[96], sr[96];
            lf_error(LF_ERR_SHAPE, "batch_norm_add_relu: residual %s does not match input %s",
                     lf_shape_str(res, sr, sizeof sr), lf_shape_str(x, sx, sizeof sx));
            return NULL;
        }
        res = lf_contiguous(g, res);
        if (!res) return NULL;
    }
    return bn_impl(g, x, weight, bias, running_mean, running_var, momentum, eps, res, relu != 0);
}

static lf_tensor *bn_impl(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                          lf_tensor *running_mean, lf_tensor *running_var, double momentum,
                          double eps, lf_tensor *res, bool relu)
{
    if (!x) return NULL;
    char sx[96];
    if (x->ndim < 2) {
        lf_error(LF_ERR_SHAPE, "batch_norm: input %s must be (N, C) or (N, C, ...)",
                 lf_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    int64_t N = x->shape[0], C = x->shape[1], S = 1;
    for (int i = 2; i < x->ndim; i++) S *= x->shape[i];
    if (bn_check_params(weight, bias, running_mean, running_var, momentum, eps, C) != LF_OK)
        return NULL;
    /* torch: batch statistics in training, and always without running statistics */
    bool batch_stats = g->training || !running_mean;
    if (batch_stats && N * S < 2) {
        lf_error(LF_ERR_SHAPE, "batch_norm: expected more than 1 value per channel when "
                               "using batch statistics, got input %s",
                 lf_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x, weight, bias, res));
    bn_saved *s = lf_graph_alloc(g, sizeof *s);
    lf_real *mean = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    lf_real *rstd = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    lf_real *ca = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    lf_real *cb = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    double *dmean = lf_graph_alloc(g, (size_t)C * sizeof(double));
    double *dvar = lf_graph_alloc(g, (size_t)C * sizeof(double));
    if (!y || !s || !mean || !rstd || !ca || !cb || !dmean || !dvar) return NULL;
    if (batch_stats) {
        bn_stats(x->data, N, C, S, dmean, dvar);
        bn_constants(dmean, dvar, NULL, NULL, weight, bias, eps, C, mean, rstd, ca, cb);
    } else {
        bn_constants(NULL, NULL, running_mean->data, running_var->data, weight, bias, eps, C,
                     mean, rstd, ca, cb);
    }
    bn_apply(x->data, y->data, mean, ca, cb, res ? res->data : NULL, relu, N, C, S);
    /* torch's rule: r = (1 - momentum) r + momentum * batch_stat, with the unbiased variance;
     * once per step: not again when a recomputed segment runs this forward a second time */
    if (batch_stats && running_mean && !lf_graph_recomputing(g)) {
        double M = (double)(N * S), unbias = M / (M - 1);
        for (int64_t c = 0; c < C; c++) {
            running_mean->data[c] =
                (lf_real)((1 - momentum) * running_mean->data[c] + momentum * dmean[c]);
            running_var->data[c] =
                (lf_real)((1 - momentum) * running_var->data[c] + momentum * dvar[c] * unbias);
        }
    }
    lf_node *n = lf_record(g, res || relu ? "batch_norm_add_relu" : "batch_norm",
                           batch_norm_backward, y, LF_IN(x, weight, bias, res));
    if (n) {
        s->mean = mean;
        s->rstd = rstd;
        s->N = N;
        s->C = C;
        s->S = S;
        s->batch_stats = batch_stats;
        s->relu = relu;
        n->saved = s;
        n->grad_in_place = true;
    }
    return y;
}

/* ================================================================ layer norm */

typedef struct ln_saved {
    lf_real *mean, *rstd; /* (R) */
    int64_t R, E;
} ln_saved;

/* x (R, E) -> y (R, E); saves mean, rstd (R) */
static void layernorm_forward(const lf_real *x, lf_real *y, const lf_real *w, const lf_real *b,
                              lf_real *mean, lf_real *rstd, int64_t R, int64_t E, double eps)
{
#pragma omp parallel for schedule(static) if (R * E >= LF_PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const lf_real *xr = x + r * E;
        lf_real *yr = y + r * E;
        /* sums in lf_real, vectorised: two passes (mean, then squared deviations) keep
         * float accurate for rows of thousands of values */
        lf_real s = 0, v = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < E; i++) s += xr[i];
        const lf_real m = s / (lf_real)E;
#pragma omp simd reduction(+ : v)
        for (int64_t i = 0; i < E; i++) v += (xr[i] - m) * (xr[i] - m);
        const lf_real rs = (lf_real)(1.0 / sqrt((double)v / (double)E + eps));
        mean[r] = m;
        rstd[r] = rs;
        if (w && b) {
#pragma omp simd
            for (int64_t i = 0; i < E; i++) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
        } else {
            for (int64_t i = 0; i < E; i++)
                yr[i] = (xr[i] - m) * rs * (w ? w[i] : 1) + (b ? b[i] : 0);
        }
    }
}

/* Per row, with xhat = (x - mean) rstd and g = dy * w:
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dw += dy * xhat,  db += dy. */
static lf_status layernorm_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    ln_saved *s = n->saved;
    lf_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const lf_real *dy = n->out->grad;
    int64_t R = s->R, E = s->E;
    if (lf_needs_grad(x)) {
#pragma omp parallel for schedule(static) if (R * E >= LF_PAR_MIN)
        for (int64_t r = 0; r < R; r++) {
            const lf_real *xr = x->data + r * E, *dr = dy + r * E;
            lf_real *gr = x->grad + r * E;
            double m = s->mean[r], rs = s->rstd[r], sg = 0, sgx = 0;
            for (int64_t i = 0; i < E; i++) {
                double gi = dr[i] * (w ? w->data[i] : 1);
                sg += gi;
                sgx += gi * (xr[i] - m) * rs;
            }
            sg /= (double)E;
            sgx /= (double)E;
            for (int64_t i = 0; i < E; i++) {
                double gi = dr[i] * (w ? w->data[i] : 1), xhat = (xr[i] - m) * rs;
                gr[i] += (lf_real)(rs * (gi - sg - xhat * sgx));
            }
        }
    }
    /* parameter grads: rows in a fixed order (deterministic), vectorised over E */
    bool gw = lf_needs_grad(w), gb = lf_needs_grad(b);
    if (gw || gb)
        for (int64_t r = 0; r < R; r++) {
            const lf_real *xr = x->data + r * E, *dr = dy + r * E;
            lf_real m = s->mean[r], rs = s->rstd[r];
            if (gw)
                for (int64_t i = 0; i < E; i++) w->grad[i] += dr[i] * ((xr[i] - m) * rs);
            if (gb)
                for (int64_t i = 0; i < E; i++) b->grad[i] += dr[i];
        }
    return LF_OK;
}

lf_tensor *lf_layer_norm(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                         double eps)
{
    if (!x) return NULL;
    char sx[96], sp[96];
    if (x->ndim < 1) {
        lf_error(LF_ERR_SHAPE, "layer_norm: scalar input");
        return NULL;
    }
    if (!(eps > 0)) {
        lf_error(LF_ERR_ARG, "layer_norm: eps %g must be > 0", eps);
        return NULL;
    }
    int64_t E = x->shape[x->ndim - 1], R = E ? lf_numel(x) / E : 0;
    lf_tensor *ps[2] = {weight, bias};
    for (int i = 0; i < 2; i++)
        if (ps[i] && (ps[i]->ndim != 1 || ps[i]->shape[0] != E || !lf_is_contiguous(ps[i]))) {
            lf_error(LF_ERR_SHAPE, "layer_norm: %s %s does not fit input %s (last dim %lld)",
                     i ? "bias" : "weight", lf_shape_str(ps[i], sp, sizeof sp),
                     lf_shape_str(x, sx, sizeof sx), (long long)E);
            return NULL;
        }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x, weight, bias));
    ln_saved *s = lf_graph_alloc(g, sizeof *s);
    lf_real *mean = lf_graph_alloc(g, (size_t)(R ? R : 1) * sizeof(lf_real));
    lf_real *rstd = lf_graph_alloc(g, (size_t)(R ? R : 1) * sizeof(lf_real));
    if (!y || !s || !mean || !rstd) return NULL;
    layernorm_forward(x->data, y->data, weight ? weight->data : NULL, bias ? bias->data : NULL,
                      mean, rstd, R, E, eps);
    lf_node *n = lf_record(g, "layer_norm", layernorm_backward, y, LF_IN(x, weight, bias));
    if (n) {
        s->mean = mean;
        s->rstd = rstd;
        s->R = R;
        s->E = E;
        n->saved = s;
    }
    return y;
}
