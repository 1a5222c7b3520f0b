/* Recomputed segments (lf_recompute, lf_graph_set_recompute): the same gradients, outputs
 * and running statistics as the plain step, bit for bit, in less arena; the arena's
 * stack-like release underneath. */
#include "test.h"

#include "../../src/core/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

TEST(arena_release_reuses_and_reset_keeps_the_peak)
{
    lf_arena a;
    CHECK_OK(lf_arena_init(&a, 4096));
    a.block_min = SIZE_MAX; /* the bump allocator alone (the sanitizer build lowers it) */
    unsigned char *p0 = lf_arena_alloc(&a, 1000);
    lf_arena_mark m = lf_arena_get_mark(&a);
    unsigned char *p1 = lf_arena_alloc(&a, 2000);
    unsigned char *big = lf_arena_alloc(&a, 100000); /* opens a second chunk */
    CHECK(p0 && p1 && big);
    memset(big, 7, 100000);
    size_t cap = a.total_cap;
    CHECK(a.live >= 103000 && a.peak == a.live);
    lf_arena_release(&a, m);
    CHECK(a.live == 1024); /* 1000 rounded to the alignment */
    CHECK(big[99999] == 7); /* released memory stays mapped until the reset */
    unsigned char *q1 = lf_arena_alloc(&a, 2000);
    CHECK(q1 == p1);                                 /* the first chunk again, at the mark */
    unsigned char *q2 = lf_arena_alloc(&a, 90000);   /* the spare chunk, no new malloc */
    CHECK(q2 == big);
    CHECK(a.total_cap == cap);
    size_t peak = a.peak;
    CHECK_OK(lf_arena_reset(&a));
    CHECK(a.head && !a.head->next && !a.spare);
    CHECK_MSG(a.total_cap == peak, "one chunk of the high-water mark: %zu vs %zu", a.total_cap,
              peak);
    CHECK(lf_arena_alloc(&a, peak) != NULL && a.head && !a.head->next);
    lf_arena_free(&a);
}

/* The block heap under the arena: best fit, merging of freed neighbours, marks that free the
 * blocks after them but not those kept for them, one region after a reset. */
TEST(arena_blocks_free_merge_keep_release)
{
    lf_arena a;
    CHECK_OK(lf_arena_init(&a, 4096));
    a.block_min = 1024;
    unsigned char *small = lf_arena_alloc(&a, 100); /* bump memory */
    unsigned char *p = lf_arena_alloc(&a, 4096), *q = lf_arena_alloc(&a, 8192);
    unsigned char *r = lf_arena_alloc(&a, 4096);
    CHECK(small && p && q && r);
    CHECK(!lf_arena_block_start(&a, small) && lf_arena_block_start(&a, q));
    CHECK(!lf_arena_block_start(&a, q + 64)); /* an interior pointer is no block */
    size_t live = a.block_live;
    lf_arena_block_free(&a, small); /* not a block: nothing happens */
    CHECK(a.block_live == live);
    lf_arena_block_free(&a, q);
    CHECK(!lf_arena_block_start(&a, q));
    CHECK(lf_arena_alloc(&a, 6000) == q); /* best fit: the hole q left */
    lf_arena_block_free(&a, q);
    lf_arena_block_free(&a, p);
    /* p and q merged: room for both and a header */
    CHECK(lf_arena_alloc(&a, 4096 + 8192 + 64) == p);
    lf_arena_block_free(&a, p);
    lf_arena_block_free(&a, r);
    CHECK(a.block_live == 0);

    lf_arena_mark outer = lf_arena_get_mark(&a);
    unsigned char *before = lf_arena_alloc(&a, 2048);
    lf_arena_mark m = lf_arena_get_mark(&a);
    unsigned char *e = lf_arena_alloc(&a, 2048), *f = lf_arena_alloc(&a, 2048);
    CHECK(lf_arena_above(&a, m, e) && lf_arena_above(&a, m, f) && !lf_arena_above(&a, m, before));
    lf_arena_block_keep(m, f);
    lf_arena_release(&a, m);
    CHECK(!lf_arena_block_start(&a, e));
    CHECK(lf_arena_block_start(&a, f) && lf_arena_block_start(&a, before)); /* kept, older */
    lf_arena_release(&a, outer);
    CHECK(!lf_arena_block_start(&a, f) && !lf_arena_block_start(&a, before));
    CHECK(a.block_live == 0);

    /* a second region, then one region of the total after the reset */
    CHECK(lf_arena_alloc(&a, (size_t)20 << 20) != NULL && lf_arena_alloc(&a, (size_t)20 << 20));
    CHECK(lf_arena_block_regions(&a) > 1);
    size_t cap = a.block_cap;
    CHECK_OK(lf_arena_reset(&a));
    CHECK(lf_arena_block_regions(&a) == 1 && a.block_cap == cap && a.block_live == 0);
    CHECK(lf_arena_alloc(&a, (size_t)20 << 20) && lf_arena_alloc(&a, (size_t)20 << 20));
    CHECK(a.block_cap == cap); /* the same step again: no new region */
    lf_arena_free(&a);
}

