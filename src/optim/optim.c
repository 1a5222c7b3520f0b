/* The optimizer object: config, one state block, and the loop over trainable tensors.
 * The update rules are in sgd.c, adamw.c and lars.c; the formulas are in labelfree.h. */
#include "optim_internal.h"

#include <string.h>

lf_optim_config lf_optim_defaults(lf_optim_kind kind)
{
    lf_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    switch (kind) {
    case LF_OPTIM_SGD: c.lr = 0.1; break;
    case LF_OPTIM_ADAMW:
        c.lr = 1e-3;
        c.beta1 = 0.9;
        c.beta2 = 0.999;
        c.eps = 1e-8;
        c.weight_decay = 1e-2;
        break;
    case LF_OPTIM_LARS:
        c.lr = 0.1;
        c.momentum = 0.9;
        c.eta = 1e-3;
        c.eps = 1e-8;
        c.weight_decay = 1e-6;
        break;
    }
    return c;
}

static lf_status check_config(const lf_optim_config *c)
{
    if (c->kind < LF_OPTIM_SGD || c->kind > LF_OPTIM_LARS)
        return lf_error(LF_ERR_ARG, "lf_optim_init: unknown optimizer kind %d", (int)c->kind);
    if (!(c->lr >= 0)) return lf_error(LF_ERR_ARG, "lf_optim_init: lr %g < 0", c->lr);
    if (!(c->weight_decay >= 0))
        return lf_error(LF_ERR_ARG, "lf_optim_init: weight_decay %g < 0", c->weight_decay);
    if (!(c->momentum >= 0 && c->momentum < 1 + 1e-12) && c->kind != LF_OPTIM_ADAMW)
        return lf_error(LF_ERR_ARG, "lf_optim_init: momentum %g outside [0, 1]", c->momentum);
    if (c->nesterov && c->momentum <= 0 && c->kind != LF_OPTIM_ADAMW)
        return lf_error(LF_ERR_ARG, "lf_optim_init: Nesterov needs momentum > 0");
    if (c->kind == LF_OPTIM_ADAMW) {
        if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
            return lf_error(LF_ERR_ARG, "lf_optim_init: AdamW betas (%g, %g) outside [0, 1)",
                            c->beta1, c->beta2);
        if (!(c->eps > 0)) return lf_error(LF_ERR_ARG, "lf_optim_init: AdamW eps %g <= 0", c->eps);
    }
    if (c->kind == LF_OPTIM_LARS && !(c->eta > 0))
        return lf_error(LF_ERR_ARG, "lf_optim_init: LARS eta %g <= 0", c->eta);
    return LF_OK;
}

lf_status lf_optim_init(lf_optim **out, lf_params *p, const lf_optim_config *cfg)
{
    if (!out || !p || !cfg) return lf_error(LF_ERR_ARG, "lf_optim_init: NULL argument");
    *out = NULL;
    lf_status s = check_config(cfg);
    if (s != LF_OK) return s;
    int64_t n_grad;
    lf_real *gb = lf_params_grad_block(p, &n_grad);
    if (!gb) return lf_error(LF_ERR_STATE, "lf_optim_init: parameters not finalized");
    int64_t per = 0; /* state reals per trainable element */
    if (cfg->kind == LF_OPTIM_ADAMW) per = 2;
    else if (cfg->momentum > 0) per = 1;
    lf_optim *o = lf_calloc(1, sizeof *o);
    if (!o) return LF_ERR_NOMEM;
    o->cfg = *cfg;
    o->params = p;
    o->grad_base = gb;
    o->n_grad = n_grad;
    o->n_state = per * n_grad;
    if (o->n_state) {
        o->state = lf_calloc((size_t)o->n_state, sizeof(lf_real));
        if (!o->state) {
            lf_free(o);
            return LF_ERR_NOMEM;
        }
    }
    *out = o;
    return LF_OK;
}

void lf_optim_free(lf_optim *o)
{
    if (!o) return;
    lf_free(o->state);
    lf_free(o);
}

lf_status lf_optim_step(lf_optim *o)
{
    if (!o) return lf_error(LF_ERR_ARG, "lf_optim_step: NULL optimizer");
    o->t++;
    int n = lf_params_count(o->params);
    for (int i = 0; i < n; i++) {
        lf_tensor *t = lf_params_get(o->params, i);
        if (!(t->flags & LF_TENSOR_REQUIRES_GRAD) || (t->flags & LF_TENSOR_BUFFER) || !t->grad)
            continue;
        int64_t off = t->grad - o->grad_base; /* this tensor's place in the gradient block */
        lf_real *s1 = o->state ? o->state + off : NULL;
        bool decay = lf_optim_decays(o, t);
        double wd = decay ? o->cfg.weight_decay : 0.0;
        switch (o->cfg.kind) {
        case LF_OPTIM_SGD: lf_sgd_update(o, t, s1, wd); break;
        case LF_OPTIM_ADAMW: lf_adamw_update(o, t, s1, s1 + o->n_grad, wd); break;
        case LF_OPTIM_LARS: lf_lars_update(o, t, s1, !(t->flags & LF_TENSOR_NO_DECAY)); break;
        }
    }
    return LF_OK;
}

/* accessors tolerate NULL (no effect / zero) so a failed init cannot crash a caller */
void lf_optim_set_lr(lf_optim *o, double lr)
{
    if (o) o->cfg.lr = lr;
}
double lf_optim_lr(const lf_optim *o) { return o ? o->cfg.lr : 0.0; }
void lf_optim_set_weight_decay(lf_optim *o, double wd)
{
    if (o) o->cfg.weight_decay = wd;
}
const lf_optim_config *lf_optim_get_config(const lf_optim *o) { return o ? &o->cfg : NULL; }
int64_t lf_optim_step_count(const lf_optim *o) { return o ? o->t : 0; }
void lf_optim_set_step_count(lf_optim *o, int64_t t)
{
    if (o) o->t = t;
}

lf_real *lf_optim_state_block(lf_optim *o, int64_t *n)
{
    if (n) *n = o ? o->n_state : 0;
    return o ? o->state : NULL;
}
