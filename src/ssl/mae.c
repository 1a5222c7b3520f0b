/* Masked autoencoder (He et al. 2022) with the layout of facebookresearch/mae's
 * MaskedAutoencoderViT, so that parameter names, initialisation and the loss are theirs.
 *
 * Letters: N images, P patches per image, K = int(P (1 - mask_ratio)) visible patches,
 * E encoder width, D decoder width, Q = p * p * C values of one patch.
 *   encoder: patch embeddings + sin-cos positions (N, P, E) -> the K visible ones (per-image
 *            order) -> class token in front -> ViT blocks -> norm            (N, 1 + K, E)
 *   decoder: decoder_embed (N, 1 + K, D) -> mask tokens appended for the P - K hidden
 *            patches -> unshuffled to patch order -> + decoder_pos_embed -> blocks -> norm
 *            -> decoder_pred, class token dropped                            (N, P, Q)
 *   loss:    per patch mean over Q of (pred - target)^2, averaged over the hidden patches;
 *            target = the patch's pixels (patchify: value (py, px, c) at (py p + px) C + c),
 *            normalised per patch when norm_pix_loss: (t - mean) / sqrt(var + 1e-6) with the
 *            unbiased variance, as torch's var() (a patch of one value, Q = 1, gets target 0
 *            where torch's var() gives NaN).
 * The gathers are lf_index_select over the (N P, width) rows with one index per row. */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct lf_mae {
    lf_mae_config cfg;
    lf_encoder *enc;
    nn_vit *vit;
    int64_t P, K, side, Q, D;
    lf_tensor *mask_token; /* (1, 1, D) */
    lf_tensor *dec_pos;    /* (1, 1 + P, D), fixed sin-cos (a buffer) */
    nn_linear dec_embed, dec_pred;
    nn_tstack dec; /* decoder_blocks.*, decoder_norm.* */
};

lf_mae_config lf_mae_config_default(void)
{
    lf_mae_config c;
    memset(&c, 0, sizeof c);
    c.encoder = lf_encoder_config_default("vit");
    snprintf(c.encoder.pos_embed, sizeof c.encoder.pos_embed, "sincos");
    c.decoder_width = 128;
    c.decoder_depth = 4;
    c.decoder_heads = 4;
    c.decoder_mlp_ratio = 4.0;
    c.mask_ratio = 0.75;
    c.norm_pix_loss = 1;
    return c;
}

int64_t lf_mae_visible(const lf_mae_config *c)
{
    int64_t side = c->encoder.patch > 0 ? c->encoder.image_size / c->encoder.patch : 0;
    return (int64_t)((double)(side * side) * (1.0 - c->mask_ratio)); /* MAE's int(L (1 - r)) */
}

lf_status lf_mae_config_check(const lf_mae_config *c)
{
    if (!c) return lf_error(LF_ERR_ARG, "mae config: NULL");
    if (strcmp(c->encoder.arch, "vit") != 0)
        return lf_error(LF_ERR_ARG, "mae config: encoder arch '%s' must be vit", c->encoder.arch);
    if (c->encoder.num_classes != 0)
        return lf_error(LF_ERR_ARG, "mae config: the encoder has no classifier (num_classes %d)",
                        c->encoder.num_classes);
    lf_status s = lf_encoder_config_check(&c->encoder);
    if (s != LF_OK) return s;
    if (c->decoder_width <= 0 || c->decoder_width % 4 != 0)
        return lf_error(LF_ERR_ARG, "mae config: decoder_width %d must be a positive multiple "
                        "of 4 (sin-cos positions)", c->decoder_width);
    if (c->decoder_depth <= 0 || c->decoder_heads <= 0 || c->decoder_width % c->decoder_heads)
        return lf_error(LF_ERR_ARG, "mae config: decoder_depth %d must be > 0 and "
                        "decoder_width %d divisible by decoder_heads %d", c->decoder_depth,
                        c->decoder_width, c->decoder_heads);
    if (!(c->decoder_mlp_ratio > 0) || (int64_t)(c->decoder_mlp_ratio * c->decoder_width) < 1)
        return lf_error(LF_ERR_ARG, "mae config: decoder_mlp_ratio %g", c->decoder_mlp_ratio);
    int64_t side = c->encoder.image_size / c->encoder.patch, K = lf_mae_visible(c);
    if (!(c->mask_ratio >= 0 && c->mask_ratio < 1) || K < 1 || K >= side * side)
        return lf_error(LF_ERR_ARG, "mae config: mask_ratio %g leaves %lld of %lld patches "
                        "visible; need at least one visible and one hidden", c->mask_ratio,
                        (long long)K, (long long)(side * side));
    return LF_OK;
}

