/*
 * labelfree.h — the public C API of labelfree: self-supervised learning for biomedical data.
 *
 * A worked example (training step of a tiny linear model):
 *
 *     lf_params *P; lf_params_init(&P);
 *     int64_t wshape[2] = {10, 4};
 *     lf_tensor *W = lf_param_add(P, "fc.weight", 2, wshape, 0);
 *     lf_params_finalize(P);                       // one block for data, one for grads
 *     lf_graph *g; lf_graph_init(&g, 0);           // per-step arena + tape
 *     for (step...) {
 *         lf_graph_reset(g);                       // no malloc after the first steps
 *         lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){32, 4});   // fill x->data
 *         lf_tensor *y = lf_linear(g, x, W, NULL); // (32, 10)
 *         lf_tensor *loss = lf_mean_all(g, lf_mul(g, y, y));
 *         if (!loss || lf_backward(g, loss) != LF_OK) { puts(lf_last_error()); break; }
 *         lf_optim_step(opt);                      // then lf_params_zero_grad(P)
 *     }
 *
 * Conventions
 *  - Every function that can fail returns lf_status (LF_OK == 0) or NULL, and leaves a message
 *    in lf_last_error(). The library never exits or aborts on bad input.
 *  - Ops take the graph first and return a tensor allocated in the graph's per-step arena.
 *    An op given a NULL input returns NULL without touching the error, so a chain of ops can
 *    be checked once at its end.
 *  - Shapes are int64_t, row-major (C order); dimension letters: N batch, C channels,
 *    D depth, H height, W width, T tokens, E embedding.
 *  - The scalar type lf_real is float; the gradient-check build (-DLF_DOUBLE) makes it double.
 */
#ifndef LABELFREE_H
#define LABELFREE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LF_VERSION "0.1.0"
#define LF_FORMAT_VERSION 1 /* version of the metadata written into model files */

#ifdef LF_DOUBLE
typedef double lf_real;
#else
typedef float lf_real;
#endif

/* ------------------------------------------------------------------ errors */
typedef enum lf_status {
    LF_OK = 0,
    LF_ERR_ARG,         /* bad argument (NULL, out of range, wrong flag) */
    LF_ERR_SHAPE,       /* shapes that do not fit together */
    LF_ERR_IO,          /* cannot open/read/write a file */
    LF_ERR_FORMAT,      /* a file or string that is not what it claims to be */
    LF_ERR_NOMEM,       /* allocation failed */
    LF_ERR_NUMERIC,     /* NaN or Inf where there must be none */
    LF_ERR_UNSUPPORTED, /* valid request that this build cannot do */
    LF_ERR_STATE        /* call at the wrong time (e.g. a param added after finalize) */
} lf_status;

