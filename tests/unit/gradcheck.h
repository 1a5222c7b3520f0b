/* Numerical gradient check: analytic gradients of an op (or a chain of ops) against central
 * finite differences. Meaningful in the float64 build (make VARIANT=f64), where
 * GRADCHECK_ENABLED is 1; in float32 builds the checks are skipped. */
#ifndef LF_GRADCHECK_H
#define LF_GRADCHECK_H

#include "labelfree.h"

#ifdef LF_DOUBLE
#define GRADCHECK_ENABLED 1
#else
#define GRADCHECK_ENABLED 0
#endif

typedef struct gc_input {
    int ndim;
    int64_t shape[LF_MAX_DIMS];
    double lo, hi;      /* values drawn uniformly from [lo, hi] (both 0: [-1, 1]) */
    int no_grad;        /* 1: a constant input (not checked) */
} gc_input;

/* Builds the output from the inputs; may use ctx. Must be deterministic (the graph's rng is
 * reset to the same state before every call). */
typedef lf_tensor *(*gc_fn)(lf_graph *g, lf_tensor **in, void *ctx);

/* Returns the max abs difference found (negative if the function failed); records a test
 * failure naming `name` when |analytic - numeric| > atol + rtol * |numeric|. */
double gradcheck(const char *name, gc_fn f, int n_in, const gc_input *inputs, void *ctx,
                 double atol, double rtol, int training);

/* Shorthand for the usual tolerances in float64. */
#define GRADCHECK(name, f, n, inputs, ctx) gradcheck(name, f, n, inputs, ctx, 1e-6, 1e-5, 1)

#endif
