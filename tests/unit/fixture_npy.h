/* Reads the .npy reference fixtures written by tests/parity/gen_*.py (numpy format 1.0/2.0,
 * little-endian <f4, <f8 or <i8, C order). */
#ifndef LF_FIXTURE_NPY_H
#define LF_FIXTURE_NPY_H

#include "labelfree.h"

typedef struct npy_array {
    int ndim;
    int64_t shape[8];
    int64_t n;
    double *data; /* values converted to double; free with npy_free */
} npy_array;

/* Loads <dir>/<name>.npy; returns 0 on success, -1 with a message on stderr otherwise. */
int npy_load(const char *dir, const char *name, npy_array *a);
void npy_free(npy_array *a);
/* max |x[i] - ref[i]| / max(1, |ref[i]|) */
double npy_max_rel_diff(const lf_real *x, const npy_array *ref);

#endif
