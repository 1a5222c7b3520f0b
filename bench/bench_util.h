/* Timing helpers shared by the benchmark programs in bench/. */
#ifndef LF_BENCH_UTIL_H
#define LF_BENCH_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A library call that must succeed, else the program stops with its message (labelfree.h
 * included before use). */
#define CHECK(x)                                                                           \
    do {                                                                                   \
        if (!(x)) {                                                                        \
            fprintf(stderr, "%s: %s failed: %s\n", __FILE__, #x, lf_last_error());          \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* Peak resident memory of this process so far (getrusage's ru_maxrss), in KiB. */
static inline long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* printf to stdout and, the same text, to jf (if not NULL): a result object that is printed
 * and written to the --json file. */
static inline void emit(FILE *jf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void emit(FILE *jf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (!jf) return;
    va_start(ap, fmt);
    vfprintf(jf, fmt, ap);
    va_end(ap);
}

/* The options every whole-model benchmark takes (bench_simclr, bench_mae, bench_mlm):
 * --threads --steps --warmup --recompute --mode --json */
typedef struct bench_common {
    int threads, steps, warmup, recompute;
    const char *mode, *json;
} bench_common;

static inline bench_common bench_common_default(void)
{
    return (bench_common){.threads = 2, .steps = 5, .warmup = 2, .mode = "both"};
}

/* 1 when (k, v) was one of bench_common's options (stored in c), else 0 */
static inline int bench_common_option(bench_common *c, const char *k, const char *v)
{
    if (!strcmp(k, "--threads")) c->threads = atoi(v);
    else if (!strcmp(k, "--steps")) c->steps = atoi(v);
    else if (!strcmp(k, "--warmup")) c->warmup = atoi(v);
    else if (!strcmp(k, "--recompute")) c->recompute = atoi(v); /* 1: blocks recomputed */
    else if (!strcmp(k, "--mode")) c->mode = v;
    else if (!strcmp(k, "--json")) c->json = v;
    else return 0;
    return 1;
}

/* steps within 1..BENCH_MAX_STEPS (the timing arrays' size) */
#define BENCH_MAX_STEPS 100
static inline void bench_common_clamp(bench_common *c)
{
    if (c->steps < 1) c->steps = 1;
    if (c->steps > BENCH_MAX_STEPS) c->steps = BENCH_MAX_STEPS;
}

/* 1 when the run's --mode asks for phase ("train", "embed", "infer") or is "both" */
static inline int bench_mode_has(const bench_common *c, const char *phase)
{
    return !strcmp(c->mode, phase) || !strcmp(c->mode, "both");
}

/* The median time of c->steps calls of step(ctx, it) after c->warmup untimed ones (it counts
 * from -warmup) */
static inline double bench_median_step(const bench_common *c, void (*step)(void *ctx, int it),
                                       void *ctx)
{
    double ts[BENCH_MAX_STEPS];
    for (int it = -c->warmup; it < c->steps; it++) {
        const double t0 = now();
        step(ctx, it);
        if (it >= 0) ts[it] = now() - t0;
    }
    return median(ts, c->steps);
}

#endif
