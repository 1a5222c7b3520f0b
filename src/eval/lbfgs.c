/* L-BFGS with a strong-Wolfe line search (Nocedal & Wright, Numerical Optimization, 2nd ed.,
 * algorithms 7.4, 3.5 and 3.6), used by the logistic-regression probe. Double precision. */
#include "eval_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define C1 1e-4 /* sufficient decrease */
#define C2 0.9  /* curvature (the usual value for quasi-Newton methods) */
#define MAX_LS 25
/* Also stop when an accepted step lowers f by at most FTOL relative: progress is then below
 * the rounding of f and further line searches only burn evaluations (the same test as scipy's
 * L-BFGS-B with the ftol = 64 eps that newer scikit-learn passes). */
#define FTOL (64 * DBL_EPSILON)

typedef struct ls_state {
    int64_t n;
    const double *x, *d;
    double *xt, *gt; /* trial point and its gradient */
    lf_eval_fg fg;
    void *ctx;
    double f0, dg0, fslack;
} ls_state;

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* phi(a) = f(x + a d); writes the trial point and gradient, returns f, *dphi = g . d */
static double phi(ls_state *s, double a, double *dphi)
{
    for (int64_t i = 0; i < s->n; i++) s->xt[i] = s->x[i] + a * s->d[i];
    double f = s->fg(s->ctx, s->xt, s->gt);
    *dphi = dot(s->gt, s->d, s->n);
    return f;
}

/* Minimiser of the cubic through (a0, f0, d0) and (a1, f1, d1), kept inside the interval
 * away from its ends; bisection when the cubic has no usable minimum. */
static double interpolate(double a0, double f0, double d0, double a1, double f1, double d1)
{
    double lo = fmin(a0, a1), hi = fmax(a0, a1), w = hi - lo;
    double e1 = d0 + d1 - 3 * (f0 - f1) / (a0 - a1);
    double rad = e1 * e1 - d0 * d1;
    double a = 0.5 * (a0 + a1);
    if (rad >= 0) {
        double e2 = (a1 > a0 ? 1 : -1) * sqrt(rad);
        double den = d1 - d0 + 2 * e2;
        if (den != 0) a = a1 - (a1 - a0) * (d1 + e2 - e1) / den;
    }
    if (!isfinite(a) || a < lo + 0.1 * w || a > hi - 0.1 * w) a = 0.5 * (a0 + a1);
    return a;
}

/* Armijo test with a slack of a few ulps of f0: near the optimum the decrease c1 a g.d is
 * below the rounding of f, and the exact test would reject every step. */
static int armijo_fails(const ls_state *s, double a, double f)
{
    return f > s->f0 + C1 * a * s->dg0 + s->fslack;
}

/* Returns the accepted step (xt, gt, *f hold that point) or 0 on failure. */
static double zoom(ls_state *s, double lo, double flo, double dlo, double hi, double fhi,
                   double dhi, double *f)
{
    for (int it = 0; it < MAX_LS; it++) {
        double a = interpolate(lo, flo, dlo, hi, fhi, dhi), da;
        double fa = phi(s, a, &da);
        /* "fa >= flo" up to rounding: otherwise equal values at the rounding floor of f
         * would always shrink the bracket towards lo and the search would fail */
        if (!isfinite(fa) || armijo_fails(s, a, fa) || fa > flo + s->fslack) {
            hi = a; fhi = isfinite(fa) ? fa : HUGE_VAL; dhi = isfinite(da) ? da : 0;
        } else {
            if (fabs(da) <= -C2 * s->dg0) { *f = fa; return a; }
            if (da * (hi - lo) >= 0) { hi = lo; fhi = flo; dhi = dlo; }
            lo = a; flo = fa; dlo = da;
        }
        if (fabs(hi - lo) <= 1e-16 * fmax(1, fabs(lo))) break;
    }
    if (lo > 0 && flo < s->f0) { /* settle for the best point with sufficient decrease */
        double dd;
        *f = phi(s, lo, &dd);
        return lo;
    }
    return 0;
}

static double line_search(ls_state *s, double a, double *f)
{
    double a_prev = 0, f_prev = s->f0, d_prev = s->dg0;
    for (int it = 0; it < MAX_LS; it++) {
        double da, fa = phi(s, a, &da);
        if (!isfinite(fa) || armijo_fails(s, a, fa) || (it > 0 && fa > f_prev + s->fslack))
            return zoom(s, a_prev, f_prev, d_prev, a, isfinite(fa) ? fa : HUGE_VAL,
                        isfinite(da) ? da : 0, f);
        if (fabs(da) <= -C2 * s->dg0) { *f = fa; return a; }
        if (da >= 0) return zoom(s, a, fa, da, a_prev, f_prev, d_prev, f);
        a_prev = a; f_prev = fa; d_prev = da;
        a *= 2;
    }
    return 0;
}

