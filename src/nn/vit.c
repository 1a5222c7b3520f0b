/* Vision transformer as timm's VisionTransformer (class token, position embedding, pre-LN
 * blocks, final norm; qkv with bias, exact GELU), timm parameter names. The position
 * embedding is learned (timm) or the fixed 2-D sin-cos table of MAE (then a buffer).
 * Letters: N batch, P patches, T = 1 + P tokens, E width, H heads. */
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct nn_vit {
    int64_t E, H, side, T, patch, image_size, in_channels; /* side: patches per row */
    double ln_eps;
    int sincos;
    lf_tensor *cls_token; /* (1, 1, E) */
    lf_tensor *pos_embed; /* (1, T, E) */
    lf_tensor *proj_w, *proj_b; /* patch_embed.proj: conv (E, C, p, p) stride p */
    nn_tstack trunk; /* blocks and norm */
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
    v->sincos = strcmp(cfg->pos_embed, "sincos") == 0;
    v->side = cfg->image_size / cfg->patch;
    v->T = 1 + v->side * v->side;
    int64_t E = v->E, hidden = (int64_t)(cfg->mlp_ratio * (double)E);
    /* order of timm's state_dict: the module's own parameters, then the children */
    v->cls_token = nn_param(nm, LF_TENSOR_NO_DECAY, 3, (int64_t[]){1, 1, E}, "cls_token");
    v->pos_embed = nn_param(nm, v->sincos ? LF_TENSOR_BUFFER : LF_TENSOR_NO_DECAY, 3,
                            (int64_t[]){1, v->T, E}, "pos_embed");
    v->proj_w = nn_param(nm, 0, 4, (int64_t[]){E, v->in_channels, v->patch, v->patch},
                         "patch_embed.proj.weight");
    v->proj_b = nn_param(nm, LF_TENSOR_NO_DECAY, 1, (int64_t[]){E}, "patch_embed.proj.bias");
    lf_status s = nn_tstack_declare(nm, &v->trunk, "", cfg->depth, E, v->H, hidden, v->ln_eps);
    if (s != LF_OK) {
        nn_vit_free(v);
        return s;
    }
    *out = v;
    return LF_OK;
}

void nn_vit_free(nn_vit *v)
{
    if (!v) return;
    nn_tstack_free(&v->trunk);
    lf_free(v);
}

void nn_sincos_pos_embed(lf_tensor *t, int64_t side, int cls)
{
    /* MAE's get_2d_sincos_pos_embed: for token (i, j) of the side x side grid, the first
     * E/2 values embed the column j, the last E/2 the row i; each half is
     * [sin(pos * w_k), cos(pos * w_k)] with w_k = 10000^(-k / (E/4)), k < E/4. With cls,
     * row 0 (the class token) is zeros. */
    int64_t E = t->shape[t->ndim - 1], q = E / 4;
    lf_real *d = t->data;
    if (cls) {
        for (int64_t e = 0; e < E; e++) d[e] = 0;
        d += E;
    }
    for (int64_t i = 0; i < side; i++)
        for (int64_t j = 0; j < side; j++, d += E)
            for (int64_t k = 0; k < q; k++) {
                double w = 1.0 / pow(10000.0, (double)k / (double)q);
                d[k] = (lf_real)sin((double)j * w);
                d[q + k] = (lf_real)cos((double)j * w);
                d[2 * q + k] = (lf_real)sin((double)i * w);
                d[3 * q + k] = (lf_real)cos((double)i * w);
            }
}

void nn_vit_reset(nn_vit *v, lf_rng *rng, nn_linear_init init)
{
    /* timm: pos_embed trunc_normal(.02), cls_token normal(1e-6), Linear trunc_normal(.02)
     * with zero bias, LayerNorm 1/0, the patch conv keeps torch's default init.
     * MAE: sin-cos pos_embed, cls_token normal(.02), Linear xavier_uniform with zero bias,
     * the patch conv's weight xavier_uniform as a (E, C p p) matrix, its bias torch's. */
    if (v->sincos) nn_sincos_pos_embed(v->pos_embed, v->side, 1);
    else nn_init_trunc_normal(rng, v->pos_embed, 0.02, -2.0, 2.0);
    nn_init_normal(rng, v->cls_token, init == NN_INIT_XAVIER ? 0.02 : 1e-6);
    nn_init_torch_default(rng, v->proj_w, v->proj_b);
    if (init == NN_INIT_XAVIER) nn_init_xavier_uniform(rng, v->proj_w);
    nn_tstack_reset(&v->trunk, rng, init);
}

static int check_input(const nn_vit *v, const lf_tensor *x)
{
    if (x->ndim == 4 && x->shape[1] == v->in_channels && x->shape[2] == v->image_size &&
        x->shape[3] == v->image_size)
        return 1;
    char bs[96];
    lf_error(LF_ERR_SHAPE, "vit: input %s, expected (N, %lld, %lld, %lld)",
             lf_shape_str(x, bs, sizeof bs), (long long)v->in_channels,
             (long long)v->image_size, (long long)v->image_size);
    return 0;
}

lf_tensor *nn_vit_patches(lf_graph *g, nn_vit *v, lf_tensor *x)
{
    if (!x || !check_input(v, x)) return NULL;
    int64_t N = x->shape[0], E = v->E, P = v->T - 1;
    lf_tensor *h = lf_conv(g, x, v->proj_w, v->proj_b,
                           lf_conv_args_make(2, (int)v->patch, 0, 1, 1)); /* (N, E, s, s) */
    h = lf_transpose(g, lf_reshape(g, h, 3, (int64_t[]){N, E, P}), 1, 2);  /* (N, P, E) */
    return lf_add(g, h, lf_slice(g, v->pos_embed, 1, 1, v->T));
}

lf_tensor *nn_vit_with_cls(lf_graph *g, nn_vit *v, lf_tensor *h)
{
    if (!h) return NULL;
    int64_t N = h->shape[0], E = v->E;
    /* the class token broadcast over the batch: adding zeros (N, 1, E) sums its gradient */
    lf_tensor *zeros = lf_tensor_zeros(g, 3, (int64_t[]){N, 1, E});
    lf_tensor *cls = lf_add(g, lf_add(g, v->cls_token, lf_slice(g, v->pos_embed, 1, 0, 1)), zeros);
    return lf_concat(g, (lf_tensor *[]){cls, h}, 2, 1);
}

lf_tensor *nn_vit_encode(lf_graph *g, nn_vit *v, lf_tensor *h)
{
    return nn_tstack_forward(g, &v->trunk, h, NULL);
}

lf_tensor *nn_vit_tokens(lf_graph *g, nn_vit *v, lf_tensor *x)
{
    return nn_vit_encode(g, v, nn_vit_with_cls(g, v, nn_vit_patches(g, v, x)));
}

int64_t nn_vit_patch_count(const nn_vit *v) { return v->T - 1; }
