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

/* The kernel set OpenBLAS runs (openblas_get_corename()). It is chosen once, when OpenBLAS
 * loads: from the environment variable OPENBLAS_CORETYPE, else by its CPU detection. An
 * environment can pin older kernels: this project's machines export
 * OPENBLAS_CORETYPE=Haswell (AVX2), and on their AVX-512 CPUs sgemm then runs at 206
 * GFLOP/s on 2 cores against 390 with OpenBLAS's own choice (Cooperlake); measured. */
const char *lf_blas_corename(void);
/* The convolutions' matrix products: "avx512" (labelfree's own kernel, chosen when the CPU has
 * AVX-512F, whatever OPENBLAS_CORETYPE says), "avx512+winograd" (the same, with 3x3 stride-1
 * convolutions on Winograd F(2x2, 3x3) unless the environment sets LF_CONV=im2col; its
 * transforms turn an inf input into NaN where im2col gives inf) or "blas"
 * (elsewhere, in float64 builds, or with the environment variable LF_GEMM=blas). */
const char *lf_conv_gemm_name(void);

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
/* on (default): after lf_backward every tensor that required a gradient still holds it.
 * off: the gradient of an intermediate (op output) tensor is recycled as soon as the op that
 * produced it has run its backward, and reads NULL afterwards; leaves (inputs, parameters)
 * and the backward root keep theirs. Training loops turn it off: it bounds backward memory
 * by the gradients alive at once instead of all of them (ResNet-18: ~1 GB less at 128
 * images of 32x32). */
void lf_graph_set_retain_grads(lf_graph *g, int on);
void lf_graph_set_training(lf_graph *g, int on);  /* batch norm / dropout behaviour */
int lf_graph_training(const lf_graph *g);
/* Frozen weights, off by default: a promise that the parameters' values do not change while
 * it is on (serving, embedding a data set). Convolutions then keep their weights in the
 * kernels' own form (Winograd-transformed, gemm-packed) from one step to the next instead of
 * remaking them every call (the filter transforms were 3.4 % of a 64x64 ResNet-18
 * embedding profile, bench/NOTES.md 24), for 80-120 MB more memory with a ResNet-18 (45 MB
 * of weights). Used only while the graph is in eval mode with
 * gradients off. A kept form is remade when the weights' fingerprint (64 sampled values)
 * changes, but that is a net, not a check: change the weights with it off, or turn it off
 * and on again. Off frees the kept forms; so does lf_graph_free. */
void lf_graph_set_frozen_weights(lf_graph *g, int on);
int lf_graph_frozen_weights(const lf_graph *g);
/* Recomputation (activation checkpointing), off by default. On: the encoders run each block
 * (a ResNet stage block, the stem, a ViT block) through lf_recompute while recording, so a
 * training step keeps only the blocks' outputs and recomputes the inside during backward:
 * less memory for one more forward pass. Gradients and running statistics are the same. */
void lf_graph_set_recompute(lf_graph *g, int on);
int lf_graph_recompute(const lf_graph *g);
/* y = fn(g, x, ctx) with nothing inside recorded: the forward runs without a tape and frees
 * its intermediates at once; backward runs fn again on the saved x (same random numbers,
 * batch norm without a second running-statistics update) with a tape, backpropagates through
 * it and frees it. fn may read only x, parameters and tensors that need no gradient (backward
 * stops with LF_ERR_STATE otherwise). Without grad recording it is fn(g, x, ctx) with fn's
 * intermediates freed as it returns (the encoders' blocks run this way in inference, so an
 * embedding batch holds one block's activations at a time); with it, the output requires a
 * gradient. With retain_grads off, backward frees the output (its data
 * becomes NULL) once the ops that read it are done: read it before backward; a second
 * backward through the segment stops with LF_ERR_STATE. */
typedef lf_tensor *(*lf_segment_fn)(lf_graph *g, lf_tensor *x, void *ctx);
lf_tensor *lf_recompute(lf_graph *g, lf_segment_fn fn, void *ctx, lf_tensor *x);
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

/* activations for fused ops and the MLP heads */
typedef enum lf_activation { LF_ACT_RELU = 0, LF_ACT_GELU, LF_ACT_NONE } lf_activation;

/* matrix products (src/ops/matmul.c) */
/* (..., M, K) @ (..., K, N) with batch dims broadcast; 1-D operands as in numpy. */
lf_tensor *lf_matmul(lf_graph *g, lf_tensor *a, lf_tensor *b);
/* x (..., in) W (out, in) b (out) or NULL -> (..., out), as torch.nn.Linear */
lf_tensor *lf_linear(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b);
/* act(lf_linear(x, w, b)) with act LF_ACT_GELU, LF_ACT_RELU or LF_ACT_NONE. Without a gradient
 * to record the activation is applied to each block of the product while it is in cache (the
 * same values as the two ops); with one, it is the two ops. */
lf_tensor *lf_linear_act(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b, lf_activation act);
/* res + lf_linear(x, w, b) (a residual connection: res has the product's shape). Without a
 * gradient to record res is added to each block of the product while it is in cache (the
 * same values as lf_add of the two); with one, it is the two ops. */
lf_tensor *lf_linear_add(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b, lf_tensor *res);

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
/* Multi-head self-attention on packed projections (src/ops/self_attention.c): qkv (B, T, 3E)
 * as Linear(E, 3E) gives it (q, k, v side by side, each `heads` heads wide) -> (B, T, E) with
 * the heads side by side: what reshape, permute, lf_attention, transpose and reshape give,
 * without their copies; the (batch, head) pairs run in parallel. key_mask (B, T) or NULL:
 * added to every query's scores over the keys of its sequence (-inf on padding); a sequence
 * whose keys are all -inf gets zeros, as lf_attention's fully masked rows. */
lf_tensor *lf_self_attention(lf_graph *g, lf_tensor *qkv, int heads, double scale,
                             lf_tensor *key_mask);

/* ------------------------------------------------------------------ sections added by issues */
/* @@OPTIM@@ */
/* Optimizers over an lf_params (src/optim/). State (momentum, Adam moments) lives in one
 * block allocated by lf_optim_init, indexed like the params' gradient block, so a step does
 * no allocation and a checkpoint saves one array. Buffers (LF_TENSOR_BUFFER) are skipped.
 * Parameters flagged LF_TENSOR_NO_DECAY get no weight decay (SGD, AdamW, LARS) and no LARS
 * trust-ratio adaptation, unless decay_all is set (then SGD/AdamW decay them too, as a single
 * torch param group would).
 *
 *  SGD   as torch.optim.SGD (dampening 0):  d = g + wd*w;  b = mu*b + d;
 *        d = nesterov ? d + mu*b : b;  w -= lr*d          (b starts at 0, so b_1 = d_1)
 *  AdamW as torch.optim.AdamW (amsgrad off): w *= 1 - lr*wd;  m = b1*m + (1-b1)*g;
 *        v = b2*v + (1-b2)*g^2;  w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *  LARS  as solo-learn's LARS (solo/utils/lars.py, from Lightning Bolts; clip_lars_lr off):
 *        for an adapted tensor with ||w|| > 0 and ||g|| > 0:
 *            r = eta*||w|| / (||g|| + wd*||w|| + eps);  d = r*(g + wd*w)
 *        otherwise (NO_DECAY-flagged, or a zero norm) d = g;
 *        then momentum SGD as above: b = mu*b + d; d = nesterov ? d + mu*b : b; w -= lr*d.
 *        (SimCLR's TF LARS differs slightly: it uses ||g + wd*w|| in the ratio and keeps lr
 *        inside the momentum buffer; with a constant lr the two agree when wd = 0.) */
typedef enum lf_optim_kind { LF_OPTIM_SGD = 0, LF_OPTIM_ADAMW, LF_OPTIM_LARS } lf_optim_kind;

typedef struct lf_optim_config {
    lf_optim_kind kind;
    double lr;
    double weight_decay;
    double momentum;       /* SGD, LARS */
    int nesterov;          /* SGD, LARS */
    double beta1, beta2;   /* AdamW */
    double eps;            /* AdamW denominator; LARS ratio denominator */
    double eta;            /* LARS trust coefficient */
    int decay_all;         /* 1: SGD/AdamW ignore LF_TENSOR_NO_DECAY for weight decay */
} lf_optim_config;

typedef struct lf_optim lf_optim;

/* torch's defaults: SGD lr 0.1 (torch requires one), momentum 0, wd 0; AdamW lr 1e-3,
 * betas (0.9, 0.999), eps 1e-8, wd 1e-2; LARS lr 0.1, momentum 0.9, eta 1e-3, eps 1e-8,
 * wd 1e-6 (SimCLR). */