lf_status lf_eval_lbfgs(int64_t n, double *x, lf_eval_fg fg, void *ctx, int m, int max_iter,
                        double gtol, lf_eval_lbfgs_info *info)
{
    if (n <= 0 || !x || !fg || m < 1) return lf_error(LF_ERR_ARG, "lbfgs: bad arguments (n=%lld, m=%d)", (long long)n, m);
    double *buf = lf_malloc(sizeof(double) * (size_t)(n * (4 + 2 * (int64_t)m) + 2 * m));
    if (!buf) return lf_error(LF_ERR_NOMEM, "lbfgs: %lld parameters", (long long)n);
    double *g = buf, *d = g + n, *xt = d + n, *gt = xt + n, *S = gt + n, *Y = S + n * m;
    double *rho = Y + n * m, *alpha = rho + m;
    int head = 0, len = 0; /* ring buffer of (s, y) pairs; newest at head - 1 */
    lf_eval_lbfgs_info inf = {0, 0, 0, 0};
    lf_status st = LF_OK;

    double f = fg(ctx, x, g);
    if (!isfinite(f)) { st = lf_error(LF_ERR_NUMERIC, "lbfgs: objective is %g at the start", f); goto done; }
    for (int iter = 0; iter < max_iter; iter++) {
        inf.gmax = max_abs(g, n);
        if (inf.gmax <= gtol) { inf.converged = 1; break; }
        /* two-loop recursion: d = -H g */
        memcpy(d, g, sizeof(double) * (size_t)n);
        for (int j = 0; j < len; j++) {
            int i = (head - 1 - j + m) % m;
            alpha[i] = rho[i] * dot(S + (int64_t)i * n, d, n);
            for (int64_t t = 0; t < n; t++) d[t] -= alpha[i] * Y[(int64_t)i * n + t];
        }
        double a0 = 1;
        if (len) {
            int i = (head - 1 + m) % m;
            const double *yi = Y + (int64_t)i * n;
            double gamma = 1 / (rho[i] * dot(yi, yi, n)); /* s.y / y.y */
            for (int64_t t = 0; t < n; t++) d[t] *= gamma;
        } else {
            a0 = 1 / sqrt(dot(g, g, n)); /* first step: unit length along -g */
        }
        for (int j = len - 1; j >= 0; j--) {
            int i = (head - 1 - j + m) % m;
            double beta = rho[i] * dot(Y + (int64_t)i * n, d, n);
            for (int64_t t = 0; t < n; t++) d[t] += S[(int64_t)i * n + t] * (alpha[i] - beta);
        }
        for (int64_t t = 0; t < n; t++) d[t] = -d[t];
        double dg = dot(d, g, n);
        if (!(dg < 0)) { /* not a descent direction: restart from steepest descent */
            for (int64_t t = 0; t < n; t++) d[t] = -g[t];
            dg = -dot(g, g, n);
            len = 0;
            a0 = 1 / sqrt(-dg);
        }
        ls_state ls = {n, x, d, xt, gt, fg, ctx, f, dg, 4 * DBL_EPSILON * fabs(f)};
        double fnew, a = line_search(&ls, a0, &fnew);
        if (a <= 0) {
            if (len == 0) break; /* no progress even along -g: at the rounding floor */
            len = 0;             /* drop the curvature memory and retry */
            iter--;
            continue;
        }
        /* s = a d, y = g_new - g */
        double *si = S + (int64_t)head * n, *yi = Y + (int64_t)head * n;
        for (int64_t t = 0; t < n; t++) {
            si[t] = a * d[t];
            yi[t] = gt[t] - g[t];
        }
        double sy = dot(si, yi, n);
        if (sy > 1e-12 * dot(yi, yi, n) && sy > 0) { /* keep only positive curvature pairs */
            rho[head] = 1 / sy;
            head = (head + 1) % m;
            if (len < m) len++;
        }
        memcpy(x, xt, sizeof(double) * (size_t)n);
        memcpy(g, gt, sizeof(double) * (size_t)n);
        double drop = f - fnew, scale = fmax(fmax(fabs(f), fabs(fnew)), 1);
        f = fnew;
        inf.n_iter = iter + 1;
        if (drop <= FTOL * scale) {
            inf.converged = 1;
            break;
        }
    }
    inf.gmax = max_abs(g, n);
    if (inf.gmax <= gtol) inf.converged = 1;
    inf.f = f;
done:
    if (info) *info = inf;
    lf_free(buf);
    return st;
}
