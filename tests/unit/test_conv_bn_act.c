/* lf_conv_bn_act (src/ops/conv.c): in eval-mode inference the convolution applies batch
 * norm, the residual and ReLU itself (lf_conv_epilogue); the result must be bit for bit that
 * of lf_conv followed by lf_batch_norm_add_relu, on every kernel path: Winograd (long and
 * short tile rows), im2col on the AVX-512 gemm, direct 1x1, and the shared BLAS path (a
 * batch of one on two threads). In training, or when a gradient is needed, it is the two
 * ops, recorded. */
#include "backend/cpu/conv_winograd.h"
#include "core/internal.h"
#include "test.h"

#include <string.h>

typedef struct bn_set {
    lf_tensor *w, *b, *mean, *var;
} bn_set;

static lf_tensor *randn(lf_graph *g, lf_rng *r, int ndim, const int64_t *shape, double lo,
                        double hi)
{
    lf_tensor *t = lf_tensor_new(g, ndim, shape);
    if (t) lf_rng_fill_uniform(r, t->data, lf_numel(t), lo, hi);
    return t;
}

static bn_set make_bn(lf_graph *g, lf_rng *r, int64_t C)
{
    const int64_t s[1] = {C};
    return (bn_set){randn(g, r, 1, s, 0.5, 1.5), randn(g, r, 1, s, -0.5, 0.5),
                    randn(g, r, 1, s, -0.3, 0.3), randn(g, r, 1, s, 0.2, 2.0)};
}

/* Values of a and b whose bits differ; -1 when either is missing or the shapes differ */
static int64_t differing_bits(const lf_tensor *a, const lf_tensor *b)
{
    if (!a || !b || !lf_same_shape(a, b)) return -1;
    int64_t bad = 0;
    for (int64_t i = 0; i < lf_numel(a); i++)
        bad += memcmp(&a->data[i], &b->data[i], sizeof(lf_real)) != 0;
    return bad;
}

/* sum |dL/dw| after the backward of L = sum(y): positive when the gradient reaches w */
static double weight_grad_abs_sum(lf_graph *g, lf_tensor *y, const lf_tensor *w)
{
    CHECK_OK(lf_backward(g, lf_sum_all(g, y)));
    double s = 0;
    for (int64_t i = 0; i < lf_numel(w); i++) s += fabs(w->grad[i]);
    return s;
}

typedef struct cba_case {
    int64_t n, ci, co, H, W;
    int k, stride;
} cba_case;

/* Both ways, eval mode and no gradients; returns the number of differing floats (-1 when a
 * call failed) */
static int64_t compare_once(lf_graph *g, lf_rng *r, const cba_case *c, int with_res, int relu)
{
    lf_graph_reset(g);
    lf_graph_set_training(g, 0);
    lf_graph_set_grad_enabled(g, 0);
    const int64_t xs[4] = {c->n, c->ci, c->H, c->W}, ws[4] = {c->co, c->ci, c->k, c->k};
    lf_tensor *x = randn(g, r, 4, xs, -1, 1), *w = randn(g, r, 4, ws, -0.3, 0.3);
    bn_set bn = make_bn(g, r, c->co);
    /* values where the order of operations shows: channel 0 comes out as +0 and -0 (scale 0,
     * shift -0), and a NaN in the first image spreads through its convolution (ReLU turns
     * both into +0) */
    bn.w->data[0] = 0;
    bn.b->data[0] = -0.0f;
    x->data[0] = NAN;
    const lf_conv_args a = lf_conv_args_make(2, c->stride, c->k / 2, 1, 1);
    lf_tensor *plain = lf_conv(g, x, w, NULL, a);
    if (!plain) return -1;
    lf_tensor *res = with_res ? randn(g, r, 4, plain->shape, -1, 1) : NULL;
    lf_tensor *y0 = lf_batch_norm_add_relu(g, plain, bn.w, bn.b, bn.mean, bn.var, 0.1, 1e-5, res,
                                           relu);
    lf_tensor *y1 = lf_conv_bn_act(g, x, w, a, bn.w, bn.b, bn.mean, bn.var, 0.1, 1e-5, res, relu);
    return differing_bits(y0, y1);
}

