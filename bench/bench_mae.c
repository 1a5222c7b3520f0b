/* labelfree side of the MAE benchmark (bench/run.sh runs it next to bench/torch_mae.py).
 * Same model as the torch script: facebookresearch/mae's MaskedAutoencoderViT with a
 * ViT-Tiny encoder (width 192, 12 blocks of 3 heads, patch 16 at 224) and a decoder of
 * --decoder-depth blocks, --decoder-width wide; mask ratio 0.75, norm-pix loss; AdamW
 * (lr 1.5e-4, betas .9/.95, wd .05). Training: a random batch, new masks every step.
 * Embedding: the encoder on every patch (no mask), class token after the final norm.
 *
 *   build/native/bench_mae --image-size 224 --patch 16 --batch-size 64 \
 *       --embed-batch-size 256 --threads 2 --steps 5 --warmup 2 --mode both --json out.json
 *
 * Build (bench/run.sh does): as bench_simclr, with bench/bench_mae.c.
 * Prints one JSON object with the torch script's keys. Flops per image come from the layer
 * shapes (bench/mae_flops.h, the same formula as the torch script's): training 3x the
 * masked forward (forward, input and weight gradients), embedding the full encoder. */
#include "labelfree.h"
#include "bench_util.h"
#include "mae_flops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one timed step needs */
typedef struct mae_run {
    lf_graph *g;
    lf_mae *m;
    lf_params *P;
    lf_optim *opt;
    const lf_real *x;
    int64_t shape[4];
    int warmup;
} mae_run;

/* a copy of the batch in the graph (the input a loader would hand over) */
static lf_tensor *batch(mae_run *r)
{
    lf_tensor *x = lf_tensor_new(r->g, 4, r->shape);
    CHECK(x != NULL);
    memcpy(x->data, r->x, sizeof(lf_real) * (size_t)lf_numel(x));
    return x;
}

static void train_step(void *ctx, int it)
{
    mae_run *r = ctx;
    lf_graph_reset(r->g);
    lf_graph_set_rng(r->g, lf_rng_make(1, (uint64_t)(it + r->warmup))); /* new masks a step */
    lf_tensor *loss = lf_mae_loss(r->g, r->m, batch(r), NULL, NULL);
    CHECK(loss != NULL);
    CHECK(lf_backward(r->g, loss) == LF_OK);
    CHECK(lf_optim_step(r->opt) == LF_OK);
    lf_params_zero_grad(r->P);
}

static void embed_step(void *ctx, int it)
{
    mae_run *r = ctx;
    (void)it;
    lf_graph_reset(r->g);
    CHECK(lf_encoder_features(r->g, lf_mae_encoder(r->m), batch(r)) != NULL);
}

