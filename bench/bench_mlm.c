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

int main(int argc, char **argv)
{
    lf_token_model_config c = lf_token_model_config_default();
    const char *mode = "both", *json = NULL;
    int B = 64, IB = 256, threads = 2, steps = 5, warmup = 2, recompute = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--vocab")) c.vocab = atoll(v);
        else if (!strcmp(k, "--seq")) c.max_len = atoll(v);
        else if (!strcmp(k, "--width")) c.width = atoi(v);
        else if (!strcmp(k, "--depth")) c.depth = atoi(v);
        else if (!strcmp(k, "--heads")) c.heads = atoi(v);
        else if (!strcmp(k, "--mlp-ratio")) c.mlp_ratio = atof(v);
        else if (!strcmp(k, "--batch-size")) B = atoi(v);
        else if (!strcmp(k, "--infer-batch-size")) IB = atoi(v);
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else if (!strcmp(k, "--steps")) steps = atoi(v);
        else if (!strcmp(k, "--warmup")) warmup = atoi(v);
        else if (!strcmp(k, "--mode")) mode = v;
        else if (!strcmp(k, "--recompute")) recompute = atoi(v);
        else if (!strcmp(k, "--json")) json = v;
        else {
            fprintf(stderr, "bench_mlm: unknown option %s\n", k);
            return 2;
        }
    }
    if (steps < 1) steps = 1;
    if (steps > 100) steps = 100;
    if (B < 1 || IB < 1 || c.vocab < 6) {
        fprintf(stderr, "bench_mlm: batch sizes must be >= 1 and vocab >= 6\n");
        return 2;
    }
    lf_set_threads(threads);
    const int64_t T = c.max_len;

    lf_params *P;
    lf_token_model *m;
    CHECK(lf_params_init(&P) == LF_OK);
    CHECK(lf_token_model_init(P, &c, NULL, &m) == LF_OK);
    CHECK(lf_params_finalize(P) == LF_OK);
    CHECK(lf_token_model_reset_parameters(m, 0, 0) == LF_OK);
    lf_optim_config oc = lf_optim_defaults(LF_OPTIM_ADAMW);
    oc.lr = 1e-4;
    oc.weight_decay = 0.01;
    oc.decay_all = 1; /* as one torch parameter group */
    lf_optim *opt;
    CHECK(lf_optim_init(&opt, P, &oc) == LF_OK);
    lf_graph *g;
    CHECK(lf_graph_init(&g, 0) == LF_OK);
    lf_graph_set_retain_grads(g, 0);
    lf_graph_set_recompute(g, recompute);

    /* random ordinary ids (5 special ids first: [PAD] [UNK] [CLS] [SEP] [MASK]) */
    int64_t nmax = (B > IB ? B : IB) * T;
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)nmax), *in = malloc(sizeof(int64_t) * (size_t)nmax);
    int64_t *tg = malloc(sizeof(int64_t) * (size_t)nmax);
    CHECK(ids && in && tg);
    lf_rng rng = lf_rng_make(0, 7);
    for (int64_t i = 0; i < nmax; i++) ids[i] = 5 + lf_rng_below(&rng, (uint32_t)(c.vocab - 5));
    lf_mlm_mask_config mc = lf_mlm_mask_config_default(c.vocab, 4, 5);
    CHECK(lf_mlm_mask(&mc, &rng, ids, B, T, in, tg, NULL) == LF_OK);

    double fb = flops_per_token(&c, 0), fh = flops_per_token(&c, 1);
    FILE *jf = json ? fopen(json, "w") : NULL;
    emit(jf, "{\"impl\": \"labelfree\", \"vocab\": %lld, \"seq_len\": %lld, \"width\": %d, "
             "\"depth\": %d, \"heads\": %d, \"mlp_ratio\": %g, \"batch_size\": %d, "
             "\"threads\": %d, \"recompute\": %d, \"forward_gflop_per_sequence\": %.6f, "
             "\"head_gflop_per_sequence\": %.6f",
         (long long)c.vocab, (long long)T, c.width, c.depth, c.heads, c.mlp_ratio, B, threads,
         recompute, fb * T / 1e9, fh * T / 1e9);
    double ts[100];
    if (!strcmp(mode, "train") || !strcmp(mode, "both")) {
        lf_graph_set_training(g, 1);
        lf_graph_set_grad_enabled(g, 1);
        double loss_v = 0;
        for (int it = -warmup; it < steps; it++) {
            double t0 = now();
            lf_graph_reset(g);
            lf_tensor *h = lf_token_model_forward(g, m, in, B, T);
            lf_tensor *loss = lf_mlm_loss(g, lf_token_model_logits(g, m, h), tg);
            CHECK(loss != NULL);
            loss_v = loss->data[0];
            CHECK(lf_backward(g, loss) == LF_OK);
            CHECK(lf_optim_step(opt) == LF_OK);
            lf_params_zero_grad(P);
            if (it >= 0) ts[it] = now() - t0;
        }
        double t = median(ts, steps), tok = (double)B * T;
        emit(jf, ", \"train_step_s\": %.6f, \"train_tokens_per_s\": %.1f, "
                 "\"train_sequences_per_s\": %.3f, \"train_gflops\": %.3f, \"last_loss\": %.5f",
             t, tok / t, B / t, 3.0 * (fb + fh) * tok / t / 1e9, loss_v);
    }
    if (!strcmp(mode, "infer") || !strcmp(mode, "both")) {
        lf_graph_set_training(g, 0);
        lf_graph_set_grad_enabled(g, 0);
        for (int it = -warmup; it < steps; it++) {
            double t0 = now();
            lf_graph_reset(g);
            CHECK(lf_token_model_forward(g, m, ids, IB, T) != NULL);
            if (it >= 0) ts[it] = now() - t0;
        }
        double t = median(ts, steps), tok = (double)IB * T;
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
    lf_graph_free(g);
    lf_optim_free(opt);
    lf_token_model_free(m);
    lf_params_free(P);
    return 0;
}
