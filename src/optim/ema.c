/* Exponential moving average of parameters (MoCo key encoder, BYOL target, DINO teacher). */
#include "core/internal.h"

#include <string.h>

lf_status lf_ema_update(lf_params *target, const lf_params *online, double m)
{
    if (!target || !online) return lf_error(LF_ERR_ARG, "lf_ema_update: NULL params");
    if (!(m >= 0 && m <= 1)) return lf_error(LF_ERR_ARG, "lf_ema_update: momentum %g outside [0, 1]", m);
    const lf_real a = (lf_real)m, b = (lf_real)(1.0 - m);
    int n = lf_params_count(target), n_on = lf_params_count(online);
    for (int i = 0; i < n; i++) {
        lf_tensor *t = lf_params_get(target, i);
        if (t->flags & LF_TENSOR_BUFFER) continue;
        /* same declaration order is the usual case: try index i before a search by name */
        const lf_tensor *s = i < n_on ? lf_params_get(online, i) : NULL;
        if (!s || strcmp(s->name, t->name) != 0) s = lf_params_find(online, t->name);
        if (!s) return lf_error(LF_ERR_ARG, "lf_ema_update: '%s' missing in the online params", t->name);
        if (!lf_same_shape(s, t)) {
            char x[96], y[96];
            return lf_error(LF_ERR_SHAPE, "lf_ema_update: '%s' is %s online, %s in target", t->name,
                            lf_shape_str(s, x, sizeof x), lf_shape_str(t, y, sizeof y));
        }
        const int64_t k = lf_numel(t);
        lf_real *td = t->data;
        const lf_real *sd = s->data;
#pragma omp parallel for if (k > 65536) schedule(static)
        for (int64_t j = 0; j < k; j++) td[j] = a * td[j] + b * sd[j];
    }
    return LF_OK;
}