lf_optim_config lf_optim_defaults(lf_optim_kind kind);
/* p must be finalized; keeps a pointer to it. */
lf_status lf_optim_init(lf_optim **o, lf_params *p, const lf_optim_config *cfg);
void lf_optim_free(lf_optim *o);
/* One update from the gradients now in p (does not zero them). */
lf_status lf_optim_step(lf_optim *o);
void lf_optim_set_lr(lf_optim *o, double lr);
double lf_optim_lr(const lf_optim *o);
void lf_optim_set_weight_decay(lf_optim *o, double wd); /* e.g. DINO's cosine wd schedule */
const lf_optim_config *lf_optim_get_config(const lf_optim *o);
/* Number of steps taken (AdamW's bias correction uses it); restored with the state. */
int64_t lf_optim_step_count(const lf_optim *o);
void lf_optim_set_step_count(lf_optim *o, int64_t t);
/* The whole optimizer state: *n reals (0 for plain SGD). Write into it to restore. */
lf_real *lf_optim_state_block(lf_optim *o, int64_t *n);

/* Learning-rate schedule: linear warm-up from warmup_start to base over warmup_steps, then
 * cosine from base to final over the remaining total_steps - warmup_steps; final after.
 *   step < W:      start + (base - start) * step / W
 *   W <= step < T: final + (base - final) * (1 + cos(pi * (step - W) / (T - W))) / 2 */
typedef struct lf_lr_schedule {
    double base;
    double final;
    double warmup_start;
    int64_t warmup_steps;
    int64_t total_steps;
} lf_lr_schedule;
double lf_lr_at(const lf_lr_schedule *s, int64_t step);
/* BYOL/DINO teacher momentum: final + (base - final) * (1 + cos(pi * step / total)) / 2,
 * base at step 0, final (usually 1) at step >= total. */
double lf_cosine_momentum(double base, double final, int64_t step, int64_t total);

/* EMA of trainable parameters: target = m*target + (1-m)*online for each target parameter,
 * matched by name (MoCo/BYOL/DINO). Buffers are left alone (each network keeps its own
 * batch-norm statistics, as in MoCo). No allocation. */
lf_status lf_ema_update(lf_params *target, const lf_params *online, double m);
/* torch.nn.utils.clip_grad_norm_ (2-norm over all gradients): scales every gradient by
 * min(1, max_norm / (total + 1e-6)). *total_norm (may be NULL) gets the norm before
 * clipping. A NaN/Inf norm returns LF_ERR_NUMERIC and leaves the gradients alone. */
lf_status lf_clip_grad_norm(lf_params *p, double max_norm, double *total_norm);
/* @@IO@@ */
/* File I/O (src/io/). Every write is atomic: the bytes go to "<path>.tmp.<pid>", which is
 * flushed, fsync'ed and renamed over path, then the directory is fsync'ed; a failed or
 * killed write never leaves a half-written file at path. Errors name the file and, where
 * there is one, the tensor. Host byte order must be little-endian (x86-64, arm64). */
typedef enum lf_dtype {
    LF_DTYPE_F32 = 0, LF_DTYPE_F64, LF_DTYPE_F16, LF_DTYPE_BF16, LF_DTYPE_I64, LF_DTYPE_I32,
    LF_DTYPE_I8, LF_DTYPE_U8, LF_DTYPE_BOOL
} lf_dtype;
const char *lf_dtype_name(lf_dtype d); /* safetensors spelling: "F32", "I64", ... */
/* lf_param_add flag: the safetensors writer stores this tensor as I64 (values rounded).
 * Names ending in "num_batches_tracked" (torch's BatchNorm counter) get I64 without it. */
#define LF_TENSOR_SAVE_I64 (1 << 8)

/* safetensors: u64 little-endian header size N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string", ...}}, then the raw little-endian data. */
typedef struct lf_safetensors lf_safetensors; /* a file opened for reading */
lf_status lf_st_open(lf_safetensors **f, const char *path);   /* parses/validates the header */
void lf_st_close(lf_safetensors *f);
int lf_st_count(const lf_safetensors *f);
const char *lf_st_name(const lf_safetensors *f, int i);
/* dtype and shape of `name`; LF_ERR_ARG naming the file if absent. shape: LF_MAX_DIMS+3. */
lf_status lf_st_info(const lf_safetensors *f, const char *name, lf_dtype *dtype, int *ndim,
                     int64_t *shape);
/* Reads `name` converted to lf_real (F32/F64/F16/BF16/I64/I32/I8/U8/BOOL) or to int64
 * (integer dtypes only); n must equal the tensor's element count. */
lf_status lf_st_read(lf_safetensors *f, const char *name, lf_real *out, int64_t n);
lf_status lf_st_read_i64(lf_safetensors *f, const char *name, int64_t *out, int64_t n);
const char *lf_st_meta(const lf_safetensors *f, const char *key); /* NULL when absent */
int lf_st_meta_count(const lf_safetensors *f);
const char *lf_st_meta_key(const lf_safetensors *f, int i);

/* Loading into parameters by name ("<prefix><param name>" in the file). Default (0) is
 * torch's load_state_dict(strict=True): every parameter and buffer must be in the file with
 * the same shape, and the file may hold nothing else under the prefix. */
enum lf_load_flags {
    LF_LOAD_ALLOW_MISSING = 1 << 0,    /* parameters absent from the file keep their values */
    LF_LOAD_ALLOW_UNEXPECTED = 1 << 1  /* tensors of the file that match nothing are ignored */
};
lf_status lf_st_load_params(lf_safetensors *f, lf_params *p, const char *prefix, int flags);
lf_status lf_safetensors_load(const char *path, lf_params *p, const char *prefix, int flags);

typedef struct lf_st_writer lf_st_writer; /* collects tensors, then writes one file */
lf_status lf_st_writer_init(lf_st_writer **w);
void lf_st_writer_free(lf_st_writer *w);
lf_status lf_st_add_meta(lf_st_writer *w, const char *key, const char *value); /* copied */
/* Adds a tensor stored as `dtype` (F32, F64 or I64) from lf_real data. The data is NOT
 * copied: it must stay valid until lf_st_write. */
lf_status lf_st_add(lf_st_writer *w, const char *name, int ndim, const int64_t *shape,
                    const lf_real *data, lf_dtype dtype);
lf_status lf_st_add_i64(lf_st_writer *w, const char *name, int ndim, const int64_t *shape,
                        const int64_t *data);
/* Every parameter and buffer as "<prefix><name>": F32 (I64 under the rule above). */
lf_status lf_st_add_params(lf_st_writer *w, const lf_params *p, const char *prefix);
lf_status lf_st_write(lf_st_writer *w, const char *path); /* atomic */
/* One call: params (F32) + metadata pairs meta[2*i] = key, meta[2*i+1] = value. The
 * metadata always gets "format_version" (LF_FORMAT_VERSION) and "labelfree_version". */
lf_status lf_safetensors_save(const char *path, const lf_params *p, const char *const *meta,
                              int n_meta);

/* .npy (format 1.0 written; 1.0-3.0 read). Float 2-D arrays (embeddings, '<f4'; '<f8' is
 * read too) and int64 1-D arrays (labels, '<i8'; '<i4' read too). Arrays returned by the
 * readers come from lf_malloc: release them with lf_free. C order only. */
lf_status lf_npy_write_f32(const char *path, const lf_real *data, int64_t rows, int64_t cols);
lf_status lf_npy_write_i64(const char *path, const int64_t *data, int64_t n);
lf_status lf_npy_read_f32(const char *path, lf_real **data, int64_t *rows, int64_t *cols);
lf_status lf_npy_read_i64(const char *path, int64_t **data, int64_t *n);

/* Checkpoint for resuming a run: one safetensors file (atomic) with every parameter and
 * buffer (as lf_real's own dtype: F32, or F64 in the double build), the optimizer state block
 * ("__optim_state__", if opt is not NULL and has state), and metadata: step, RNG state,
 * optimizer kind/step count/lr, a layout check of the parameters, the caller's JSON config.
 * Loading checks that the parameters and the optimizer match what was saved. */
lf_status lf_checkpoint_save(const char *path, const lf_params *p, const lf_optim *opt,
                             int64_t step, const lf_rng *rng, const char *config_json);
/* opt, step, rng, config_json may be NULL (not restored). *config_json: lf_malloc'd string,
 * or NULL if none was saved; release with lf_free. */
lf_status lf_checkpoint_load(const char *path, lf_params *p, lf_optim *opt, int64_t *step,
                             lf_rng *rng, char **config_json);
