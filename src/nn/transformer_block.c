/* Pre-LN transformer block as timm's Block (ViT, MAE's encoder and decoder):
 *   h + proj(attention(heads of qkv(ln1(h)))), then + fc2(gelu(fc1(ln2(.)))).
 * Letters: N batch, T tokens, E width, H heads, Dh = E / H. */
#include "nn.h"

#include <math.h>
#include <stdio.h>

void nn_tblock_declare(nn_namer *nm, nn_tblock *b, int64_t E, int64_t H, int64_t hidden,
                       double ln_eps, const char *stem)
{
    b->E = E;
    b->H = H;
    b->ln_eps = ln_eps;
    char s[224];
    b->norm1_w = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "%s.norm1.weight", stem);
    b->norm1_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "%s.norm1.bias", stem);
    snprintf(s, sizeof s, "%s.attn.qkv", stem);
    nn_linear_declare(nm, &b->qkv, E, 3 * E, 1, s);
    snprintf(s, sizeof s, "%s.attn.proj", stem);
    nn_linear_declare(nm, &b->proj, E, E, 1, s);
    b->norm2_w = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "%s.norm2.weight", stem);
    b->norm2_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "%s.norm2.bias", stem);
    snprintf(s, sizeof s, "%s.mlp.fc1", stem);
    nn_linear_declare(nm, &b->fc1, E, hidden, 1, s);
    snprintf(s, sizeof s, "%s.mlp.fc2", stem);
    nn_linear_declare(nm, &b->fc2, hidden, E, 1, s);
}

void nn_tblock_reset(nn_tblock *b, lf_rng *rng, nn_linear_init init)
{
    nn_init_const(b->norm1_w, 1.0);
    nn_init_const(b->norm1_b, 0.0);
    nn_init_const(b->norm2_w, 1.0);
    nn_init_const(b->norm2_b, 0.0);
    nn_linear *l[4] = {&b->qkv, &b->proj, &b->fc1, &b->fc2};
    for (int i = 0; i < 4; i++) nn_linear_reset(rng, l[i], init);
}

/* h + proj(attention(heads of qkv(x))), x (N, T, E) the normalised h; mask NULL or an
 * additive key mask (N, T) */
static lf_tensor *attn_forward(lf_graph *g, nn_tblock *b, lf_tensor *x, lf_tensor *h,
                               lf_tensor *mask)
{
    lf_tensor *qkv = nn_linear_forward(g, &b->qkv, x); /* (N, T, 3E) */
    lf_tensor *o = lf_self_attention(g, qkv, (int)b->H, 1.0 / sqrt((double)(b->E / b->H)), mask);
    return lf_linear_add(g, o, b->proj.weight, b->proj.bias, h);
}

/* What one call of a block needs; in the arena, since a recomputed segment runs again in
 * backward, after the caller's frame is gone. */
typedef struct tblock_call {
    nn_tblock *b;
    lf_tensor *mask;
} tblock_call;

/* the segment function lf_recompute may run again in backward */
static lf_tensor *block_segment(lf_graph *g, lf_tensor *h, void *cv)
{
    const tblock_call *c = cv;
    nn_tblock *b = c->b;
    lf_tensor *a = lf_layer_norm(g, h, b->norm1_w, b->norm1_b, b->ln_eps);
    h = attn_forward(g, b, a, h, c->mask);
    lf_tensor *m = lf_layer_norm(g, h, b->norm2_w, b->norm2_b, b->ln_eps);
    /* fc1 + GELU, and fc2 + the residual: one pass each in inference */
    m = lf_linear_act(g, m, b->fc1.weight, b->fc1.bias, LF_ACT_GELU);
    return lf_linear_add(g, m, b->fc2.weight, b->fc2.bias, h);
}

lf_tensor *nn_tblock_forward(lf_graph *g, nn_tblock *b, lf_tensor *h, lf_tensor *mask)
{
    if (!h) return NULL;
    tblock_call *c = lf_graph_alloc(g, sizeof *c);
    if (!c) return NULL;
    c->b = b;
    c->mask = mask;
    return nn_block(g, block_segment, c, h);
}


/* ---- the stack */
lf_status nn_tstack_declare(nn_namer *nm, nn_tstack *s, const char *names, int depth, int64_t E,
                            int64_t H, int64_t hidden, double ln_eps)
{
    s->depth = depth;
    s->ln_eps = ln_eps;
    s->blocks = lf_calloc((size_t)depth, sizeof *s->blocks);
    if (!s->blocks) return lf_error(LF_ERR_NOMEM, "transformer: out of memory for %d blocks",
                                    depth);
    char stem[64];
    for (int i = 0; i < depth; i++) {
        snprintf(stem, sizeof stem, "%sblocks.%d", names, i);
        nn_tblock_declare(nm, &s->blocks[i], E, H, hidden, ln_eps, stem);
    }
    s->norm_w = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "%snorm.weight", names);
    s->norm_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "%snorm.bias", names);
    return nm->status;
}

void nn_tstack_free(nn_tstack *s)
{
    lf_free(s->blocks);
    s->blocks = NULL;
}

void nn_tstack_reset(nn_tstack *s, lf_rng *rng, nn_linear_init init)
{
    for (int i = 0; i < s->depth; i++) nn_tblock_reset(&s->blocks[i], rng, init);
    nn_init_const(s->norm_w, 1.0);
    nn_init_const(s->norm_b, 0.0);
}

lf_tensor *nn_tstack_forward(lf_graph *g, nn_tstack *s, lf_tensor *h, lf_tensor *mask)
{
    for (int i = 0; i < s->depth && h; i++) h = nn_tblock_forward(g, &s->blocks[i], h, mask);
    return lf_layer_norm(g, h, s->norm_w, s->norm_b, s->ln_eps);
}
