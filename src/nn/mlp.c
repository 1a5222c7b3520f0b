/* MLP builder: Linear [BatchNorm1d] activation ... Linear [BatchNorm1d], named as the
 * matching nn.Sequential (every module takes an index, also the parameterless activation).
 * x (N, dims[0]) -> (N, dims[n_layers]). */
#include "nn.h"

#include <stdio.h>

typedef struct mlp_layer {
    nn_linear lin;
    nn_bn bn;
    int has_bn, has_act;
} mlp_layer;

struct lf_mlp {
    lf_mlp_config cfg;
    mlp_layer layers[LF_MLP_MAX_LAYERS];
};

lf_mlp_config lf_mlp_config_make(int n_layers, const int *dims, int batch_norm)
{
    lf_mlp_config c = {0};
    c.n_layers = n_layers;
    for (int i = 0; i <= n_layers && i <= LF_MLP_MAX_LAYERS; i++) c.dims[i] = dims[i];
    c.batch_norm = batch_norm;
    c.hidden_bias = 1;
    c.last_bias = 1;
    c.act = LF_ACT_RELU;
    c.bn_momentum = 0.1;
    c.bn_eps = 1e-5;
    return c;
}

lf_status lf_mlp_init(lf_params *P, const lf_mlp_config *cfg, const char *prefix, lf_mlp **out)
{
    if (!P || !cfg || !out) return lf_error(LF_ERR_ARG, "lf_mlp_init: NULL argument");
    if (cfg->n_layers < 1 || cfg->n_layers > LF_MLP_MAX_LAYERS)
        return lf_error(LF_ERR_ARG, "mlp: n_layers %d outside 1..%d", cfg->n_layers,
                        LF_MLP_MAX_LAYERS);
    for (int i = 0; i <= cfg->n_layers; i++)
        if (cfg->dims[i] <= 0)
            return lf_error(LF_ERR_ARG, "mlp: dims[%d] = %d must be > 0", i, cfg->dims[i]);
    if ((unsigned)cfg->act > LF_ACT_NONE)
        return lf_error(LF_ERR_ARG, "mlp: unknown activation %d", (int)cfg->act);
    lf_mlp *m = lf_calloc(1, sizeof *m);
    if (!m) return LF_ERR_NOMEM;
    m->cfg = *cfg;
    nn_namer nm;
    nn_namer_init(&nm, P, prefix);
    int idx = 0;
    char s[32];
    for (int i = 0; i < cfg->n_layers; i++) {
        mlp_layer *L = &m->layers[i];
        int last = i == cfg->n_layers - 1;
        snprintf(s, sizeof s, "%d", idx++);
        nn_linear_declare(&nm, &L->lin, cfg->dims[i], cfg->dims[i + 1],
                          last ? cfg->last_bias : cfg->hidden_bias, s);
        L->has_bn = last ? cfg->last_batch_norm : cfg->batch_norm;
        if (L->has_bn) {
            snprintf(s, sizeof s, "%d", idx++);
            nn_bn_declare(&nm, &L->bn, cfg->dims[i + 1], cfg->bn_momentum, cfg->bn_eps, s);
        }
        L->has_act = !last && cfg->act != LF_ACT_NONE;
        if (L->has_act) idx++;
    }
    if (nm.status != LF_OK) {
        lf_free(m);
        return nm.status;
    }
    *out = m;
    return LF_OK;
}

void lf_mlp_free(lf_mlp *m) { lf_free(m); }

lf_status lf_mlp_reset_parameters(lf_mlp *m, uint64_t seed, uint64_t stream)
{
    if (!m) return lf_error(LF_ERR_ARG, "lf_mlp_reset_parameters: NULL mlp");
    if (!m->layers[0].lin.weight->data)
        return lf_error(LF_ERR_STATE, "mlp: reset before lf_params_finalize");
    lf_rng rng = lf_rng_make(seed, stream);
    for (int i = 0; i < m->cfg.n_layers; i++) {
        nn_init_torch_default(&rng, m->layers[i].lin.weight, m->layers[i].lin.bias);
        if (m->layers[i].has_bn) nn_bn_reset(&m->layers[i].bn);
    }
    return LF_OK;
}

lf_tensor *lf_mlp_forward(lf_graph *g, lf_mlp *m, lf_tensor *x)
{
    if (!x || !m) return NULL;
    if (x->ndim != 2 || x->shape[1] != m->cfg.dims[0]) {
        char b[96];
        lf_error(LF_ERR_SHAPE, "mlp: input %s, expected (N, %d)", lf_shape_str(x, b, sizeof b),
                 m->cfg.dims[0]);
        return NULL;
    }
    lf_tensor *h = x;
    for (int i = 0; i < m->cfg.n_layers; i++) {
        mlp_layer *L = &m->layers[i];
        h = nn_linear_forward(g, &L->lin, h);
        if (L->has_bn) h = nn_bn_forward(g, &L->bn, h);
        if (L->has_act) h = m->cfg.act == LF_ACT_GELU ? lf_gelu(g, h) : lf_relu(g, h);
    }
    return h;
}