/* Near ties of best fit (holes within 1/64 of the best size) go to the lowest address, which
 * keeps a step's footprint low in its region; a hole further off loses to the best fit. */
TEST(arena_blocks_near_tie_lowest_address)
{
    for (int far = 0; far < 2; far++) {
        lf_arena a;
        CHECK_OK(lf_arena_init(&a, 4096));
        a.block_min = 1024;
        /* low hole 4096 + 32 bytes (a near tie) or + 256 (not), high hole 4096 */
        unsigned char *lo = lf_arena_alloc(&a, far ? 4096 + 256 : 4096 + 32);
        unsigned char *s1 = lf_arena_alloc(&a, 1024), *hi = lf_arena_alloc(&a, 4096);
        unsigned char *s2 = lf_arena_alloc(&a, 1024);
        CHECK(lo && s1 && hi && s2 && lo < hi);
        lf_arena_block_free(&a, lo);
        lf_arena_block_free(&a, hi);
        CHECK(lf_arena_alloc(&a, 4096) == (far ? hi : lo));
        lf_arena_free(&a);
    }
}

typedef struct step_result {
    lf_real *grads, *out, *buffers;
    int64_t n_grads, n_out, n_buffers;
    size_t peak;
} step_result;

static void step_result_free(step_result *r)
{
    lf_free(r->grads);
    lf_free(r->out);
    lf_free(r->buffers);
}

/* An encoder with its parameters (reset with `seed`) and a training graph that recycles
 * gradients, recomputes blocks when `recompute`, and puts allocations of block_min bytes or
 * more in the arena's block heap (SIZE_MAX: none; small: every tensor). */
typedef struct train_model {
    lf_params *P;
    lf_encoder *e;
    lf_graph *g;
} train_model;

static bool train_model_init(train_model *m, const lf_encoder_config *c, int recompute,
                             size_t block_min, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    CHECK_OK(lf_params_init(&m->P));
    CHECK_OK(lf_encoder_init(m->P, c, NULL, &m->e));
    CHECK_OK(lf_params_finalize(m->P));
    CHECK_OK(lf_encoder_reset_parameters(m->e, seed, 0));
    CHECK_OK(lf_graph_init(&m->g, 1 << 16));
    if (!m->e || !m->g) return false;
    m->g->arena.block_min = block_min;
    lf_graph_set_retain_grads(m->g, 0);
    lf_graph_set_recompute(m->g, recompute);
    return true;
}

static void train_model_free(train_model *m)
{
    lf_graph_free(m->g);
    lf_encoder_free(m->e);
    lf_params_free(m->P);
}

/* One training step of an encoder on a fixed batch (recompute, block_min: as
 * train_model_init); gradients, features, every buffer (running statistics,
 * num_batches_tracked), and the arena's high-water mark. */
