/* Loader throughput: images/s for a data set (default data/wbc-sample/manifest.csv, all
 * splits) with the full SimCLR augmentation, two views, decoded-image cache on.
 *
 *   make -s VARIANT=native lib
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/loader_bench.c \
 *      build/native/liblabelfree.a $(pkg-config --libs libpng libtiff-4 zlib) -ljpeg \
 *      -lopenblas -lsqlite3 -fopenmp -lm -lpthread -o build/loader_bench
 *   ./build/loader_bench [DATA] [threads] [size] [batches] [JSON]
 *
 * bench/run.sh compares it, on one thread, with bench/torch_loader.py (PIL + torchvision).
 */
#include "labelfree.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "data/wbc-sample/manifest.csv";
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    int size = argc > 3 ? atoi(argv[3]) : 96;
    int batches = argc > 4 ? atoi(argv[4]) : 40;
    const char *json = argc > 5 ? argv[5] : NULL;
    lf_dataset *ds;
    if (lf_dataset_open(&ds, data, NULL) != LF_OK) {
        fprintf(stderr, "%s\n", lf_last_error());
        return 1;
    }
    lf_norm_stats st;
    if (lf_dataset_channel_stats(ds, LF_SPLIT_ALL, &st) != LF_OK) {
        fprintf(stderr, "%s\n", lf_last_error());
        return 1;
    }
    lf_loader_config cfg = lf_loader_config_default();
    cfg.batch_size = 64;
    cfg.split = LF_SPLIT_ALL;
    cfg.threads = threads;
    cfg.aug = lf_augment_simclr(size, size);
    cfg.norm = &st;
    double t0 = now();
    lf_loader *L;
    if (lf_loader_create(&L, ds, &cfg) != LF_OK) {
        fprintf(stderr, "%s\n", lf_last_error());
        return 1;
    }
    double t1 = now();
    const lf_batch *b;
    lf_loader_next(L, &b); /* fills the pipeline */
    double t2 = now();
    for (int k = 0; k < batches; k++)
        if (lf_loader_next(L, &b) != LF_OK) {
            fprintf(stderr, "%s\n", lf_last_error());
            return 1;
        }
    double t3 = now();
    printf("%s: %lld images, decode+cache %.3f s; %d thread(s), %dx%d, 2 views: %.0f images/s "
           "(%.0f views/s)\n", data, (long long)lf_dataset_count(ds), t1 - t0, threads, size,
           size, batches * 64 / (t3 - t2), 2 * batches * 64 / (t3 - t2));
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "loader_bench: cannot write %s\n", json);
            return 1;
        }
        fprintf(f, "{\"impl\": \"labelfree\", \"images\": %lld, \"decode_s\": %.6f, \"size\": %d, "
                   "\"threads\": %d, \"images_per_s\": %.3f}\n",
                (long long)lf_dataset_count(ds), t1 - t0, size, threads, batches * 64 / (t3 - t2));
        fclose(f);
    }
    lf_loader_free(L);
    lf_dataset_free(ds);
    return 0;
}
