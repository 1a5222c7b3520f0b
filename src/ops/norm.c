/* Normalisation: batch norm over (N, C, ...) and layer norm over the last dim.
 * Forward saves the per-channel (or per-row) mean and rstd = 1/sqrt(var + eps) in the arena;
 * backward sits right below each forward.
 *
 * Dimension letters: N batch, C channels, S = product of the spatial dims (1 for (N, C)),
 * R rows (all dims but the last), E the normalised (last) dim. */
#include "../core/internal.h"

#include <math.h>
#include <string.h>

/* Below this many elements the OpenMP start-up costs more than it saves. Each channel (row)
 * is reduced by one thread in a fixed order, so results never depend on the thread count. */
#define NORM_PAR_MIN 32768

/* ================================================================ batch norm */

typedef struct bn_saved {
    lf_real *mean;  /* (C) the statistics actually used: batch or running */
    lf_real *rstd;  /* (C) */
    int64_t N, C, S;
    bool batch_stats; /* true: mean/rstd depend on x (training path) */
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

/* x (N, C, S) -> y; mean/rstd (C) given (eval) or computed here (batch stats). */
static void bn_forward_kernel(const lf_real *x, lf_real *y, const lf_real *w, const lf_real *b,
                              lf_real *mean, lf_real *rstd, double *var_out, int64_t N,
                              int64_t C, int64_t S, bool batch_stats, double eps)
{
    int64_t M = N * S;
#pragma omp parallel for schedule(static) if (N * C * S >= NORM_PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        if (batch_stats) {
            /* two passes in double: exact enough for float inputs with a large mean */
            double s = 0;
            for (int64_t n = 0; n < N; n++) {
                const lf_real *xp = x + (n * C + c) * S;
                for (int64_t i = 0; i < S; i++) s += xp[i];
            }
            double m = s / (double)M, v = 0;
            for (int64_t n = 0; n < N; n++) {
                const lf_real *xp = x + (n * C + c) * S;
                for (int64_t i = 0; i < S; i++) {
                    double d = xp[i] - m;
                    v += d * d;
                }
            }
            v /= (double)M; /* biased: what normalisation uses */
            var_out[c] = v;
            mean[c] = (lf_real)m;
            rstd[c] = (lf_real)(1.0 / sqrt(v + eps));
        }
        /* y = (x - mean) * rstd * w + b  ==  x * a + k */
        lf_real a = rstd[c] * (w ? w[c] : 1);
        lf_real k = (b ? b[c] : 0) - mean[c] * a;
        for (int64_t n = 0; n < N; n++) {
            const lf_real *xp = x + (n * C + c) * S;
            lf_real *yp = y + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * a + k;
        }
    }
}

/* Batch statistics: with xhat = (x - mean) rstd and g = dy * w,
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))      (means over N and S)
 * Running statistics (eval): mean and rstd are constants, so dx = dy * w * rstd. */
static lf_status batch_norm_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    bn_saved *s = n->saved;
    lf_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const lf_real *dy = n->out->grad;
    int64_t N = s->N, C = s->C, S = s->S, M = N * S;
    bool gx = lf_needs_grad(x), gw = lf_needs_grad(w), gb = lf_needs_grad(b);
#pragma omp parallel for schedule(static) if (N * C * S >= NORM_PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        double mean = s->mean[c], rstd = s->rstd[c];
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int64_t nn = 0; nn < N; nn++) {
            const lf_real *xp = x->data + (nn * C + c) * S, *dp = dy + (nn * C + c) * S;
            for (int64_t i = 0; i < S; i++) {
                sum_dy += dp[i];
                sum_dy_xhat += dp[i] * ((xp[i] - mean) * rstd);
            }
        }
        if (gw) w->grad[c] += (lf_real)sum_dy_xhat;
        if (gb) b->grad[c] += (lf_real)sum_dy;
        if (!gx) continue;
        double wc = w ? w->data[c] : 1;
        /* mean(g) and mean(g xhat) */
        double mg = s->batch_stats ? wc * sum_dy / (double)M : 0;
        double mgx = s->batch_stats ? wc * sum_dy_xhat / (double)M : 0;
        for (int64_t nn = 0; nn < N; nn++) {
            const lf_real *xp = x->data + (nn * C + c) * S, *dp = dy + (nn * C + c) * S;
            lf_real *gp = x->grad + (nn * C + c) * S;
            for (int64_t i = 0; i < S; i++) {
                double xhat = (xp[i] - mean) * rstd;
                gp[i] += (lf_real)(rstd * (wc * dp[i] - mg - xhat * mgx));
            }
        }
    }
    return LF_OK;
}

