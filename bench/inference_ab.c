/* Two ways of the same inference work in one process, alternating run by run (the machine's
 * speed drifts over minutes: a pair of runs sees the same machine), 256 images on 2 threads:
 *   layer CI CO SIZE K STRIDE  one convolution (padding K/2), its columns written straight
 *                              in the gemm's packed layout (A) or by lf_conv_im2col and
 *                              packed by the gemm (B)  (NOTES 26)
 *   stem                       an ImageNet stem, 64x64: lf_conv_bn_act_pool (A) against
 *                              lf_conv_bn_act then lf_max_pool (B), both with the packed
 *                              columns  (NOTES 25)
 *   embed [SIZE]               a ResNet-18 embedding (64: ImageNet stem, 32: CIFAR stem),
 *                              as built (A) against both changes off (B): row columns and
 *                              the stem in one chunk
 * Prints the median and the minimum of REPS runs of each (after two warm-up pairs) and
 * their ratios A / B. A developer's tool: it calls the library's internals, so it builds
 * against src/ as well:
 *   make -s VARIANT=native lib
 *   B=/usr/lib/x86_64-linux-gnu/openblas-openmp
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc bench/inference_ab.c \
 *      build/native/liblabelfree.a $(pkg-config --libs jansson libpng libtiff-4 zlib) \
 *      -ljpeg -L$B -Wl,-rpath,$B -lopenblas -lsqlite3 -fopenmp -lm -o build/native/inference_ab
 *   OMP_WAIT_POLICY=PASSIVE build/native/inference_ab embed 64 [REPS] */
#include "backend/cpu/conv_cpu.h"
#include "core/internal.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_IMAGES 256


static lf_tensor *uniform(lf_graph *g, lf_rng *r, int ndim, const int64_t *shape, double lo,
                          double hi)
{
    lf_tensor *t = lf_tensor_new(g, ndim, shape);
    if (t) lf_rng_fill_uniform(r, t->data, lf_numel(t), lo, hi);
    return t;
}

typedef struct setup {
    const char *mode;
    lf_tensor *x, *w, *bn[4]; /* layer, stem */
    lf_encoder *enc;          /* embed */
    int64_t es[4];
    lf_real *xd;
} setup;

/* One run of variant v (0: A, 1: B) on g; false on an error */
static bool run_once(lf_graph *g, const setup *s, int v, int k, int stride)
{
    lf_graph_reset(g);
    lf_conv_im2col_packed_force(v == 0 || !strcmp(s->mode, "stem"));
    lf_conv_pool_chunk_force(v == 0 ? 0 : (int64_t)1 << 50);
    const lf_conv_args a = lf_conv_args_make(2, stride, k / 2, 1, 1);
    lf_tensor *y = NULL;
    if (!strcmp(s->mode, "layer")) {
        y = lf_conv(g, s->x, s->w, NULL, a);
    } else if (!strcmp(s->mode, "stem")) {
        lf_tensor *const *b = s->bn;
        y = v == 0 ? lf_conv_bn_act_pool(g, s->x, s->w, a, b[0], b[1], b[2], b[3], 0.1, 1e-5,
                                         1, 3, 2, 1)
                   : lf_max_pool(g, lf_conv_bn_act(g, s->x, s->w, a, b[0], b[1], b[2], b[3],
                                                   0.1, 1e-5, NULL, 1), 2, 3, 2, 1);
    } else {
        lf_tensor *x = lf_tensor_new(g, 4, s->es);
        if (x) memcpy(x->data, s->xd, sizeof(lf_real) * (size_t)lf_numel(x));
        y = x ? lf_encoder_forward(g, s->enc, x) : NULL;
    }
    lf_conv_im2col_packed_force(1);
    lf_conv_pool_chunk_force(0);
    return y != NULL;
}