/* @@NN@@ */
/* Encoders (src/nn/): ResNet-18/50 (torchvision layout and parameter names), a ViT (timm
 * names) and an MLP (nn.Sequential names). Parameter names are those of the PyTorch
 * state_dict, so a saved file loads there with load_state_dict. Usage:
 *     lf_encoder_config c = lf_encoder_config_default("resnet50");
 *     lf_encoder *e; lf_encoder_init(P, &c, NULL, &e);   // declares parameters in P
 *     lf_params_finalize(P); lf_encoder_reset_parameters(e, seed);
 *     lf_tensor *f = lf_encoder_forward(g, e, x);         // (N, C, H, W) -> (N, F) */
#define LF_MLP_MAX_LAYERS 8


typedef struct lf_encoder_config {
    char arch[24];      /* "resnet18", "resnet50", "vit", "mlp" */
    char stem[16];      /* resnet: "imagenet" (7x7/2 conv + 3x3/2 max pool) or "cifar" (3x3/1) */
    int in_channels;    /* image channels; for "mlp" the input feature count */
    int num_classes;    /* > 0: a final linear layer "fc" ("head" for vit); 0: features */
    int width;          /* resnet: stem/layer1 width (64 = torchvision); vit: embedding dim;
                           mlp: hidden size */
    int image_size;     /* vit: input height = width */
    int patch;          /* vit: patch size */
    int depth;          /* vit: blocks; mlp: hidden layers */
    int heads;          /* vit: attention heads */
    double mlp_ratio;   /* vit: MLP hidden = mlp_ratio * width */
    double bn_momentum; /* 0.1 as torch */
    double bn_eps;      /* 1e-5 as torch */
    double ln_eps;      /* 1e-6 as timm's ViT */
    char pos_embed[8];  /* vit: "learned" (timm) or "sincos" (MAE's fixed 2-D sin-cos table,
                           a buffer; width divisible by 4) */
} lf_encoder_config;

typedef struct lf_encoder lf_encoder;

/* Defaults for arch (torchvision resnet18/resnet50 with 3 channels and the imagenet stem;
 * a ViT-Tiny/16 at 224; an MLP 2048 -> 512 x2). An unknown arch leaves arch empty. */
lf_encoder_config lf_encoder_config_default(const char *arch);
/* LF_ERR_ARG naming the field when a value is out of range or inconsistent. */
lf_status lf_encoder_config_check(const lf_encoder_config *cfg);
/* Declares the encoder's parameters in P (before lf_params_finalize) under `prefix` (NULL or
 * "" for none, e.g. "backbone."). The encoder keeps pointers to P's tensors: P outlives it. */
lf_status lf_encoder_init(lf_params *P, const lf_encoder_config *cfg, const char *prefix,
                          lf_encoder **out);
void lf_encoder_free(lf_encoder *e);
/* Initialises the weights (after lf_params_finalize) as torchvision / timm do, drawing from
 * the Philox stream (seed, stream); running stats to 0/1, num_batches_tracked to 0. */
lf_status lf_encoder_reset_parameters(lf_encoder *e, uint64_t seed, uint64_t stream);
/* x (N, C, H, W) images or (N, F) for "mlp" -> (N, feature_dim) features, or
 * (N, num_classes) when the encoder has a head. Batch norm uses batch statistics and
 * updates the running stats when lf_graph_training(g). */
lf_tensor *lf_encoder_forward(lf_graph *g, lf_encoder *e, lf_tensor *x);
/* Features before the head (N, feature_dim), whatever num_classes is. */
lf_tensor *lf_encoder_features(lf_graph *g, lf_encoder *e, lf_tensor *x);
/* ViT only: all tokens after the final norm (N, 1 + patches, width); NULL for others. */
lf_tensor *lf_encoder_tokens(lf_graph *g, lf_encoder *e, lf_tensor *x);
int64_t lf_encoder_feature_dim(const lf_encoder *e); /* 512 / 2048 at width 64, vit width */
const lf_encoder_config *lf_encoder_get_config(const lf_encoder *e);
/* Model metadata as a JSON object text (lf_free it) and back; unknown keys are ignored,
 * missing keys keep the arch's defaults. */
char *lf_encoder_config_to_json(const lf_encoder_config *cfg);
lf_status lf_encoder_config_from_json(const char *json, lf_encoder_config *cfg);

/* MLP of Linear [BatchNorm1d] activation blocks, named as an nn.Sequential ("0.weight",
 * "1.running_mean", ... with ReLU/GELU taking an index): SimCLR/BYOL projection heads. */
typedef struct lf_mlp_config {
    int n_layers;                    /* Linear layers, 1..LF_MLP_MAX_LAYERS */
    int dims[LF_MLP_MAX_LAYERS + 1]; /* dims[0] input, dims[i + 1] output of Linear i */
    int batch_norm;                  /* BatchNorm1d after each hidden Linear */
    int hidden_bias;                 /* bias in the hidden Linears */
    int last_bias;                   /* bias in the last Linear */
    int last_batch_norm;             /* BatchNorm1d after the last Linear too */
    lf_activation act;               /* after each hidden block */
    double bn_momentum, bn_eps;
} lf_mlp_config;
typedef struct lf_mlp lf_mlp;

/* n_layers Linear layers through dims; BN + ReLU between them, biases on. */
lf_mlp_config lf_mlp_config_make(int n_layers, const int *dims, int batch_norm);
lf_status lf_mlp_init(lf_params *P, const lf_mlp_config *cfg, const char *prefix,
                      lf_mlp **out);
void lf_mlp_free(lf_mlp *m);
lf_status lf_mlp_reset_parameters(lf_mlp *m, uint64_t seed, uint64_t stream); /* torch init */
lf_tensor *lf_mlp_forward(lf_graph *g, lf_mlp *m, lf_tensor *x); /* (N, dims[0]) -> (N, out) */
/* @@DATA@@ */
/* ---- data: images, datasets, augmentation, loader (src/data/) ----
 * Images are float32 planar (C, D, H, W) with D = 1 for 2-D images. Integer samples are
 * scaled to [0, 1] by their bit depth (uint8 / 255, uint16 / 65535); float samples are kept.
 * Conventions of lf_image_read (the format is recognised by its magic bytes, not the name):
 *  - PNG: 1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA, palette (-> RGB). Alpha is dropped
 *    (GA -> 1 channel, RGBA -> 3): microscopy and MRI images carry no meaning in it.
 *  - JPEG: gray (1 channel) or colour (3 channels, RGB). A truncated file is an error.
 *  - TIFF: 8/16-bit unsigned or 32-bit float samples, 1..N samples per pixel, contiguous or
 *    planar, strips or tiles. A multi-page TIFF is read with its pages as channels (pages of
 *    one size; 5 one-page-per-stain files stacked = a Cell Painting image). MINISWHITE is
 *    inverted; an RGB image with one alpha extra sample drops the alpha.
 *  - .npy: uint8, uint16, float32, float64, C order. (H, W) -> 1 channel; 3-D arrays are
 *    channel-first (C, H, W) unless the last dim is <= 4 and the first is > 4, in which case
 *    they are (H, W, C) (what numpy/PIL images look like); 4-D arrays are (C, D, H, W). */
#define LF_IMAGE_MAX_CHANNELS 64

typedef struct lf_image {
    float *data;   /* planar, c * d * h * w values */
    int c, d, h, w;
    int bit_depth; /* of the source samples: 8, 16, 32 (float) or 64 (double) */
    size_t cap;    /* floats allocated at data (reused by the next read into this image) */
} lf_image;

/* Sizes the image (reusing its buffer when large enough); data left uninitialised. */
lf_status lf_image_alloc(lf_image *img, int c, int d, int h, int w);
void lf_image_free(lf_image *img); /* frees data and zeroes the struct */
/* Decodes path into img (a zeroed lf_image, or one to reuse). Errors name the file. */
lf_status lf_image_read(const char *path, lf_image *img);
/* Bilinear resize (align_corners = false, as torch/TF) of the src window (y0, x0, hh, ww) to
 * dst's h x w, every channel; dst must already be sized with dst->c == src->c. */
lf_status lf_image_resize_region(const lf_image *src, double y0, double x0, double hh,
                                 double ww, lf_image *dst);

/* ---- datasets (src/data/dataset.c, src/data/csv.c) ----
 * lf_dataset_open(path): a directory with one subfolder per class (labels = subfolder names
 * in sorted order, images = files with an image extension, sorted), or a CSV manifest
 * (RFC 4180) with a header naming the columns `path` (required, relative to the manifest's
 * folder unless absolute), `label` (class name, may be empty = unlabelled), `split`
 * (train / val / test), `site` (acquisition site, free text). Other columns are ignored.
 * Label names map to ids in sorted order (numerically when every name is an integer).
 * With no split column, a seeded split stratified by label is drawn (fractions in opts).
 * Errors name the manifest and its line: a missing image file, an empty path, an unknown
 * split value, a label column with only one class, a malformed quote. */