const char *lf_last_error(void);     /* message of the last failure in this thread */
lf_status lf_last_status(void);
void lf_clear_error(void);
const char *lf_status_name(lf_status s);
/* Sets the thread's error and returns s: `return lf_error(LF_ERR_IO, "%s: %s", path, why);` */
lf_status lf_error(lf_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ------------------------------------------------------------------ memory and threads */
/* All library allocations go through these, so tests can count them (no malloc per step). */
void *lf_malloc(size_t n);
void *lf_calloc(size_t count, size_t size);
void *lf_realloc(void *p, size_t n);
void lf_free(void *p);
uint64_t lf_alloc_count(void); /* number of lf_malloc/lf_calloc/lf_realloc calls so far */

/* One thread budget for BLAS and the engine's own loops (OpenMP). n <= 0: all cores. */
void lf_set_threads(int n);
int lf_get_threads(void);

/* ------------------------------------------------------------------ randomness */
/* Philox4x32-10, counter based: value i of stream s under seed k is a pure function of
 * (k, s, i), so results never depend on thread count or scheduling. */
typedef struct lf_rng {
    uint64_t seed;
    uint64_t stream;
    uint64_t offset; /* counter of 32-bit draws consumed so far */
} lf_rng;

void lf_philox4x32(uint64_t key, uint64_t c_hi, uint64_t c_lo, uint32_t out[4]);
lf_rng lf_rng_make(uint64_t seed, uint64_t stream);
uint32_t lf_rng_u32(lf_rng *r);
double lf_rng_uniform(lf_rng *r);          /* [0, 1) */
double lf_rng_normal(lf_rng *r);           /* N(0, 1), Box-Muller */
uint32_t lf_rng_below(lf_rng *r, uint32_t n); /* uniform in [0, n) without modulo bias */
void lf_rng_fill_uniform(lf_rng *r, lf_real *out, int64_t n, double lo, double hi);
void lf_rng_fill_normal(lf_rng *r, lf_real *out, int64_t n, double mean, double std);
void lf_rng_shuffle(lf_rng *r, int64_t *idx, int64_t n);

/* ------------------------------------------------------------------ tensors */
#define LF_MAX_DIMS 5

typedef enum lf_device { LF_DEVICE_CPU = 0, LF_DEVICE_CUDA = 1, LF_DEVICE_COUNT } lf_device;

enum lf_tensor_flags {
    LF_TENSOR_REQUIRES_GRAD = 1 << 0,
    LF_TENSOR_PARAM = 1 << 1,     /* lives in an lf_params block */
    LF_TENSOR_NO_DECAY = 1 << 2,  /* excluded from weight decay and LARS adaptation */
    LF_TENSOR_BUFFER = 1 << 3     /* saved state without gradient (running stats) */
};

typedef struct lf_tensor {
    lf_real *data;                 /* first element (a view points inside another tensor) */
    lf_real *grad;                 /* same shape, contiguous; NULL until needed */
    int64_t shape[LF_MAX_DIMS];
    int64_t stride[LF_MAX_DIMS];   /* in elements */
    int32_t ndim;
    int32_t flags;                 /* lf_tensor_flags */
    lf_device device;
    const char *name;              /* parameter name, or NULL */
} lf_tensor;

int64_t lf_numel(const lf_tensor *t);
int lf_is_contiguous(const lf_tensor *t);
int lf_same_shape(const lf_tensor *a, const lf_tensor *b);
/* Writes "(2, 3, 4)" into buf; returns buf. */
char *lf_shape_str(const lf_tensor *t, char *buf, size_t size);
/* Fills shape/stride for a contiguous layout (no allocation). */
void lf_tensor_set_shape(lf_tensor *t, int ndim, const int64_t *shape);
/* LF_ERR_NUMERIC naming `what` if any element is NaN or Inf. */
lf_status lf_check_finite(const lf_tensor *t, const char *what);

/* ------------------------------------------------------------------ graph (tape + arena) */
typedef struct lf_graph lf_graph;
typedef struct lf_node lf_node;

/* arena_bytes: first arena block (0 = a default); the arena grows and, at the next reset,
 * is merged into one block of the high-water size, so steady-state steps do no malloc. */
lf_status lf_graph_init(lf_graph **g, size_t arena_bytes);
void lf_graph_free(lf_graph *g);
void lf_graph_reset(lf_graph *g);                 /* start a step: drop the tape and the arena */
void lf_graph_set_grad_enabled(lf_graph *g, int on); /* off: ops record nothing (inference) */
int lf_graph_grad_enabled(const lf_graph *g);
void lf_graph_set_training(lf_graph *g, int on);  /* batch norm / dropout behaviour */
int lf_graph_training(const lf_graph *g);
size_t lf_graph_arena_bytes(const lf_graph *g);   /* capacity of the arena now */
/* Seeds d(loss)/d(loss) = 1 for a one-element loss (or `seed_grad` of loss's shape if not
 * NULL) and runs the tape backward. Parameter gradients accumulate (+=), so several
 * micro-batches can be summed before one optimizer step. */
lf_status lf_backward(lf_graph *g, lf_tensor *loss);
lf_status lf_backward_with(lf_graph *g, lf_tensor *out, const lf_real *seed_grad);
/* Per-graph randomness (dropout, masks): a stream of the run's seed. */
void lf_graph_set_rng(lf_graph *g, lf_rng rng);
lf_rng *lf_graph_rng(lf_graph *g);

/* A new contiguous tensor in the graph's arena (data uninitialised / zeroed). */
lf_tensor *lf_tensor_new(lf_graph *g, int ndim, const int64_t *shape);
lf_tensor *lf_tensor_zeros(lf_graph *g, int ndim, const int64_t *shape);
/* Copies `data` (numel values) into a new graph tensor. */
lf_tensor *lf_tensor_from(lf_graph *g, int ndim, const int64_t *shape, const lf_real *data);
/* Bytes from the graph's arena, 64-byte aligned, valid until the next reset. */
void *lf_graph_alloc(lf_graph *g, size_t bytes);

/* ------------------------------------------------------------------ parameters */
typedef struct lf_params lf_params;

lf_status lf_params_init(lf_params **p);
void lf_params_free(lf_params *p);
/* Declares a parameter (requires grad) or, with LF_TENSOR_BUFFER in flags, a buffer.
 * Data pointers are set by lf_params_finalize, which allocates one block for all data and
 * one for all gradients. The name is copied. Returns NULL on error. */
lf_tensor *lf_param_add(lf_params *p, const char *name, int ndim, const int64_t *shape,
                        int flags);
lf_status lf_params_finalize(lf_params *p);
int lf_params_count(const lf_params *p);
lf_tensor *lf_params_get(const lf_params *p, int i);
lf_tensor *lf_params_find(const lf_params *p, const char *name);
int64_t lf_params_numel(const lf_params *p, int trainable_only);
void lf_params_zero_grad(lf_params *p);           /* one memset */
lf_real *lf_params_data_block(const lf_params *p, int64_t *n);
lf_real *lf_params_grad_block(const lf_params *p, int64_t *n);
/* dst := src for every parameter and buffer of the same name (shapes must match). */
lf_status lf_params_copy(lf_params *dst, const lf_params *src);

/* ------------------------------------------------------------------ ops (see src/ops/)
 * Each returns a new tensor in g's arena, or NULL on error (message in lf_last_error()). */

/* views and layout (src/ops/view.c) */
lf_tensor *lf_reshape(lf_graph *g, lf_tensor *x, int ndim, const int64_t *shape); /* -1 once */
lf_tensor *lf_permute(lf_graph *g, lf_tensor *x, const int *perm);
lf_tensor *lf_transpose(lf_graph *g, lf_tensor *x, int d0, int d1);
lf_tensor *lf_contiguous(lf_graph *g, lf_tensor *x);
lf_tensor *lf_slice(lf_graph *g, lf_tensor *x, int dim, int64_t start, int64_t stop);
lf_tensor *lf_detach(lf_graph *g, lf_tensor *x); /* stop-gradient */
lf_tensor *lf_concat(lf_graph *g, lf_tensor *const *xs, int n, int dim);
lf_tensor *lf_index_select(lf_graph *g, lf_tensor *x, int dim, const int64_t *idx, int64_t n);

/* matrix products (src/ops/matmul.c) */
/* (..., M, K) @ (..., K, N) with batch dims broadcast; 1-D operands as in numpy. */
lf_tensor *lf_matmul(lf_graph *g, lf_tensor *a, lf_tensor *b);
/* x (..., in) W (out, in) b (out) or NULL -> (..., out), as torch.nn.Linear */
lf_tensor *lf_linear(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b);

/* elementwise with numpy broadcasting (src/ops/elementwise.c) */
lf_tensor *lf_add(lf_graph *g, lf_tensor *a, lf_tensor *b);
lf_tensor *lf_sub(lf_graph *g, lf_tensor *a, lf_tensor *b);
lf_tensor *lf_mul(lf_graph *g, lf_tensor *a, lf_tensor *b);
lf_tensor *lf_div(lf_graph *g, lf_tensor *a, lf_tensor *b);
lf_tensor *lf_scale(lf_graph *g, lf_tensor *x, double s);     /* s * x */
lf_tensor *lf_add_scalar(lf_graph *g, lf_tensor *x, double s); /* x + s */
lf_tensor *lf_exp(lf_graph *g, lf_tensor *x);
lf_tensor *lf_log(lf_graph *g, lf_tensor *x);
lf_tensor *lf_sqrt(lf_graph *g, lf_tensor *x);
lf_tensor *lf_pow(lf_graph *g, lf_tensor *x, double p);
lf_tensor *lf_clamp(lf_graph *g, lf_tensor *x, double lo, double hi);

/* activations (src/ops/activation.c) */
lf_tensor *lf_relu(lf_graph *g, lf_tensor *x);
lf_tensor *lf_gelu(lf_graph *g, lf_tensor *x);    /* exact (erf) form, as torch default */
lf_tensor *lf_silu(lf_graph *g, lf_tensor *x);
lf_tensor *lf_sigmoid(lf_graph *g, lf_tensor *x);
lf_tensor *lf_tanh(lf_graph *g, lf_tensor *x);
lf_tensor *lf_softplus(lf_graph *g, lf_tensor *x);
lf_tensor *lf_dropout(lf_graph *g, lf_tensor *x, double p); /* identity unless training */

/* reductions (src/ops/reduce.c); dims: bit mask of axes, keepdim as in torch */
lf_tensor *lf_sum(lf_graph *g, lf_tensor *x, uint32_t dims, int keepdim);
lf_tensor *lf_mean(lf_graph *g, lf_tensor *x, uint32_t dims, int keepdim);
lf_tensor *lf_max(lf_graph *g, lf_tensor *x, int dim, int keepdim);
lf_tensor *lf_sum_all(lf_graph *g, lf_tensor *x);
lf_tensor *lf_mean_all(lf_graph *g, lf_tensor *x);

/* softmax family along one dim (src/ops/softmax.c) */
lf_tensor *lf_softmax(lf_graph *g, lf_tensor *x, int dim);
lf_tensor *lf_log_softmax(lf_graph *g, lf_tensor *x, int dim);
lf_tensor *lf_logsumexp(lf_graph *g, lf_tensor *x, int dim, int keepdim);
lf_tensor *lf_l2_normalize(lf_graph *g, lf_tensor *x, int dim, double eps);

/* losses (src/ops/loss.c); reduction: mean over the (non-ignored) items */
/* logits (N, C) or (N, C, d...); target class ids as int64 (N) or (N, d...) */
lf_tensor *lf_cross_entropy(lf_graph *g, lf_tensor *logits, const int64_t *target,
                            int64_t ignore_index, double label_smoothing);
lf_tensor *lf_mse_loss(lf_graph *g, lf_tensor *x, lf_tensor *target);
lf_tensor *lf_bce_with_logits(lf_graph *g, lf_tensor *x, lf_tensor *target);

/* convolution and pooling (src/ops/conv.c, src/ops/pool.c); 2-D: (N, C, H, W), 3-D:
 * (N, C, D, H, W); arrays of length 2 or 3 in the same order as the spatial dims. */
typedef struct lf_conv_args {
    int ndim_spatial;   /* 2 or 3 */
    int stride[3];
    int padding[3];
    int dilation[3];
    int output_padding[3]; /* transposed convolution only */
    int groups;
} lf_conv_args;
lf_conv_args lf_conv_args_make(int ndim_spatial, int stride, int padding, int dilation,
                               int groups);
/* w: (Cout, Cin/groups, k...) */
lf_tensor *lf_conv(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b, lf_conv_args a);
/* w: (Cin, Cout/groups, k...) as torch.nn.ConvTranspose */
lf_tensor *lf_conv_transpose(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b,
                             lf_conv_args a);
lf_tensor *lf_max_pool(lf_graph *g, lf_tensor *x, int ndim_spatial, int kernel, int stride,
                       int padding);
lf_tensor *lf_avg_pool(lf_graph *g, lf_tensor *x, int ndim_spatial, int kernel, int stride,
                       int padding); /* count_include_pad = true, as torch default */
lf_tensor *lf_global_avg_pool(lf_graph *g, lf_tensor *x); /* (N, C, ...) -> (N, C) */

/* normalisation (src/ops/norm.c) */
/* x (N, C, ...); running stats updated in training (momentum as torch, unbiased var). */
lf_tensor *lf_batch_norm(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                         lf_tensor *running_mean, lf_tensor *running_var, double momentum,
                         double eps);
lf_tensor *lf_layer_norm(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                         double eps); /* over the last dim */

/* embedding and attention (src/ops/attention.c, src/ops/embedding.c) */
lf_tensor *lf_embedding(lf_graph *g, lf_tensor *table, const int64_t *ids, int ndim,
                        const int64_t *shape); /* table (V, E) -> (shape..., E) */
/* q (B, H, Tq, Dh), k/v (B, H, Tk, Dh); mask (Tq, Tk) or (B, 1, Tq, Tk) additive, or NULL */
lf_tensor *lf_attention(lf_graph *g, lf_tensor *q, lf_tensor *k, lf_tensor *v,
                        lf_tensor *mask, double scale);

/* ------------------------------------------------------------------ sections added by issues */
/* @@OPTIM@@ */
/* @@IO@@ */
/* @@NN@@ */
/* @@DATA@@ */
/* @@EVAL@@ */
/* @@CHEM@@ */
/* ------------------------------------------------------------------ chemistry (src/chem) */
/* A molecule read from SMILES and sanitized as RDKit does by default (implicit Hs from the
 * default valence model, RDKit-default aromaticity, charge-separated nitro groups, plain
 * [H] atoms folded into their neighbours). */
typedef struct lf_mol lf_mol;
/* On a bad SMILES returns LF_ERR_FORMAT with a message, and *err_pos (may be NULL) is the
 * 0-based character position of the problem. */
lf_status lf_mol_parse(const char *smiles, lf_mol **out, int *err_pos);
void lf_mol_free(lf_mol *m);
int lf_mol_num_atoms(const lf_mol *m);   /* heavy atoms plus kept (isotopic, charged) Hs */
int lf_mol_num_bonds(const lf_mol *m);
int lf_mol_num_rings(const lf_mol *m);   /* size of the (symmetrized) smallest ring set */
int lf_mol_atom_is_aromatic(const lf_mol *m, int i);
int lf_mol_atom_total_h(const lf_mol *m, int i);
int lf_mol_atom_charge(const lf_mol *m, int i);
/* Morgan fingerprints, identical to RDKit's GetMorganFingerprintAsBitVect (bits: n_bits
 * bytes of 0/1) and GetHashedMorganFingerprint (counts: n_bits counters). */
lf_status lf_morgan_bits(const lf_mol *m, int radius, int n_bits, int use_chirality, uint8_t *bits);
lf_status lf_morgan_counts(const lf_mol *m, int radius, int n_bits, int use_chirality, uint32_t *counts);
/* @@SSL@@ */

#ifdef __cplusplus
}
#endif
#endif /* LABELFREE_H */
