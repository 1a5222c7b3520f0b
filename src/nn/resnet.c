/* ResNet-18 / ResNet-50 in torchvision's layout (BasicBlock / Bottleneck with the stride on
 * the 3x3 conv, "v1.5"), parameter names as its state_dict. `width` scales every stage
 * (64 = torchvision: stages of width, 2w, 4w, 8w planes, Bottleneck expansion 4).
 * Stems: "imagenet" conv 7x7/2 + BN + ReLU + max pool 3x3/2; "cifar" conv 3x3/1 + BN + ReLU.
 * Shapes: x (N, C, H, W) -> features (N, 8w) or (N, 32w). */
#include "nn.h"

#include <stdio.h>
#include <string.h>

typedef struct rn_block {
    lf_tensor *conv1, *conv2, *conv3; /* conv3: Bottleneck only */
    nn_bn bn1, bn2, bn3;
    lf_tensor *ds_conv;               /* downsample.0 (1x1, stride), or NULL */
    nn_bn ds_bn;                      /* downsample.1 */
    int stride;
} rn_block;

struct nn_resnet {
    int bottleneck, imagenet_stem;
    lf_tensor *conv1;
    nn_bn bn1;
    rn_block *blocks;
    int n_blocks;
};

static const int rn18_layers[4] = {2, 2, 2, 2};
static const int rn50_layers[4] = {3, 4, 6, 3};

int64_t nn_resnet_feature_dim(const lf_encoder_config *cfg)
{
    int bottleneck = strcmp(cfg->arch, "resnet50") == 0;
    return (int64_t)cfg->width * 8 * (bottleneck ? 4 : 1);
}

lf_status nn_resnet_init(nn_namer *nm, const lf_encoder_config *cfg, nn_resnet **out)
{
    nn_resnet *r = lf_calloc(1, sizeof *r);
    if (!r) return LF_ERR_NOMEM;
    r->bottleneck = strcmp(cfg->arch, "resnet50") == 0;
    r->imagenet_stem = strcmp(cfg->stem, "imagenet") == 0;
    const int *layers = r->bottleneck ? rn50_layers : rn18_layers;
    int expansion = r->bottleneck ? 4 : 1;
    for (int i = 0; i < 4; i++) r->n_blocks += layers[i];
    r->blocks = lf_calloc((size_t)r->n_blocks, sizeof *r->blocks);
    if (!r->blocks) {
        lf_free(r);
        return LF_ERR_NOMEM;
    }
    double mom = cfg->bn_momentum, eps = cfg->bn_eps;
    int64_t w = cfg->width;
    r->conv1 = nn_conv_declare(nm, w, cfg->in_channels, r->imagenet_stem ? 7 : 3, "conv1");
    nn_bn_declare(nm, &r->bn1, w, mom, eps, "bn1");
    int64_t inplanes = w;
    int b = 0;
    char stem[64];
    for (int li = 0; li < 4; li++) {
        int64_t planes = w << li;
        for (int bi = 0; bi < layers[li]; bi++, b++) {
            rn_block *k = &r->blocks[b];
            k->stride = (li > 0 && bi == 0) ? 2 : 1;
            int64_t outp = planes * expansion;
#define NAME(part) (snprintf(stem, sizeof stem, "layer%d.%d.%s", li + 1, bi, part), stem)
            if (r->bottleneck) {
                k->conv1 = nn_conv_declare(nm, planes, inplanes, 1, NAME("conv1"));
                nn_bn_declare(nm, &k->bn1, planes, mom, eps, NAME("bn1"));
                k->conv2 = nn_conv_declare(nm, planes, planes, 3, NAME("conv2"));
                nn_bn_declare(nm, &k->bn2, planes, mom, eps, NAME("bn2"));
                k->conv3 = nn_conv_declare(nm, outp, planes, 1, NAME("conv3"));
                nn_bn_declare(nm, &k->bn3, outp, mom, eps, NAME("bn3"));
            } else {
                k->conv1 = nn_conv_declare(nm, planes, inplanes, 3, NAME("conv1"));
                nn_bn_declare(nm, &k->bn1, planes, mom, eps, NAME("bn1"));
                k->conv2 = nn_conv_declare(nm, planes, planes, 3, NAME("conv2"));
                nn_bn_declare(nm, &k->bn2, planes, mom, eps, NAME("bn2"));
            }
            if (k->stride != 1 || inplanes != outp) {
                k->ds_conv = nn_conv_declare(nm, outp, inplanes, 1, NAME("downsample.0"));
                nn_bn_declare(nm, &k->ds_bn, outp, mom, eps, NAME("downsample.1"));
            }
#undef NAME
            inplanes = outp;
        }
    }
    if (nm->status != LF_OK) {
        nn_resnet_free(r);
        return nm->status;
    }
    *out = r;
    return LF_OK;
}