typedef enum lf_split {
    LF_SPLIT_TRAIN = 0,
    LF_SPLIT_VAL = 1,
    LF_SPLIT_TEST = 2,
    LF_SPLIT_ALL = -1 /* selector: every item */
} lf_split;

typedef struct lf_dataset_options {
    uint64_t seed;       /* stratified split seed (default 0) */
    double train_frac;   /* default 0.7 */
    double val_frac;     /* default 0.1; test gets the rest (0.2) */
} lf_dataset_options;

typedef struct lf_dataset lf_dataset;

lf_dataset_options lf_dataset_options_default(void);
lf_status lf_dataset_open(lf_dataset **ds, const char *path, const lf_dataset_options *opts);
void lf_dataset_free(lf_dataset *ds);
int64_t lf_dataset_count(const lf_dataset *ds);
const char *lf_dataset_path(const lf_dataset *ds, int64_t i);  /* resolved file path */
int lf_dataset_label(const lf_dataset *ds, int64_t i);         /* class id, -1 unlabelled */
int lf_dataset_num_classes(const lf_dataset *ds);
const char *lf_dataset_class_name(const lf_dataset *ds, int k);
lf_split lf_dataset_split(const lf_dataset *ds, int64_t i);
const char *lf_dataset_site(const lf_dataset *ds, int64_t i);  /* "" when none */
/* Where item i came from, for messages: "manifest.csv line 7" or the folder's file path. */
const char *lf_dataset_origin(const lf_dataset *ds, int64_t i);
/* Indices of the items in `split` (LF_SPLIT_ALL: all) written to out (may be NULL to count);
 * returns how many. */
int64_t lf_dataset_indices(const lf_dataset *ds, lf_split split, int64_t *out);
/* Decodes item i; errors name the file and its manifest line. */
lf_status lf_dataset_read(const lf_dataset *ds, int64_t i, lf_image *img);

/* Per-channel normalisation statistics, computed over a split (the training split) and
 * stored with the model (lf_norm_stats_to_json / _from_json). */
typedef struct lf_norm_stats {
    int channels;
    double mean[LF_IMAGE_MAX_CHANNELS];
    double std[LF_IMAGE_MAX_CHANNELS]; /* population std over all pixels, floored at 1e-6 */
} lf_norm_stats;

/* Decodes every image of `split` once; also the check that every image decodes and that they
 * all share channel count and size (error naming the first file that differs and its line). */
lf_status lf_dataset_channel_stats(const lf_dataset *ds, lf_split split, lf_norm_stats *st);
/* {"mean":[...],"std":[...]} into buf (returns LF_ERR_ARG if it does not fit). */
lf_status lf_norm_stats_to_json(const lf_norm_stats *st, char *buf, size_t size);
lf_status lf_norm_stats_from_json(const char *json, lf_norm_stats *st);

/* ---- augmentation (src/data/augment.c) ----
 * Applied in SimCLR's order: random resized crop -> flips / 90-degree rotations -> colour
 * jitter (RGB) or per-channel intensity jitter (other channel counts) -> random grayscale
 * (RGB only) -> Gaussian blur. Normalisation comes after, in the loader. Defaults
 * (lf_augment_simclr) are SimCLR's ImageNet settings (Chen et al. 2020, appendix A):
 * crop scale (0.08, 1), ratio (3/4, 4/3), bilinear; horizontal flip p = 0.5; colour jitter
 * strength s = 1 (brightness, contrast, saturation 0.8 s, hue 0.2 s, random order), p = 0.8;
 * grayscale p = 0.2; blur p = 0.5, sigma U(0.1, 2.0), kernel 10% of the output side.
 * (SimCLR used s = 0.5 and no blur for 32x32 CIFAR-10.) Vertical flips and 90-degree
 * rotations are off for natural images; lf_augment_microscopy turns them on (cells have no
 * up/down). Intensity jitter (not in SimCLR): per channel x * a + b with
 * a ~ U(1 - intensity_scale, 1 + intensity_scale), b ~ U(-intensity_shift, intensity_shift),
 * not clipped (fluorescence values may leave [0, 1]); RGB jitter clips to [0, 1] as torchvision. */
typedef struct lf_augment_config {
    int out_h, out_w;
    int random_crop;                       /* 0: resize the whole image (evaluation) */
    double scale_min, scale_max;           /* crop area fraction: 0.08, 1.0 */
    double ratio_min, ratio_max;           /* crop aspect w/h: 3/4, 4/3 */
    double p_hflip;                        /* 0.5 */
    double p_vflip;                        /* 0 (microscopy: 0.5) */
    int rot90;                             /* 0 (microscopy: 1 = k * 90 degrees, k ~ U{0..3}) */
    double jitter_strength;                /* s = 1.0 */
    double p_jitter;                       /* 0.8; also the probability of intensity jitter */
    double p_gray;                         /* 0.2 */
    double p_blur;                         /* 0.5 */
    double blur_sigma_min, blur_sigma_max; /* 0.1, 2.0 */
    double blur_kernel_frac;               /* 0.1 of the output side */
    double intensity_scale;                /* 0.4 */
    double intensity_shift;                /* 0.1 */
} lf_augment_config;

lf_augment_config lf_augment_simclr(int out_h, int out_w);
lf_augment_config lf_augment_microscopy(int out_h, int out_w); /* + vflip 0.5, rot90 */
lf_augment_config lf_augment_none(int out_h, int out_w);       /* resize only */
/* The random stream of one view: every decision for (seed, epoch, image index, view) comes
 * from it, so results do not depend on the number of threads or their timing. */
lf_rng lf_augment_rng(uint64_t seed, int64_t epoch, int64_t index, int view);
/* dst gets c x out_h x out_w (resized if needed, reusing its buffer). scratch: out_h * out_w
 * floats, or NULL (then allocated for the call). */
lf_status lf_augment_apply(const lf_augment_config *cfg, const lf_image *src, lf_image *dst,
                           float *scratch, lf_rng *rng);

/* ---- loader (src/data/loader.c) ----
 * Worker threads decode (or take from the decoded-image cache), augment and normalise into a
 * ring of prefetched batches. The stream of batches runs over epochs without end:
 * batch q belongs to epoch q / lf_loader_batches_per_epoch. Each epoch visits every item of
 * the split once, in an order shuffled by (seed, epoch). No allocation per batch in steady
 * state when cache = 1. An error in a worker is returned by lf_loader_next. */
typedef struct lf_loader_config {
    int batch_size;          /* 256 */
    int views;               /* augmented views per image: 1 or 2 (default 2) */
    int threads;             /* worker threads (default 1) */
    int prefetch;            /* batches in the ring (default 3) */
    int shuffle;             /* 1 */
    int drop_last;           /* 1: every batch full; 0: the last of an epoch may be short */
    int cache;               /* 1: decode every image once at create */
    uint64_t seed;
    lf_split split;          /* which items (default LF_SPLIT_TRAIN) */
    lf_augment_config aug;   /* default lf_augment_simclr(96, 96) */
    const lf_norm_stats *norm; /* (x - mean) / std per channel after augmentation; NULL: none */
    const int64_t *indices;  /* NULL: the items of `split`; else these dataset indices (in this
                                order when shuffle = 0), e.g. a label-fraction subset */
    int64_t n_indices;
    int64_t start_batch;     /* first batch of the stream (resuming a run at that step) */
} lf_loader_config;

typedef struct lf_batch {
    lf_real *view[2];  /* (n, c, h, w) each; view[1] NULL with one view */
    int64_t *label;    /* (n), -1 unlabelled */
    int64_t *index;    /* (n) dataset indices */
    int n, c, h, w;
    int64_t epoch;
    int64_t step;      /* batch number within the epoch */
} lf_batch;

typedef struct lf_loader lf_loader;

lf_loader_config lf_loader_config_default(void);
lf_status lf_loader_create(lf_loader **L, const lf_dataset *ds, const lf_loader_config *cfg);
/* The next batch; valid until the next call (its buffers return to the ring then). */
lf_status lf_loader_next(lf_loader *L, const lf_batch **batch);
int64_t lf_loader_batches_per_epoch(const lf_loader *L);
int64_t lf_loader_count(const lf_loader *L); /* items in the loader's split */
void lf_loader_free(lf_loader *L);           /* stops and joins the workers */
/* @@EVAL@@ */
/* ------------------------------------------------------------------ evaluation (src/eval/)
 * Few-label linear probe, k-NN, metrics, label-efficiency driver, PCA map and SVG plots.
 * Works on plain arrays, not on the autodiff engine:
 *  - embeddings are float (n, d) row-major (what `labelfree embed` writes, .npy float32);
 *    all arithmetic inside is double whatever lf_real is;
 *  - labels are int64 class ids in [0, n_classes); in lf_probe_run a negative label marks an
 *    unlabelled row, which is skipped.
 * Functions returning a double metric return NaN (and set lf_last_error) on bad input. */