lf_tensor *lf_batch_norm(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                         lf_tensor *running_mean, lf_tensor *running_var, double momentum,
                         double eps)
{
    if (!x) return NULL;
    char sx[96];
    if (x->ndim < 2) {
        lf_error(LF_ERR_SHAPE, "batch_norm: input %s must be (N, C) or (N, C, ...)",
                 lf_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    if (!running_mean != !running_var) {
        lf_error(LF_ERR_ARG, "batch_norm: running_mean and running_var must both be given or "
                             "both be NULL");
        return NULL;
    }
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
        lf_error(LF_ERR_ARG, "batch_norm: eps %g must be > 0 and momentum %g in [0, 1]", eps,
                 momentum);
        return NULL;
    }
    int64_t N = x->shape[0], C = x->shape[1], S = 1;
    for (int i = 2; i < x->ndim; i++) S *= x->shape[i];
    if (check_channel_vec(weight, C, "weight") || check_channel_vec(bias, C, "bias") ||
        check_channel_vec(running_mean, C, "running_mean") ||
        check_channel_vec(running_var, C, "running_var"))
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
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x, weight, bias));
    bn_saved *s = lf_graph_alloc(g, sizeof *s);
    lf_real *mean = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    lf_real *rstd = lf_graph_alloc(g, (size_t)C * sizeof(lf_real));
    double *var = lf_graph_alloc(g, (size_t)C * sizeof(double));
    if (!y || !s || !mean || !rstd || !var) return NULL;
    if (!batch_stats)
        for (int64_t c = 0; c < C; c++) {
            mean[c] = running_mean->data[c];
            rstd[c] = (lf_real)(1.0 / sqrt((double)running_var->data[c] + eps));
        }
    bn_forward_kernel(x->data, y->data, weight ? weight->data : NULL, bias ? bias->data : NULL,
                      mean, rstd, var, N, C, S, batch_stats, eps);
    /* torch's rule: r = (1 - momentum) r + momentum * batch_stat, with the unbiased variance */
    if (batch_stats && running_mean) {
        double M = (double)(N * S), unbias = M / (M - 1);
        for (int64_t c = 0; c < C; c++) {
            running_mean->data[c] =
                (lf_real)((1 - momentum) * running_mean->data[c] + momentum * mean[c]);
            running_var->data[c] =
                (lf_real)((1 - momentum) * running_var->data[c] + momentum * var[c] * unbias);
        }
    }
    lf_node *n = lf_record(g, "batch_norm", batch_norm_backward, y, LF_IN(x, weight, bias));
    if (n) {
        s->mean = mean;
        s->rstd = rstd;
        s->N = N;
        s->C = C;
        s->S = S;
        s->batch_stats = batch_stats;
        n->saved = s;
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
#pragma omp parallel for schedule(static) if (R * E >= NORM_PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const lf_real *xr = x + r * E;
        lf_real *yr = y + r * E;
        double s = 0, v = 0;
        for (int64_t i = 0; i < E; i++) s += xr[i];
        double m = s / (double)E;
        for (int64_t i = 0; i < E; i++) {
            double d = xr[i] - m;
            v += d * d;
        }
        double rs = 1.0 / sqrt(v / (double)E + eps);
        mean[r] = (lf_real)m;
        rstd[r] = (lf_real)rs;
        for (int64_t i = 0; i < E; i++) {
            lf_real xhat = (lf_real)((xr[i] - m) * rs);
            yr[i] = xhat * (w ? w[i] : 1) + (b ? b[i] : 0);
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
#pragma omp parallel for schedule(static) if (R * E >= NORM_PAR_MIN)
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