static step_result encoder_step(const lf_encoder_config *c, const int64_t *xshape,
                                int recompute, size_t block_min)
{
    step_result res = {0};
    train_model m;
    if (!train_model_init(&m, c, recompute, block_min, 5)) {
        train_model_free(&m);
        return res;
    }
    lf_params *P = m.P;
    lf_encoder *e = m.e;
    lf_graph *g = m.g;
    CHECK(lf_graph_recompute(g) == recompute);
    lf_tensor *x = lf_tensor_new(g, 4, xshape);
    lf_rng r = lf_rng_make(1, 2);
    lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
    lf_tensor *f = lf_encoder_forward(g, e, x);
    lf_tensor *loss = lf_mean_all(g, lf_mul(g, f, f));
    CHECK(loss != NULL);
    if (loss) CHECK_OK(lf_backward(g, loss));
    const lf_real *gb = lf_params_grad_block(P, &res.n_grads);
    res.grads = lf_malloc((size_t)res.n_grads * sizeof(lf_real));
    memcpy(res.grads, gb, (size_t)res.n_grads * sizeof(lf_real));
    res.n_out = f ? lf_numel(f) : 0;
    res.out = lf_malloc((size_t)(res.n_out + 1) * sizeof(lf_real));
    if (f) memcpy(res.out, f->data, (size_t)res.n_out * sizeof(lf_real));
    /* buffers: everything in the parameter table that is not trainable */
    int64_t nb = 0;
    for (int i = 0; i < lf_params_count(P); i++) {
        lf_tensor *t = lf_params_get(P, i);
        if (t->flags & LF_TENSOR_BUFFER) nb += lf_numel(t);
    }
    res.buffers = lf_malloc((size_t)(nb + 1) * sizeof(lf_real));
    for (int i = 0; i < lf_params_count(P); i++) {
        lf_tensor *t = lf_params_get(P, i);
        if (!(t->flags & LF_TENSOR_BUFFER)) continue;
        memcpy(res.buffers + res.n_buffers, t->data, (size_t)lf_numel(t) * sizeof(lf_real));
        res.n_buffers += lf_numel(t);
    }
    res.peak = g->arena.peak_all;
    train_model_free(&m);
    return res;
}

static void check_same(const char *what, const char *how, const step_result *a,
                       const step_result *b)
{
    CHECK_MSG(a->n_grads == b->n_grads && a->n_grads > 0 &&
                  memcmp(a->grads, b->grads, (size_t)b->n_grads * sizeof(lf_real)) == 0,
              "%s: parameter gradients differ %s", what, how);
    CHECK_MSG(a->n_out == b->n_out && a->n_out > 0 &&
                  memcmp(a->out, b->out, (size_t)b->n_out * sizeof(lf_real)) == 0,
              "%s: features differ %s", what, how);
    CHECK_MSG(a->n_buffers == b->n_buffers &&
                  memcmp(a->buffers, b->buffers, (size_t)b->n_buffers * sizeof(lf_real)) == 0,
              "%s: running statistics differ %s (updated twice?)", what, how);
}

/* The same step four ways: plain or recomputed, with the tensors in the bump arena or all in
 * the block heap (where backward frees what is dead and gradients are taken over in place). */
static void check_same_step(const char *what, const lf_encoder_config *c, const int64_t *xshape)
{
    step_result plain = encoder_step(c, xshape, 0, SIZE_MAX);
    step_result rc = encoder_step(c, xshape, 1, SIZE_MAX);
    step_result plain_b = encoder_step(c, xshape, 0, 64), rc_b = encoder_step(c, xshape, 1, 64);
    check_same(what, "with recomputation", &plain, &rc);
    check_same(what, "with tensors in the block heap", &plain, &plain_b);
    check_same(what, "with recomputation and tensors in the block heap", &plain, &rc_b);
    CHECK_MSG(rc.peak < plain.peak, "%s: arena high-water mark with recomputation %zu, "
              "without %zu", what, rc.peak, plain.peak);
    /* recomputed segments free what is dead in backward: a lower high-water mark (the
     * plain step frees only gradients, and with every tensor a block pays a header each) */
    CHECK_MSG(rc_b.peak < rc.peak, "%s: high-water mark with the block heap %zu, bump only %zu",
              what, rc_b.peak, rc.peak);
    printf("    %s: arena high-water mark %zu -> %zu bytes with recomputation, %zu with the "
           "block heap (plain: %zu)\n", what, plain.peak, rc.peak, rc_b.peak, plain_b.peak);
    step_result_free(&plain);
    step_result_free(&rc);
    step_result_free(&plain_b);
    step_result_free(&rc_b);
}

/* ResNet-18 of width 8 without a classifier */
static lf_encoder_config small_resnet18(void)
{
    lf_encoder_config c = lf_encoder_config_default("resnet18");
    c.width = 8;
    c.num_classes = 0;
    snprintf(c.stem, sizeof c.stem, "cifar");
    return c;
}

TEST(recompute_resnet_same_step_less_memory)
{
    lf_encoder_config c = small_resnet18();
    check_same_step("resnet18 cifar stem", &c, (int64_t[]){6, 3, 16, 16});
    snprintf(c.stem, sizeof c.stem, "imagenet");
    check_same_step("resnet18 imagenet stem", &c, (int64_t[]){4, 3, 32, 32});
    lf_encoder_config b = lf_encoder_config_default("resnet50");
    b.width = 4;
    b.num_classes = 0;
    check_same_step("resnet50", &b, (int64_t[]){2, 3, 32, 32});
}