/* metrics (src/eval/metrics.c) */
double lf_accuracy(const int64_t *y_true, const int64_t *y_pred, int64_t n);
/* Mean recall over the classes present in y_true (sklearn balanced_accuracy_score). */
double lf_balanced_accuracy(const int64_t *y_true, const int64_t *y_pred, int64_t n,
                            int64_t n_classes);
/* Unweighted mean F1 over the classes present in y_true or y_pred; a class with no true
 * positive has F1 = 0 (sklearn f1_score(average='macro', zero_division=0)). */
double lf_macro_f1(const int64_t *y_true, const int64_t *y_pred, int64_t n, int64_t n_classes);
/* out (n_classes, n_classes) int64: rows true class, columns predicted class. */
lf_status lf_confusion_matrix(const int64_t *y_true, const int64_t *y_pred, int64_t n,
                              int64_t n_classes, int64_t *out);
/* y in {0, 1}; tied scores get average ranks (Mann-Whitney U), which equals the trapezoidal
 * area under the ROC curve (sklearn roc_auc_score). NaN if either class is absent. */
double lf_auroc_binary(const int64_t *y, const double *score, int64_t n);
/* Macro one-vs-rest AUROC of proba (n, n_classes) row-major (sklearn roc_auc_score
 * multi_class='ovr', average='macro'). Classes without positives or without negatives in
 * y_true are left out of the mean (sklearn refuses such input); NaN if none is left. */
double lf_auroc_ovr_macro(const int64_t *y_true, const double *proba, int64_t n,
                          int64_t n_classes);
double lf_pearson_r(const double *a, const double *b, int64_t n); /* NaN if a or b constant */
typedef struct lf_mean_sd {
    double mean, sd; /* sd: sample standard deviation (n - 1); 0 for one value */
} lf_mean_sd;
lf_mean_sd lf_mean_sd_of(const double *v, int64_t n); /* NaN values are skipped */

/* multinomial logistic regression (src/eval/logreg.c)
 * Minimises  sum_i -log softmax(W s(x_i) + b)_{y_i} + 0.5 / C * ||W||^2  (b not penalised)
 * with L-BFGS, as sklearn LogisticRegression(multi_class='multinomial', penalty='l2', C)
 * fitted on StandardScaler-transformed features. Features are standardised with the mean and
 * population sd of the training rows (a constant feature gets scale 1); coef acts on
 * standardised features. Intercepts are centred to sum 0 (the loss is invariant to a common
 * shift; sklearn's lbfgs also ends there). */
typedef struct lf_logreg_opts {
    double C;      /* inverse L2 strength (default 1) */
    int max_iter;  /* L-BFGS iterations (default 1000) */
    double tol;    /* stop when max |gradient of f / n_rows| < tol (default 1e-10) or when
                    * a step lowers f by < 64 eps relative (the rounding floor) */
    /* NULL (default): standardise with the training rows' mean / population sd; else these
     * (d) values are used (lf_probe_run passes those of all training-split embeddings). */
    const double *mean, *scale;
} lf_logreg_opts;
lf_logreg_opts lf_logreg_opts_default(void);

typedef struct lf_logreg {
    int64_t d, n_classes;
    double *mean, *scale; /* (d) standardisation from the training rows */
    double *coef;         /* (n_classes, d), on standardised features */
    double *intercept;    /* (n_classes) */
    double C;
    int n_iter;           /* L-BFGS iterations of the last fit */
    int converged;        /* 1 if tol or the rounding floor of f was reached */
} lf_logreg;

lf_status lf_logreg_fit(lf_logreg **out, const float *X, const int64_t *y, int64_t n, int64_t d,
                        int64_t n_classes, const lf_logreg_opts *opts);
/* Fits every C of c_grid on the training rows (ascending C, each warm-started from the last)
 * and keeps the one with the best balanced accuracy on the validation rows, ties broken by
 * the lower validation log-loss, then the smaller C. The kept model is fitted on the training
 * rows only (the validation rows are not added, so a label fraction stays what it says).
 * val_bacc (n_c) or NULL receives each C's validation balanced accuracy. */
lf_status lf_logreg_fit_select(lf_logreg **out, const float *X_train, const int64_t *y_train,
                               int64_t n_train, const float *X_val, const int64_t *y_val,
                               int64_t n_val, int64_t d, int64_t n_classes,
                               const double *c_grid, int n_c, const lf_logreg_opts *opts,
                               double *val_bacc);
/* proba (n, n_classes) row-major; pred (n) or NULL: argmax, the lowest class on ties. */
lf_status lf_logreg_predict(const lf_logreg *m, const float *X, int64_t n, double *proba,
                            int64_t *pred);
void lf_logreg_free(lf_logreg *m);

/* k-NN classifier (src/eval/knn.c): cosine similarity of L2-normalised embeddings. Weighted
 * vote (InstDisc / DINO / solo-learn): class score = sum over the k nearest training rows of
 * that class of exp(sim / T). Majority vote: neighbour counts. proba = scores normalised to
 * sum 1. Neighbours with equal similarity: the lower training index first. */
typedef struct lf_knn_opts {
    int k;              /* default 20 (solo-learn; lightly uses 200) */
    double temperature; /* default 0.07 (solo-learn; lightly uses 0.1) */
    int majority;       /* 1: plain majority vote instead of exp(sim/T) weights */
} lf_knn_opts;
lf_knn_opts lf_knn_opts_default(void);
/* proba (n_query, n_classes) or NULL; pred (n_query) or NULL (argmax, lowest class on ties). */
lf_status lf_knn_predict(const float *X_train, const int64_t *y_train, int64_t n_train,
                         const float *X_query, int64_t n_query, int64_t d, int64_t n_classes,
                         const lf_knn_opts *opts, double *proba, int64_t *pred);

/* stratified label fractions (src/eval/sample.c)
 * From the candidate rows idx[0..n_idx) (labels y[idx[i]] in [0, n_classes)), class c with
 * n_c candidates keeps m_c = min(n_c, max(1, round(fraction * n_c))) rows, drawn by a
 * Fisher-Yates shuffle of that class's candidates (classes in order 0..K-1) from
 * lf_rng_make(seed, stream(fraction, repeat)). So every class present keeps at least one
 * row, and the subset is a pure function of (seed, fraction, repeat). out (n_idx) receives
 * the kept rows in the order of idx, *n_out their number. */
lf_status lf_stratified_subset(const int64_t *y, const int64_t *idx, int64_t n_idx,
                               int64_t n_classes, double fraction, uint64_t seed,
                               uint64_t repeat, int64_t *out, int64_t *n_out);

/* label-efficiency probe driver (src/eval/probe.c, probe_json.c) */
typedef enum lf_probe_kind { LF_PROBE_LINEAR = 0, LF_PROBE_KNN = 1 } lf_probe_kind;
typedef struct lf_probe_opts {
    lf_probe_kind kind;
    const double *fractions; /* of the labelled training rows; NULL: {0.01, 0.1, 1} */
    int n_fractions;
    int repeats;             /* subsets per fraction < 1 (default 5); fraction 1 runs once */
    uint64_t seed;           /* default 0 */
    const double *c_grid;    /* linear: NULL = 10^-4, 10^-3, ..., 10^4 */
    int n_c;
    double c_default;        /* linear, when there are no validation rows (default 1) */
    lf_logreg_opts logreg;   /* max_iter, tol (C is chosen from the grid) */
    lf_knn_opts knn;
} lf_probe_opts;
lf_probe_opts lf_probe_opts_default(lf_probe_kind kind);

enum { LF_PROBE_ACC = 0, LF_PROBE_BACC, LF_PROBE_F1, LF_PROBE_AUROC, LF_PROBE_N_METRICS };
typedef struct lf_probe_row {
    double fraction;
    int runs;               /* repeats done (1 for fraction >= 1) */
    double n_labels;        /* labelled training rows used, mean over runs */
    lf_mean_sd metric[LF_PROBE_N_METRICS]; /* on the test rows; index with LF_PROBE_* */
    double *per_run;        /* (runs, LF_PROBE_N_METRICS) */
    double *c_chosen;       /* (runs), linear probe only (else NULL) */
} lf_probe_row;

typedef struct lf_probe_result {
    lf_probe_opts opts;     /* copy; fractions and c_grid point into this result */
    int64_t n, d, n_classes, n_train, n_val, n_test;
    int n_rows;
    lf_probe_row *rows;
} lf_probe_result;

