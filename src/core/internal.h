/* Internal interfaces shared by the library's modules (not part of the public API).
 * Op authors: read the "writing an op" block below. */
#ifndef LF_INTERNAL_H
#define LF_INTERNAL_H

#include "labelfree.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define LF_ALIGN 64

/* ---------------------------------------------------------------- arena
 * A step's memory. Small allocations (tape nodes, tensor headers, per-channel statistics)
 * go to a bump allocator of chunks; allocations of LF_ARENA_BLOCK_MIN bytes or more
 * (activations, gradients) go to a heap of blocks that can be freed one by one
 * (src/core/arena_blocks.c), so that memory a backward pass is done with (a recomputed
 * block's output, the gradient of a finished node) serves the next allocation of any size.
 * Both parts keep their memory across steps: a steady-state step does no malloc. */
#ifndef LF_ARENA_BLOCK_MIN /* -DLF_ARENA_BLOCK_MIN=64 puts every tensor there (a test build) */
#define LF_ARENA_BLOCK_MIN ((size_t)256 << 10)
#endif

typedef struct lf_arena_chunk {
    struct lf_arena_chunk *next;
    size_t cap, used;
    unsigned char *base; /* LF_ALIGN-aligned start inside the allocation */
} lf_arena_chunk;

typedef struct lf_block_region lf_block_region; /* arena_blocks.c */

typedef struct lf_arena {
    lf_arena_chunk *head;  /* chunk being filled */
    lf_arena_chunk *spare; /* chunks emptied by lf_arena_release, reused before malloc */
    size_t total_cap;      /* sum of the chunks' capacities (filled and spare) */
    size_t min_chunk;
    size_t live, peak;     /* bump bytes handed out now, and the most since the last reset */
    /* the block heap */
    size_t block_min;      /* allocations of this many bytes or more (LF_ARENA_BLOCK_MIN; tests
                              lower it to put every tensor there) */
    lf_block_region *regions;
    size_t block_cap;      /* sum of the regions' capacities */
    size_t block_live;     /* bytes in used blocks (headers included) */
    size_t peak_all;       /* the most of live + block_live since the last reset */
    uint64_t seq;          /* allocation counter: blocks and marks take the next number */
} lf_arena;

/* A position in the arena: lf_arena_release(a, m) frees everything allocated after it. */
typedef struct lf_arena_mark {
    lf_arena_chunk *chunk;
    size_t used, live;
    uint64_t seq;
} lf_arena_mark;

lf_status lf_arena_init(lf_arena *a, size_t bytes);
void lf_arena_free(lf_arena *a);
void *lf_arena_alloc(lf_arena *a, size_t bytes); /* aligned; NULL + error on failure */
lf_arena_mark lf_arena_get_mark(lf_arena *a);
/* Whether ptr was handed out after m (and is still live). */
bool lf_arena_above(const lf_arena *a, lf_arena_mark m, const void *ptr);
/* Stack-like free of what came after m. Bump chunks opened since go to the spare list and
 * their memory stays mapped until the next reset, so data there can still be copied down;
 * blocks are freed (their contents stay as they were until the block is handed out again). */
void lf_arena_release(lf_arena *a, lf_arena_mark m);
/* Forgets everything; if the arena grew past one chunk (or one block region), replaces them
 * with a single one the size of the step's high-water mark, so the next identical step
 * allocates nothing. */
lf_status lf_arena_reset(lf_arena *a);
/* The block heap (arena_blocks.c). lf_arena_block_start: whether ptr is what lf_arena_alloc
 * returned for a live block (false for bump memory and interior pointers);
 * lf_arena_block_free frees such a block and says whether it did (anything else is left). */
bool lf_arena_block_start(const lf_arena *a, const void *ptr);
bool lf_arena_block_free(lf_arena *a, void *ptr);
/* Makes the block at ptr belong to the time of mark m: lf_arena_release(a, m) keeps it, the
 * release of any earlier mark frees it (a recomputed segment keeps its output this way). */
