/* LARS as solo-learn's implementation (solo/utils/lars.py, itself from Lightning Bolts),
 * with clip_lars_lr off and the exclusion driven by LF_TENSOR_NO_DECAY instead of ndim == 1:
 *   adapted tensor, ||w|| > 0, ||g|| > 0:  d = eta*||w|| / (||g|| + wd*||w|| + eps) * (g + wd*w)
 *   otherwise:                             d = g   (no weight decay, no adaptation)
 *   b = mu*b + d;  d = nesterov ? d + mu*b : b;  w -= lr*d
 * The norms are of the raw gradient (the original LARS paper's eq. 6), accumulated in double. */
#include "optim_internal.h"

#include <math.h>

static double norm2(const lf_real *x, int64_t n)
{
    double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return sqrt(s);
}

void lf_lars_update(const lf_optim *o, lf_tensor *t, lf_real *buf, bool adapt)
{
    const int64_t n = lf_numel(t);
    const double wd = o->cfg.weight_decay;
    lf_real *w = t->data;
    const lf_real *g = t->grad;
    lf_real scale = 1, w_d = 0;
    if (adapt) {
        double wn = norm2(w, n), gn = norm2(g, n);
        if (wn > 0 && gn > 0) {
            scale = (lf_real)(o->cfg.eta * wn / (gn + wn * wd + o->cfg.eps));
            w_d = (lf_real)wd;
        }
    }
    const lf_real lr = (lf_real)o->cfg.lr, mu = (lf_real)o->cfg.momentum;
    const bool nesterov = o->cfg.nesterov != 0;
#pragma omp parallel for if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        lf_real d = scale * (g[i] + w_d * w[i]);
        if (buf) {
            buf[i] = mu * buf[i] + d;
            d = nesterov ? d + mu * buf[i] : buf[i];
        }
        w[i] -= lr * d;
    }
}