TEST(conv_bn_act_eval_same_bits_every_path)
{
    const cba_case cases[] = {
        {6, 16, 24, 9, 11, 3, 1},  /* Winograd, short rows (F(2x2): 6 tiles a row) */
        {6, 8, 16, 40, 34, 3, 1},  /* Winograd, long rows (F(2x2): 17 tiles, F(4x4): 9) */
        {6, 32, 32, 2, 2, 3, 1},   /* a ResNet's layer 4 */
        {6, 8, 30, 2, 2, 3, 1},    /* 2x2 images, channels off 4: the dual kind's last group */
        {6, 16, 20, 4, 4, 3, 1},   /* 4x4 images: F(4x4)'s transposed transforms */
        {6, 8, 16, 15, 15, 3, 2},  /* stride 2: the stride-2 kind (im2col with Winograd off) */
        {6, 8, 30, 4, 4, 3, 2},    /* stride 2 to 2x2: its outputs by planes, channels off 4 */
        {6, 16, 32, 7, 7, 1, 1},   /* direct 1x1 */
        {6, 16, 32, 8, 8, 1, 2},   /* 1x1 downsampling */
        {6, 3, 8, 20, 20, 7, 2},   /* a 7x7 stem */
        {1, 16, 24, 9, 11, 3, 1},  /* one image: the shared path on two threads */
    };
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_rng r = lf_rng_make(11, 3);
    const int threads = lf_get_threads();
    for (int T = 1; T <= 2; T++) {
        lf_set_threads(T);
        for (int wino = 0; wino < 3; wino++) { /* off, F(4x4) where it fits, F(2x2) alone */
            lf_conv_winograd_force(wino);
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                for (int v = 0; v < 3; v++) { /* res + relu, relu, neither */
                    const int64_t bad = compare_once(g, &r, &cases[i], v == 0, v < 2);
                    CHECK_MSG(bad == 0, "case %zu (%lld -> %lld, %lldx%lld, k %d, stride %d), "
                              "variant %d, %d threads, Winograd %s: %lld values differ%s", i,
                              (long long)cases[i].ci, (long long)cases[i].co,
                              (long long)cases[i].H, (long long)cases[i].W, cases[i].k,
                              cases[i].stride, v, T,
                              wino == 0 ? "off" : wino == 1 ? "on" : "F(2x2)", (long long)bad,
                              bad < 0 ? lf_last_error() : "");
                }
        }
    }
    lf_conv_winograd_force(-1);
    lf_set_threads(threads);
    lf_graph_free(g);
}

/* Training mode (batch statistics) and a needed gradient: the two ops, recorded, so the
 * backward reaches the weights; running statistics move in training only */
TEST(conv_bn_act_training_records)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_rng r = lf_rng_make(5, 1);
    for (int training = 0; training < 2; training++) {
        lf_graph_reset(g);
        lf_graph_set_training(g, training);
        lf_graph_set_grad_enabled(g, 1);
        const int64_t xs[4] = {4, 3, 6, 6}, ws[4] = {5, 3, 3, 3};
        lf_tensor *x = randn(g, &r, 4, xs, -1, 1), *w = randn(g, &r, 4, ws, -0.3, 0.3);
        w->flags |= LF_TENSOR_REQUIRES_GRAD;
        bn_set bn = make_bn(g, &r, 5);
        const lf_real m0 = bn.mean->data[0];
        lf_tensor *y = lf_conv_bn_act(g, x, w, lf_conv_args_make(2, 1, 1, 1, 1), bn.w, bn.b,
                                      bn.mean, bn.var, 0.1, 1e-5, NULL, 1);
        CHECK(y != NULL);
        if (!y) continue;
        CHECK(lf_needs_grad(y));
        CHECK(weight_grad_abs_sum(g, y, w) > 0);
        CHECK(training ? bn.mean->data[0] != m0 : bn.mean->data[0] == m0);
    }
    lf_graph_free(g);
}