int main(int argc, char **argv)
{
    setup s = {.mode = argc > 1 ? argv[1] : "embed"};
    const bool layer = !strcmp(s.mode, "layer"), stem = !strcmp(s.mode, "stem");
    if (!layer && !stem && strcmp(s.mode, "embed")) {
        fprintf(stderr, "usage: inference_ab layer CI CO SIZE K STRIDE [REPS] | stem [REPS] | "
                        "embed [SIZE] [REPS]\n");
        return 2;
    }
    const int at = layer ? 7 : stem ? 2 : 3; /* where REPS is */
    const int reps = argc > at ? atoi(argv[at]) : 15;
    int k = 7, stride = 2;
    lf_set_threads(2);
    lf_graph *p, *g;
    if (lf_graph_init(&p, 0) != LF_OK || lf_graph_init(&g, 0) != LF_OK || reps < 1 || reps > 200)
        return 1;
    lf_graph_set_training(g, 0);
    lf_graph_set_grad_enabled(g, 0);
    lf_graph_set_frozen_weights(g, 1);
    lf_rng r = lf_rng_make(1, 1);
    if (layer || stem) {
        int64_t ci = 3, co = 64, size = 64;
        if (layer) {
            if (argc < 7) return fprintf(stderr, "layer needs CI CO SIZE K STRIDE\n"), 2;
            ci = atoll(argv[2]), co = atoll(argv[3]), size = atoll(argv[4]);
            k = atoi(argv[5]), stride = atoi(argv[6]);
        }
        const int64_t xs[4] = {N_IMAGES, ci, size, size}, ws[4] = {co, ci, k, k}, cs[1] = {co};
        s.x = uniform(p, &r, 4, xs, -1, 1);
        s.w = uniform(p, &r, 4, ws, -0.2, 0.2);
        const double lo[4] = {0.5, -0.5, -0.3, 0.2}, hi[4] = {1.5, 0.5, 0.3, 2.0};
        for (int i = 0; i < 4; i++) s.bn[i] = uniform(p, &r, 1, cs, lo[i], hi[i]);
        printf("%s %lld -> %lld, %lldx%lld, k %d, stride %d\n", s.mode, (long long)ci,
               (long long)co, (long long)size, (long long)size, k, stride);
    } else {
        const int size = argc > 2 ? atoi(argv[2]) : 64;
        lf_params *P;
        lf_encoder_config ec = lf_encoder_config_default("resnet18");
        snprintf(ec.stem, sizeof ec.stem, "%s", size == 64 ? "imagenet" : "cifar");
        ec.in_channels = 3;
        ec.num_classes = 0;
        if (lf_params_init(&P) != LF_OK || lf_encoder_init(P, &ec, "0.", &s.enc) != LF_OK ||
            lf_params_finalize(P) != LF_OK || lf_encoder_reset_parameters(s.enc, 0, 0) != LF_OK)
            return fprintf(stderr, "%s\n", lf_last_error()), 1;
        const int64_t es[4] = {N_IMAGES, 3, size, size};
        memcpy(s.es, es, sizeof es);
        s.xd = malloc(sizeof(lf_real) * (size_t)(N_IMAGES * 3 * size * size));
        if (!s.xd) return 1;
        lf_rng_fill_uniform(&r, s.xd, N_IMAGES * 3 * size * size, -1, 1);
        printf("embed ResNet-18 %dx%d\n", size, size);
    }
    double t[2][200];
    for (int i = -2; i < reps; i++)
        for (int v = 0; v < 2; v++) {
            const double t0 = now();
            if (!run_once(g, &s, v, k, stride)) return fprintf(stderr, "%s\n", lf_last_error()), 1;
            if (i >= 0) t[v][i] = now() - t0;
        }
    for (int v = 0; v < 2; v++) qsort(t[v], (size_t)reps, sizeof(double), cmp_double);
    printf("A: median %.2f ms, min %.2f | B: median %.2f ms, min %.2f | A/B %.3f (median), "
           "%.3f (min)\n", t[0][reps / 2] * 1e3, t[0][0] * 1e3, t[1][reps / 2] * 1e3,
           t[1][0] * 1e3, t[0][reps / 2] / t[1][reps / 2], t[0][0] / t[1][0]);
    return 0;
}
