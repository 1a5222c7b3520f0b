/* AdamW (decoupled weight decay), as torch.optim.AdamW with amsgrad off: the decay
 * multiplies the weights before the Adam step, and the bias corrections are applied to the
 * step size and to sqrt(v) separately (so eps is added after the correction, as torch). */
#include "optim_internal.h"

#include <math.h>

#ifdef LF_DOUBLE
#define REAL_SQRT sqrt
#else
#define REAL_SQRT sqrtf /* float sqrt vectorises; torch also takes it in float32 */
#endif

void lf_adamw_update(const lf_optim *o, lf_tensor *t, lf_real *m, lf_real *v, double wd)
{
    const int64_t n = lf_numel(t);
    const double lr = o->cfg.lr, b1 = o->cfg.beta1, b2 = o->cfg.beta2;
    const double bc1 = 1.0 - pow(b1, (double)o->t), bc2 = 1.0 - pow(b2, (double)o->t);
    const lf_real decay = (lf_real)(1.0 - lr * wd);
    const lf_real step = (lf_real)(lr / bc1), inv_sqrt_bc2 = (lf_real)(1.0 / sqrt(bc2));
    const lf_real eps = (lf_real)o->cfg.eps, c1 = (lf_real)(1.0 - b1), c2 = (lf_real)(1.0 - b2);
    const lf_real rb2 = (lf_real)b2;
    lf_real *w = t->data;
    const lf_real *g = t->grad;
#pragma omp parallel for if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        w[i] *= decay;
        m[i] += c1 * (g[i] - m[i]); /* torch's lerp form of b1*m + (1-b1)*g */
        v[i] = rb2 * v[i] + c2 * g[i] * g[i];
        lf_real denom = REAL_SQRT(v[i]) * inv_sqrt_bc2 + eps;
        w[i] -= step * m[i] / denom;
    }
}
