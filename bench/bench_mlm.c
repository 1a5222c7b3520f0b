/* labelfree side of the masked-token transformer benchmark (next to bench/torch_mlm.py, same
 * model and shapes): lf_token_model (vocab 4^6 + 5 special ids, seq 128, width 256, depth 6,
 * heads 4, MLP ratio 4, BERT's head transform), timed as
 *   train  one step: forward, MLM loss (cross-entropy over the ~15 % selected positions of
 *          full (N, T, V) logits), backward, AdamW (lr 1e-4, wd .01 on every parameter);
 *          the batch is masked once before timing (lf_mlm_mask), as data loading would
 *   infer  hidden states (N, T, E) in eval mode without gradients (no head)
 * each the median of --steps timed steps after --warmup.
 *
 *   make -s -j2 VARIANT=native lib
 *   B=/usr/lib/x86_64-linux-gnu/openblas-openmp
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/bench_mlm.c \
 *      build/native/liblabelfree.a $(pkg-config --libs jansson libpng libtiff-4 zlib) \
 *      -ljpeg -L$B -Wl,-rpath,$B -lopenblas -lsqlite3 -fopenmp -lm -lpthread \
 *      -o build/native/bench_mlm
 *   build/native/bench_mlm --threads 2 --steps 5 --warmup 2 --mode both --json out.json
 *
 * Options (defaults): --vocab 4101 --seq 128 --width 256 --depth 6 --heads 4 --mlp-ratio 4
 * --batch-size 64 (training) --infer-batch-size 256 --threads 2 --steps 5 --warmup 2
 * --mode both|train|infer --recompute 0 --json FILE. Prints one JSON object with the keys of
 * the torch script. FLOPs are counted from the shapes, the same way in both scripts: per token
 * and block 2 (3E^2 + E^2 + 2 E hidden) for the linears + 4 T E for q k^T and P v; the head
 * adds 2 E^2 + 2 E V; a training step counts 3x its forward (forward, input and weight
 * gradients), inference the blocks alone. */
#include "labelfree.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* forward FLOPs per token of the blocks (head 0) or of the MLM head alone (head 1) */
static double flops_per_token(const lf_token_model_config *c, int head)
{
    double E = c->width, T = (double)c->max_len, V = (double)c->vocab;
    double hidden = (double)(int64_t)(c->mlp_ratio * c->width);
    if (head) return 2 * E * E * c->head_transform + 2 * E * V;
    return c->depth * (2 * (4 * E * E + 2 * E * hidden) + 4 * T * E);
}

/* What one timed step needs */
typedef struct mlm_run {
    lf_graph *g;
    lf_token_model *m;
    lf_params *P;
    lf_optim *opt;
    const int64_t *in, *tg, *ids;
    int64_t B, IB, T;
    double loss;
} mlm_run;

static void train_step(void *ctx, int it)
{
    mlm_run *r = ctx;
    (void)it;
    lf_graph_reset(r->g);
    lf_tensor *h = lf_token_model_forward(r->g, r->m, r->in, r->B, r->T);
    lf_tensor *loss = lf_mlm_loss(r->g, lf_token_model_logits(r->g, r->m, h), r->tg);
    CHECK(loss != NULL);
    r->loss = loss->data[0];
    CHECK(lf_backward(r->g, loss) == LF_OK);
    CHECK(lf_optim_step(r->opt) == LF_OK);
    lf_params_zero_grad(r->P);
}

static void infer_step(void *ctx, int it)
{
    mlm_run *r = ctx;
    (void)it;
    lf_graph_reset(r->g);
    CHECK(lf_token_model_forward(r->g, r->m, r->ids, r->IB, r->T) != NULL);
}

