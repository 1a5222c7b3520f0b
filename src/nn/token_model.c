/* Masked-token transformer over integer ids (BERT-style): token + learned position
 * embedding, the pre-LN blocks of src/nn/transformer_block.c, a final LayerNorm, and the MLM
 * head. Names and order of the parameters: see the @@TOKENS@@ section of labelfree.h.
 * Letters: N sequences, T tokens, E width, V vocabulary. */
#include "nn.h"

#include <math.h>
#include <stdio.h>

struct lf_token_model {
    lf_token_model_config cfg;
    lf_tensor *pos_embed; /* (1, max_len, E) */
    lf_tensor *embed;     /* (V, E) */
    nn_tstack trunk;      /* blocks and the final norm */
    nn_linear dense;      /* head_transform only */
    lf_tensor *head_norm_w, *head_norm_b;
    nn_linear decoder;
};

lf_token_model_config lf_token_model_config_default(void)
{
    lf_token_model_config c = {0};
    c.vocab = 4101; /* 4^6 six-mers + 5 special ids */
    c.max_len = 128;
    c.width = 256;
    c.depth = 6;
    c.heads = 4;
    c.mlp_ratio = 4.0;
    c.ln_eps = 1e-6;
    c.pad_id = -1;
    c.head_transform = 1;
    return c;
}

lf_status lf_token_model_config_check(const lf_token_model_config *c)
{
    if (!c) return lf_error(LF_ERR_ARG, "token model config: NULL");
    if (c->vocab < 1 || c->vocab > ((int64_t)1 << 31))
        return lf_error(LF_ERR_ARG, "token model config: vocab = %lld must be in 1..2^31",
                        (long long)c->vocab);
    if (c->max_len < 1 || c->max_len > ((int64_t)1 << 20))
        return lf_error(LF_ERR_ARG, "token model config: max_len = %lld must be in 1..2^20",
                        (long long)c->max_len);
    if (c->width < 1) return lf_error(LF_ERR_ARG, "token model config: width = %d must be > 0",
                                      c->width);
    if (c->depth < 1) return lf_error(LF_ERR_ARG, "token model config: depth = %d must be > 0",
                                      c->depth);
    if (c->heads < 1 || c->width % c->heads != 0)
        return lf_error(LF_ERR_ARG, "token model config: heads = %d must be > 0 and divide "
                        "width %d", c->heads, c->width);
    if (!(c->mlp_ratio > 0) || (int64_t)(c->mlp_ratio * c->width) < 1)
        return lf_error(LF_ERR_ARG, "token model config: mlp_ratio = %g gives no MLP hidden "
                        "unit at width %d", c->mlp_ratio, c->width);
    if (!(c->ln_eps > 0))
        return lf_error(LF_ERR_ARG, "token model config: ln_eps = %g must be > 0", c->ln_eps);
    if (c->pad_id < -1 || c->pad_id >= c->vocab)
        return lf_error(LF_ERR_ARG, "token model config: pad_id = %lld must be -1 (none) or an "
                        "id below vocab %lld", (long long)c->pad_id, (long long)c->vocab);
    if (c->head_transform != 0 && c->head_transform != 1)
        return lf_error(LF_ERR_ARG, "token model config: head_transform = %d must be 0 or 1",
                        c->head_transform);
    return LF_OK;
}

/* Declares everything in state_dict order: the module's own pos_embed, then its children. */
static lf_status declare(nn_namer *nm, lf_token_model *m)
{
    const lf_token_model_config *c = &m->cfg;
    int64_t E = c->width, hidden = (int64_t)(c->mlp_ratio * c->width);
    m->pos_embed = nn_param(nm, LF_TENSOR_NO_DECAY, 3, (int64_t[]){1, c->max_len, E},
                            "pos_embed");
    m->embed = nn_param(nm, 0, 2, (int64_t[]){c->vocab, E}, "embed.weight");
    lf_status s = nn_tstack_declare(nm, &m->trunk, "", c->depth, E, c->heads, hidden, c->ln_eps);
    if (s != LF_OK) return s;
    if (c->head_transform) {
        nn_linear_declare(nm, &m->dense, E, E, 1, "head.dense");
        m->head_norm_w = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "head.norm.weight");
        m->head_norm_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "head.norm.bias");
    }
    nn_linear_declare(nm, &m->decoder, E, c->vocab, 1, "head.decoder");
    return nm->status;
}

lf_status lf_token_model_init(lf_params *P, const lf_token_model_config *cfg, const char *prefix,
                              lf_token_model **out)
{
    if (!P || !out) return lf_error(LF_ERR_ARG, "lf_token_model_init: NULL argument");
    lf_status s = lf_token_model_config_check(cfg);
    if (s != LF_OK) return s;
    lf_token_model *m = lf_calloc(1, sizeof *m);
    if (!m) return lf_error(LF_ERR_NOMEM, "token model: out of memory");
    m->cfg = *cfg;
    nn_namer nm;
    nn_namer_init(&nm, P, prefix);
    s = declare(&nm, m);
    if (s != LF_OK) {
        lf_token_model_free(m);
        return s;
    }
    *out = m;
    return LF_OK;
}

void lf_token_model_free(lf_token_model *m)
{
    if (!m) return;
    nn_tstack_free(&m->trunk);
    lf_free(m);
}

