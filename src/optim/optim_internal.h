/* Shared between the optimizer files: the lf_optim struct and the per-tensor update rules. */
#ifndef LF_OPTIM_INTERNAL_H
#define LF_OPTIM_INTERNAL_H

#include "core/internal.h"

struct lf_optim {
    lf_optim_config cfg;
    lf_params *params;
    lf_real *grad_base;   /* the params' gradient block: state offsets are relative to it */
    int64_t n_grad;
    lf_real *state;       /* n_state reals, one allocation */
    int64_t n_state;
    int64_t t;            /* steps taken */
};

/* Does tensor t get weight decay under SGD/AdamW? (LARS always follows the flag.) */
static inline bool lf_optim_decays(const lf_optim *o, const lf_tensor *t)
{
    return o->cfg.decay_all || !(t->flags & LF_TENSOR_NO_DECAY);
}

/* One tensor's update; `state` points at this tensor's slice of the state block (the first
 * n_grad reals hold the momentum / first moment, the next n_grad the second moment). */
void lf_sgd_update(const lf_optim *o, lf_tensor *t, lf_real *buf, double wd);
void lf_adamw_update(const lf_optim *o, lf_tensor *t, lf_real *m, lf_real *v, double wd);
void lf_lars_update(const lf_optim *o, lf_tensor *t, lf_real *buf, bool adapt);

#endif