void lf_arena_block_keep(lf_arena_mark m, void *ptr);
void *lf_arena_block_alloc(lf_arena *a, size_t bytes);
bool lf_arena_block_above(const lf_arena *a, lf_arena_mark m, const void *ptr, bool *found);
void lf_arena_blocks_release(lf_arena *a, lf_arena_mark m);
lf_status lf_arena_blocks_reset(lf_arena *a);
void lf_arena_blocks_free(lf_arena *a);
int lf_arena_block_regions(const lf_arena *a); /* how many regions the heap has now */
bool lf_arena_in_blocks(const lf_arena *a, const void *ptr); /* ptr lies in a region */
bool lf_arena_in_free_block(const lf_arena *a, const void *ptr); /* ... in a freed block */

/* ---------------------------------------------------------------- tape */
/* Internal tensor flag: the tensor's data was allocated for it alone (lf_tensor_new), it is
 * not a view of another tensor's memory; a recomputed segment frees such data as soon as its
 * backward is done with it. */
#define LF_TENSOR_OWNS_DATA (1 << 16)

#define LF_NODE_MAX_IN 4

typedef lf_status (*lf_backward_fn)(lf_graph *g, lf_node *n);

struct lf_node {
    lf_node *prev;            /* tape order, newest first */
    const char *op;           /* for messages */
    lf_backward_fn backward;
    lf_tensor *out;
    lf_tensor *in[LF_NODE_MAX_IN];
    int n_in;
    int64_t iarg[8];          /* small saved arguments */
    double farg[4];
    void *saved;              /* op-specific saved data, from the arena */
    /* set by the op: its backward can compute in[0]'s gradient in place over out's (an
     * elementwise map after any reductions over out's gradient); set by the tape when it
     * handed the buffer over: in[0]->grad is then out's gradient, to be overwritten (not
     * added to), and out->grad is NULL (see lf_tape_backward) */
    bool grad_in_place, grad_taken;
    /* set by the tape: out's gradient is dead after this backward, which may overwrite it */
    bool grad_writable;
};

/* Gradient buffers of intermediate tensors are dead once the node that produced the tensor
 * has run its backward; they go on a free list per byte size (the link is stored in the
 * buffer itself) and the next lf_grad of that size reuses them. ResNets have few distinct
 * activation sizes, so this bounds backward memory by the live gradients, not all of them. */
#define LF_GRAD_FREE_SIZES 32
typedef struct lf_grad_free_list {
    size_t bytes;
    void *head;
} lf_grad_free_list;
#define LF_SCRATCH_SLOTS 5
typedef struct lf_weight_form lf_weight_form; /* src/core/weight_forms.c */

struct lf_graph {
    lf_arena arena;
    lf_grad_free_list grad_free[LF_GRAD_FREE_SIZES];
    int n_grad_free;
    bool retain_grads;        /* keep intermediate gradients after backward (default) */
    /* Scratch buffers for kernels (im2col columns, staging): valid until the next call with
     * the same slot, kept across steps (grown, never shrunk), so they cost no arena space. */
    void *scratch[LF_SCRATCH_SLOTS];
    size_t scratch_cap[LF_SCRATCH_SLOTS];
    lf_node *tail;            /* last recorded node */
    int64_t n_nodes;
    bool grad_enabled;
    bool training;
    bool recompute;           /* encoders wrap their blocks in lf_recompute */
    /* inside a recomputed segment's backward: its arena mark (gradients of tensors from
     * before it cannot be allocated above it: lf_grad refuses), else NULL */
    const lf_arena_mark *segment;
    lf_rng rng;
    /* lf_graph_set_frozen_weights: kernels' forms of the weights kept between steps */
    bool frozen_weights;
    lf_weight_form *forms;
    int n_forms, cap_forms;
};

/* The buffer (bytes) kept for the weights w (nw values) in the form `kind` (one per kernel
 * form: LF_FORM_*) while g's weights are frozen and g runs inference (eval mode, gradients
 * off); *fresh: the caller must (re)make its contents (new, resized, or the weights'
 * fingerprint changed). NULL (and *fresh true) when nothing is kept: the caller uses its
 * scratch. src/core/weight_forms.c */
enum { LF_FORM_GEMM, LF_FORM_WINOGRAD2, LF_FORM_WINOGRAD4, LF_FORM_WINOGRAD_DUAL, LF_FORM_WINOGRAD_S2 };
void *lf_graph_weight_form(lf_graph *g, const lf_real *w, int64_t nw, int kind, size_t bytes,
                           bool *fresh);
void lf_graph_weight_forms_free(lf_graph *g);

