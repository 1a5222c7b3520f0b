/* Encoders against PyTorch (fixtures from tests/parity/gen_nn.py, references computed in
 * float64): ResNet-18 CIFAR stem (train-mode forward, every parameter gradient, running
 * stats, one SGD step), ResNet-50 imagenet stem with 5 channels (eval and train forward),
 * a tiny ViT and an MLP head (forward + every gradient). Criterion for every element:
 * |c - torch| <= NNFX_TOL * max(1, |torch|). Set LF_NN_VERBOSE=1 to print every tensor's max
 * difference; by default the worst tensor of each group is printed. */
#include "nn_fixture.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define FIXDIR "tests/parity/fixtures/nn/"

static lf_tensor *input_of(lf_graph *g, const nnfx_tensor *x)
{
    lf_tensor *t = lf_tensor_new(g, x->ndim, x->shape);
    if (t)
        for (int64_t i = 0; i < x->numel; i++) t->data[i] = (lf_real)x->data[i];
    return t;
}

static void cmp_prefixed(nnfx_worst *w, const nnfx *f, const char *pre, lf_tensor *t,
                         const lf_real *vals)
{
    char key[160];
    snprintf(key, sizeof key, "%s%s", pre, t->name);
    nnfx_cmp(w, t->name, vals, nnfx_get(f, key), lf_numel(t));
}

/* Train-mode forward, loss = sum(out * lw), backward; compares output, loss, gradients and
 * buffers; with sgd, one SGD step (lr .1, momentum .9, wd 5e-4 unless NO_DECAY). */
static void train_parity(const char *file, lf_params *P, lf_tensor *(*fwd)(lf_graph *, void *,
                         lf_tensor *), void *model, int sgd)
{
    nnfx *f = nnfx_load(file);
    CHECK(f != NULL);
    if (!f) return;
    if (!nnfx_load_params(P, f)) {
        nnfx_free(f);
        return;
    }
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_graph_set_training(g, 1);
    lf_params_zero_grad(P);
    lf_tensor *x = input_of(g, nnfx_get(f, "x"));
    lf_tensor *out = fwd(g, model, x);
    lf_tensor *lw = input_of(g, nnfx_get(f, "lw"));
    lf_tensor *loss = lf_sum_all(g, lf_mul(g, out, lw));
    CHECK_MSG(loss != NULL, "forward failed: %s", lf_last_error());
    if (!loss) goto done;
    CHECK_OK(lf_backward(g, loss));
    nnfx_worst wo = {"out", 0, "", 0, 0, 0}, wg = {"grad", 0, "", 0, 0, 0},
               wb = {"buffer", 0, "", 0, 0, 0}, ws = {"sgd", 0, "", 0, 0, 0};
    nnfx_cmp(&wo, "out", out->data, nnfx_get(f, "out"), lf_numel(out));
    nnfx_cmp(&wo, "loss", loss->data, nnfx_get(f, "loss"), 1);
    for (int i = 0; i < lf_params_count(P); i++) {
        lf_tensor *t = lf_params_get(P, i);
        if (t->flags & LF_TENSOR_BUFFER) cmp_prefixed(&wb, f, "after/", t, t->data);
        else cmp_prefixed(&wg, f, "grad/", t, t->grad);
    }
    if (sgd) {
        /* the first step of SGD with momentum: buf = g + wd w, w -= lr buf */
        for (int i = 0; i < lf_params_count(P); i++) {
            lf_tensor *t = lf_params_get(P, i);
            if (t->flags & LF_TENSOR_BUFFER) continue;
            double wd = (t->flags & LF_TENSOR_NO_DECAY) ? 0.0 : 5e-4;
            for (int64_t j = 0; j < lf_numel(t); j++)
                t->data[j] -= (lf_real)(0.1 * ((double)t->grad[j] + wd * (double)t->data[j]));
            cmp_prefixed(&ws, f, "sgd/", t, t->data);
        }
    }
    nnfx_report(&wo);
    nnfx_report(&wg);
    nnfx_report(&wb);
    nnfx_report(&ws);
done:
    lf_graph_free(g);
    nnfx_free(f);
}

static lf_tensor *enc_fwd(lf_graph *g, void *m, lf_tensor *x)
{
    return lf_encoder_forward(g, (lf_encoder *)m, x);
}
static lf_tensor *mlp_fwd(lf_graph *g, void *m, lf_tensor *x)
{
    return lf_mlp_forward(g, (lf_mlp *)m, x);
}

static void encoder_train_parity(const lf_encoder_config *c, const char *file, int sgd)
{
    lf_params *P;
    lf_encoder *e = NULL;
    CHECK_OK(lf_params_init(&P));
    CHECK_OK(lf_encoder_init(P, c, NULL, &e));
    if (e) {
        CHECK_OK(lf_params_finalize(P));
        train_parity(file, P, enc_fwd, e, sgd);
    }
    lf_encoder_free(e);
    lf_params_free(P);
}

TEST(nn_parity_resnet18_cifar_train)
{
    lf_encoder_config c = lf_encoder_config_default("resnet18");
    snprintf(c.stem, sizeof c.stem, "cifar");
    c.width = 4;
    encoder_train_parity(&c, FIXDIR "resnet18_cifar_w4.bin", 1);
}

TEST(nn_parity_vit_tiny_train)
{
    lf_encoder_config c = lf_encoder_config_default("vit");
    c.image_size = 16;
    c.patch = 4;
    c.depth = 2;
    c.width = 32;
    c.heads = 4;
    c.num_classes = 10;
    encoder_train_parity(&c, FIXDIR "vit_tiny.bin", 0);
}

