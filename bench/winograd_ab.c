/* Winograd F(4x4, 3x3) (on 2x2 images the dual kind, conv_winograd_dual.c) against F(2x2, 3x3)
 * on the 3x3 stride-1 layers of a ResNet-18, in one process, the two alternating run by run
 * (the machine's speed drifts over minutes: a pair of runs sees the same machine). A
 * developer's tool: it calls the library's internals (lf_conv_cpu_run,
 * lf_conv_winograd_force), so it builds against src/ as well:
 *   make -s VARIANT=native lib
 *   B=/usr/lib/x86_64-linux-gnu/openblas-openmp
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc bench/winograd_ab.c \
 *      build/native/liblabelfree.a -L$B -Wl,-rpath,$B -lopenblas -fopenmp -lm \
 *      -o build/native/winograd_ab
 *   OMP_WAIT_POLICY=PASSIVE build/native/winograd_ab [fwd|dx] [images] [threads] [reps]
 * fwd: the forward product; dx: the input gradient. One line per layer: the median and the
 * minimum of reps runs of each (after two warm-up pairs), and their ratios F4 / F2. */
#include "backend/cpu/conv_winograd.h"
#include "core/internal.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


int main(int argc, char **argv)
{
    const bool dx = argc > 1 && !strcmp(argv[1], "dx");
    const int64_t n = argc > 2 ? atoll(argv[2]) : 256;
    const int T = argc > 3 ? atoi(argv[3]) : 2;
    int reps = argc > 4 ? atoi(argv[4]) : 15;
    if (reps < 1 || reps > 200 || n < 1 || T < 1) {
        fprintf(stderr, "winograd_ab: images >= 1, threads >= 1, reps 1..200\n");
        return 2;
    }
    /* channels and image side: 64x64 inputs (layers 1-4), then 32x32 (cifar stem) */
    const int64_t layers[][2] = {{64, 16}, {128, 8}, {256, 4}, {512, 2},
                                 {64, 32}, {128, 16}, {256, 8}, {512, 4}};
    lf_set_threads(T);
    lf_graph *g;
    if (lf_graph_init(&g, 0) != LF_OK) return 1;
    lf_rng r = lf_rng_make(1, 2);
    for (size_t s = 0; s < sizeof layers / sizeof layers[0]; s++) {
        const int64_t C = layers[s][0], H = layers[s][1];
        lf_conv_geom q;
        memset(&q, 0, sizeof q);
        q.ci = q.co = C;
        q.groups = 1;
        q.in[0] = q.out[0] = 1;
        q.in[1] = q.out[1] = q.in[2] = q.out[2] = H;
        for (int i = 0; i < 3; i++) {
            q.k[i] = i ? 3 : 1;
            q.s[i] = q.d[i] = 1;
            q.p[i] = i ? 1 : 0;
        }
        const int64_t nx = n * C * H * H, nw = C * C * 9;
        float *x = malloc((size_t)nx * sizeof(float)), *y = malloc((size_t)nx * sizeof(float));
        float *w = malloc((size_t)nw * sizeof(float));
        double *t[2] = {malloc((size_t)reps * sizeof(double)),
                        malloc((size_t)reps * sizeof(double))};
        if (!x || !y || !w || !t[0] || !t[1]) return 1;
        lf_rng_fill_uniform(&r, x, nx, -1, 1);
        lf_rng_fill_uniform(&r, w, nw, -1, 1);
        memset(y, 0, (size_t)nx * sizeof(float));
        const lf_conv_job fwd = {.n = n, .w = w, .img = x, .colside_out = y};
        const lf_conv_job bwd = {.n = n, .w = w, .colside = x, .img_out = y};
        for (int rep = -2; rep < reps; rep++)
            for (int m = 0; m < 2; m++) {
                lf_conv_winograd_force(m ? 2 : 1); /* 1: F(4x4) where it fits, 2: F(2x2) */
                const double t0 = now();
                if (lf_conv_cpu_run(g, &q, dx ? &bwd : &fwd) != LF_OK) {
                    fprintf(stderr, "winograd_ab: %s\n", lf_last_error());
                    return 1;
                }
                if (rep >= 0) t[m][rep] = now() - t0;
            }
        lf_conv_winograd_force(-1);
        qsort(t[0], (size_t)reps, sizeof(double), cmp_double);
        qsort(t[1], (size_t)reps, sizeof(double), cmp_double);
        printf("%s C=%3lld %2lldx%-2lld n=%lld T=%d: F4 median %.3f min %.3f ms | F2 median %.3f "
               "min %.3f ms | F4/F2 median %.3f min %.3f\n",
               dx ? "dx " : "fwd", (long long)C, (long long)H, (long long)H, (long long)n, T,
               t[0][reps / 2] * 1e3, t[0][0] * 1e3, t[1][reps / 2] * 1e3, t[1][0] * 1e3,
               t[0][reps / 2] / t[1][reps / 2], t[0][0] / t[1][0]);
        free(x), free(y), free(w), free(t[0]), free(t[1]);
    }
    lf_graph_free(g);
    return 0;
}