TEST(conv_bn_act_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_rng r = lf_rng_make(9, 2);
    lf_graph_set_training(g, 0);
    lf_graph_set_grad_enabled(g, 0);
    const int64_t xs[4] = {2, 3, 8, 8}, ws[4] = {4, 3, 3, 3}, bad_res[4] = {2, 4, 4, 4};
    lf_tensor *x = randn(g, &r, 4, xs, -1, 1), *w = randn(g, &r, 4, ws, -0.3, 0.3);
    bn_set bn = make_bn(g, &r, 4), bn5 = make_bn(g, &r, 5);
    lf_tensor *res = randn(g, &r, 4, bad_res, -1, 1);
    const lf_conv_args a = lf_conv_args_make(2, 1, 1, 1, 1);
    CHECK(!lf_conv_bn_act(g, x, w, a, bn.w, bn.b, bn.mean, bn.var, 0.1, 1e-5, res, 1));
    CHECK_MSG(strstr(lf_last_error(), "residual (2, 4, 4, 4)") &&
              strstr(lf_last_error(), "(2, 4, 8, 8)"), "message: %s", lf_last_error());
    CHECK(!lf_conv_bn_act(g, x, w, a, bn.w, bn.b, bn5.mean, bn.var, 0.1, 1e-5, NULL, 1));
    CHECK_MSG(strstr(lf_last_error(), "running_mean"), "message: %s", lf_last_error());
    CHECK(!lf_conv_bn_act(g, x, w, a, bn.w, bn.b, bn.mean, bn.var, 0.1, 0, NULL, 1));
    CHECK_MSG(strstr(lf_last_error(), "eps"), "message: %s", lf_last_error());
    lf_graph_free(g);
}

/* ---- lf_conv_bn_act_pool: in eval-mode inference the convolution runs on chunks of images
 * and each chunk is pooled before the next; the result must be bit for bit max_pool of
 * lf_conv_bn_act, for batches that make one chunk, several, and a short last chunk that
 * joins the one before it */
typedef struct cbp_case {
    int nd;
    int64_t ci, co, size;
    int k, stride, pk, ps, pp;
} cbp_case;

static int64_t compare_pool_once(lf_graph *g, lf_rng *r, const cbp_case *c, int64_t n)
{
    lf_graph_reset(g);
    lf_graph_set_training(g, 0);
    lf_graph_set_grad_enabled(g, 0);
    int64_t xs[5] = {n, c->ci, c->size, c->size, c->size},
            ws[5] = {c->co, c->ci, c->k, c->k, c->k};
    lf_tensor *x = randn(g, r, c->nd + 2, xs, -1, 1), *w = randn(g, r, c->nd + 2, ws, -0.3, 0.3);
    bn_set bn = make_bn(g, r, c->co);
    const lf_conv_args a = lf_conv_args_make(c->nd, c->stride, c->k / 2, 1, 1);
    lf_tensor *y0 = lf_max_pool(
        g, lf_conv_bn_act(g, x, w, a, bn.w, bn.b, bn.mean, bn.var, 0.1, 1e-5, NULL, 1), c->nd,
        c->pk, c->ps, c->pp);
    lf_tensor *y1 = lf_conv_bn_act_pool(g, x, w, a, bn.w, bn.b, bn.mean, bn.var, 0.1, 1e-5, 1,
                                        c->pk, c->ps, c->pp);
    return differing_bits(y0, y1);
}