/* split (n): LF_SPLIT_* per row. n_classes = 1 + the largest label. Linear: C chosen per run
 * on the validation rows (all of them, not subsampled) as in lf_logreg_fit_select, features
 * standardised with the mean / sd of all training-split embeddings (labels are not needed
 * for that, and a 1 % subset can have 1 row per class, too few for a stable sd). k-NN:
 * the training subset is the reference set, the validation rows are not used. */
lf_status lf_probe_run(const float *X, int64_t n, int64_t d, const int64_t *y,
                       const int8_t *split, const lf_probe_opts *opts, lf_probe_result **out);
void lf_probe_result_free(lf_probe_result *r);
const char *lf_probe_metric_name(int metric); /* "accuracy", "balanced_accuracy", ... */
/* Writes the result and its protocol (classifier, C grid, k, T, vote, seed, repeats,
 * sampling rule, split sizes) as JSON (NaN as null). meta_json: NULL or the text of a JSON
 * object stored under "meta" (e.g. the embedding file and model). */
lf_status lf_probe_result_write_json(const lf_probe_result *r, const char *path,
                                     const char *meta_json);

/* 2-D map (src/eval/pca.c): projections on the two leading principal components of the
 * centred data (out (n, 2) row-major), each component's sign set so that its largest |score|
 * is positive (sklearn's svd_flip). Fitted on at most 20000 evenly strided rows.
 * explained (2) or NULL: fraction of the total variance. */
lf_status lf_pca_2d(const float *X, int64_t n, int64_t d, double *out, double *explained);

/* SVG plots (src/eval/svg_plot.c) */
/* One <circle> per point, coloured by label (10-colour palette; label < 0 grey), with a
 * legend; class_names (n_classes) or NULL for "class <id>". */
lf_status lf_svg_scatter(const char *path, const double *xy, const int64_t *labels, int64_t n,
                         int64_t n_classes, const char *const *class_names, const char *title);
typedef struct lf_svg_series {
    const char *name;
    const double *x, *y;
    const double *yerr; /* NULL or (n): error bars of +- yerr */
    int64_t n;
} lf_svg_series;
/* Line plot (loss curves, label-efficiency curves); log_x / log_y: log10 axes (values <= 0
 * are skipped there). Non-finite values are skipped. */
lf_status lf_svg_lines(const char *path, const lf_svg_series *series, int n_series,
                       const char *title, const char *xlabel, const char *ylabel, int log_x,
                       int log_y);
/* Label-efficiency curve of one metric (LF_PROBE_*): mean +- sd against fraction (log x),
 * one line per result. */
lf_status lf_svg_label_efficiency(const char *path, const lf_probe_result *const *results,
                                  const char *const *names, int n_results, int metric);
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
 * bytes of 0/1) and GetHashedMorganFingerprint (counts: n_bits counters). use_chirality is
 * RDKit's useChirality: R/S labels and E/Z double bonds (RDKit's legacy perception, as
 * MolFromSmiles leaves them) enter the hashes. */
lf_status lf_morgan_bits(const lf_mol *m, int radius, int n_bits, int use_chirality, uint8_t *bits);
lf_status lf_morgan_counts(const lf_mol *m, int radius, int n_bits, int use_chirality, uint32_t *counts);
/* ---- embedding index (src/index/) ----
 * lf_index: one collection of n vectors of dimension d (float32), L2-normalised when created,
 * so the inner product is the cosine similarity. Exact search: blocked sgemm of queries x
 * stored vectors with a top-k heap per query. Approximate search: IVF-Flat (spherical k-means
 * into nlist lists with a seeded k-means++ init; a query scans its nprobe nearest lists). */
typedef struct lf_index lf_index;
typedef struct lf_ivf_config {
    int64_t nlist;     /* lists; 0 = about 4 sqrt(n) */
    int nprobe;        /* lists scanned per query; 0 = max(8, nlist / 16) */
    int iters;         /* k-means iterations (default 12) */
    int64_t train_max; /* k-means runs on at most this many sampled vectors (default 64 nlist) */
    uint64_t seed;
} lf_ivf_config;

/* Copies vecs (n, d) and normalises each row; a zero or non-finite row is an error naming it. */
lf_status lf_index_create(lf_index **out, const float *vecs, int64_t n, int64_t d);
void lf_index_free(lf_index *ix);
int64_t lf_index_count(const lf_index *ix);
int64_t lf_index_dim(const lf_index *ix);
/* The stored (normalised) vector of id (0 <= id < n); NULL when out of range. */
const float *lf_index_vector(const lf_index *ix, int64_t id);
lf_status lf_index_train_ivf(lf_index *ix, const lf_ivf_config *cfg);
int lf_index_has_ivf(const lf_index *ix);
int64_t lf_index_nlist(const lf_index *ix);
int lf_index_nprobe(const lf_index *ix);
void lf_index_set_nprobe(lf_index *ix, int nprobe);
/* k nearest by cosine for each of nq queries (normalised internally): ids and scores are
 * (nq, k), best first (ties: lower id first); rows are padded with id -1 when fewer than k
 * vectors exist. exact != 0 or no IVF trained: exact search. */
lf_status lf_index_search(const lf_index *ix, const float *q, int64_t nq, int k, int exact,
                          int64_t *ids, float *scores);
/* One binary file (vectors, ids, IVF centroids and lists), written atomically. */
lf_status lf_index_save(const lf_index *ix, const char *path);
lf_status lf_index_load(lf_index **out, const char *path);
void lf_normalize_rows(float *x, int64_t n, int64_t d); /* zero rows are left zero */

/* Metadata of indexed items in SQLite (one table `items`). Every item has a global id, a
 * kind and its row in that kind's lf_index. Strings may be NULL (stored as NULL). */
typedef enum lf_item_kind { LF_ITEM_IMAGE = 0, LF_ITEM_MOLECULE = 1 } lf_item_kind;
typedef struct lf_index_item {
    int64_t id;
    int kind;          /* lf_item_kind */
    int64_t row;
    char *path;        /* image file, relative to the index folder */
    char *smiles, *compound, *moa, *label;
    char *extra;       /* a JSON object with the other metadata columns */
} lf_index_item;
typedef struct lf_index_meta lf_index_meta;
const char *lf_item_kind_name(int kind);  /* "image" / "molecule" */
/* create != 0: a new database (the file is replaced) inside one transaction until commit. */
lf_status lf_index_meta_open(lf_index_meta **out, const char *path, int create);
lf_status lf_index_meta_add(lf_index_meta *m, const lf_index_item *it);
lf_status lf_index_meta_commit(lf_index_meta *m);
void lf_index_meta_close(lf_index_meta *m);
/* Fills *it with copies (free with lf_index_item_clear); LF_ERR_ARG when no such item.
 * Thread safe (one connection behind a mutex). */
lf_status lf_index_meta_get(lf_index_meta *m, int64_t id, lf_index_item *it);
lf_status lf_index_meta_find(lf_index_meta *m, int kind, int64_t row, lf_index_item *it);
int64_t lf_index_meta_count(lf_index_meta *m, int kind); /* -1 on error */
void lf_index_item_clear(lf_index_item *it);

/* Query encoders turn a SMILES or an image file into a vector of the index's space. The
 * built-in "fingerprint" encoder: Morgan bits (radius, n_bits) as floats, L2-normalised (so
 * the cosine of two bit vectors is |A & B| / sqrt(|A| |B|)); it has no image path. A trained
 * model plugs in through lf_index_set_model_loader (see docs/index.md). */
typedef struct lf_query_encoder {
    char name[32];
    int64_t dim;
    void *ctx;
    lf_status (*encode_smiles)(void *ctx, const char *smiles, float *out); /* NULL: none */
    lf_status (*encode_image)(void *ctx, const char *path, float *out);    /* NULL: none */
    void (*release)(void *ctx);
} lf_query_encoder;
lf_status lf_query_encoder_fingerprint(lf_query_encoder *e, int radius, int n_bits);
void lf_query_encoder_release(lf_query_encoder *e);
/* Loads a model file's encoders into *e (dim = the model's embedding size). */
typedef lf_status (*lf_model_encoder_loader)(lf_query_encoder *e, const char *model_path);
void lf_index_set_model_loader(lf_model_encoder_loader fn); /* process-wide; NULL removes */

/* An index folder: index.json (manifest), image.lfidx / molecule.lfidx, meta.sqlite, files/. */
typedef struct lf_index_dir lf_index_dir;
typedef struct lf_index_manifest {
    int64_t dim;
    char encoder[32];   /* "fingerprint", "model" or "none" */
    int fp_radius, fp_bits;
    char model[1024];   /* model file for the "model" encoder ("" otherwise) */
} lf_index_manifest;
lf_status lf_index_manifest_write(const char *folder, const lf_index_manifest *mf);
lf_status lf_index_dir_open(lf_index_dir **out, const char *folder);
void lf_index_dir_close(lf_index_dir *d);
const char *lf_index_dir_folder(const lf_index_dir *d);
const lf_index_manifest *lf_index_dir_manifest(const lf_index_dir *d);
lf_index *lf_index_dir_collection(const lf_index_dir *d, int kind); /* NULL when absent */
lf_index_meta *lf_index_dir_meta(const lf_index_dir *d);
/* Encodes with the folder's encoder into out (dim floats); LF_ERR_FORMAT for an invalid
 * SMILES or image, LF_ERR_UNSUPPORTED when the encoder has no such path. */
