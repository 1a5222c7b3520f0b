/* Index benchmark: n generated clustered vectors (d dims), exact and IVF-Flat search.
 * Reports build time, single-query latency p50/p99, batch throughput (QPS) and recall@10 of
 * IVF against exact. Data generation matches bench/faiss_bench.py (same recipe; the numbers
 * are not bit-identical, the distribution is).
 *   make VARIANT=native lib && cc -O3 -march=native -fopenmp -Iinclude -Isrc -o build/index_bench \
 *     bench/index_bench.c build/native/liblabelfree.a $(LIBS)    (see bench/index_bench.sh)
 *   build/index_bench N D [nq] */
#include "labelfree.h"
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* nc = n/1000 (>= 10) Gaussian centres; points = centre + 0.7 noise, per coordinate */
static void gen(float *x, int64_t n, int64_t d, int64_t nc, const float *c, uint64_t seed)
{
    lf_rng r = lf_rng_make(seed, 2);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = lf_rng_below(&r, (uint32_t)nc);
        for (int64_t j = 0; j < d; j++) x[i * d + j] = c[k * d + j] + 0.7f * (float)lf_rng_normal(&r);
    }
}

static void run(const char *name, lf_index *ix, const float *q, int64_t nq, int exact, int k,
                int64_t *ids, const int64_t *ref)
{
    float *sc = malloc(sizeof(float) * (size_t)(nq * k));
    int64_t nlat = nq < 300 ? nq : 300;
    double *lat = malloc(sizeof(double) * (size_t)nlat);
    lf_set_threads(1); /* latency: one query at a time, one thread (a server request) */
    for (int64_t i = 0; i < nlat; i++) {
        double t0 = now();
        lf_index_search(ix, q + i * lf_index_dim(ix), 1, k, exact, ids + i * k, sc + i * k);
        lat[i] = now() - t0;
    }
    qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
    lf_set_threads(0); /* throughput: all queries as one batch, all cores */
    double t0 = now();
    lf_index_search(ix, q, nq, k, exact, ids, sc);
    double el = now() - t0;
    double rec = 1;
    if (ref) {
        int64_t hit = 0;
        for (int64_t i = 0; i < nq; i++)
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++)
                    if (ids[i * k + a] == ref[i * k + b]) { hit++; break; }
        rec = (double)hit / (double)(nq * k);
    }
    printf("  %-22s p50 %8.3f ms  p99 %8.3f ms  batch %9.0f QPS  recall@10 %.4f\n", name,
           1e3 * lat[nlat / 2], 1e3 * lat[(int64_t)(0.99 * (double)(nlat - 1))], (double)nq / el, rec);
    free(sc);
    free(lat);
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 100000, d = argc > 2 ? atoll(argv[2]) : 256;
    int64_t nq = argc > 3 ? atoll(argv[3]) : 1000;
    int k = 10;
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress visible through a pipe */
    int64_t nc = n / 1000 > 10 ? n / 1000 : 10;
    float *c = malloc(sizeof(float) * (size_t)(nc * d));
    lf_rng r = lf_rng_make(1, 1);
    for (int64_t i = 0; i < nc * d; i++) c[i] = (float)lf_rng_normal(&r);
    float *x = malloc(sizeof(float) * (size_t)(n * d)), *q = malloc(sizeof(float) * (size_t)(nq * d));
    gen(x, n, d, nc, c, 10);
    gen(q, nq, d, nc, c, 11);
    printf("labelfree index: n = %lld, d = %lld, %lld queries, k = %d, threads %d\n", (long long)n,
           (long long)d, (long long)nq, k, lf_get_threads());
    double t0 = now();
    lf_index *ix = NULL;
    if (lf_index_create(&ix, x, n, d)) { fprintf(stderr, "%s\n", lf_last_error()); return 1; }
    printf("  flat build %.2f s\n", now() - t0);
    int64_t *ref = malloc(sizeof(int64_t) * (size_t)(nq * k)), *ids = malloc(sizeof(int64_t) * (size_t)(nq * k));
    run("exact (flat)", ix, q, nq, 1, k, ref, NULL);
    t0 = now();
    lf_ivf_config cfg = {0};
    if (lf_index_train_ivf(ix, &cfg)) { fprintf(stderr, "%s\n", lf_last_error()); return 1; }
    printf("  IVF build %.2f s (nlist %lld, k-means on %lld vectors)\n", now() - t0,
           (long long)lf_index_nlist(ix), (long long)(64 * lf_index_nlist(ix) < n ? 64 * lf_index_nlist(ix) : n));
    int probes[] = {8, 16, 32, 64};
    for (int p = 0; p < 4; p++) {
        if (probes[p] > lf_index_nlist(ix)) break;
        lf_index_set_nprobe(ix, probes[p]);
        char name[64];
        snprintf(name, sizeof name, "IVF nprobe %d", probes[p]);
        run(name, ix, q, nq, 0, k, ids, ref);
    }
    lf_index_free(ix);
    free(c); free(x); free(q); free(ref); free(ids);
    return 0;
}
