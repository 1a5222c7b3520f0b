/* Building blocks for the encoders: parameter naming under a prefix, batch norm with
 * num_batches_tracked, linear, and the initialisers of torchvision / timm. */
#include "nn.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void nn_namer_init(nn_namer *nm, lf_params *P, const char *prefix)
{
    nm->P = P;
    nm->status = LF_OK;
    snprintf(nm->prefix, sizeof nm->prefix, "%s", prefix ? prefix : "");
}

lf_tensor *nn_param(nn_namer *nm, int flags, int ndim, const int64_t *shape, const char *fmt,
                    ...)
{
    if (nm->status != LF_OK) return NULL;
    char name[320];
    size_t pl = strlen(nm->prefix);
    memcpy(name, nm->prefix, pl);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name + pl, sizeof name - pl, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof name - pl) {
        nm->status = lf_error(LF_ERR_ARG, "encoder: parameter name too long under prefix '%s'",
                              nm->prefix);
        return NULL;
    }
    lf_tensor *t = lf_param_add(nm->P, name, ndim, shape, flags);
    if (!t) nm->status = lf_last_status() != LF_OK ? lf_last_status() : LF_ERR_NOMEM;
    return t;
}

void nn_bn_declare(nn_namer *nm, nn_bn *bn, int64_t c, double momentum, double eps,
                   const char *stem)
{
    int64_t s[1] = {c};
    bn->weight = nn_param(nm, LF_TENSOR_NO_DECAY, 1, s, "%s.weight", stem);
    bn->bias = nn_param(nm, LF_TENSOR_NO_DECAY, 1, s, "%s.bias", stem);
    bn->running_mean = nn_param(nm, LF_TENSOR_BUFFER, 1, s, "%s.running_mean", stem);
    bn->running_var = nn_param(nm, LF_TENSOR_BUFFER, 1, s, "%s.running_var", stem);
    /* a 0-dim tensor as torch's int64 scalar; stored as lf_real (exact below 2^24) */
    bn->num_batches_tracked = nn_param(nm, LF_TENSOR_BUFFER, 0, s, "%s.num_batches_tracked",
                                       stem);
    bn->momentum = momentum;
    bn->eps = eps;
}

void nn_linear_declare(nn_namer *nm, nn_linear *l, int64_t in, int64_t out, int bias,
                       const char *stem)
{
    l->weight = nn_param(nm, 0, 2, (int64_t[]){out, in}, "%s.weight", stem);
    l->bias = bias ? nn_param(nm, LF_TENSOR_NO_DECAY, 1, (int64_t[]){out}, "%s.bias", stem)
                   : NULL;
}

lf_tensor *nn_conv_declare(nn_namer *nm, int64_t cout, int64_t cin, int k, const char *stem)
{
    return nn_param(nm, 0, 4, (int64_t[]){cout, cin, k, k}, "%s.weight", stem);
}

/* y, after counting the batch in bn's num_batches_tracked as torch does: once per training
 * step (not again when a recomputed segment runs the forward a second time) */
static lf_tensor *counted(lf_graph *g, nn_bn *bn, lf_tensor *y)
{
    if (y && lf_graph_training(g) && !lf_graph_recomputing(g))
        bn->num_batches_tracked->data[0] += 1;
    return y;
}

lf_tensor *nn_bn_forward(lf_graph *g, nn_bn *bn, lf_tensor *x)
{
    return counted(g, bn, lf_batch_norm(g, x, bn->weight, bn->bias, bn->running_mean,
                                        bn->running_var, bn->momentum, bn->eps));
}

lf_tensor *nn_conv_bn_forward(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_conv_args a, nn_bn *bn,
                              lf_tensor *res, int relu)
{
    return counted(g, bn, lf_conv_bn_act(g, x, w, a, bn->weight, bn->bias, bn->running_mean,
                                         bn->running_var, bn->momentum, bn->eps, res, relu));
}

lf_tensor *nn_conv_bn_relu_pool_forward(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_conv_args a,
                                        nn_bn *bn, int pool_kernel, int pool_stride,
                                        int pool_padding)
{
    return counted(g, bn, lf_conv_bn_act_pool(g, x, w, a, bn->weight, bn->bias,
                                              bn->running_mean, bn->running_var, bn->momentum,
                                              bn->eps, 1, pool_kernel, pool_stride,
                                              pool_padding));
}

lf_tensor *nn_block(lf_graph *g, lf_segment_fn fn, void *ctx, lf_tensor *x)
{
    /* in inference (no gradients) the block's intermediates are dropped as it returns */
    return lf_graph_recompute(g) || !g->grad_enabled ? lf_recompute(g, fn, ctx, x)
                                                     : fn(g, x, ctx);
}

lf_tensor *nn_linear_forward(lf_graph *g, const nn_linear *l, lf_tensor *x)
{
    return lf_linear(g, x, l->weight, l->bias);
}

/* ---- initialisers */
void nn_init_normal(lf_rng *r, lf_tensor *t, double std)
{
    lf_rng_fill_normal(r, t->data, lf_numel(t), 0.0, std);
}

void nn_init_trunc_normal(lf_rng *r, lf_tensor *t, double std, double lo, double hi)
{
    int64_t n = lf_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v;
        do v = std * lf_rng_normal(r);
        while (v < lo || v > hi);
        t->data[i] = (lf_real)v;
    }
}

void nn_init_uniform(lf_rng *r, lf_tensor *t, double bound)
{
    lf_rng_fill_uniform(r, t->data, lf_numel(t), -bound, bound);
}

void nn_init_const(lf_tensor *t, double v)
{
    int64_t n = lf_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = (lf_real)v;
}

static int64_t receptive(const lf_tensor *w)
{
    int64_t k = 1;
    for (int i = 2; i < w->ndim; i++) k *= w->shape[i];
    return k;
}

void nn_init_kaiming_fan_out(lf_rng *r, lf_tensor *w)
{
    double fan_out = (double)(w->shape[0] * receptive(w));
    nn_init_normal(r, w, sqrt(2.0 / fan_out));
}

void nn_init_torch_default(lf_rng *r, lf_tensor *w, lf_tensor *b)
{
    /* kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in)
     * = 1 / sqrt(fan_in); the bias uses the same bound */
    double fan_in = (double)(w->shape[1] * receptive(w));
    double bound = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0.0;
    nn_init_uniform(r, w, bound);
    if (b) nn_init_uniform(r, b, bound);
}

void nn_bn_reset(nn_bn *bn)
{
    nn_init_const(bn->weight, 1.0);
    nn_init_const(bn->bias, 0.0);
    nn_init_const(bn->running_mean, 0.0);
    nn_init_const(bn->running_var, 1.0);
    nn_init_const(bn->num_batches_tracked, 0.0);
}

void nn_init_xavier_uniform(lf_rng *r, lf_tensor *w)
{
    /* xavier_uniform_ on w viewed as (shape[0], rest): bound sqrt(6 / (fan_in + fan_out));
     * MAE uses it for Linear weights and for its patch convolution flattened this way */
    int64_t n = lf_numel(w), out = w->shape[0], in = out > 0 ? n / out : 0;
    nn_init_uniform(r, w, in + out > 0 ? sqrt(6.0 / (double)(in + out)) : 0.0);
}

void nn_linear_reset(lf_rng *r, nn_linear *l, nn_linear_init init)
{
    if (init == NN_INIT_TRUNC_NORMAL) nn_init_trunc_normal(r, l->weight, 0.02, -2.0, 2.0);
    else nn_init_xavier_uniform(r, l->weight);
    if (l->bias) nn_init_const(l->bias, 0.0);
}