lf_status lf_index_dir_encode_smiles(lf_index_dir *d, const char *smiles, float *out);
lf_status lf_index_dir_encode_image(lf_index_dir *d, const char *path, float *out);
/* Search the collection `kind` with vector q; hits get global ids (from the metadata). */
typedef struct lf_index_hit { int64_t id; float score; } lf_index_hit;
lf_status lf_index_dir_search(lf_index_dir *d, int kind, const float *q, int k, int exact,
                              lf_index_hit *hits, int *n_hits);
/* Decodes any image lf_image_read accepts and writes an 8-bit PNG (gray or RGB) whose longer
 * side is at most max_side, contrast-stretched between the 0.5 and 99.5 percentiles (so
 * 16-bit and float microscopy is viewable); volumes give their middle slice. Atomic. */
lf_status lf_thumbnail_png(const char *src_path, const char *dst_path, int max_side);

/* @@SSL@@ */
/* SimCLR's NT-Xent loss on z (2N, D), views stacked (row i and i+N are positives); cosine
 * similarity over temperature; mean over the 2N rows. top1 (may be NULL) receives the
 * fraction of rows whose most similar other row is their positive. */
lf_tensor *lf_nt_xent(lf_graph *g, lf_tensor *z, double temperature, double *top1);
/* Masked autoencoder (He et al. 2022; src/ssl/mae.c) in the layout of facebookresearch/mae's
 * MaskedAutoencoderViT: parameter names cls_token, pos_embed, patch_embed.proj.*, blocks.*,
 * norm.* (the encoder: a timm ViT with the fixed sin-cos position table), mask_token,
 * decoder_pos_embed, decoder_embed.*, decoder_blocks.*, decoder_norm.*, decoder_pred.*; its
 * initialisation (xavier_uniform Linear and patch weights, tokens N(0, .02^2)) and its loss.
 * The encoder sees K = int(P (1 - mask_ratio)) of an image's P patches; the decoder fills the
 * others with the mask token and predicts every patch's p * p * C values (in MAE's patchify
 * order: (row, column, channel) within the patch); the loss is the mean squared error over
 * the hidden patches, against targets normalised per patch (norm_pix_loss, MAE's
 * recommended setting) or raw pixels. After pretraining lf_mae_encoder is the ViT to embed
 * with (class token after the final norm). */
typedef struct lf_mae_config {
    lf_encoder_config encoder; /* arch "vit" without a head; pos_embed "sincos" as MAE */
    int decoder_width;         /* 128 (a light decoder; MAE's ViT-B used 512) */
    int decoder_depth;         /* 4 */
    int decoder_heads;         /* 4 */
    double decoder_mlp_ratio;  /* 4 */
    double mask_ratio;         /* 0.75: fraction of the patches hidden from the encoder */
    int norm_pix_loss;         /* 1: targets (t - mean) / sqrt(var + 1e-6) per patch */
} lf_mae_config;
typedef struct lf_mae lf_mae;
typedef struct lf_mae_output {
    lf_tensor *pred;       /* (N, P, p p C) predictions for every patch */
    lf_tensor *target;     /* (N, P, p p C) the targets (normalised when norm_pix_loss) */
    lf_tensor *mask;       /* (N, P) 1 for a hidden patch, 0 for a visible one */
    lf_tensor *patch_loss; /* (N, P) mean squared error of every patch */
} lf_mae_output;

/* ViT-Tiny/16 at 224 (sin-cos positions), the decoder above, mask ratio 0.75. */
lf_mae_config lf_mae_config_default(void);
lf_status lf_mae_config_check(const lf_mae_config *c); /* LF_ERR_ARG naming the field */
int64_t lf_mae_visible(const lf_mae_config *c);        /* K */
/* Declares the encoder then the decoder in P under prefix (NULL or ""), as lf_encoder_init. */
lf_status lf_mae_init(lf_params *P, const lf_mae_config *c, const char *prefix, lf_mae **out);
void lf_mae_free(lf_mae *m);
lf_status lf_mae_reset_parameters(lf_mae *m, uint64_t seed, uint64_t stream);
lf_encoder *lf_mae_encoder(lf_mae *m); /* owned by m */
const lf_mae_config *lf_mae_get_config(const lf_mae *m);
/* order (n, patches): per image a uniformly random permutation of the patch indices. */
void lf_mae_random_order(lf_rng *rng, int64_t n, int64_t patches, int64_t *order);
/* x (N, C, S, S) images -> the scalar loss. order (N, P): per image a permutation of
 * 0..P-1 whose first K entries are the visible patches (anatomy-aware or any other
 * masking); NULL draws lf_mae_random_order from lf_graph_rng(g). out (may be NULL)
 * receives the predictions, targets, mask and per-patch errors as graph tensors. */
lf_tensor *lf_mae_loss(lf_graph *g, lf_mae *m, lf_tensor *x, const int64_t *order,
                       lf_mae_output *out);
/* Paired contrastive losses (src/ssl/contrastive.c): CLIP's InfoNCE and CLOOME's CLOOB.
 * a (N, E) image embeddings and b (N, E) molecule embeddings, row i of a paired with row i of
 * b (N >= 2); rows are L2-normalised inside. Inverse temperature t = exp(log_inv_tau[0]) when
 * log_inv_tau (a one-element tensor, e.g. a learnable parameter: CLOOME's logit_inv_tau,
 * initialised to log 14.3) is given, else the fixed inv_tau.
 *  clip:  (CE(t x y^T, rows) + CE(t x y^T, columns)) / 2, means over the N pairs.
 *  cloob: InfoLOOB(Uxx, Uxy) + InfoLOOB(Uyy, Uyx) (a sum, as CLOOME's code) after modern
 *         Hopfield retrieval U_qk = normalize(softmax(beta q k^T) k) with hopfield_beta
 *         (CLOOME: 14.3); InfoLOOB(P, Q) = tau mean_i [-t P_i.Q_i + lse_{j != i} t P_i.Q_j],
 *         tau = 1 / t. Gradients flow to a, b and log_inv_tau. */
typedef struct lf_contrastive_stats {
    double top1_ab; /* fraction of rows of a whose most similar row of b is their pair */
    double top1_ba; /* and the other way */
    double inv_tau; /* the inverse temperature used */
} lf_contrastive_stats;
lf_tensor *lf_clip_loss(lf_graph *g, lf_tensor *a, lf_tensor *b, lf_tensor *log_inv_tau,
                        double inv_tau, lf_contrastive_stats *stats);
lf_tensor *lf_cloob_loss(lf_graph *g, lf_tensor *a, lf_tensor *b, lf_tensor *log_inv_tau,
                         double inv_tau, double hopfield_beta, lf_contrastive_stats *stats);
/* Paired data for CLOOME (src/ssl/pairs.c): a CSV manifest (RFC 4180, header names
 * case-insensitive), one row per (sample, molecule) pair:
 *   smiles    required: the molecule that treated the sample
 *   image     one image path, or several separated by ';' stacked as channels in that order
 *             (one file per stain: five 16-bit TIFFs -> a 5-channel image); OR
 *   features  a feature vector (e.g. a CellProfiler profile): "FILE.npy#ROW", ROW 0-based,
 *             FILE a 2-D float .npy; exactly one of image / features
 *   compound  identity of the molecule (default: the SMILES text); rows of one compound are
 *             the same molecule in the retrieval metrics
 *   moa, label  class names (optional; empty = unknown)
 *   split     train / val / test; without the column a seeded ~20 % of the compounds (at
 *             least one) is test and the rest train, so whole compounds are held out
 *   plate     free text
 * Paths are relative to the manifest's folder unless absolute. Errors name the manifest and
 * line (missing file, bad FILE.npy#ROW, row out of range, unknown split, bad SMILES). */
