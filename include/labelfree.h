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
enum { LF_SPLIT_TRAIN = 0, LF_SPLIT_VAL = 1, LF_SPLIT_TEST = 2 }; /* other values: unused */
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
/* @@SSL@@ */

#ifdef __cplusplus
}
#endif
#endif /* LABELFREE_H */