/* Runs the tape from g->tail to its start for `root`, whose gradient is already set
 * (lf_backward_with seeds it; lf_recompute aliases its output's gradient). root_consumable:
 * the root's gradient buffer may be taken over by an op's input (a recomputed segment's
 * output gradient, which nothing reads afterwards). */
lf_status lf_tape_backward(lf_graph *g, lf_tensor *root, bool root_consumable);
/* True while a recomputed segment runs again in backward: batch norm then leaves its running
 * statistics alone (the forward updated them once already). */
static inline bool lf_graph_recomputing(const lf_graph *g) { return g->segment != NULL; }

/* ---------------------------------------------------------------- writing an op
 *
 *   lf_tensor *lf_foo(lf_graph *g, lf_tensor *x)
 *   {
 *       if (!x) return NULL;                             // earlier failure propagates
 *       lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x));
 *       if (!y) return NULL;
 *       ...forward kernel writes y->data...
 *       lf_node *n = lf_record(g, "foo", foo_backward, y, LF_IN(x));
 *       if (n) n->saved = ...;                            // NULL when nothing needs grad
 *       return y;
 *   }
 *   static lf_status foo_backward(lf_graph *g, lf_node *n)
 *   {   // n->out->grad is set; add into lf_grad(g, n->in[i]) when lf_needs_grad(n->in[i])
 *   }
 *
 * Inputs given to kernels must be contiguous: call lf_contiguous() first when unsure.
 */
#define LF_IN(...) (lf_tensor *[]){__VA_ARGS__}, (int)(sizeof((lf_tensor *[]){__VA_ARGS__}) / sizeof(lf_tensor *))

/* New contiguous output tensor; requires grad if grad is enabled and any input does. */
lf_tensor *lf_op_output(lf_graph *g, int ndim, const int64_t *shape, lf_tensor **in, int n_in);
/* Records a node when the output requires grad; returns NULL (not an error) otherwise. */
lf_node *lf_record(lf_graph *g, const char *op, lf_backward_fn bw, lf_tensor *out,
                   lf_tensor **in, int n_in);
static inline bool lf_needs_grad(const lf_tensor *t)
{
    return t && (t->flags & LF_TENSOR_REQUIRES_GRAD);
}
/* The gradient buffer of t (allocated zeroed in the arena on first use); NULL on failure. */
lf_real *lf_grad(lf_graph *g, lf_tensor *t);
/* A kernel's temporary buffer (slot 0..LF_SCRATCH_SLOTS-1: the convolution uses 0-4, batch
 * norm's backward 0), reused by every op: the contents do not survive another op's call.
 * NULL + LF_ERR_NOMEM on failure. */
void *lf_graph_scratch(lf_graph *g, int slot, size_t bytes);
/* A tensor header in the arena sharing `data` (a view); strides given or contiguous. */
lf_tensor *lf_view_of(lf_graph *g, lf_tensor *base, lf_real *data, int ndim,
                      const int64_t *shape, const int64_t *stride);

/* Numpy broadcasting: out shape of a and b, or LF_ERR_SHAPE naming the op. */
lf_status lf_broadcast_shape(const lf_tensor *a, const lf_tensor *b, int *ndim, int64_t *shape,
                             const char *op);
/* Normalises a possibly negative dim; LF_ERR_ARG naming the op when out of range. */
int lf_norm_dim(int dim, int ndim, const char *op);

/* relu(batch_norm(x) + res) fused (src/ops/norm.c): res may be NULL, relu 0 or 1; the same
 * values as the separate ops, keeping one activation instead of three. */
lf_tensor *lf_batch_norm_add_relu(lf_graph *g, lf_tensor *x, lf_tensor *weight, lf_tensor *bias,
                                  lf_tensor *running_mean, lf_tensor *running_var,
                                  double momentum, double eps, lf_tensor *res, int relu);

/* The constants of eval-mode batch norm, y = (x - mean[c]) a[c] + k[c], from the running
 * statistics, as lf_batch_norm computes them (src/ops/norm.c), after lf_batch_norm's checks
 * of the parameters. */
lf_status lf_bn_eval_constants(const lf_tensor *weight, const lf_tensor *bias,
                               const lf_tensor *running_mean, const lf_tensor *running_var,
                               double momentum, double eps, int64_t C, lf_real *mean,
                               lf_real *a, lf_real *k);