void nn_resnet_free(nn_resnet *r)
{
    if (!r) return;
    lf_free(r->blocks);
    lf_free(r);
}

void nn_resnet_reset(nn_resnet *r, lf_rng *rng)
{
    /* torchvision: kaiming_normal_(fan_out, relu) for every conv, BN to 1/0 (in module
     * order; the exact draws differ from torch's generator, the distribution does not) */
    nn_init_kaiming_fan_out(rng, r->conv1);
    nn_bn_reset(&r->bn1);
    for (int b = 0; b < r->n_blocks; b++) {
        rn_block *k = &r->blocks[b];
        nn_init_kaiming_fan_out(rng, k->conv1);
        nn_bn_reset(&k->bn1);
        nn_init_kaiming_fan_out(rng, k->conv2);
        nn_bn_reset(&k->bn2);
        if (k->conv3) {
            nn_init_kaiming_fan_out(rng, k->conv3);
            nn_bn_reset(&k->bn3);
        }
        if (k->ds_conv) {
            nn_init_kaiming_fan_out(rng, k->ds_conv);
            nn_bn_reset(&k->ds_bn);
        }
    }
}

/* relu?(bn(conv(x, w)) + res) with the conv's torch padding (k / 2) */
static lf_tensor *cbr(lf_graph *g, lf_tensor *x, lf_tensor *w, int stride, nn_bn *bn,
                      lf_tensor *res, int relu)
{
    int k = (int)w->shape[2];
    return nn_conv_bn_forward(g, x, w, lf_conv_args_make(2, stride, k / 2, 1, 1), bn, res, relu);
}

/* BN + ReLU and BN + residual add + ReLU run as one fused op each (same values as the
 * separate ops; one activation kept instead of two or three), and in eval-mode inference
 * inside the convolution (lf_conv_bn_act). */
static lf_tensor *block_forward(lf_graph *g, lf_tensor *x, void *kv)
{
    rn_block *k = kv;
    lf_tensor *h;
    lf_tensor *id = k->ds_conv ? cbr(g, x, k->ds_conv, k->stride, &k->ds_bn, NULL, 0) : x;
    if (k->conv3) { /* Bottleneck: 1x1 -> 3x3 (stride) -> 1x1 */
        h = cbr(g, x, k->conv1, 1, &k->bn1, NULL, 1);
        h = cbr(g, h, k->conv2, k->stride, &k->bn2, NULL, 1);
        return cbr(g, h, k->conv3, 1, &k->bn3, id, 1);
    }
    /* BasicBlock: 3x3 (stride) -> 3x3 */
    h = cbr(g, x, k->conv1, k->stride, &k->bn1, NULL, 1);
    return cbr(g, h, k->conv2, 1, &k->bn2, id, 1);
}

static lf_tensor *stem_forward(lf_graph *g, lf_tensor *x, void *rv)
{
    nn_resnet *r = rv;
    if (!r->imagenet_stem) return cbr(g, x, r->conv1, 1, &r->bn1, NULL, 1);
    /* 7x7 stride 2, max pooling 3x3 stride 2 */
    const int k = (int)r->conv1->shape[2];
    return nn_conv_bn_relu_pool_forward(g, x, r->conv1, lf_conv_args_make(2, 2, k / 2, 1, 1),
                                        &r->bn1, 3, 2, 1);
}

lf_tensor *nn_resnet_features(lf_graph *g, nn_resnet *r, lf_tensor *x)
{
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[1] != r->conv1->shape[1]) {
        char b[96];
        lf_error(LF_ERR_SHAPE, "resnet: input %s, expected (N, %lld, H, W)",
                 lf_shape_str(x, b, sizeof b), (long long)r->conv1->shape[1]);
        return NULL;
    }
    lf_tensor *h = nn_block(g, stem_forward, r, x);
    for (int b = 0; b < r->n_blocks && h; b++) h = nn_block(g, block_forward, &r->blocks[b], h);
    return lf_global_avg_pool(g, h);
}
