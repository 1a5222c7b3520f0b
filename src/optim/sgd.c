/* SGD with momentum (dampening 0), Nesterov and L2 weight decay, as torch.optim.SGD.
 * The buffer starts at zero, so the first step's b = 0*mu + d equals torch's clone(d). */
#include "optim_internal.h"

void lf_sgd_update(const lf_optim *o, lf_tensor *t, lf_real *buf, double wd)
{
    const int64_t n = lf_numel(t);
    const lf_real lr = (lf_real)o->cfg.lr, mu = (lf_real)o->cfg.momentum, w_d = (lf_real)wd;
    const bool nesterov = o->cfg.nesterov != 0;
    lf_real *w = t->data;
    const lf_real *g = t->grad;
#pragma omp parallel for if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        lf_real d = g[i] + w_d * w[i];
        if (buf) {
            buf[i] = mu * buf[i] + d;
            d = nesterov ? d + mu * buf[i] : buf[i];
        }
        w[i] -= lr * d;
    }
}
