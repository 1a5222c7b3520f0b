/* Timing helpers shared by the benchmark programs in bench/. */
#ifndef LF_BENCH_UTIL_H
#define LF_BENCH_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

#endif
