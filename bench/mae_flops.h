/* Forward flops per image of MAE and its ViT encoder from the layer shapes: 2 per multiply-add
 * of the linear layers, the patch convolution and the attention products (q k^T and P v);
 * LayerNorm, GELU, softmax and adds are not counted. bench/torch_mae.py uses the same formula. */
#ifndef LF_BENCH_MAE_FLOPS_H
#define LF_BENCH_MAE_FLOPS_H

typedef struct mae_shape {
    int S, p, C, E, depth, D, ddepth, K; /* K: visible patches in training */
} mae_shape;

/* one pre-LN block of width w over t tokens: qkv, proj, fc1, fc2 (hidden 4w), attention */
static inline double block_flops(double t, double w)
{
    return 2.0 * t * 12.0 * w * w + 4.0 * t * t * w;
}

static inline double vit_forward_flops(const mae_shape *s)
{
    double P = (double)(s->S / s->p) * (s->S / s->p), Q = (double)s->p * s->p * s->C;
    return 2.0 * P * Q * s->E + s->depth * block_flops(P + 1, s->E);
}

static inline double mae_train_forward_flops(const mae_shape *s)
{
    double P = (double)(s->S / s->p) * (s->S / s->p), Q = (double)s->p * s->p * s->C;
    return 2.0 * P * Q * s->E                              /* patch embedding of all patches */
           + s->depth * block_flops(s->K + 1, s->E)       /* encoder on the visible ones */
           + 2.0 * (s->K + 1) * s->E * s->D               /* decoder_embed */
           + s->ddepth * block_flops(P + 1, s->D)         /* decoder on every patch */
           + 2.0 * (P + 1) * s->D * Q;                    /* decoder_pred */
}

#endif