int main(int argc, char **argv)
{
    bench_common bc = bench_common_default();
    int S = 224, p = 16, C = 3, B = 64, EB = 256;
    int E = 192, depth = 12, heads = 3, D = 128, ddepth = 4, dheads = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (bench_common_option(&bc, k, v)) continue;
        if (!strcmp(k, "--image-size")) S = atoi(v);
        else if (!strcmp(k, "--patch")) p = atoi(v);
        else if (!strcmp(k, "--batch-size")) B = atoi(v);
        else if (!strcmp(k, "--embed-batch-size")) EB = atoi(v);
        else if (!strcmp(k, "--width")) E = atoi(v);
        else if (!strcmp(k, "--depth")) depth = atoi(v);
        else if (!strcmp(k, "--heads")) heads = atoi(v);
        else if (!strcmp(k, "--decoder-width")) D = atoi(v);
        else if (!strcmp(k, "--decoder-depth")) ddepth = atoi(v);
        else if (!strcmp(k, "--decoder-heads")) dheads = atoi(v);
        else {
            fprintf(stderr, "bench_mae: unknown option %s\n", k);
            return 2;
        }
    }
    bench_common_clamp(&bc);
    lf_set_threads(bc.threads);

    lf_mae_config mc = lf_mae_config_default();
    mc.encoder.image_size = S;
    mc.encoder.patch = p;
    mc.encoder.in_channels = C;
    mc.encoder.width = E;
    mc.encoder.depth = depth;
    mc.encoder.heads = heads;
    mc.decoder_width = D;
    mc.decoder_depth = ddepth;
    mc.decoder_heads = dheads;
    mae_run r = {0};
    CHECK(lf_params_init(&r.P) == LF_OK);
    CHECK(lf_mae_init(r.P, &mc, NULL, &r.m) == LF_OK);
    CHECK(lf_params_finalize(r.P) == LF_OK);
    CHECK(lf_mae_reset_parameters(r.m, 0, 0) == LF_OK);
    lf_optim_config oc = lf_optim_defaults(LF_OPTIM_ADAMW);
    oc.lr = 1.5e-4;
    oc.beta2 = 0.95;
    oc.weight_decay = 0.05;
    oc.decay_all = 1; /* torch's AdamW on model.parameters() decays every parameter */
    CHECK(lf_optim_init(&r.opt, r.P, &oc) == LF_OK);
    CHECK(lf_graph_init(&r.g, 0) == LF_OK);
    lf_graph_set_retain_grads(r.g, 0);
    lf_graph_set_recompute(r.g, bc.recompute);

    int64_t nx = (int64_t)(B > EB ? B : EB) * C * S * S;
    lf_real *xdata = malloc(sizeof(lf_real) * (size_t)nx);
    CHECK(xdata != NULL);
    lf_rng rng = lf_rng_make(0, 7);
    lf_rng_fill_normal(&rng, xdata, nx, 0, 1);
    r.x = xdata;
    r.warmup = bc.warmup;
    mae_shape sh = {S, p, C, E, depth, D, ddepth, (int)lf_mae_visible(&mc)};
    FILE *jf = bc.json ? fopen(bc.json, "w") : NULL;
    emit(jf, "{\"impl\": \"labelfree\", \"model\": \"mae\", \"image_size\": %d, \"patch\": %d, "
             "\"width\": %d, \"depth\": %d, \"decoder_width\": %d, \"decoder_depth\": %d, "
             "\"batch_size\": %d, \"threads\": %d, \"recompute\": %d, "
             "\"train_gflop_per_image\": %.6f, \"forward_gflop_per_image\": %.6f",
         S, p, E, depth, D, ddepth, B, bc.threads, bc.recompute,
         3 * mae_train_forward_flops(&sh) / 1e9, vit_forward_flops(&sh) / 1e9);
    if (bench_mode_has(&bc, "train")) {
        lf_graph_set_training(r.g, 1);
        lf_graph_set_grad_enabled(r.g, 1);
        r.shape[0] = B, r.shape[1] = C, r.shape[2] = r.shape[3] = S;
        const double t = bench_median_step(&bc, train_step, &r);
        emit(jf, ", \"train_step_s\": %.6f, \"train_images_per_s\": %.3f, \"train_gflops\": %.3f", t,
             B / t, 3 * mae_train_forward_flops(&sh) * B / t / 1e9);
    }
    if (bench_mode_has(&bc, "embed")) {
        lf_graph_set_training(r.g, 0);
        lf_graph_set_grad_enabled(r.g, 0);
        r.shape[0] = EB, r.shape[1] = C, r.shape[2] = r.shape[3] = S;
        const double t = bench_median_step(&bc, embed_step, &r);
        emit(jf, ", \"embed_batch_size\": %d, \"embed_step_s\": %.6f, \"embed_images_per_s\": %.3f, "
                 "\"embed_gflops\": %.3f", EB, t, EB / t, vit_forward_flops(&sh) * EB / t / 1e9);
    }
    emit(jf, ", \"peak_rss_mb\": %.1f}\n", peak_rss_kb() / 1024.0);
    if (jf) fclose(jf);
    free(xdata);
    lf_graph_free(r.g);
    lf_optim_free(r.opt);
    lf_mae_free(r.m);
    lf_params_free(r.P);
    return 0;
}
