/* Masked autoencoder (src/ssl/mae.c): against facebookresearch/mae's model written out in
 * PyTorch (tests/parity/gen_mae.py, float64 references), the sin-cos tables, what the
 * masking hides, errors, and the training step's memory behaviour. */
#include "nn_fixture.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIXDIR "tests/parity/fixtures/mae/"
#define TOL 1e-4

/* the fixtures' model: 16x16 RGB, patch 4 (16 patches, 4 visible), width 32, 2 blocks of
 * 4 heads; decoder 16 wide, 2 blocks of 2 heads */
static lf_mae_config small_config(int norm_pix)
{
    lf_mae_config c = lf_mae_config_default();
    c.encoder.image_size = 16;
    c.encoder.patch = 4;
    c.encoder.width = 32;
    c.encoder.depth = 2;
    c.encoder.heads = 4;
    c.decoder_width = 16;
    c.decoder_depth = 2;
    c.decoder_heads = 2;
    c.norm_pix_loss = norm_pix;
    return c;
}

typedef struct mae_fx {
    lf_params *P;
    lf_mae *m;
} mae_fx;

static int mae_open(mae_fx *f, const lf_mae_config *c)
{
    memset(f, 0, sizeof *f);
    CHECK_OK(lf_params_init(&f->P));
    CHECK_OK(lf_mae_init(f->P, c, NULL, &f->m));
    if (!f->m) return 0;
    CHECK_OK(lf_params_finalize(f->P));
    CHECK_OK(lf_mae_reset_parameters(f->m, 7, 0));
    return 1;
}

static void mae_close(mae_fx *f)
{
    lf_mae_free(f->m);
    lf_params_free(f->P);
}

static void cmp(const char *what, const lf_real *a, const nnfx_tensor *ref, int64_t n, double *worst)
{
    if (!ref || ref->numel != n) {
        lf_test_fail(__FILE__, __LINE__, "%s: missing or %lld elements in the fixture, %lld here",
                     what, ref ? (long long)ref->numel : -1LL, (long long)n);
        return;
    }
    double ab, rel = nnfx_maxdiff(a, ref->data, n, &ab);
    CHECK_MSG(rel <= TOL, "%s: max |d|/max(1,|ref|) = %.3g (max |d| %.3g)", what, rel, ab);
    if (rel > *worst) *worst = rel;
}

