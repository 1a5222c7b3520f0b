/* Internal helpers shared by the encoders: named parameter declaration under a prefix,
 * conv / batch-norm / linear building blocks and the torch-style initialisers. */
#ifndef LF_NN_H
#define LF_NN_H

#include "../core/internal.h"

/* Builds "<prefix><name>" for parameter names. */
typedef struct nn_namer {
    lf_params *P;
    char prefix[192];
    lf_status status;   /* first failure while declaring, LF_OK otherwise */
} nn_namer;

void nn_namer_init(nn_namer *nm, lf_params *P, const char *prefix);
/* Declares <prefix><fmt...> with the given shape; on failure records it in nm->status. */
lf_tensor *nn_param(nn_namer *nm, int flags, int ndim, const int64_t *shape, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

typedef struct nn_bn {
    lf_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
    double momentum, eps;
} nn_bn;

typedef struct nn_linear {
    lf_tensor *weight, *bias; /* bias may be NULL */
} nn_linear;

/* BatchNorm (weight, bias, running_mean, running_var, num_batches_tracked) named
 * <stem>.weight etc. in torch's state_dict order. */
void nn_bn_declare(nn_namer *nm, nn_bn *bn, int64_t channels, double momentum, double eps,
                   const char *stem);
void nn_linear_declare(nn_namer *nm, nn_linear *l, int64_t in, int64_t out, int bias,
                       const char *stem);
lf_tensor *nn_conv_declare(nn_namer *nm, int64_t cout, int64_t cin, int k, const char *stem);

/* Batch norm forward that also counts num_batches_tracked in training, as torch does. */
lf_tensor *nn_bn_forward(lf_graph *g, nn_bn *bn, lf_tensor *x);
/* relu(bn(conv(x, w)) + res) (res may be NULL; relu 0/1), see lf_conv_bn_act: one op in
 * eval-mode inference */
lf_tensor *nn_conv_bn_forward(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_conv_args a, nn_bn *bn,
                              lf_tensor *res, int relu);
/* max_pool(relu(bn(conv(x, w)))) with a cubic pooling window, see lf_conv_bn_act_pool: in
 * eval-mode inference without the full convolution output */
lf_tensor *nn_conv_bn_relu_pool_forward(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_conv_args a,
                                        nn_bn *bn, int pool_kernel, int pool_stride,
                                        int pool_padding);
/* One encoder block: through lf_recompute when the graph's recompute mode is on or it runs
 * without gradients (the block then keeps only its output), else called directly. */
lf_tensor *nn_block(lf_graph *g, lf_segment_fn fn, void *ctx, lf_tensor *x);
lf_tensor *nn_linear_forward(lf_graph *g, const nn_linear *l, lf_tensor *x);

/* ---- initialisers (fill t->data; t must be finalized) */
/* N(0, std^2) */
void nn_init_normal(lf_rng *r, lf_tensor *t, double std);
/* N(0, std^2) redrawn until inside [lo, hi] (timm's trunc_normal_ bounds are absolute) */
void nn_init_trunc_normal(lf_rng *r, lf_tensor *t, double std, double lo, double hi);
void nn_init_uniform(lf_rng *r, lf_tensor *t, double bound); /* U(-bound, bound) */
void nn_init_const(lf_tensor *t, double v);
/* kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = sqrt(2 / (Cout * k...)) */
void nn_init_kaiming_fan_out(lf_rng *r, lf_tensor *w);
/* torch's default for Linear / Conv: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)) for
 * the weight, U(+-1/sqrt(fan_in)) for the bias. */
void nn_init_torch_default(lf_rng *r, lf_tensor *w, lf_tensor *b);
void nn_bn_reset(nn_bn *bn);
/* xavier_uniform_ of w seen as (shape[0], numel / shape[0]) */
void nn_init_xavier_uniform(lf_rng *r, lf_tensor *w);
typedef enum nn_linear_init {
    NN_INIT_TRUNC_NORMAL, /* timm's ViT: trunc_normal(std .02), bias 0 */
    NN_INIT_XAVIER        /* MAE: xavier_uniform, bias 0 */
} nn_linear_init;
void nn_linear_reset(lf_rng *r, nn_linear *l, nn_linear_init init);

/* ---- pre-LN transformer block, timm's Block (src/nn/transformer_block.c) */
typedef struct nn_tblock {
    lf_tensor *norm1_w, *norm1_b, *norm2_w, *norm2_b;
    nn_linear qkv, proj, fc1, fc2;
    int64_t E, H;
    double ln_eps;
} nn_tblock;
/* Declares <stem>.norm1.weight ... <stem>.mlp.fc2.bias (timm's names and order). */
void nn_tblock_declare(nn_namer *nm, nn_tblock *b, int64_t E, int64_t H, int64_t hidden,
                       double ln_eps, const char *stem);
void nn_tblock_reset(nn_tblock *b, lf_rng *rng, nn_linear_init init); /* LayerNorm 1 / 0 */
/* h (N, T, E) -> h (N, T, E); one recomputed segment when the graph recomputes. mask: an
 * additive key mask (N, T) (-inf on padding keys, see lf_self_attention) that needs no
 * gradient, or NULL. */
lf_tensor *nn_tblock_forward(lf_graph *g, nn_tblock *b, lf_tensor *h, lf_tensor *mask);
/* A stack of blocks and the final LayerNorm (a ViT's or a token model's trunk, MAE's
 * decoder), named <names>blocks.<i>.* then <names>norm.weight, <names>norm.bias (names ""
 * or MAE's "decoder_"). */
typedef struct nn_tstack {
    nn_tblock *blocks;
    int depth;
    lf_tensor *norm_w, *norm_b;
    double ln_eps;
} nn_tstack;
/* Allocates the blocks and declares the parameters; nn_tstack_free releases the blocks
 * (also after a failure). */
lf_status nn_tstack_declare(nn_namer *nm, nn_tstack *s, const char *names, int depth, int64_t E,
                            int64_t H, int64_t hidden, double ln_eps);
void nn_tstack_free(nn_tstack *s);
void nn_tstack_reset(nn_tstack *s, lf_rng *rng, nn_linear_init init); /* blocks, norm 1 / 0 */
/* h (N, T, E) through the blocks (mask as nn_tblock_forward) and the norm */
lf_tensor *nn_tstack_forward(lf_graph *g, nn_tstack *s, lf_tensor *h, lf_tensor *mask);

/* ---- architectures behind lf_encoder (each declares its parameters in state_dict order,
 * the head is declared by encoder.c afterwards) */
typedef struct nn_resnet nn_resnet;
lf_status nn_resnet_init(nn_namer *nm, const lf_encoder_config *cfg, nn_resnet **out);
void nn_resnet_free(nn_resnet *r);
void nn_resnet_reset(nn_resnet *r, lf_rng *rng);
lf_tensor *nn_resnet_features(lf_graph *g, nn_resnet *r, lf_tensor *x); /* (N, F) */
int64_t nn_resnet_feature_dim(const lf_encoder_config *cfg);

typedef struct nn_vit nn_vit;
lf_status nn_vit_init(nn_namer *nm, const lf_encoder_config *cfg, nn_vit **out);
void nn_vit_free(nn_vit *v);
void nn_vit_reset(nn_vit *v, lf_rng *rng, nn_linear_init init); /* timm's or MAE's init */
lf_tensor *nn_vit_tokens(lf_graph *g, nn_vit *v, lf_tensor *x); /* (N, 1 + P, E) normed */
/* The steps of nn_vit_tokens, for MAE, which drops patches between the first two:
 * images (N, C, S, S) -> patch embeddings + their position embeddings (N, P, E); */
lf_tensor *nn_vit_patches(lf_graph *g, nn_vit *v, lf_tensor *x);
/* (N, K, E) -> (N, 1 + K, E) with the class token (+ its position embedding) in front; */
lf_tensor *nn_vit_with_cls(lf_graph *g, nn_vit *v, lf_tensor *h);
/* the blocks and the final norm. */
lf_tensor *nn_vit_encode(lf_graph *g, nn_vit *v, lf_tensor *h);
int64_t nn_vit_patch_count(const nn_vit *v);
nn_vit *nn_encoder_vit(lf_encoder *e); /* the ViT behind an encoder of arch vit, else NULL */
/* Fills t (..., side * side [+ 1], E) with MAE's fixed 2-D sin-cos table (E % 4 == 0); with
 * cls a zero row for the class token first. */
void nn_sincos_pos_embed(lf_tensor *t, int64_t side, int cls);

#endif
