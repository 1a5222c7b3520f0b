/* Reader for the encoder parity fixtures written by tests/parity/gen_nn.py:
 * b"LFNN1\n", u32 count, then per tensor u16 name length, name, u8 ndim, int64 shape[ndim],
 * float32 data (little endian). Test-only; the library's safetensors reader is separate. */
#ifndef LF_NN_FIXTURE_H
#define LF_NN_FIXTURE_H

#include "labelfree.h"

typedef struct nnfx_tensor {
    char *name;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    float *data;
} nnfx_tensor;

typedef struct nnfx {
    nnfx_tensor *t;
    int n;
} nnfx;

/* NULL (with a message on stdout) when the file is missing or malformed. */
nnfx *nnfx_load(const char *path);
void nnfx_free(nnfx *f);
const nnfx_tensor *nnfx_get(const nnfx *f, const char *name);

/* max over elements of |a - b| / max(1, |b|) and of |a - b|; returns the first. */
double nnfx_maxdiff(const lf_real *a, const float *b, int64_t n, double *max_abs);

#endif
