/* Backends: the kernels behind the ops, one table per device.
 *
 * An op front end (src/ops/) checks shapes, allocates its output and records the tape; the
 * arithmetic goes through the table of the tensors' device, so a CUDA backend plugs in by
 * providing a table (src/backend/cuda/, its own build flag) without touching layer code.
 * This build has the CPU table only: tensors on another device make lf_op_output fail with
 * LF_ERR_UNSUPPORTED naming the device. Kernels not in the table yet (elementwise, norms,
 * pooling, attention) run on the CPU code in their op files; moving them behind the table is
 * the first step of a GPU backend. */
#ifndef LF_BACKEND_H
#define LF_BACKEND_H

#include "cpu/conv_cpu.h"

typedef struct lf_backend {
    /* C (M,N) = alpha op(A) op(B) + beta C, row-major (see lf_gemm) */
    void (*gemm)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, lf_real alpha,
                 const lf_real *A, int64_t lda, const lf_real *B, int64_t ldb, lf_real beta,
                 lf_real *C, int64_t ldc);
    /* one convolution pass (forward, weight gradient and/or input gradient: lf_conv_job) */
    lf_status (*conv)(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *job);
    /* the smallest batch of at least `want` images (or n) that conv runs the way it runs n
     * images, so that a batch run in chunks of it (the last one up to twice as long) gives
     * the same bits as in one pass */
    int64_t (*conv_chunk)(const lf_conv_geom *q, int64_t n, int64_t want);
    void (*conv_bias_forward)(lf_real *y, const lf_real *bias, int64_t n, int64_t c, int64_t L);
    void (*conv_bias_backward)(const lf_real *dy, lf_real *db, int64_t n, int64_t c, int64_t L);
} lf_backend;

/* The table of device d, or NULL when this build has no backend for it. */
const lf_backend *lf_backend_for(lf_device d);
const char *lf_device_name(lf_device d);

#endif
