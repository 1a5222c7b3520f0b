/* labelfree side of the SimCLR benchmark (bench/run.sh runs it next to bench/torch_simclr.py).
 * Same model as the torch script: a torchvision-layout ResNet (cifar or imagenet stem, no
 * fc) + projection head Linear(F, F)-ReLU-Linear(F, 128) with biases, NT-Xent (t = 0.5) on
 * two views of a random batch, SGD lr 0.1 momentum 0.9 wd 1e-6 on every parameter.
 *
 *   build/native/bench_simclr --arch resnet18 --stem cifar --image-size 32 --batch-size 256 \
 *       --threads 2 --steps 5 --warmup 2 --mode both --json out.json
 *
 * Prints one JSON object with the same keys as the torch script, plus sgemm_gflops: a large
 * square sgemm (OpenBLAS) timed in this process, the machine's reference speed, and
 * own_sgemm_gflops: the same product on labelfree's AVX-512 kernel, one half per thread.
 * Training flops are 3x the forward flops (forward, input gradient, weight gradient), as the
 * torch script counts them; the counts here come from the layer shapes, the same way. */
#include "labelfree.h"
#include "bench_util.h"
#include "../src/backend/cpu/gemm_avx512.h"
#include "../src/core/internal.h" /* --profile: the arena's live peak, the scratch */

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* forward flops per image of a torchvision ResNet-18/50 (2 * MACs of convs; the fc is off) */
static double resnet_flops(const char *arch, const char *stem, int C, int S)
{
    int bott = strcmp(arch, "resnet50") == 0;
    double f = 0;
    int h = S, in = 64;
    if (strcmp(stem, "imagenet") == 0) {
        h = (S + 2 * 3 - 7) / 2 + 1;
        f += 2.0 * h * h * 64 * C * 49;
        h = (h + 2 - 3) / 2 + 1; /* max pool */
    } else {
        f += 2.0 * h * h * 64 * C * 9;
    }
    static const int l18[4] = {2, 2, 2, 2}, l50[4] = {3, 4, 6, 3};
    const int *layers = bott ? l50 : l18;
    for (int li = 0; li < 4; li++) {
        int planes = 64 << li;
        for (int bi = 0; bi < layers[li]; bi++) {
            int s = (li > 0 && bi == 0) ? 2 : 1;
            int ho = (h + 2 - 3) / s + 1;
            int out = bott ? planes * 4 : planes;
            if (bott) {
                f += 2.0 * h * h * planes * in;            /* 1x1 */
                f += 2.0 * ho * ho * planes * planes * 9;  /* 3x3 stride s */
                f += 2.0 * ho * ho * out * planes;         /* 1x1 */
            } else {
                f += 2.0 * ho * ho * planes * in * 9;
                f += 2.0 * ho * ho * planes * planes * 9;
            }
            if (s != 1 || in != out) f += 2.0 * ho * ho * out * in; /* downsample 1x1/s */
            in = out;
            h = ho;
        }
    }
    return f;
}

/* A 2048^3 sgemm timed in this process (median of 5 after one warm-up): OpenBLAS's (own = 0),
 * or labelfree's AVX-512 kernel with one row half per thread, as the convolutions run it
 * (own = 1; 0 where the kernel is not in use). */
static double sgemm_gflops(int own, int T)
{
    if (own && !lf_gemm512_available()) return 0;
    const int n = 2048, reps = 5;
    const size_t pf = lf_gemm512_pack_floats() + 16;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n), *pack = malloc(sizeof(float) * pf * (size_t)T);
    if (!a || !b || !c || !pack) return 0;
    for (long i = 0; i < (long)n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    double ts[8];
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        if (!own) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        } else {
#pragma omp parallel num_threads(T)
            {
                int t = omp_get_thread_num(), r0 = n * t / T, r1 = n * (t + 1) / T;
                lf_gemm512(false, false, r1 - r0, n, n, 1, a + (long)r0 * n, n, b, n, 0,
                           c + (long)r0 * n, n, pack + pf * (size_t)t);
            }
        }
        if (r >= 0) ts[r] = now() - t0;
    }
    free(a);
    free(b);
    free(c);
    free(pack);
    return 2.0 * n * n * n / median(ts, reps) / 1e9;
}