TEST(recompute_vit_same_step_less_memory)
{
    lf_encoder_config c = lf_encoder_config_default("vit");
    c.width = 32;
    c.heads = 2;
    c.depth = 3;
    c.image_size = 32;
    c.patch = 8;
    c.num_classes = 0;
    check_same_step("vit", &c, (int64_t[]){3, 3, 32, 32});
}

/* A segment with dropout: the recomputation draws the same mask (the generator is restored)
 * and leaves the graph's generator where the forward left it. */
typedef struct drop_ctx {
    lf_tensor *w;
} drop_ctx;

static lf_tensor *drop_segment(lf_graph *g, lf_tensor *x, void *ctx)
{
    drop_ctx *d = ctx;
    return lf_relu(g, lf_dropout(g, lf_linear(g, x, d->w, NULL), 0.5));
}

static lf_tensor *identity_segment(lf_graph *g, lf_tensor *x, void *ctx)
{
    (void)g, (void)ctx;
    return x;
}

/* out = h + seg(h), three times, with gradient recycling: the residual add takes two
 * gradients of one size, which exercises the free list around each segment. */
static lf_tensor *residual_chain(lf_graph *g, lf_tensor *h, drop_ctx *d, int rc)
{
    for (int i = 0; i < 3 && h; i++)
        h = lf_add(g, h, rc ? lf_recompute(g, drop_segment, d, h) : drop_segment(g, h, d));
    return h;
}

TEST(recompute_dropout_residual_identity_same_gradients)
{
    enum { N = 4, D = 5 };
    lf_real gw[2][D * D], gx[2][N * D], y[2][N * D];
    lf_rng after[2];
    for (int rc = 0; rc < 2; rc++) {
        lf_params *P;
        CHECK_OK(lf_params_init(&P));
        lf_tensor *w = lf_param_add(P, "w", 2, (int64_t[]){D, D}, 0);
        CHECK_OK(lf_params_finalize(P));
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_graph_set_retain_grads(g, 0);
        lf_graph_set_rng(g, lf_rng_make(11, 3));
        lf_rng r = lf_rng_make(4, 4);
        lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){N, D});
        lf_rng_fill_normal(&r, x->data, N * D, 0, 1);
        lf_rng_fill_normal(&r, w->data, D * D, 0, 0.5);
        x->flags = LF_TENSOR_REQUIRES_GRAD;
        drop_ctx d = {w};
        lf_tensor *h = lf_scale(g, x, 2.0); /* x reaches the segments through an op */
        if (rc) h = lf_recompute(g, identity_segment, NULL, h);
        lf_tensor *o = residual_chain(g, h, &d, rc);
        lf_tensor *loss = lf_sum_all(g, lf_mul(g, o, o));
        CHECK(loss != NULL);
        if (loss) CHECK_OK(lf_backward(g, loss));
        if (loss) {
            memcpy(gw[rc], w->grad, sizeof gw[rc]);
            memcpy(gx[rc], x->grad, sizeof gx[rc]);
            memcpy(y[rc], o->data, sizeof y[rc]);
        }
        after[rc] = *lf_graph_rng(g);
        lf_graph_free(g);
        lf_params_free(P);
    }
    CHECK(memcmp(y[0], y[1], sizeof y[0]) == 0);
    CHECK(memcmp(gw[0], gw[1], sizeof gw[0]) == 0);
    CHECK(memcmp(gx[0], gx[1], sizeof gx[0]) == 0);
    CHECK(after[0].offset == after[1].offset);
}

/* A segment reading a non-parameter tensor that needs a gradient breaks the contract: a
 * clear error, not a gradient in freed memory. */
TEST(recompute_outside_tensor_with_gradient_is_an_error)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 2, (int64_t[]){2, 3});
    lf_tensor *w = lf_tensor_zeros(g, 2, (int64_t[]){3, 3});
    x->flags = w->flags = LF_TENSOR_REQUIRES_GRAD;
    drop_ctx d = {w};
    lf_tensor *o = lf_recompute(g, drop_segment, &d, x);
    lf_tensor *loss = lf_sum_all(g, o);
    CHECK(loss != NULL);
    if (loss) {
        CHECK(lf_backward(g, loss) == LF_ERR_STATE);
        CHECK(strstr(lf_last_error(), "outside") != NULL);
    }
    lf_graph_free(g);
}

static lf_tensor *failing_segment(lf_graph *g, lf_tensor *x, void *ctx)
{
    (void)ctx;
    return lf_reshape(g, x, 2, (int64_t[]){7, 7}); /* wrong element count: an error */
}