lf_status lf_token_model_reset_parameters(lf_token_model *m, uint64_t seed, uint64_t stream)
{
    if (!m) return lf_error(LF_ERR_ARG, "lf_token_model_reset_parameters: NULL model");
    if (!m->embed->data)
        return lf_error(LF_ERR_STATE, "token model: reset before lf_params_finalize");
    lf_rng rng = lf_rng_make(seed, stream);
    nn_init_trunc_normal(&rng, m->pos_embed, 0.02, -2.0, 2.0);
    nn_init_normal(&rng, m->embed, 0.02);
    nn_tstack_reset(&m->trunk, &rng, NN_INIT_TRUNC_NORMAL);
    if (m->cfg.head_transform) {
        nn_linear_reset(&rng, &m->dense, NN_INIT_TRUNC_NORMAL);
        nn_init_const(m->head_norm_w, 1.0);
        nn_init_const(m->head_norm_b, 0.0);
    }
    nn_linear_reset(&rng, &m->decoder, NN_INIT_TRUNC_NORMAL);
    return LF_OK;
}

const lf_token_model_config *lf_token_model_get_config(const lf_token_model *m)
{
    return m ? &m->cfg : NULL;
}

static int check_ids(const lf_token_model *m, const int64_t *ids, int64_t N, int64_t T)
{
    if (!ids || N < 1 || T < 1 || T > m->cfg.max_len) {
        lf_error(LF_ERR_ARG, "token model: ids %s of shape (%lld, %lld): need N >= 1 and "
                 "1 <= T <= max_len %lld", ids ? "array" : "NULL", (long long)N, (long long)T,
                 (long long)m->cfg.max_len);
        return 0;
    }
    for (int64_t i = 0; i < N * T; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab) {
            lf_error(LF_ERR_ARG, "token model: id %lld at sequence %lld position %lld is "
                     "outside the vocabulary [0, %lld)", (long long)ids[i], (long long)(i / T),
                     (long long)(i % T), (long long)m->cfg.vocab);
            return 0;
        }
    return 1;
}

/* The additive key mask (N, T): -inf at padding keys; NULL (no mask) when the model has no
 * pad id or the batch holds none. *err set on failure. */
static lf_tensor *pad_mask(lf_graph *g, const lf_token_model *m, const int64_t *ids, int64_t N,
                           int64_t T, int *err)
{
    *err = 0;
    int64_t pad = m->cfg.pad_id, any = 0;
    for (int64_t i = 0; pad >= 0 && i < N * T && !any; i++) any = ids[i] == pad;
    if (!any) return NULL;
    lf_tensor *mask = lf_tensor_new(g, 2, (int64_t[]){N, T});
    if (!mask) {
        *err = 1;
        return NULL;
    }
    for (int64_t i = 0; i < N * T; i++) mask->data[i] = ids[i] == pad ? -INFINITY : 0;
    return mask;
}

lf_tensor *lf_token_model_forward(lf_graph *g, lf_token_model *m, const int64_t *ids, int64_t N,
                                  int64_t T)
{
    if (!g || !m) {
        lf_error(LF_ERR_ARG, "lf_token_model_forward: NULL argument");
        return NULL;
    }
    if (!check_ids(m, ids, N, T)) return NULL;
    int err;
    lf_tensor *mask = pad_mask(g, m, ids, N, T, &err);
    if (err) return NULL;
    lf_tensor *h = lf_embedding(g, m->embed, ids, 2, (int64_t[]){N, T}); /* (N, T, E) */
    h = lf_add(g, h, lf_slice(g, m->pos_embed, 1, 0, T));             /* + (1, T, E) */
    return nn_tstack_forward(g, &m->trunk, h, mask);
}

lf_tensor *lf_token_model_logits(lf_graph *g, lf_token_model *m, lf_tensor *hidden)
{
    if (!hidden || !m) return NULL;
    if (hidden->ndim != 3 || hidden->shape[2] != m->cfg.width) {
        char b[96];
        lf_error(LF_ERR_SHAPE, "token model head: hidden %s, expected (N, T, %d)",
                 lf_shape_str(hidden, b, sizeof b), m->cfg.width);
        return NULL;
    }
    lf_tensor *x = hidden;
    if (m->cfg.head_transform)
        x = lf_layer_norm(g, lf_linear_act(g, x, m->dense.weight, m->dense.bias, LF_ACT_GELU),
                          m->head_norm_w, m->head_norm_b, m->cfg.ln_eps);
    return nn_linear_forward(g, &m->decoder, x);
}

lf_tensor *lf_mlm_loss(lf_graph *g, lf_tensor *logits, const int64_t *targets)
{
    if (!logits) return NULL;
    if (logits->ndim != 3) {
        char b[96];
        lf_error(LF_ERR_SHAPE, "mlm loss: logits %s must be (N, T, V)",
                 lf_shape_str(logits, b, sizeof b));
        return NULL;
    }
    /* (N * T, V): one item per position, the classes along the last dim */
    int64_t V = logits->shape[2];
    lf_tensor *flat = lf_reshape(g, logits, 2, (int64_t[]){-1, V});
    return lf_cross_entropy(g, flat, targets, LF_MLM_IGNORE, 0.0);
}