int main(int argc, char **argv)
{
    const char *arch = "resnet18", *stem = "cifar";
    int S = 32, C = 3, B = 256, sgemm = 1, profile = 0;
    int EB = 0, frozen = 1; /* EB: embedding batch (0: B) */
    bench_common bc = bench_common_default();
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (bench_common_option(&bc, k, v)) continue;
        if (!strcmp(k, "--arch")) arch = v;
        else if (!strcmp(k, "--stem")) stem = v;
        else if (!strcmp(k, "--image-size")) S = atoi(v);
        else if (!strcmp(k, "--channels")) C = atoi(v);
        else if (!strcmp(k, "--batch-size")) B = atoi(v);
        else if (!strcmp(k, "--sgemm")) sgemm = atoi(v);
        else if (!strcmp(k, "--profile")) profile = atoi(v); /* per-phase times on stderr */
        else if (!strcmp(k, "--frozen")) frozen = atoi(v); /* 0: embedding without kept forms */
        else if (!strcmp(k, "--embed-batch-size")) EB = atoi(v);
        else {
            fprintf(stderr, "bench_simclr: unknown option %s\n", k);
            return 2;
        }
    }
    if (EB <= 0) EB = B;
    bench_common_clamp(&bc);
    const int T = bc.threads, steps = bc.steps, warmup = bc.warmup, recompute = bc.recompute;
    const char *mode = bc.mode, *json = bc.json;
    lf_set_threads(T);

    lf_params *P;
    CHECK(lf_params_init(&P) == LF_OK);
    lf_encoder_config ec = lf_encoder_config_default(arch);
    snprintf(ec.stem, sizeof ec.stem, "%s", stem);
    ec.in_channels = C;
    ec.num_classes = 0;
    lf_encoder *enc;
    CHECK(lf_encoder_init(P, &ec, "0.", &enc) == LF_OK);
    int F = (int)lf_encoder_feature_dim(enc);
    int dims[3] = {F, F, 128};
    lf_mlp_config mc = lf_mlp_config_make(2, dims, 0);
    lf_mlp *head;
    CHECK(lf_mlp_init(P, &mc, "1.", &head) == LF_OK);
    CHECK(lf_params_finalize(P) == LF_OK);
    CHECK(lf_encoder_reset_parameters(enc, 0, 0) == LF_OK);
    CHECK(lf_mlp_reset_parameters(head, 0, 1) == LF_OK);
    lf_optim_config oc = lf_optim_defaults(LF_OPTIM_SGD);
    oc.lr = 0.1;
    oc.momentum = 0.9;
    oc.weight_decay = 1e-6;
    oc.decay_all = 1; /* torch's SGD decays every parameter */
    lf_optim *opt;
    CHECK(lf_optim_init(&opt, P, &oc) == LF_OK);

    lf_graph *g;
    CHECK(lf_graph_init(&g, 0) == LF_OK);
    lf_graph_set_retain_grads(g, 0);
    lf_graph_set_recompute(g, recompute);
    lf_rng rng = lf_rng_make(0, 7);
    const int64_t xs[4] = {2 * B, C, S, S};
    const int64_t nx = (2 * B > EB ? 2 * B : EB) * (int64_t)C * S * S;
    lf_real *xdata = malloc(sizeof(lf_real) * (size_t)nx);
    CHECK(xdata != NULL);
    lf_rng_fill_normal(&rng, xdata, nx, 0, 1);

    double fwd = resnet_flops(arch, stem, C, S);
    FILE *jf = json ? fopen(json, "w") : NULL;
    emit(jf, "{\"impl\": \"labelfree\", \"arch\": \"%s\", \"stem\": \"%s\", \"image_size\": %d, "
             "\"batch_size\": %d, \"threads\": %d, \"recompute\": %d, \"forward_gflop_per_image\": %.6f",
         arch, stem, S, B, T, recompute, fwd / 1e9);
    double ts[100], tph[3][100];
    if (!strcmp(mode, "train") || !strcmp(mode, "both")) {
        lf_graph_set_training(g, 1);
        lf_graph_set_grad_enabled(g, 1);
        for (int it = -warmup; it < steps; it++) {
            double t0 = now();
            lf_graph_reset(g);
            lf_tensor *x = lf_tensor_new(g, 4, xs);
            CHECK(x != NULL);
            memcpy(x->data, xdata, sizeof(lf_real) * (size_t)lf_numel(x));
            lf_tensor *z = lf_mlp_forward(g, head, lf_encoder_forward(g, enc, x));
            lf_tensor *loss = lf_nt_xent(g, z, 0.5, NULL);
            CHECK(loss != NULL);
            double t1 = now();
            CHECK(lf_backward(g, loss) == LF_OK);
            double t2 = now();
            CHECK(lf_optim_step(opt) == LF_OK);
            lf_params_zero_grad(P);
            double t3 = now();
            if (it >= 0) {
                ts[it] = t3 - t0;
                tph[0][it] = t1 - t0, tph[1][it] = t2 - t1, tph[2][it] = t3 - t2;
            }
        }
        double t = median(ts, steps);
        if (profile) {
            size_t scratch = 0;
            for (int i = 0; i < LF_SCRATCH_SLOTS; i++) scratch += g->scratch_cap[i];
            fprintf(stderr, "train phases (median): forward %.3f s, backward %.3f s, optim %.3f s; "
                            "arena capacity %.1f MB, live peak of the last step %.1f MB; "
                            "scratch %.1f MB\n",
                    median(tph[0], steps), median(tph[1], steps), median(tph[2], steps),
                    lf_graph_arena_bytes(g) / 1e6, g->arena.peak_all / 1e6, scratch / 1e6);
        }
        double gf = 3.0 * fwd * 2 * B / t / 1e9;
        emit(jf, ", \"train_step_s\": %.6f, \"train_images_per_s\": %.3f, \"train_gflops\": %.3f", t,
             B / t, gf);
    }
    if (!strcmp(mode, "embed") || !strcmp(mode, "both")) {
        lf_graph_set_training(g, 0);
        lf_graph_set_grad_enabled(g, 0);
        /* serving: the weights stay as they are, so the convolutions keep their transformed
         * and packed forms between batches (--frozen 0: remade every batch, NOTES 24) */
        lf_graph_set_frozen_weights(g, frozen);
        const int64_t es[4] = {EB, C, S, S};
        for (int it = -warmup; it < steps; it++) {
            double t0 = now();
            lf_graph_reset(g);
            lf_tensor *x = lf_tensor_new(g, 4, es);
            CHECK(x != NULL);
            memcpy(x->data, xdata, sizeof(lf_real) * (size_t)lf_numel(x));
            CHECK(lf_encoder_forward(g, enc, x) != NULL);
            if (it >= 0) ts[it] = now() - t0;
        }
        double t = median(ts, steps);
        double gf = fwd * EB / t / 1e9;
        emit(jf, ", \"embed_batch_size\": %d, \"embed_step_s\": %.6f, \"embed_images_per_s\": %.3f, "
                 "\"embed_gflops\": %.3f", EB, t, EB / t, gf);
    }
    double rss = peak_rss_kb() / 1024.0;
    double sg = sgemm ? sgemm_gflops(0, T) : 0, osg = sgemm ? sgemm_gflops(1, T) : 0;
    emit(jf, ", \"peak_rss_mb\": %.1f, \"sgemm_gflops\": %.2f, \"own_sgemm_gflops\": %.2f, "
             "\"blas_core\": \"%s\", \"conv_gemm\": \"%s\"}\n", rss, sg, osg, lf_blas_corename(),
         lf_conv_gemm_name());
    if (jf) fclose(jf);
    free(xdata);
    lf_graph_free(g);
    lf_optim_free(opt);
    lf_mlp_free(head);
    lf_encoder_free(enc);
    lf_params_free(P);
    return 0;
}