TEST(recompute_errors)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 2, (int64_t[]){2, 3});
    x->flags = LF_TENSOR_REQUIRES_GRAD;
    CHECK(lf_recompute(g, failing_segment, NULL, x) == NULL);
    CHECK(lf_last_status() != LF_OK);
    CHECK(lf_recompute(g, NULL, NULL, x) == NULL);
    CHECK(strstr(lf_last_error(), "recompute") != NULL);
    lf_graph_free(g);
}

/* Recomputed training steps with every tensor in the block heap (freed and reused out of
 * order in backward) reach a steady state that allocates nothing: the regions the first
 * steps opened become one at the reset, and the same step fits in it again. */
TEST(recompute_block_heap_steady_state_allocates_nothing)
{
    const char *arch[2] = {"resnet18", "vit"};
    for (int a = 0; a < 2; a++) {
        lf_encoder_config c = lf_encoder_config_default(arch[a]);
        c.width = a == 0 ? 8 : 32;
        c.image_size = 16, c.patch = 4, c.depth = 2, c.heads = 2, c.num_classes = 0;
        snprintf(c.stem, sizeof c.stem, "cifar");
        train_model m;
        if (train_model_init(&m, &c, 1, 64, 3)) {
            uint64_t before = 0;
            for (int step = 0; step < 6; step++) {
                if (step == 3) before = lf_alloc_count();
                lf_graph_reset(m.g);
                lf_tensor *x = lf_tensor_new(m.g, 4, (int64_t[]){4, 3, 16, 16});
                lf_rng r = lf_rng_make(9, (uint64_t)step);
                if (x) lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
                lf_tensor *f = lf_encoder_forward(m.g, m.e, x);
                lf_tensor *loss = lf_mean_all(m.g, lf_mul(m.g, f, f));
                CHECK_MSG(loss != NULL, "%s: %s", arch[a], lf_last_error());
                if (!loss) break;
                CHECK_OK(lf_backward(m.g, loss));
                lf_params_zero_grad(m.P);
            }
            CHECK_MSG(lf_alloc_count() == before, "%s: %llu allocations in steady steps",
                      arch[a], (unsigned long long)(lf_alloc_count() - before));
            CHECK(lf_arena_block_regions(&m.g->arena) == 1);
        }
        train_model_free(&m);
    }
}

/* A second backward through recomputed segments finds their outputs freed by the first
 * (retain_grads off): a clear error, not garbage. */
TEST(recompute_second_backward_is_an_error)
{
    lf_encoder_config c = small_resnet18();
    train_model m;
    if (train_model_init(&m, &c, 1, 64, 3)) {
        lf_tensor *x = lf_tensor_zeros(m.g, 4, (int64_t[]){2, 3, 8, 8});
        lf_tensor *loss = lf_mean_all(m.g, lf_encoder_forward(m.g, m.e, x));
        CHECK(loss != NULL);
        if (loss) {
            CHECK_OK(lf_backward(m.g, loss));
            CHECK(lf_backward(m.g, loss) == LF_ERR_STATE);
            CHECK(strstr(lf_last_error(), "freed by an earlier backward") != NULL);
        }
    }
    train_model_free(&m);
}

/* A segment ending in batch norm (+ ReLU), whose backward may take over the output's
 * gradient: it must not when the caller keeps that gradient (retain_grads on, or the output
 * is the root of lf_backward_with). h->grad and x->grad equal the plain step's. */
typedef struct bn_seg_ctx {
    lf_tensor *w, *b;
    int relu;
} bn_seg_ctx;

static lf_tensor *bn_segment(lf_graph *g, lf_tensor *x, void *ctx)
{
    bn_seg_ctx *c = ctx; /* an op first, so that batch norm's input is the segment's own */
    return lf_batch_norm_add_relu(g, lf_scale(g, x, 1.5), c->w, c->b, NULL, NULL, 0.1, 1e-5,
                                  NULL, c->relu);
}

enum { BN_N = 4, BN_C = 3, BN_S = 5, BN_NUM = BN_N * BN_C * BN_S };

/* h = seg(x) (recomputed or not); backward of sum(h * x), or of h seeded (as_root).
 * Copies h->grad (if any: returns whether) and x->grad. */