static void parity(const char *file, int norm_pix)
{
    nnfx *fx = nnfx_load(file);
    CHECK(fx != NULL);
    if (!fx) return;
    lf_mae_config c = small_config(norm_pix);
    mae_fx f;
    if (!mae_open(&f, &c)) goto out;
    double worst = 0;
    /* every fixture parameter exists here with its shape; the sin-cos tables made by
     * lf_mae_reset_parameters equal MAE's before they are overwritten */
    int n_param = 0;
    for (int i = 0; i < fx->n; i++) {
        if (strncmp(fx->t[i].name, "param/", 6) != 0) continue;
        lf_tensor *t = lf_params_find(f.P, fx->t[i].name + 6);
        CHECK_MSG(t && lf_numel(t) == fx->t[i].numel, "%s missing or of another size",
                  fx->t[i].name + 6);
        if (!t || lf_numel(t) != fx->t[i].numel) goto out2;
        if (strstr(t->name, "pos_embed")) {
            CHECK(t->flags & LF_TENSOR_BUFFER);
            double ab, rel = nnfx_maxdiff(t->data, fx->t[i].data, lf_numel(t), &ab);
            CHECK_MSG(ab <= 1e-6, "%s: sin-cos table differs from MAE's by %.3g", t->name, ab);
            (void)rel;
        }
        for (int64_t j = 0; j < lf_numel(t); j++) t->data[j] = (lf_real)fx->t[i].data[j];
        n_param++;
    }
    CHECK_MSG(n_param == lf_params_count(f.P), "fixture %d tensors, labelfree %d", n_param,
              lf_params_count(f.P));
    const nnfx_tensor *xr = nnfx_get(fx, "x"), *or = nnfx_get(fx, "order");
    CHECK(xr && or);
    if (!xr || !or) goto out2;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_graph_set_training(g, 1);
    lf_params_zero_grad(f.P);
    lf_tensor *x = lf_tensor_new(g, 4, xr->shape);
    int64_t order[3 * 16];
    CHECK(or->numel == 3 * 16);
    for (int64_t i = 0; i < xr->numel; i++) x->data[i] = (lf_real)xr->data[i];
    for (int64_t i = 0; i < 48 && i < or->numel; i++) order[i] = (int64_t)or->data[i];
    lf_mae_output o;
    lf_tensor *loss = lf_mae_loss(g, f.m, x, order, &o);
    CHECK_MSG(loss != NULL, "%s", lf_last_error());
    if (loss) {
        CHECK_OK(lf_backward(g, loss));
        cmp("loss", loss->data, nnfx_get(fx, "loss"), 1, &worst);
        lf_tensor *pred = lf_contiguous(g, o.pred);
        cmp("pred", pred->data, nnfx_get(fx, "pred"), lf_numel(pred), &worst);
        cmp("mask", o.mask->data, nnfx_get(fx, "mask"), lf_numel(o.mask), &worst);
        int n_grad = 0;
        char key[160];
        for (int i = 0; i < lf_params_count(f.P); i++) {
            lf_tensor *t = lf_params_get(f.P, i);
            if (t->flags & LF_TENSOR_BUFFER) continue;
            snprintf(key, sizeof key, "grad/%s", t->name);
            cmp(t->name, t->grad, nnfx_get(fx, key), lf_numel(t), &worst);
            n_grad++;
        }
        printf("    %s: %d gradients, worst max|d|/max(1,|ref|) %.3g\n", file, n_grad, worst);
    }
    lf_graph_free(g);
out2:
    mae_close(&f);
out:
    nnfx_free(fx);
}

TEST(mae_parity_norm_pix) { parity(FIXDIR "mae_normpix.bin", 1); }
TEST(mae_parity_raw_pixels) { parity(FIXDIR "mae_raw.bin", 0); }

/* the encoder sees only the visible patches: changing a hidden patch's pixels leaves every
 * prediction unchanged (bit for bit), changing a visible one moves them */
TEST(mae_hidden_patches_do_not_reach_the_prediction)
{
    lf_mae_config c = small_config(1);
    mae_fx f;
    if (!mae_open(&f, &c)) return;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    int64_t order[2 * 16];
    lf_rng r = lf_rng_make(3, 1);
    lf_mae_random_order(&r, 2, 16, order);
    lf_real *ref = malloc(2 * 16 * 48 * sizeof *ref);
    for (int trial = 0; trial < 3; trial++) {
        lf_graph_reset(g);
        lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){2, 3, 16, 16});
        lf_rng rx = lf_rng_make(5, 0);
        lf_rng_fill_normal(&rx, x->data, lf_numel(x), 0, 1);
        /* trial 1: the pixels of image 1's first hidden patch; trial 2: a visible one's */
        int64_t patch = order[16 + (trial == 1 ? 4 : 0)], pi = patch / 4, pj = patch % 4;
        if (trial > 0)
            for (int ch = 0; ch < 3; ch++)
                for (int y = 0; y < 4; y++)
                    for (int xx = 0; xx < 4; xx++)
                        x->data[((1 * 3 + ch) * 16 + pi * 4 + y) * 16 + pj * 4 + xx] += 0.5f;
        lf_mae_output o;
        lf_tensor *loss = lf_mae_loss(g, f.m, x, order, &o);
        CHECK_MSG(loss != NULL, "%s", lf_last_error());
        if (!loss) break;
        lf_tensor *pred = lf_contiguous(g, o.pred);
        CHECK(o.mask->data[16 + order[16 + 4]] == 1 && o.mask->data[16 + order[16]] == 0);
        if (trial == 0) {
            memcpy(ref, pred->data, 2 * 16 * 48 * sizeof *ref);
            continue;
        }
        int same = memcmp(ref, pred->data, 2 * 16 * 48 * sizeof *ref) == 0;
        CHECK_MSG(trial == 1 ? same : !same, "trial %d: predictions %s", trial,
                  same ? "unchanged by a visible patch" : "changed by a hidden patch");
        /* image 0 never changes: its rows stay identical */
        CHECK(memcmp(ref, pred->data, 16 * 48 * sizeof *ref) == 0);
    }
    free(ref);
    lf_graph_free(g);
    mae_close(&f);
}

