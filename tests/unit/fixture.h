/* Reference fixtures for parity tests: named float32 / int64 arrays in one file.
 *
 * File format (written by tests/parity/fixture_io.py):
 *   "LFFIX 1\n"
 *   then for each array a text line "<name> <f32|i64> <ndim> <d0> <d1> ...\n"
 *   immediately followed by prod(d) little-endian values (4 bytes for f32, 8 for i64).
 * A 0-dim array (ndim 0) holds one value.
 *
 * Usage:
 *   lf_fixture fx;
 *   if (lf_fixture_load(&fx, "tests/parity/fixtures/ops_a/add.bin") != 0) { fail: fx.error }
 *   const lf_fixture_array *a = lf_fixture_get(&fx, "x0");     // NULL when absent
 *   lf_tensor *x = lf_fixture_tensor(g, &fx, "x0");             // f32 array as lf_real tensor
 *   lf_fixture_free(&fx);
 */
#ifndef LF_FIXTURE_H
#define LF_FIXTURE_H

#include "labelfree.h"

#define LF_FIXTURE_MAX_ARRAYS 64

typedef struct lf_fixture_array {
    char name[64];
    int is_int;                    /* 0: f32 (in f32), 1: i64 (in i64) */
    int ndim;
    int64_t shape[LF_MAX_DIMS];
    int64_t numel;
    float *f32;
    int64_t *i64;
} lf_fixture_array;

typedef struct lf_fixture {
    int n;
    lf_fixture_array arr[LF_FIXTURE_MAX_ARRAYS];
    char error[256];               /* why loading failed */
} lf_fixture;

/* 0 on success; otherwise -1 with the reason in fx->error (nothing to free). */
int lf_fixture_load(lf_fixture *fx, const char *path);
void lf_fixture_free(lf_fixture *fx);
const lf_fixture_array *lf_fixture_get(const lf_fixture *fx, const char *name);
/* A new graph tensor with the f32 array's shape and values (NULL if absent or not f32). */
lf_tensor *lf_fixture_tensor(lf_graph *g, const lf_fixture *fx, const char *name);
/* max over i of |got[i] - want[i]| / max(1, |want[i]|), in double; NaN counts as infinite */
double lf_fixture_max_rel(const lf_real *got, const float *want, int64_t n);

#endif