static bool bn_segment_step(int rc, int retain, int relu, int as_root, lf_real *hg, lf_real *xg)
{
    lf_params *P;
    CHECK_OK(lf_params_init(&P));
    lf_tensor *w = lf_param_add(P, "w", 1, (int64_t[]){BN_C}, 0);
    lf_tensor *b = lf_param_add(P, "b", 1, (int64_t[]){BN_C}, 0);
    CHECK_OK(lf_params_finalize(P));
    for (int i = 0; i < BN_C; i++) w->data[i] = (lf_real)(1 + 0.1 * i), b->data[i] = (lf_real)(0.05 * i);
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    g->arena.block_min = 64;
    lf_graph_set_retain_grads(g, retain);
    lf_tensor *x = lf_tensor_new(g, 3, (int64_t[]){BN_N, BN_C, BN_S});
    lf_rng r = lf_rng_make(3, 4);
    lf_rng_fill_normal(&r, x->data, BN_NUM, 0, 1);
    x->flags |= LF_TENSOR_REQUIRES_GRAD;
    bn_seg_ctx c = {w, b, relu};
    lf_tensor *x2 = lf_scale(g, x, 1.0);
    lf_tensor *h = rc ? lf_recompute(g, bn_segment, &c, x2) : bn_segment(g, x2, &c);
    if (as_root) {
        lf_real seed[BN_NUM];
        for (int i = 0; i < BN_NUM; i++) seed[i] = (lf_real)(0.5 + 0.01 * i);
        CHECK_OK(lf_backward_with(g, h, seed));
    } else {
        CHECK_OK(lf_backward(g, lf_sum_all(g, lf_mul(g, h, lf_scale(g, x, 1.0)))));
    }
    bool have = h->grad != NULL;
    if (have) memcpy(hg, h->grad, sizeof(lf_real) * BN_NUM);
    memcpy(xg, x->grad, sizeof(lf_real) * BN_NUM);
    lf_graph_free(g);
    lf_params_free(P);
    return have;
}

TEST(recompute_kept_output_gradient_is_not_consumed)
{
    for (int relu = 0; relu < 2; relu++)
        for (int as_root = 0; as_root < 2; as_root++) {
            int retain = !as_root; /* retain on; or off with the output as the root */
            lf_real hg[2][BN_NUM], xg[2][BN_NUM];
            bool have[2];
            for (int rc = 0; rc < 2; rc++)
                have[rc] = bn_segment_step(rc, retain, relu, as_root, hg[rc], xg[rc]);
            CHECK_MSG(have[0] && have[1], "relu %d, root %d: h->grad kept %d (plain) %d "
                      "(recomputed)", relu, as_root, have[0], have[1]);
            if (have[0] && have[1])
                CHECK_MSG(memcmp(hg[0], hg[1], sizeof hg[0]) == 0,
                          "relu %d, root %d: h->grad differs", relu, as_root);
            CHECK_MSG(memcmp(xg[0], xg[1], sizeof xg[0]) == 0, "relu %d, root %d: x->grad differs",
                      relu, as_root);
        }
}

static lf_tensor *relu_segment(lf_graph *g, lf_tensor *x, void *ctx)
{
    (void)ctx;
    return lf_relu(g, lf_scale(g, x, 2.0));
}

/* With retain_grads off, a second backward that reads what the first freed stops with
 * LF_ERR_STATE: two losses on one recomputed trunk, and a segment whose input is a view of
 * an earlier segment's output. */
TEST(recompute_freed_tensors_second_backward_is_an_error)
{
    for (int view = 0; view < 2; view++) {
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        g->arena.block_min = 64;
        lf_graph_set_retain_grads(g, 0);
        lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){8, 8});
        for (int i = 0; i < 64; i++) x->data[i] = (lf_real)(0.1 * i - 2);
        x->flags |= LF_TENSOR_REQUIRES_GRAD;
        lf_tensor *h = lf_recompute(g, relu_segment, NULL, lf_scale(g, x, 1.0));
        lf_tensor *l1, *l2;
        if (view) {
            lf_tensor *v = lf_reshape(g, h, 1, (int64_t[]){64});
            l1 = l2 = lf_sum_all(g, lf_recompute(g, relu_segment, NULL, v));
        } else {
            l1 = lf_sum_all(g, lf_scale(g, h, 3.0));
            l2 = lf_sum_all(g, lf_mul(g, h, h));
        }
        CHECK_OK(lf_backward(g, l1));
        CHECK_MSG(lf_backward(g, l2) == LF_ERR_STATE, "view %d: second backward", view);
        CHECK(strstr(lf_last_error(), "freed by an earlier backward") != NULL);
        lf_graph_free(g);
    }
}