typedef struct lf_pairs lf_pairs;
lf_status lf_pairs_open(lf_pairs **out, const char *path, uint64_t seed);
void lf_pairs_free(lf_pairs *p);
int64_t lf_pairs_count(const lf_pairs *p);
int lf_pairs_has_features(const lf_pairs *p);     /* 1: feature vectors, 0: images */
int64_t lf_pairs_feature_dim(const lf_pairs *p);
const float *lf_pairs_features(const lf_pairs *p, int64_t i); /* (feature_dim) or NULL */
/* Decodes (and stacks) row i's image files; errors name the manifest line. */
lf_status lf_pairs_read_image(const lf_pairs *p, int64_t i, lf_image *img);
const char *lf_pairs_smiles(const lf_pairs *p, int64_t i);
int64_t lf_pairs_compound(const lf_pairs *p, int64_t i); /* dense id, order of appearance */
int64_t lf_pairs_num_compounds(const lf_pairs *p);
const char *lf_pairs_compound_name(const lf_pairs *p, int64_t k);
enum { LF_PAIRS_MOA = 0, LF_PAIRS_LABEL = 1 }; /* class sets */
int lf_pairs_class(const lf_pairs *p, int set, int64_t i); /* id in sorted names, -1 unknown */
int lf_pairs_num_classes(const lf_pairs *p, int set);
const char *lf_pairs_class_name(const lf_pairs *p, int set, int k);
lf_split lf_pairs_split(const lf_pairs *p, int64_t i);
const char *lf_pairs_plate(const lf_pairs *p, int64_t i);
const char *lf_pairs_origin(lf_pairs *p, int64_t i); /* "pairs.csv line 7" (one buffer) */
int64_t lf_pairs_indices(const lf_pairs *p, lf_split split, int64_t *out);
/* Morgan bits of every row's molecule as 0/1 floats, out (n, n_bits). With use_chirality,
 * a molecule whose stereo marks this build cannot fingerprint chirally (LF_ERR_UNSUPPORTED
 * from lf_morgan_bits) gets the non-chiral bits, counted in *n_fallback (may be NULL). */
lf_status lf_pairs_fingerprints(const lf_pairs *p, int radius, int n_bits, int use_chirality,
                                float *out, int64_t *n_fallback);

/* @@TOKENS@@ */
/* Masked-token transformer over integer token ids (BERT-style pretraining, e.g. of DNA
 * k-mers; src/nn/token_model.c, src/nn/mlm_mask.c). The model, an nn.Module whose
 * state_dict names are (in this order, so a saved file loads with load_state_dict):
 *   pos_embed            (1, max_len, E)  learned position embedding (no weight decay)
 *   embed.weight         (vocab, E)       token embedding, nn.Embedding (decayed)
 *   blocks.<i>.*         depth pre-LN blocks, timm's Block: norm1, attn.qkv, attn.proj,
 *                        norm2, mlp.fc1, mlp.fc2 (exact GELU, qkv with bias)
 *   norm.weight/.bias    final LayerNorm
 *   head.dense.*, head.norm.*   (head_transform only) BERT's transform: Linear(E, E), GELU,
 *                        LayerNorm
 *   head.decoder.*       Linear(E, vocab) with bias, not tied to embed.weight
 * Forward: h = embed(ids) + pos_embed[:, :T], the blocks, the final norm. When pad_id >= 0,
 * keys holding pad_id are masked out of attention (-inf added, as torch's masked_fill); a
 * sequence of padding only then attends to nothing (zero attention output; torch gives NaN).
 * Initialisation (lf_token_model_reset_parameters): embed.weight N(0, .02^2), pos_embed and
 * every Linear weight trunc_normal(std .02, bounds +-2) with zero bias, LayerNorms 1 / 0.
 * Usage:
 *     lf_token_model_config c = lf_token_model_config_default(); c.vocab = 4101;
 *     lf_token_model *m; lf_token_model_init(P, &c, NULL, &m); lf_params_finalize(P);
 *     lf_token_model_reset_parameters(m, seed, 0);
 *     lf_mlm_mask(&mc, &rng, ids, N, T, inputs, targets, NULL);      // per batch
 *     lf_tensor *h = lf_token_model_forward(g, m, inputs, N, T);      // (N, T, E)
 *     lf_tensor *loss = lf_mlm_loss(g, lf_token_model_logits(g, m, h), targets); */
typedef struct lf_token_model_config {
    int64_t vocab;      /* ids are 0 .. vocab - 1, special ids included (4^6 + 5 for 6-mers) */
    int64_t max_len;    /* rows of pos_embed: sequences may be 1 .. max_len long */
    int width;          /* E */
    int depth;          /* blocks */
    int heads;          /* width % heads == 0 */
    double mlp_ratio;   /* MLP hidden = (int)(mlp_ratio * width) */
    double ln_eps;      /* every LayerNorm (1e-6, timm's) */
    int64_t pad_id;     /* -1: no padding; else an id in the vocabulary masked as a key */
    int head_transform; /* 1: dense + GELU + LayerNorm before the decoder (BERT), 0: none */
} lf_token_model_config;
/* vocab 4101, max_len 128, width 256, depth 6, heads 4, mlp_ratio 4, ln_eps 1e-6, pad_id -1,
 * head_transform 1 */
lf_token_model_config lf_token_model_config_default(void);
/* LF_ERR_ARG naming the first bad field and its value. */
lf_status lf_token_model_config_check(const lf_token_model_config *cfg);
typedef struct lf_token_model lf_token_model;
/* Checks cfg and declares the parameters in P (before lf_params_finalize) under `prefix` (NULL
 * or "" for none). The model keeps pointers to P's tensors: P outlives it. */
lf_status lf_token_model_init(lf_params *P, const lf_token_model_config *cfg, const char *prefix,
                              lf_token_model **out);
void lf_token_model_free(lf_token_model *m);
/* The initialisation above from lf_rng_make(seed, stream); P must be finalized. */
lf_status lf_token_model_reset_parameters(lf_token_model *m, uint64_t seed, uint64_t stream);
const lf_token_model_config *lf_token_model_get_config(const lf_token_model *m);
/* ids (N, T) row-major, 1 <= T <= max_len -> hidden states (N, T, E) after the final norm.
 * An id outside [0, vocab) is LF_ERR_ARG naming the id, its sequence and position (NULL). */
lf_tensor *lf_token_model_forward(lf_graph *g, lf_token_model *m, const int64_t *ids, int64_t N,
                                  int64_t T);
/* The MLM head: hidden (N, T, E) -> logits (N, T, vocab). */
lf_tensor *lf_token_model_logits(lf_graph *g, lf_token_model *m, lf_tensor *hidden);
#define LF_MLM_IGNORE (-100) /* target of an unselected position (torch's ignore_index) */
/* Mean cross-entropy of logits (N, T, V) over the positions whose target (N * T ids) is not
 * LF_MLM_IGNORE (lf_cross_entropy); NaN when every target is ignored, as torch. */
lf_tensor *lf_mlm_loss(lf_graph *g, lf_tensor *logits, const int64_t *targets);

/* BERT's masking. Each position whose id is not special is selected with probability prob;
 * a selected position's input becomes mask_id with probability mask_frac, a random id with
 * probability random_frac (drawn uniformly from the ids that are not special: unlike
 * HuggingFace's collator, which draws from the whole vocabulary, no [PAD] or [CLS] appears
 * inside a sequence), and keeps its id otherwise. The target is the original id at selected
 * positions, LF_MLM_IGNORE elsewhere. With at_least_one, a sequence where no position was
 * selected but some are not special gets one of those, chosen uniformly (so every sequence
 * contributes to the loss; at T = 128 and prob .15 this happens with probability 1e-9). */
#define LF_MLM_MAX_SPECIAL 16
typedef struct lf_mlm_mask_config {
    int64_t vocab;
    int64_t mask_id;                      /* in [0, vocab); should be one of the special ids */
    int64_t special[LF_MLM_MAX_SPECIAL];  /* never selected, never drawn as a random id */
    int n_special;
    double prob;                          /* .15 */
    double mask_frac, random_frac;        /* .8, .1 (sum <= 1) */
    int at_least_one;                     /* 1 */
} lf_mlm_mask_config;
/* Defaults above, with the ids 0 .. n_special - 1 special (the usual layout: [PAD], [UNK],
 * [CLS], [SEP], [MASK] first; n_special <= LF_MLM_MAX_SPECIAL). */
lf_mlm_mask_config lf_mlm_mask_config_default(int64_t vocab, int64_t mask_id, int n_special);
/* ids (N, T) -> inputs and targets (N, T) each; inputs may be ids itself. Draws from rng in a
 * fixed order (sequence by sequence), so the same rng state gives the same result. An id
 * outside [0, vocab) is LF_ERR_ARG naming it, its sequence and position, before anything is
 * written. *n_selected (may be NULL) gets the number of selected positions. */
lf_status lf_mlm_mask(const lf_mlm_mask_config *c, lf_rng *rng, const int64_t *ids, int64_t N,
                      int64_t T, int64_t *inputs, int64_t *targets, int64_t *n_selected);

#ifdef __cplusplus
}
#endif
#endif /* LABELFREE_H */