/* lf_batch_norm_add_relu(lf_conv(x, w, no bias), ...) (src/ops/conv.c). In eval mode with
 * nothing to record, one op: the convolution applies batch norm, residual and ReLU to each
 * block of its output while the block is in the cache (bit for bit the same values, one pass
 * over memory and one activation less); otherwise the two ops. */
lf_tensor *lf_conv_bn_act(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_conv_args a,
                          lf_tensor *bn_weight, lf_tensor *bn_bias, lf_tensor *running_mean,
                          lf_tensor *running_var, double momentum, double eps, lf_tensor *res,
                          int relu);
/* lf_max_pool(lf_conv_bn_act(x, ..., no residual, relu), ndim_spatial, pool_kernel,
 * pool_stride, pool_padding) (src/ops/conv.c), a ResNet's ImageNet stem. In eval mode with
 * nothing to record, the convolution runs on chunks of images whose outputs stay in the
 * cache, each chunk pooled before the next: the full-size convolution output (the largest
 * activation of a ResNet at inference) is never written to memory. The same bits as the
 * two ops. */
lf_tensor *lf_conv_bn_act_pool(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_conv_args a,
                               lf_tensor *bn_weight, lf_tensor *bn_bias,
                               lf_tensor *running_mean, lf_tensor *running_var, double momentum,
                               double eps, int relu, int pool_kernel, int pool_stride,
                               int pool_padding);
/* lf_conv_bn_act_pool's convolution output per thread and chunk (0: the default, 1 MB) */
void lf_conv_pool_chunk_force(int64_t bytes_per_thread);
/* The maxima lf_max_pool computes in inference, without a graph: x is a header whose shape
 * (and nothing else) is read, xd its contiguous data, y the output. Writes the output shape
 * to yshape (if not NULL); computes only when xd and y are both set. nonneg: the caller
 * promises that xd holds no NaN and nothing below +0 (a ReLU's output), which lets a faster
 * kernel take it (the same bits). Errors as lf_max_pool. */
lf_status lf_max_pool_into(const lf_tensor *x, int ndim_spatial, int kernel, int stride,
                           int padding, int64_t *yshape, const lf_real *xd, lf_real *y,
                           bool nonneg);

/* ---------------------------------------------------------------- utilities */
/* compute() once per process (a fact of the CPU, the environment or the BLAS build), kept in
 * *cache (initialised to -1); threads may race to fill it: all compute the same value. */
static inline int lf_cached(atomic_int *cache, int (*compute)(void))
{
    int v = atomic_load_explicit(cache, memory_order_relaxed);
    if (v < 0) {
        v = compute();
        atomic_store_explicit(cache, v, memory_order_relaxed);
    }
    return v;
}
/* Loops over fewer elements than this stay single-threaded (threads cost more than they
 * save); every parallel loop of the engine uses it. */
#define LF_PAR_MIN 32768
/* shape as a Python tuple, "(2, 3)" or "(5,)", into buf; returns buf */
char *lf_dims_str(const int64_t *shape, int ndim, char *buf, size_t size);
/* A lf_malloc'd copy of s (NULL for NULL); release with lf_free. */
char *lf_strdup(const char *s);

/* ---------------------------------------------------------------- BLAS (src/backend/cpu/blas.c) */
/* C (M,N) = alpha * op(A) op(B) + beta * C, row-major, lda/ldb/ldc as in cblas. */
void lf_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, lf_real alpha,
             const lf_real *A, int64_t lda, const lf_real *B, int64_t ldb, lf_real beta,
             lf_real *C, int64_t ldc);
/* lf_gemm with an epilogue applied to C's values once final, block by block while the block
 * is in cache (on the AVX-512 path; after the whole product on BLAS): fn(c, ldc, rows, cols,
 * col0, ctx), col0 the block's first column in C. lf_real is float or double as the build. */
typedef struct lf_gemm_epilogue {
    void (*fn)(lf_real *c, int64_t ldc, int64_t rows, int64_t cols, int64_t col0,
               const void *ctx);
    const void *ctx;
} lf_gemm_epilogue;
void lf_gemm_epi(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, lf_real alpha,
                 const lf_real *A, int64_t lda, const lf_real *B, int64_t ldb, lf_real beta,
                 lf_real *C, int64_t ldc, const lf_gemm_epilogue *epi);

#endif
