/* Forward + backward time of convolution layers. Build by hand (not part of make test):
 *   make -s VARIANT=native lib
 *   B=/usr/lib/x86_64-linux-gnu/openblas-openmp
 *   cc -O2 -Iinclude bench/conv_bench.c build/native/liblabelfree.a -L$B -Wl,-rpath,$B \
 *      -lopenblas -fopenmp -lm -o build/conv_bench
 * The OpenMP OpenBLAS, by its path: the loader's default libopenblas.so.0 can be the pthreads
 * build, with which the library keeps its own loops serial (lf_cpu_parallel_loops) and every
 * layer runs 1.5-3x slower.
 *   ./build/conv_bench [N C H K stride threads iters [Cout [eval]]]
 *       one layer (default: ResNet-18 layer1 3x3 conv, N=32, C=64, 32x32, pad K/2; Cout
 *       defaults to C, 2C with stride 2); eval 1: the forward alone, no tape (embedding)
 *   ./build/conv_bench resnet18-64|resnet18-32 [N threads iters eval]
 *       each distinct convolution of a ResNet-18 on 64x64 (imagenet stem) or 32x32 (cifar
 *       stem) images, one line each (bench/NOTES.md 17-18 quote these)
 * Times are the median and the minimum of iters runs after two warm-ups. Compare with:
 * /usr/bin/python3 bench/conv_bench.py (same arguments as the first form, training). */
#include "labelfree.h"
#include "bench_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct layer {
    int C, Cout, H, K, S;
} layer;

/* the distinct convolutions of a torchvision ResNet-18 (stem, then per stage the 3x3 with
 * stride, the 3x3 of the rest, the 1x1 downsampling) */
static const layer resnet18_64[] = {{3, 64, 64, 7, 2},    {64, 64, 16, 3, 1},  {64, 128, 16, 3, 2},
                                    {128, 128, 8, 3, 1},  {64, 128, 16, 1, 2}, {128, 256, 8, 3, 2},
                                    {256, 256, 4, 3, 1},  {256, 512, 4, 3, 2}, {512, 512, 2, 3, 1}};
static const layer resnet18_32[] = {{3, 64, 32, 3, 1},    {64, 64, 32, 3, 1},  {64, 128, 32, 3, 2},
                                    {128, 128, 16, 3, 1}, {128, 256, 16, 3, 2}, {256, 256, 8, 3, 1},
                                    {256, 512, 8, 3, 2},  {512, 512, 4, 3, 1}};

/* One layer: iters forward (+ backward unless eval) runs; prints a line. 0, or 1 on error. */
static int run(int N, layer l, int T, int iters, int eval)
{
    lf_params *P;
    lf_params_init(&P);
    lf_tensor *w = lf_param_add(P, "w", 4, (int64_t[]){l.Cout, l.C, l.K, l.K}, 0);
    lf_params_finalize(P);
    lf_rng r = lf_rng_make(1, 1);
    lf_rng_fill_normal(&r, w->data, lf_numel(w), 0, 0.05);
    lf_graph *g;
    lf_graph_init(&g, 0);
    lf_graph_set_training(g, !eval);
    lf_graph_set_grad_enabled(g, !eval);
    lf_conv_args a = lf_conv_args_make(2, l.S, l.K / 2, 1, 1);
    double tf[64], tb[64], tt[64]; /* forward, backward, total */
    int Ho = 0;
    for (int it = -2; it < iters; it++) { /* two warm-up steps settle the arena */
        lf_graph_reset(g);
        lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){N, l.C, l.H, l.H});
        lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
        if (!eval) x->flags |= LF_TENSOR_REQUIRES_GRAD;
        double t0 = now();
        lf_tensor *y = lf_conv(g, x, w, NULL, a);
        double t1 = now();
        if (!y) {
            fprintf(stderr, "%s\n", lf_last_error());
            return 1;
        }
        Ho = (int)y->shape[2];
        double t2 = t1, t3 = t1;
        if (!eval) {
            lf_real *seed = lf_graph_alloc(g, (size_t)lf_numel(y) * sizeof(lf_real));
            for (int64_t i = 0; i < lf_numel(y); i++) seed[i] = 1e-3f;
            t2 = now();
            lf_backward_with(g, y, seed);
            t3 = now();
        }
        if (it >= 0) tf[it] = t1 - t0, tb[it] = t3 - t2, tt[it] = tf[it] + tb[it];
    }
    const double flops = 2.0 * N * l.Cout * l.C * l.K * l.K * (double)Ho * Ho * (eval ? 1 : 3);
    const double fmed = median(tf, iters), bmed = median(tb, iters), tmed = median(tt, iters);
    const double tmin = tt[0]; /* sorted by median() */
    printf("labelfree conv N=%d C=%d->%d %dx%d k=%d s=%d threads=%d%s: forward %.3f ms, "
           "backward %.3f ms, total %.3f ms (median of %d); min %.3f ms, %.1f GFLOP/s\n",
           N, l.C, l.Cout, l.H, l.H, l.K, l.S, T, eval ? " eval" : "", 1e3 * fmed, 1e3 * bmed,
           1e3 * tmed, iters, 1e3 * tmin, flops / tmin * 1e-9);
    lf_graph_free(g);
    lf_params_free(P);
    return 0;
}

int main(int argc, char **argv)
{
    const bool net = argc > 1 && !strncmp(argv[1], "resnet18-", 9);
    if (net) {
        const bool s64 = !strcmp(argv[1], "resnet18-64");
        const layer *ls = s64 ? resnet18_64 : resnet18_32;
        const int n = s64 ? (int)(sizeof resnet18_64 / sizeof *ls)
                          : (int)(sizeof resnet18_32 / sizeof *ls);
        const int N = argc > 2 ? atoi(argv[2]) : 256, T = argc > 3 ? atoi(argv[3]) : 2;
        int iters = argc > 4 ? atoi(argv[4]) : 5;
        const int eval = argc > 5 ? atoi(argv[5]) : 0;
        if (iters > 64) iters = 64;
        lf_set_threads(T);
        for (int i = 0; i < n; i++)
            if (run(N, ls[i], T, iters, eval)) return 1;
        return 0;
    }
    int N = argc > 1 ? atoi(argv[1]) : 32, C = argc > 2 ? atoi(argv[2]) : 64;
    int H = argc > 3 ? atoi(argv[3]) : 32, K = argc > 4 ? atoi(argv[4]) : 3;
    int S = argc > 5 ? atoi(argv[5]) : 1, T = argc > 6 ? atoi(argv[6]) : 2;
    int iters = argc > 7 ? atoi(argv[7]) : 10;
    int Cout = argc > 8 ? atoi(argv[8]) : S == 1 ? C : 2 * C;
    int eval = argc > 9 ? atoi(argv[9]) : 0;
    if (iters > 64) iters = 64;
    lf_set_threads(T);
    return run(N, (layer){C, Cout, H, K, S}, T, iters, eval);
}