TEST(conv_bn_act_pool_same_bits_any_chunking)
{
    const cbp_case cases[] = {
        {2, 3, 8, 20, 7, 2, 3, 2, 1},  /* an ImageNet stem (im2col, stride 2) */
        {2, 8, 16, 12, 3, 1, 2, 2, 0}, /* Winograd */
        {2, 16, 8, 9, 1, 1, 3, 2, 1},  /* direct 1x1, odd size */
        {3, 2, 4, 6, 3, 1, 2, 2, 0},   /* 3-D */
        {2, 3, 4, 70, 7, 2, 3, 2, 1},  /* rows of 18 pooled outputs (past 16 lanes) */
        {2, 4, 4, 11, 3, 1, 4, 2, 2},  /* a 4-wide pool padded by 2 */
    };
    const int64_t batches[] = {0, 1, 3, 5, 8, 13, 26};
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_rng r = lf_rng_make(21, 4);
    const int threads = lf_get_threads();
    for (int T = 1; T <= 2; T++) {
        lf_set_threads(T);
        for (int small = 0; small < 2; small++) { /* chunks of 4 images a thread, or 1 MB */
            lf_conv_pool_chunk_force(small ? 1 : 0);
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
                    const int64_t bad = compare_pool_once(g, &r, &cases[i], batches[b]);
                    CHECK_MSG(bad == 0, "case %zu, %lld images, %d threads, %s chunks: %lld "
                              "values differ%s", i, (long long)batches[b], T,
                              small ? "small" : "default", (long long)bad,
                              bad < 0 ? lf_last_error() : "");
                }
        }
    }
    lf_conv_pool_chunk_force(0);
    lf_set_threads(threads);
    lf_graph_free(g);
}

/* In training, or with a gradient to record, the ops one after the other: the backward
 * reaches the weights. Errors name the op that found them. */
TEST(conv_bn_act_pool_training_and_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_rng r = lf_rng_make(6, 2);
    const int64_t xs[4] = {4, 3, 10, 10}, ws[4] = {5, 3, 7, 7};
    const lf_conv_args a = lf_conv_args_make(2, 2, 3, 1, 1);
    for (int training = 0; training < 2; training++) {
        lf_graph_reset(g);
        lf_graph_set_training(g, training);
        lf_graph_set_grad_enabled(g, 1);
        lf_tensor *x = randn(g, &r, 4, xs, -1, 1), *w = randn(g, &r, 4, ws, -0.3, 0.3);
        w->flags |= LF_TENSOR_REQUIRES_GRAD;
        bn_set bn = make_bn(g, &r, 5);
        lf_tensor *y = lf_conv_bn_act_pool(g, x, w, a, bn.w, bn.b, bn.mean, bn.var, 0.1, 1e-5,
                                           1, 3, 2, 1);
        CHECK(y != NULL && lf_needs_grad(y));
        if (!y) continue;
        CHECK(y->shape[2] == 3 && y->shape[3] == 3);
        CHECK(weight_grad_abs_sum(g, y, w) > 0);
    }
    lf_graph_reset(g);
    lf_graph_set_training(g, 0);
    lf_graph_set_grad_enabled(g, 0);
    lf_tensor *x = randn(g, &r, 4, xs, -1, 1), *w = randn(g, &r, 4, ws, -0.3, 0.3);
    bn_set bn = make_bn(g, &r, 5), bn4 = make_bn(g, &r, 4);
    CHECK(!lf_conv_bn_act_pool(g, x, w, a, bn.w, bn.b, bn.mean, bn.var, 0.1, 1e-5, 1, 9, 2, 1));
    CHECK_MSG(strstr(lf_last_error(), "max_pool: kernel 9"), "message: %s", lf_last_error());
    CHECK(!lf_conv_bn_act_pool(g, x, w, a, bn4.w, bn4.b, bn4.mean, bn4.var, 0.1, 1e-5, 1, 3,
                               2, 1));
    CHECK_MSG(strstr(lf_last_error(), "batch_norm: weight has shape (4), expected (5)"),
              "message: %s", lf_last_error());
    lf_graph_free(g);
}
