/* PyTorch parity of batch norm, layer norm, embedding and attention (float32 build):
 * fixtures from tests/parity/gen_ops_c.py hold inputs, a fixed upstream gradient dy, and
 * torch's outputs, input/parameter gradients and updated running statistics.
 * Tolerance: |a - b| <= 1e-4 * max(1, |b|). */
#include "fixture_opsc.h"
#include "test.h"

#ifndef LF_DOUBLE

#define PARITY_TOL 1e-4

/* A graph tensor holding the fixture array (NULL when the fixture lacks it). */
static lf_tensor *fx_tensor(lf_graph *g, const fxc_file *f, const char *name, int requires_grad)
{
    const fxc_array *a = fxc_find(f, name);
    if (!a) return NULL;
    lf_tensor *t = lf_tensor_from(g, a->ndim, a->shape, a->f);
    if (t && requires_grad) t->flags |= LF_TENSOR_REQUIRES_GRAD;
    return t;
}

static double scalar(const fxc_file *f, const char *name)
{
    const fxc_array *a = fxc_get(f, name);
    if (!a) return NAN;
    return a->is_int ? (double)a->i[0] : (double)a->f[0];
}

/* Checks y against the fixture's "y", then back-propagates its "dy". 0 when y is NULL. */
static int forward_backward(const fxc_file *f, lf_graph *g, lf_tensor *y, const char *name)
{
    CHECK_MSG(y != NULL, "%s: %s", name, lf_last_error());
    if (!y) return 0;
    fxc_compare(f, "y", y->data, lf_numel(y), "output", PARITY_TOL);
    const fxc_array *dy = fxc_get(f, "dy");
    if (dy) CHECK_OK(lf_backward_with(g, y, dy->f));
    return 1;
}

static void bn_case(const char *name)
{
    fxc_file *f = fxc_load(name);
    if (!f) return;
    printf("    [%s]\n", name);
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_graph_set_training(g, (int)scalar(f, "training"));
    lf_tensor *x = fx_tensor(g, f, "x", 1), *w = fx_tensor(g, f, "weight", 1),
              *b = fx_tensor(g, f, "bias", 1), *rm = fx_tensor(g, f, "running_mean", 0),
              *rv = fx_tensor(g, f, "running_var", 0);
    lf_tensor *y = lf_batch_norm(g, x, w, b, rm, rv, scalar(f, "momentum"), scalar(f, "eps"));
    if (forward_backward(f, g, y, name)) {
        fxc_compare(f, "grad_x", x->grad, lf_numel(x), "grad x", PARITY_TOL);
        if (w) fxc_compare(f, "grad_weight", w->grad, lf_numel(w), "grad weight", PARITY_TOL);
        if (b) fxc_compare(f, "grad_bias", b->grad, lf_numel(b), "grad bias", PARITY_TOL);
        if (rm) {
            fxc_compare(f, "new_running_mean", rm->data, lf_numel(rm), "running_mean", PARITY_TOL);
            fxc_compare(f, "new_running_var", rv->data, lf_numel(rv), "running_var", PARITY_TOL);
        }
    }
    lf_graph_free(g);
    fxc_free(f);
}

TEST(parity_batch_norm_nc_train) { bn_case("bn_nc_train"); }
TEST(parity_batch_norm_2d_train) { bn_case("bn2d_train"); }
TEST(parity_batch_norm_3d_train_noaffine) { bn_case("bn3d_train_noaffine"); }
TEST(parity_batch_norm_2d_eval) { bn_case("bn2d_eval"); }
TEST(parity_batch_norm_2d_no_running_stats) { bn_case("bn2d_nostats_eval"); }

static void ln_case(const char *name)
{
    fxc_file *f = fxc_load(name);
    if (!f) return;
    printf("    [%s]\n", name);
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = fx_tensor(g, f, "x", 1), *w = fx_tensor(g, f, "weight", 1),
              *b = fx_tensor(g, f, "bias", 1);
    lf_tensor *y = lf_layer_norm(g, x, w, b, scalar(f, "eps"));
    if (forward_backward(f, g, y, name)) {
        fxc_compare(f, "grad_x", x->grad, lf_numel(x), "grad x", PARITY_TOL);
        if (w) fxc_compare(f, "grad_weight", w->grad, lf_numel(w), "grad weight", PARITY_TOL);
        if (b) fxc_compare(f, "grad_bias", b->grad, lf_numel(b), "grad bias", PARITY_TOL);
    }
    lf_graph_free(g);
    fxc_free(f);
}

TEST(parity_layer_norm_affine) { ln_case("ln_affine"); }
TEST(parity_layer_norm_plain) { ln_case("ln_plain"); }

TEST(parity_embedding)
{
    fxc_file *f = fxc_load("embedding");
    if (!f) return;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *table = fx_tensor(g, f, "table", 1);
    const fxc_array *ids = fxc_get(f, "ids"), *dy = fxc_get(f, "dy");
    lf_tensor *y = ids ? lf_embedding(g, table, ids->i, ids->ndim, ids->shape) : NULL;
    CHECK_MSG(y != NULL, "embedding: %s", lf_last_error());
    if (y && dy) {
        fxc_compare(f, "y", y->data, lf_numel(y), "output", PARITY_TOL);
        CHECK_OK(lf_backward_with(g, y, dy->f));
        fxc_compare(f, "grad_table", table->grad, lf_numel(table), "grad table", PARITY_TOL);
    }
    lf_graph_free(g);
    fxc_free(f);
}

static void attn_case(const char *name)
{
    fxc_file *f = fxc_load(name);
    if (!f) return;
    printf("    [%s]\n", name);
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *q = fx_tensor(g, f, "q", 1), *k = fx_tensor(g, f, "k", 1),
              *v = fx_tensor(g, f, "v", 1), *mask = fx_tensor(g, f, "mask", 0);
    lf_tensor *y = lf_attention(g, q, k, v, mask, scalar(f, "scale"));
    if (forward_backward(f, g, y, name)) {
        fxc_compare(f, "grad_q", q->grad, lf_numel(q), "grad q", PARITY_TOL);
        fxc_compare(f, "grad_k", k->grad, lf_numel(k), "grad k", PARITY_TOL);
        fxc_compare(f, "grad_v", v->grad, lf_numel(v), "grad v", PARITY_TOL);
    }
    lf_graph_free(g);
    fxc_free(f);
}

TEST(parity_attention_nomask) { attn_case("attn_nomask"); }
TEST(parity_attention_causal_mask) { attn_case("attn_causal"); }
TEST(parity_attention_batch_mask) { attn_case("attn_batchmask"); }

#else
TEST(parity_ops_c) { lf_test_skip("PyTorch parity runs in the float32 build"); }
#endif
