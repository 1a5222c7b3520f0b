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

/* ---- comparisons for the parity tests (criterion per element:
 * |c - torch| <= tol * max(1, |torch|); LF_NN_VERBOSE=1 prints every tensor's difference) */
#define NNFX_TOL 1e-4

/* The worst tensor of a group ("out", "grad", ...) so far. */
typedef struct nnfx_worst {
    const char *group;
    double tol; /* 0: NNFX_TOL */
    char name[128];
    double rel, abs;
    int n;
} nnfx_worst;

/* Compares one tensor of n values with ref; records a test failure naming it. */
void nnfx_cmp(nnfx_worst *w, const char *name, const lf_real *a, const nnfx_tensor *ref,
              int64_t n);
void nnfx_report(const nnfx_worst *w); /* prints the group's worst tensor */
/* Copies "param/<name>" of the fixture into every tensor of P, in order, checking that the
 * names come in the order of the PyTorch state_dict and the shapes agree; 0 on failure. */
int nnfx_load_params(lf_params *P, const nnfx *f);

#endif
