/* Gradient clipping by global 2-norm, as torch.nn.utils.clip_grad_norm_. */
#include "labelfree.h"

#include <math.h>

lf_status lf_clip_grad_norm(lf_params *p, double max_norm, double *total_norm)
{
    if (!p) return lf_error(LF_ERR_ARG, "lf_clip_grad_norm: NULL params");
    int64_t n;
    lf_real *g = lf_params_grad_block(p, &n);
    if (!g) return lf_error(LF_ERR_STATE, "lf_clip_grad_norm: parameters not finalized");
    double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    double norm = sqrt(s);
    if (total_norm) *total_norm = norm;
    if (!isfinite(norm))
        return lf_error(LF_ERR_NUMERIC, "lf_clip_grad_norm: gradient norm is %g", norm);
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1) {
        const lf_real c = (lf_real)coef;
#pragma omp parallel for if (n > 65536) schedule(static)
        for (int64_t i = 0; i < n; i++) g[i] *= c;
    }
    return LF_OK;
}