/* random masking from the graph's stream: K visible per image, reproducible per seed, and
 * every patch hidden about mask_ratio of the time */
TEST(mae_random_masking)
{
    lf_mae_config c = small_config(1);
    mae_fx f;
    if (!mae_open(&f, &c)) return;
    CHECK(lf_mae_visible(&c) == 4);
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    double hidden[16] = {0};
    lf_real first[8 * 16];
    int draws = 0, differs = 0;
    for (int rep = 0; rep < 50; rep++) {
        lf_graph_reset(g);
        lf_graph_set_rng(g, lf_rng_make(11, (uint64_t)(rep % 25)));
        lf_tensor *x = lf_tensor_zeros(g, 4, (int64_t[]){8, 3, 16, 16});
        lf_mae_output o;
        CHECK(lf_mae_loss(g, f.m, x, NULL, &o) != NULL);
        if (!o.mask) break;
        for (int n = 0; n < 8; n++) {
            double s = 0;
            for (int p = 0; p < 16; p++) {
                s += o.mask->data[n * 16 + p];
                hidden[p] += o.mask->data[n * 16 + p];
            }
            CHECK_MSG(s == 12, "image %d: %g hidden patches, expected 12", n, s);
            if (n > 0) differs += memcmp(o.mask->data, o.mask->data + n * 16, 16 * sizeof(lf_real)) != 0;
        }
        if (rep == 0) memcpy(first, o.mask->data, sizeof first);
        if (rep == 25) CHECK(memcmp(first, o.mask->data, sizeof first) == 0); /* same stream */
        draws += 8;
    }
    CHECK(differs > 300); /* images of one batch get their own masks */
    for (int p = 0; p < 16; p++) /* 400 draws, p = 0.75: sd 0.022; 5 sd */
        CHECK_MSG(fabs(hidden[p] / draws - 0.75) < 0.11, "patch %d hidden %.3f of the time", p,
                  hidden[p] / draws);
    lf_graph_free(g);
    mae_close(&f);
}

TEST(mae_errors)
{
    lf_mae_config c = small_config(1);
    lf_params *P;
    lf_mae *m = NULL;
    CHECK_OK(lf_params_init(&P));
    c.mask_ratio = 1.0;
    CHECK(lf_mae_init(P, &c, NULL, &m) == LF_ERR_ARG && strstr(lf_last_error(), "mask_ratio"));
    c = small_config(1);
    c.decoder_width = 18;
    CHECK(lf_mae_init(P, &c, NULL, &m) == LF_ERR_ARG && strstr(lf_last_error(), "decoder_width"));
    c = small_config(1);
    c.encoder = lf_encoder_config_default("resnet18");
    CHECK(lf_mae_init(P, &c, NULL, &m) == LF_ERR_ARG && strstr(lf_last_error(), "vit"));
    c = small_config(1);
    c.encoder.width = 30, c.encoder.heads = 3;
    CHECK(lf_mae_init(P, &c, NULL, &m) == LF_ERR_ARG && strstr(lf_last_error(), "sincos"));
    lf_params_free(P);

    c = small_config(0);
    mae_fx f;
    if (!mae_open(&f, &c)) return;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 4, (int64_t[]){2, 3, 16, 16});
    int64_t order[32];
    for (int i = 0; i < 32; i++) order[i] = i % 16;
    order[16 + 9] = 3; /* image 1: 3 twice */
    CHECK(lf_mae_loss(g, f.m, x, order, NULL) == NULL);
    CHECK_MSG(strstr(lf_last_error(), "image 1") && strstr(lf_last_error(), "position 9"), "%s",
              lf_last_error());
    lf_tensor *y = lf_tensor_zeros(g, 4, (int64_t[]){2, 3, 16, 12});
    CHECK(lf_mae_loss(g, f.m, y, NULL, NULL) == NULL && strstr(lf_last_error(), "vit: input"));
    lf_graph_free(g);
    mae_close(&f);
}

