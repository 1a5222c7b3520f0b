/* Vision transformer as timm's VisionTransformer (class token, learned position embedding,
 * pre-LN blocks, final norm; qkv with bias, exact GELU), timm parameter names.
 * Letters: N batch, P patches, T = 1 + P tokens, E width, H heads, Dh = E / H. */
#include "nn.h"

#include <math.h>
#include <stdio.h>

typedef struct vit_block {
    lf_tensor *norm1_w, *norm1_b, *norm2_w, *norm2_b;
    nn_linear qkv, proj, fc1, fc2;
    struct nn_vit *vit; /* the owner, for a block run as a recomputed segment */
} vit_block;

struct nn_vit {
    int64_t E, H, T, patch, image_size, in_channels;
    double ln_eps;
    lf_tensor *cls_token; /* (1, 1, E) */
    lf_tensor *pos_embed; /* (1, T, E) */
    lf_tensor *proj_w, *proj_b; /* patch_embed.proj: conv (E, C, p, p) stride p */
    vit_block *blocks;
    int depth;
    lf_tensor *norm_w, *norm_b;
};

lf_status nn_vit_init(nn_namer *nm, const lf_encoder_config *cfg, nn_vit **out)
{
    nn_vit *v = lf_calloc(1, sizeof *v);
    if (!v) return LF_ERR_NOMEM;
    v->E = cfg->width;
    v->H = cfg->heads;
    v->patch = cfg->patch;
    v->image_size = cfg->image_size;
    v->in_channels = cfg->in_channels;
    v->ln_eps = cfg->ln_eps;
    int64_t side = cfg->image_size / cfg->patch;
    v->T = 1 + side * side;
    v->depth = cfg->depth;
    v->blocks = lf_calloc((size_t)cfg->depth, sizeof *v->blocks);
    if (!v->blocks) {
        lf_free(v);
        return LF_ERR_NOMEM;
    }
    int64_t E = v->E, hidden = (int64_t)(cfg->mlp_ratio * (double)E);
    /* order of timm's state_dict: the module's own parameters, then the children */
    v->cls_token = nn_param(nm, LF_TENSOR_NO_DECAY, 3, (int64_t[]){1, 1, E}, "cls_token");
    v->pos_embed = nn_param(nm, LF_TENSOR_NO_DECAY, 3, (int64_t[]){1, v->T, E}, "pos_embed");
    v->proj_w = nn_param(nm, 0, 4, (int64_t[]){E, v->in_channels, v->patch, v->patch},
                         "patch_embed.proj.weight");
    v->proj_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, (int64_t[]){E}, "patch_embed.proj.bias");
    char s[64];
    for (int i = 0; i < v->depth; i++) {
        vit_block *b = &v->blocks[i];
        b->vit = v;
        b->norm1_w = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "blocks.%d.norm1.weight", i);
        b->norm1_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "blocks.%d.norm1.bias", i);
        snprintf(s, sizeof s, "blocks.%d.attn.qkv", i);
        nn_linear_declare(nm, &b->qkv, E, 3 * E, 1, s);
        snprintf(s, sizeof s, "blocks.%d.attn.proj", i);
        nn_linear_declare(nm, &b->proj, E, E, 1, s);
        b->norm2_w = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "blocks.%d.norm2.weight", i);
        b->norm2_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "blocks.%d.norm2.bias", i);
        snprintf(s, sizeof s, "blocks.%d.mlp.fc1", i);
        nn_linear_declare(nm, &b->fc1, E, hidden, 1, s);
        snprintf(s, sizeof s, "blocks.%d.mlp.fc2", i);
        nn_linear_declare(nm, &b->fc2, hidden, E, 1, s);
    }
    v->norm_w = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "norm.weight");
    v->norm_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, &E, "norm.bias");
    if (nm->status != LF_OK) {
        nn_vit_free(v);
        return nm->status;
    }
    *out = v;
    return LF_OK;
}

void nn_vit_free(nn_vit *v)
{
    if (!v) return;
    lf_free(v->blocks);
    lf_free(v);
}

static void linear_timm(lf_rng *rng, nn_linear *l)
{
    nn_init_trunc_normal(rng, l->weight, 0.02, -2.0, 2.0);
    if (l->bias) nn_init_const(l->bias, 0.0);
}

