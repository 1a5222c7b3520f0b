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

/* x (N, T, E) -> proj(attention(heads of qkv(x))), without the residual */
static lf_tensor *attn_forward(lf_graph *g, nn_tblock *b, lf_tensor *x)
{
    lf_tensor *qkv = nn_linear_forward(g, &b->qkv, x); /* (N, T, 3E) */
    lf_tensor *o = lf_self_attention(g, qkv, (int)b->H, 1.0 / sqrt((double)(b->E / b->H)));
    return nn_linear_forward(g, &b->proj, o);
}

/* the segment function lf_recompute may run again in backward */
static lf_tensor *block_segment(lf_graph *g, lf_tensor *h, void *bv)
{
    nn_tblock *b = bv;
    h = lf_add(g, h, attn_forward(g, b, lf_layer_norm(g, h, b->norm1_w, b->norm1_b, b->ln_eps)));
    lf_tensor *m = lf_layer_norm(g, h, b->norm2_w, b->norm2_b, b->ln_eps);
    m = nn_linear_forward(g, &b->fc2, lf_gelu(g, nn_linear_forward(g, &b->fc1, m)));
    return lf_add(g, h, m);
}

lf_tensor *nn_tblock_forward(lf_graph *g, nn_tblock *b, lf_tensor *h)
{
    return nn_block(g, block_segment, b, h);
}