lf_status lf_mae_init(lf_params *P, const lf_mae_config *cfg, const char *prefix, lf_mae **out)
{
    if (!P || !out) return lf_error(LF_ERR_ARG, "lf_mae_init: NULL argument");
    lf_status s = lf_mae_config_check(cfg);
    if (s != LF_OK) return s;
    lf_mae *m = lf_calloc(1, sizeof *m);
    if (!m) return LF_ERR_NOMEM;
    m->cfg = *cfg;
    const lf_encoder_config *e = &cfg->encoder;
    m->side = e->image_size / e->patch;
    m->P = m->side * m->side;
    m->K = lf_mae_visible(cfg);
    m->Q = (int64_t)e->patch * e->patch * e->in_channels;
    m->D = cfg->decoder_width;
    if ((s = lf_encoder_init(P, e, prefix, &m->enc)) != LF_OK) {
        lf_mae_free(m);
        return s;
    }
    m->vit = nn_encoder_vit(m->enc);
    nn_namer nm;
    nn_namer_init(&nm, P, prefix);
    int64_t D = m->D, hidden = (int64_t)(cfg->decoder_mlp_ratio * (double)D);
    m->mask_token = nn_param(&nm, LF_TENSOR_NO_DECAY, 3, (int64_t[]){1, 1, D}, "mask_token");
    m->dec_pos = nn_param(&nm, LF_TENSOR_BUFFER, 3, (int64_t[]){1, 1 + m->P, D},
                          "decoder_pos_embed");
    nn_linear_declare(&nm, &m->dec_embed, e->width, D, 1, "decoder_embed");
    s = nn_tstack_declare(&nm, &m->dec, "decoder_", cfg->decoder_depth, D, cfg->decoder_heads,
                          hidden, e->ln_eps);
    nn_linear_declare(&nm, &m->dec_pred, D, m->Q, 1, "decoder_pred");
    if (s != LF_OK || nm.status != LF_OK) {
        lf_mae_free(m);
        return s != LF_OK ? s : nm.status;
    }
    *out = m;
    return LF_OK;
}

void lf_mae_free(lf_mae *m)
{
    if (!m) return;
    lf_encoder_free(m->enc);
    nn_tstack_free(&m->dec);
    lf_free(m);
}

lf_encoder *lf_mae_encoder(lf_mae *m) { return m ? m->enc : NULL; }
const lf_mae_config *lf_mae_get_config(const lf_mae *m) { return m ? &m->cfg : NULL; }

lf_status lf_mae_reset_parameters(lf_mae *m, uint64_t seed, uint64_t stream)
{
    if (!m) return lf_error(LF_ERR_ARG, "lf_mae_reset_parameters: NULL model");
    /* MAE's initialize_weights: sin-cos tables, patch conv and Linear xavier_uniform, biases
     * 0, cls and mask tokens N(0, .02^2), LayerNorm 1 / 0 */
    lf_rng rng = lf_rng_make(seed, stream);
    nn_vit_reset(m->vit, &rng, NN_INIT_XAVIER);
    nn_sincos_pos_embed(m->dec_pos, m->side, 1);
    nn_init_normal(&rng, m->mask_token, 0.02);
    nn_linear_reset(&rng, &m->dec_embed, NN_INIT_XAVIER);
    nn_tstack_reset(&m->dec, &rng, NN_INIT_XAVIER);
    nn_linear_reset(&rng, &m->dec_pred, NN_INIT_XAVIER);
    return LF_OK;
}

void lf_mae_random_order(lf_rng *rng, int64_t n, int64_t patches, int64_t *order)
{
    /* a uniformly random permutation per image, what MAE's argsort of uniform noise gives */
    for (int64_t i = 0; i < n; i++) {
        int64_t *o = order + i * patches;
        for (int64_t j = 0; j < patches; j++) o[j] = j;
        lf_rng_shuffle(rng, o, patches);
    }
}

/* Checks that each image's order is a permutation of 0..P-1 (seen: scratch of P bytes). */
static lf_status check_order(const int64_t *order, int64_t N, int64_t P, unsigned char *seen)
{
    for (int64_t i = 0; i < N; i++) {
        memset(seen, 0, (size_t)P);
        for (int64_t j = 0; j < P; j++) {
            int64_t v = order[i * P + j];
            if (v < 0 || v >= P || seen[v])
                return lf_error(LF_ERR_ARG, "mae: order of image %lld is not a permutation of "
                                "0..%lld (position %lld holds %lld)", (long long)i,
                                (long long)(P - 1), (long long)j, (long long)v);
            seen[v] = 1;
        }
    }
    return LF_OK;
}

