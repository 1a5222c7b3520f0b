/* A small reader for the ops_c parity fixtures written by tests/parity/gen_ops_c.py
 * (format described there): named float32 / int64 arrays after a "LFFX 1" line. */
#ifndef LF_FIXTURE_OPSC_H
#define LF_FIXTURE_OPSC_H

#include "labelfree.h"

typedef struct fxc_array {
    char name[64];
    int is_int;               /* 1: int64 data in i, else float32 values in f */
    int ndim;
    int64_t shape[LF_MAX_DIMS];
    int64_t n;
    lf_real *f;               /* values converted to lf_real */
    int64_t *i;
} fxc_array;

typedef struct fxc_file {
    fxc_array a[64];
    int n;
} fxc_file;

/* Loads tests/parity/fixtures/ops_c/<name>.bin; NULL (and a message on stdout) on failure. */
fxc_file *fxc_load(const char *name);
void fxc_free(fxc_file *f);
/* The array called `name`, or NULL (and a test failure naming it). */
const fxc_array *fxc_get(const fxc_file *f, const char *name);
/* Like fxc_get but without a failure when the array is absent. */
const fxc_array *fxc_find(const fxc_file *f, const char *name);
/* Max |a - b| over n values, and whether all satisfy |a - b| <= tol * max(1, |b|). */
double fxc_maxdiff(const lf_real *a, const lf_real *b, int64_t n, double tol, int *ok);
/* Compares got with the array `ref` of f (same number of elements), prints
 * "  <what>: max |diff| = ..." and records a test failure beyond tol * max(1, |ref|).
 * Returns the max difference. */
double fxc_compare(const fxc_file *f, const char *ref, const lf_real *got, int64_t n,
                   const char *what, double tol);

#endif