int main(int argc, char **argv)
{
    lf_token_model_config c = lf_token_model_config_default();
    bench_common bc = bench_common_default();
    int B = 64, IB = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (bench_common_option(&bc, k, v)) continue;
        if (!strcmp(k, "--vocab")) c.vocab = atoll(v);
        else if (!strcmp(k, "--seq")) c.max_len = atoll(v);
        else if (!strcmp(k, "--width")) c.width = atoi(v);
        else if (!strcmp(k, "--depth")) c.depth = atoi(v);
        else if (!strcmp(k, "--heads")) c.heads = atoi(v);
        else if (!strcmp(k, "--mlp-ratio")) c.mlp_ratio = atof(v);
        else if (!strcmp(k, "--batch-size")) B = atoi(v);
        else if (!strcmp(k, "--infer-batch-size")) IB = atoi(v);
        else {
            fprintf(stderr, "bench_mlm: unknown option %s\n", k);
            return 2;
        }
    }
    bench_common_clamp(&bc);
    if (B < 1 || IB < 1 || c.vocab < 6) {
        fprintf(stderr, "bench_mlm: batch sizes must be >= 1 and vocab >= 6\n");
        return 2;
    }
    lf_set_threads(bc.threads);
    const int64_t T = c.max_len;

    mlm_run r = {.B = B, .IB = IB, .T = T};
    CHECK(lf_params_init(&r.P) == LF_OK);
    CHECK(lf_token_model_init(r.P, &c, NULL, &r.m) == LF_OK);
    CHECK(lf_params_finalize(r.P) == LF_OK);
    CHECK(lf_token_model_reset_parameters(r.m, 0, 0) == LF_OK);
    lf_optim_config oc = lf_optim_defaults(LF_OPTIM_ADAMW);
    oc.lr = 1e-4;
    oc.weight_decay = 0.01;
    oc.decay_all = 1; /* as one torch parameter group */
    CHECK(lf_optim_init(&r.opt, r.P, &oc) == LF_OK);
    CHECK(lf_graph_init(&r.g, 0) == LF_OK);
    lf_graph_set_retain_grads(r.g, 0);
    lf_graph_set_recompute(r.g, bc.recompute);

    /* random ordinary ids (5 special ids first: [PAD] [UNK] [CLS] [SEP] [MASK]) */
    int64_t nmax = (B > IB ? B : IB) * T;
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)nmax), *in = malloc(sizeof(int64_t) * (size_t)nmax);
    int64_t *tg = malloc(sizeof(int64_t) * (size_t)nmax);
    CHECK(ids && in && tg);
    lf_rng rng = lf_rng_make(0, 7);
    for (int64_t i = 0; i < nmax; i++) ids[i] = 5 + lf_rng_below(&rng, (uint32_t)(c.vocab - 5));
    lf_mlm_mask_config mc = lf_mlm_mask_config_default(c.vocab, 4, 5);
    CHECK(lf_mlm_mask(&mc, &rng, ids, B, T, in, tg, NULL) == LF_OK);
    r.ids = ids, r.in = in, r.tg = tg;

    double fb = flops_per_token(&c, 0), fh = flops_per_token(&c, 1);
    FILE *jf = bc.json ? fopen(bc.json, "w") : NULL;
    emit(jf, "{\"impl\": \"labelfree\", \"vocab\": %lld, \"seq_len\": %lld, \"width\": %d, "
             "\"depth\": %d, \"heads\": %d, \"mlp_ratio\": %g, \"batch_size\": %d, "
             "\"threads\": %d, \"recompute\": %d, \"forward_gflop_per_sequence\": %.6f, "
             "\"head_gflop_per_sequence\": %.6f",
         (long long)c.vocab, (long long)T, c.width, c.depth, c.heads, c.mlp_ratio, B, bc.threads,
         bc.recompute, fb * T / 1e9, fh * T / 1e9);
    if (bench_mode_has(&bc, "train")) {
        lf_graph_set_training(r.g, 1);
        lf_graph_set_grad_enabled(r.g, 1);
        const double t = bench_median_step(&bc, train_step, &r), tok = (double)B * T;
        emit(jf, ", \"train_step_s\": %.6f, \"train_tokens_per_s\": %.1f, "
                 "\"train_sequences_per_s\": %.3f, \"train_gflops\": %.3f, \"last_loss\": %.5f",
             t, tok / t, B / t, 3.0 * (fb + fh) * tok / t / 1e9, r.loss);
    }
    if (bench_mode_has(&bc, "infer")) {
        lf_graph_set_training(r.g, 0);
        lf_graph_set_grad_enabled(r.g, 0);
        const double t = bench_median_step(&bc, infer_step, &r), tok = (double)IB * T;
        emit(jf, ", \"infer_batch_size\": %d, \"infer_step_s\": %.6f, \"infer_tokens_per_s\": %.1f, "
                 "\"infer_sequences_per_s\": %.3f, \"infer_gflops\": %.3f",
             IB, t, tok / t, IB / t, fb * tok / t / 1e9);
    }
    emit(jf, ", \"peak_rss_mb\": %.1f, \"blas_core\": \"%s\"}\n", peak_rss_kb() / 1024.0,
         lf_blas_corename());
    if (jf) fclose(jf);
    free(ids);
    free(in);
    free(tg);
    lf_graph_free(r.g);
    lf_optim_free(r.opt);
    lf_token_model_free(r.m);
    lf_params_free(r.P);
    return 0;
}