/* Targets (N, P, Q) from the images, normalised per patch when asked. */
static void patch_targets(const lf_mae *m, const lf_tensor *x, lf_real *t)
{
    int64_t N = x->shape[0], C = x->shape[1], S = x->shape[2], p = m->cfg.encoder.patch;
    int64_t P = m->P, Q = m->Q;
#pragma omp parallel for schedule(static) if (N * P * Q >= (1 << 16))
    for (int64_t n = 0; n < N; n++)
        for (int64_t hi = 0; hi < m->side; hi++)
            for (int64_t wi = 0; wi < m->side; wi++) {
                lf_real *tp = t + (n * P + hi * m->side + wi) * Q;
                for (int64_t py = 0; py < p; py++)
                    for (int64_t px = 0; px < p; px++)
                        for (int64_t c = 0; c < C; c++)
                            tp[(py * p + px) * C + c] =
                                x->data[((n * C + c) * S + hi * p + py) * S + wi * p + px];
                if (!m->cfg.norm_pix_loss) continue;
                double s = 0, ss = 0;
                for (int64_t q = 0; q < Q; q++) s += tp[q];
                double mean = s / (double)Q;
                for (int64_t q = 0; q < Q; q++) ss += (tp[q] - mean) * (tp[q] - mean);
                double var = Q > 1 ? ss / (double)(Q - 1) : 0.0;
                double inv = 1.0 / sqrt(var + 1e-6);
                for (int64_t q = 0; q < Q; q++) tp[q] = (lf_real)((tp[q] - mean) * inv);
            }
}

/* rows of a (N, T, W) tensor seen as (N T, W), picked by global row ids -> (N, cnt / N, W) */
static lf_tensor *pick_rows(lf_graph *g, lf_tensor *x, const int64_t *rows, int64_t cnt)
{
    if (!x) return NULL;
    int64_t N = x->shape[0], W = x->shape[2];
    lf_tensor *flat = lf_reshape(g, lf_contiguous(g, x), 2, (int64_t[]){-1, W});
    return lf_reshape(g, lf_index_select(g, flat, 0, rows, cnt), 3,
                      (int64_t[]){N, cnt / N, W});
}

lf_tensor *lf_mae_loss(lf_graph *g, lf_mae *m, lf_tensor *x, const int64_t *order,
                       lf_mae_output *out)
{
    if (!g || !m || !x) return NULL;
    if (out) memset(out, 0, sizeof *out);
    x = lf_contiguous(g, x); /* the targets read its memory directly */
    lf_tensor *h = nn_vit_patches(g, m->vit, x); /* checks x's shape */
    if (!h) return NULL;
    int64_t N = x->shape[0], P = m->P, K = m->K, D = m->D;
    if (N < 1) {
        lf_error(LF_ERR_SHAPE, "mae: empty batch");
        return NULL;
    }
    int64_t *ord = lf_graph_alloc(g, (size_t)(N * P) * sizeof *ord);
    int64_t *keep = lf_graph_alloc(g, (size_t)(N * K) * sizeof *keep);
    int64_t *restore = lf_graph_alloc(g, (size_t)(N * P) * sizeof *restore);
    lf_tensor *mask = lf_tensor_new(g, 2, (int64_t[]){N, P});
    lf_tensor *target = lf_tensor_new(g, 3, (int64_t[]){N, P, m->Q});
    if (!ord || !keep || !restore || !mask || !target) return NULL;
    if (order) {
        if (check_order(order, N, P, (unsigned char *)restore) != LF_OK) return NULL;
        memcpy(ord, order, (size_t)(N * P) * sizeof *ord);
    } else {
        lf_mae_random_order(lf_graph_rng(g), N, P, ord);
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < P; j++) {
            int64_t patch = ord[n * P + j];
            if (j < K) keep[n * K + j] = n * P + patch;
            /* the decoder's tokens are [visible in order, then mask tokens]: patch `patch`
             * sits at row j of that list */
            restore[n * P + patch] = n * P + j;
            mask->data[n * P + patch] = j < K ? 0 : 1;
        }
    patch_targets(m, x, target->data);

    /* encoder on the visible patches */
    lf_tensor *z = nn_vit_encode(g, m->vit, nn_vit_with_cls(g, m->vit, pick_rows(g, h, keep, N * K)));
    /* decoder */
    lf_tensor *d = nn_linear_forward(g, &m->dec_embed, z); /* (N, 1 + K, D) */
    if (!d) return NULL;
    lf_tensor *fill = lf_add(g, m->mask_token, lf_tensor_zeros(g, 3, (int64_t[]){N, P - K, D}));
    lf_tensor *tok = lf_concat(g, (lf_tensor *[]){lf_slice(g, d, 1, 1, 1 + K), fill}, 2, 1);
    tok = pick_rows(g, tok, restore, N * P); /* (N, P, D) in patch order */
    d = lf_add(g, lf_concat(g, (lf_tensor *[]){lf_slice(g, d, 1, 0, 1), tok}, 2, 1), m->dec_pos);
    d = nn_tstack_forward(g, &m->dec, d, NULL);
    lf_tensor *pred = lf_slice(g, nn_linear_forward(g, &m->dec_pred, d), 1, 1, 1 + P);
    /* loss */
    lf_tensor *diff = lf_sub(g, pred, target);
    lf_tensor *per_patch = lf_mean(g, lf_mul(g, diff, diff), 1u << 2, 0); /* (N, P) */
    lf_tensor *loss = lf_scale(g, lf_sum_all(g, lf_mul(g, per_patch, mask)),
                               1.0 / (double)(N * (P - K)));
    if (!loss) return NULL;
    if (out) {
        out->pred = pred;
        out->target = target;
        out->mask = mask;
        out->patch_loss = per_patch;
    }
    return loss;
}
