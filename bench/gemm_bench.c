/* labelfree's AVX-512 gemm against OpenBLAS's sgemm on one thread, on the products a ResNet-18
 * convolution makes (forward, input gradient W^T @ dY, weight gradient dY @ cols^T): best of 25
 * runs each, alternating, with the largest difference between the two results.
 *
 *   make VARIANT=native lib
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude \
 *      -I/usr/include/x86_64-linux-gnu/openblas-openmp bench/gemm_bench.c \
 *      build/native/liblabelfree.a -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas \
 *      -fopenmp -lm -o build/native/gemm_bench && build/native/gemm_bench
 *
 * Prefix with `env -u OPENBLAS_CORETYPE` to compare against OpenBLAS's own kernel choice. */
#include "bench_util.h"
#include "../src/backend/cpu/gemm_avx512.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>

int main(void)
{
    if (!lf_gemm512_available()) {
        printf("no AVX-512 on this CPU (or LF_GEMM=blas): nothing to compare\n");
        return 0;
    }
    openblas_set_num_threads(1);
    /* M, N, K, transpose A, transpose B */
    static const int shapes[][5] = {{64, 2048, 576, 0, 0},  {128, 2048, 1152, 0, 0},
                                    {256, 1024, 2304, 0, 0}, {512, 512, 4608, 0, 0},
                                    {576, 2048, 64, 1, 0},   {1152, 2048, 128, 1, 0},
                                    {64, 576, 2048, 0, 1},   {256, 2304, 1024, 0, 1}};
    float *pack = malloc((lf_gemm512_pack_floats() + 16) * sizeof(float));
    printf("OpenBLAS kernels %s, one thread\n", openblas_get_corename());
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        const int ta = shapes[s][3], tb = shapes[s][4], lda = ta ? M : K, ldb = tb ? K : N;
        float *A = malloc((size_t)M * K * 4), *B = malloc((size_t)K * N * 4);
        float *C1 = malloc((size_t)M * N * 4), *C2 = malloc((size_t)M * N * 4);
        for (long i = 0; i < (long)M * K; i++) A[i] = (float)(i % 1000) / 1000.0f - 0.5f;
        for (long i = 0; i < (long)K * N; i++) B[i] = (float)(i % 997) / 997.0f - 0.5f;
        double best_blas = 1e9, best_own = 1e9;
        for (int r = 0; r < 25; r++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                        M, N, K, 1, A, lda, B, ldb, 0, C1, N);
            double t1 = now();
            lf_gemm512(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C2, N, pack);
            double t2 = now();
            if (t1 - t0 < best_blas) best_blas = t1 - t0;
            if (t2 - t1 < best_own) best_own = t2 - t1;
        }
        double md = 0;
        for (long i = 0; i < (long)M * N; i++) md = fmax(md, fabs((double)C1[i] - C2[i]));
        const double fl = 2.0 * M * N * K;
        printf("M %4d N %4d K %4d ta %d tb %d  OpenBLAS %6.1f  labelfree %6.1f GFLOP/s  max diff %.1e\n",
               M, N, K, ta, tb, fl / best_blas / 1e9, fl / best_own / 1e9, md);
        free(A);
        free(B);
        free(C1);
        free(C2);
    }
    free(pack);
    return 0;
}