/* steady-state steps allocate nothing; recomputed blocks give the same gradients */
TEST(mae_step_no_malloc_and_recompute)
{
    lf_mae_config c = small_config(1);
    mae_fx f;
    if (!mae_open(&f, &c)) return;
    int64_t ng = 0;
    lf_params_grad_block(f.P, &ng);
    lf_real *grads[2] = {malloc((size_t)ng * sizeof(lf_real)), malloc((size_t)ng * sizeof(lf_real))};
    for (int rc = 0; rc < 2; rc++) {
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 1024));
        lf_graph_set_training(g, 1);
        lf_graph_set_recompute(g, rc);
        uint64_t before = 0;
        for (int step = 0; step < 5; step++) {
            if (step == 3) before = lf_alloc_count();
            lf_graph_reset(g);
            lf_graph_set_rng(g, lf_rng_make(1, (uint64_t)step));
            lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){4, 3, 16, 16});
            lf_rng r = lf_rng_make(9, (uint64_t)step);
            if (x) lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
            lf_params_zero_grad(f.P);
            lf_tensor *loss = lf_mae_loss(g, f.m, x, NULL, NULL);
            CHECK_MSG(loss != NULL, "%s", lf_last_error());
            if (!loss) break;
            CHECK_OK(lf_backward(g, loss));
        }
        CHECK_MSG(lf_alloc_count() == before, "recompute %d: %llu allocations in steady steps",
                  rc, (unsigned long long)(lf_alloc_count() - before));
        memcpy(grads[rc], lf_params_grad_block(f.P, NULL), (size_t)ng * sizeof(lf_real));
        lf_graph_free(g);
    }
    double d = 0, mx = 0;
    for (int64_t i = 0; i < ng; i++) {
        d = fmax(d, fabs((double)grads[0][i] - grads[1][i]));
        mx = fmax(mx, fabs((double)grads[0][i]));
    }
    CHECK_MSG(mx > 0 && d <= 1e-6 * fmax(1, mx), "recomputed gradients differ by %.3g (max %.3g)", d, mx);
    free(grads[0]);
    free(grads[1]);
    mae_close(&f);
}

/* found by review: a failing encoder declaration returned through freed memory, and a view
 * as input gave targets from the wrong pixels */
TEST(mae_init_failure_and_views)
{
    lf_mae_config c = small_config(1);
    lf_params *P;
    lf_mae *m = NULL;
    CHECK_OK(lf_params_init(&P));
    CHECK_OK(lf_params_finalize(P)); /* declaring after finalize fails */
    CHECK(lf_mae_init(P, &c, NULL, &m) != LF_OK && m == NULL);
    lf_params_free(P);

    mae_fx f;
    if (!mae_open(&f, &c)) return;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    int64_t order[2 * 16];
    lf_rng r = lf_rng_make(2, 2);
    lf_mae_random_order(&r, 2, 16, order);
    lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){2, 3, 16, 16});
    lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
    lf_tensor *view = lf_transpose(g, x, 2, 3), *copy = lf_contiguous(g, view);
    lf_tensor *l1 = lf_mae_loss(g, f.m, view, order, NULL), *l2 = lf_mae_loss(g, f.m, copy, order, NULL);
    CHECK(l1 && l2 && l1->data[0] == l2->data[0]);
    lf_graph_free(g);
    mae_close(&f);
}