void nn_vit_reset(nn_vit *v, lf_rng *rng)
{
    /* timm: pos_embed trunc_normal(.02), cls_token normal(1e-6), Linear trunc_normal(.02)
     * with zero bias, LayerNorm 1/0, the patch conv keeps torch's default init */
    nn_init_trunc_normal(rng, v->pos_embed, 0.02, -2.0, 2.0);
    nn_init_normal(rng, v->cls_token, 1e-6);
    nn_init_torch_default(rng, v->proj_w, v->proj_b);
    for (int i = 0; i < v->depth; i++) {
        vit_block *b = &v->blocks[i];
        nn_init_const(b->norm1_w, 1.0);
        nn_init_const(b->norm1_b, 0.0);
        nn_init_const(b->norm2_w, 1.0);
        nn_init_const(b->norm2_b, 0.0);
        linear_timm(rng, &b->qkv);
        linear_timm(rng, &b->proj);
        linear_timm(rng, &b->fc1);
        linear_timm(rng, &b->fc2);
    }
    nn_init_const(v->norm_w, 1.0);
    nn_init_const(v->norm_b, 0.0);
}

/* x (N, T, E) -> x + proj(attention(heads of qkv(x))) part without the residual */
static lf_tensor *attn_forward(lf_graph *g, nn_vit *v, vit_block *b, lf_tensor *x)
{
    if (!x) return NULL;
    int64_t N = x->shape[0], T = x->shape[1], E = v->E, H = v->H, Dh = E / H;
    lf_tensor *qkv = nn_linear_forward(g, &b->qkv, x);                    /* (N, T, 3E) */
    qkv = lf_reshape(g, qkv, 5, (int64_t[]){N, T, 3, H, Dh});
    qkv = lf_permute(g, qkv, (int[]){2, 0, 3, 1, 4});                      /* (3, N, H, T, Dh) */
    lf_tensor *qkv3[3];
    for (int i = 0; i < 3; i++)
        qkv3[i] = lf_reshape(g, lf_slice(g, qkv, 0, i, i + 1), 4, (int64_t[]){N, H, T, Dh});
    lf_tensor *o = lf_attention(g, qkv3[0], qkv3[1], qkv3[2], NULL, 1.0 / sqrt((double)Dh));
    o = lf_reshape(g, lf_transpose(g, o, 1, 2), 3, (int64_t[]){N, T, E}); /* (N, T, E) */
    return nn_linear_forward(g, &b->proj, o);
}

/* one pre-LN block: h + attn(ln1(h)), then + mlp(ln2(.)) */
static lf_tensor *block_forward(lf_graph *g, lf_tensor *h, void *bv)
{
    vit_block *b = bv;
    nn_vit *v = b->vit;
    h = lf_add(g, h, attn_forward(g, v, b, lf_layer_norm(g, h, b->norm1_w, b->norm1_b,
                                                              v->ln_eps)));
    lf_tensor *m = lf_layer_norm(g, h, b->norm2_w, b->norm2_b, v->ln_eps);
    m = nn_linear_forward(g, &b->fc2, lf_gelu(g, nn_linear_forward(g, &b->fc1, m)));
    return lf_add(g, h, m);
}

lf_tensor *nn_vit_tokens(lf_graph *g, nn_vit *v, lf_tensor *x)
{
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[1] != v->in_channels || x->shape[2] != v->image_size ||
        x->shape[3] != v->image_size) {
        char bs[96];
        lf_error(LF_ERR_SHAPE, "vit: input %s, expected (N, %lld, %lld, %lld)",
                 lf_shape_str(x, bs, sizeof bs), (long long)v->in_channels,
                 (long long)v->image_size, (long long)v->image_size);
        return NULL;
    }
    int64_t N = x->shape[0], E = v->E, P = v->T - 1;
    lf_tensor *h = lf_conv(g, x, v->proj_w, v->proj_b,
                           lf_conv_args_make(2, (int)v->patch, 0, 1, 1)); /* (N, E, s, s) */
    h = lf_transpose(g, lf_reshape(g, h, 3, (int64_t[]){N, E, P}), 1, 2);  /* (N, P, E) */
    /* the class token broadcast over the batch: adding zeros (N, 1, E) sums its gradient */
    lf_tensor *zeros = lf_tensor_zeros(g, 3, (int64_t[]){N, 1, E});
    lf_tensor *cls = lf_add(g, v->cls_token, zeros);
    h = lf_concat(g, (lf_tensor *[]){cls, h}, 2, 1);                         /* (N, T, E) */
    h = lf_add(g, h, v->pos_embed);
    for (int i = 0; i < v->depth && h; i++) h = nn_block(g, block_forward, &v->blocks[i], h);
    return lf_layer_norm(g, h, v->norm_w, v->norm_b, v->ln_eps);
}
