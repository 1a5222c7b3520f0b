/* Forward + backward time of one conv layer (default: ResNet-18 layer1 3x3 conv, N=32,
 * C=64, 32x32, pad 1). Build by hand (not part of make test):
 *   make -s VARIANT=native lib
 *   cc -O2 -Iinclude bench/conv_bench.c build/native/liblabelfree.a -lopenblas -fopenmp -lm \
 *      -o build/conv_bench
 *   ./build/conv_bench [N C H K stride threads iters]
 * Compare with: /usr/bin/python3 bench/conv_bench.py (same arguments). */
#include "labelfree.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    int N = argc > 1 ? atoi(argv[1]) : 32, C = argc > 2 ? atoi(argv[2]) : 64;
    int H = argc > 3 ? atoi(argv[3]) : 32, K = argc > 4 ? atoi(argv[4]) : 3;
    int S = argc > 5 ? atoi(argv[5]) : 1, T = argc > 6 ? atoi(argv[6]) : 2;
    int iters = argc > 7 ? atoi(argv[7]) : 10;
    int Cout = S == 1 ? C : 2 * C;
    lf_set_threads(T);
    lf_params *P;
    lf_params_init(&P);
    lf_tensor *w = lf_param_add(P, "w", 4, (int64_t[]){Cout, C, K, K}, 0);
    lf_params_finalize(P);
    lf_rng r = lf_rng_make(1, 1);
    lf_rng_fill_normal(&r, w->data, lf_numel(w), 0, 0.05);
    lf_graph *g;
    lf_graph_init(&g, 0);
    lf_conv_args a = lf_conv_args_make(2, S, K / 2, 1, 1);
    double tf[64], tb[64];
    if (iters > 64) iters = 64;
    for (int it = -2; it < iters; it++) { /* two warm-up steps settle the arena */
        lf_graph_reset(g);
        lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){N, C, H, H});
        lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
        x->flags |= LF_TENSOR_REQUIRES_GRAD;
        double t0 = now();
        lf_tensor *y = lf_conv(g, x, w, NULL, a);
        double t1 = now();
        if (!y) {
            fprintf(stderr, "%s\n", lf_last_error());
            return 1;
        }
        lf_real *seed = lf_graph_alloc(g, (size_t)lf_numel(y) * sizeof(lf_real));
        for (int64_t i = 0; i < lf_numel(y); i++) seed[i] = 1e-3f;
        double t2 = now();
        lf_backward_with(g, y, seed);
        double t3 = now();
        if (it >= 0) tf[it] = t1 - t0, tb[it] = t3 - t2;
    }
    qsort(tf, (size_t)iters, sizeof(double), cmp_double);
    qsort(tb, (size_t)iters, sizeof(double), cmp_double);
    printf("labelfree conv N=%d C=%d->%d %dx%d k=%d s=%d threads=%d: forward %.2f ms, "
           "backward %.2f ms, total %.2f ms (median of %d)\n",
           N, C, Cout, H, H, K, S, T, 1e3 * tf[iters / 2], 1e3 * tb[iters / 2],
           1e3 * (tf[iters / 2] + tb[iters / 2]), iters);
    lf_graph_free(g);
    lf_params_free(P);
    return 0;
}