TEST(nn_parity_mlp_head_train)
{
    lf_params *P;
    lf_mlp *m = NULL;
    CHECK_OK(lf_params_init(&P));
    lf_mlp_config c = lf_mlp_config_make(2, (int[]){16, 32, 8}, 1);
    CHECK_OK(lf_mlp_init(P, &c, NULL, &m));
    if (m) {
        CHECK_OK(lf_params_finalize(P));
        train_parity(FIXDIR "mlp.bin", P, mlp_fwd, m, 0);
    }
    lf_mlp_free(m);
    lf_params_free(P);
}

TEST(nn_parity_resnet50_imagenet_c5_forward)
{
    lf_encoder_config c = lf_encoder_config_default("resnet50");
    c.width = 4;
    c.in_channels = 5;
    lf_params *P;
    lf_encoder *e = NULL;
    CHECK_OK(lf_params_init(&P));
    CHECK_OK(lf_encoder_init(P, &c, NULL, &e));
    nnfx *f = nnfx_load(FIXDIR "resnet50_imagenet_w4_c5.bin");
    CHECK(f != NULL);
    if (e && f) {
        CHECK_OK(lf_params_finalize(P));
        CHECK(lf_encoder_feature_dim(e) == 128);
        if (nnfx_load_params(P, f)) {
            lf_graph *g;
            CHECK_OK(lf_graph_init(&g, 0));
            lf_graph_set_grad_enabled(g, 0);
            nnfx_worst wo = {"out", 0, "", 0, 0, 0}, wb = {"buffer", 0, "", 0, 0, 0};
            lf_graph_set_training(g, 0);
            lf_tensor *y = lf_encoder_forward(g, e, input_of(g, nnfx_get(f, "x")));
            CHECK_MSG(y != NULL, "eval forward: %s", lf_last_error());
            if (y) nnfx_cmp(&wo, "out_eval", y->data, nnfx_get(f, "out_eval"), lf_numel(y));
            lf_graph_reset(g);
            lf_graph_set_training(g, 1);
            y = lf_encoder_forward(g, e, input_of(g, nnfx_get(f, "x")));
            CHECK_MSG(y != NULL, "train forward: %s", lf_last_error());
            /* 3e-4 here: train-mode BN normalises layer4 over only N*2*2 = 8 values per
             * channel, after 16 BN layers, which amplifies float32 rounding; PyTorch's own
             * float32 forward misses the float64 reference by about 1.4e-4 on this fixture
             * (printed below), labelfree by 1.35e-4 to 2.1e-4 depending on the summation
             * order (BLAS or the AVX-512 kernel, 1 or 2 threads). Eval mode and the other
             * models hold 1e-4. */
            nnfx_worst wt = {"out", 3e-4, "", 0, 0, 0};
            if (y) nnfx_cmp(&wt, "out_train", y->data, nnfx_get(f, "out_train"), lf_numel(y));
            nnfx_report(&wt);
            const nnfx_tensor *e1 = nnfx_get(f, "torch32_err/out_eval"),
                              *e2 = nnfx_get(f, "torch32_err/out_train");
            if (e1 && e2)
                printf("    (torch float32 vs float64 reference: eval max|d| %.3g, train %.3g)\n",
                       (double)e1->data[0], (double)e2->data[0]);
            for (int i = 0; i < lf_params_count(P); i++) {
                lf_tensor *t = lf_params_get(P, i);
                if (t->flags & LF_TENSOR_BUFFER) cmp_prefixed(&wb, f, "after/", t, t->data);
            }
            nnfx_report(&wo);
            nnfx_report(&wb);
            lf_graph_free(g);
        }
    }
    nnfx_free(f);
    lf_encoder_free(e);
    lf_params_free(P);
}

/* After a few steps the graph's arena has its high-water size: a training step of an
 * encoder (forward, backward) then allocates nothing. */
TEST(nn_encoder_step_no_malloc_after_warmup)
{
    const char *arch[2] = {"resnet18", "vit"};
    for (int a = 0; a < 2; a++) {
        lf_encoder_config c = lf_encoder_config_default(arch[a]);
        c.width = a == 0 ? 4 : 16;
        snprintf(c.stem, sizeof c.stem, "cifar");
        c.image_size = 16, c.patch = 4, c.depth = 2, c.heads = 2, c.num_classes = 3;
        lf_params *P;
        lf_encoder *e = NULL;
        CHECK_OK(lf_params_init(&P));
        CHECK_OK(lf_encoder_init(P, &c, NULL, &e));
        if (!e) {
            lf_params_free(P);
            continue;
        }
        CHECK_OK(lf_params_finalize(P));
        CHECK_OK(lf_encoder_reset_parameters(e, 3, 0));
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 1024));
        lf_graph_set_training(g, 1);
        uint64_t before = 0;
        for (int step = 0; step < 5; step++) {
            if (step == 3) before = lf_alloc_count();
            lf_graph_reset(g);
            lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){2, 3, 16, 16});
            lf_rng r = lf_rng_make(9, (uint64_t)step);
            if (x) lf_rng_fill_normal(&r, x->data, lf_numel(x), 0, 1);
            lf_tensor *loss = lf_mean_all(g, lf_encoder_forward(g, e, x));
            CHECK_MSG(loss != NULL, "%s: %s", arch[a], lf_last_error());
            if (!loss) break;
            CHECK_OK(lf_backward(g, loss));
        }
        CHECK_MSG(lf_alloc_count() == before, "%s: %llu allocations in steady steps", arch[a],
                  (unsigned long long)(lf_alloc_count() - before));
        lf_graph_free(g);
        lf_encoder_free(e);
        lf_params_free(P);
    }
}
