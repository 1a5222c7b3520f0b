/* CLIP (InfoNCE) and CLOOB losses: finite-difference gradients (f64 build) and parity with a
 * PyTorch reference of CLOOME's formulas (tests/parity/gen_cloome.py, float32 build). */
#include "fixture_npy.h"
#include "gradcheck.h"
#include "test.h"

#include <string.h>

typedef struct loss_ctx {
    int cloob;
    double beta;
    int fixed; /* 1: no log_inv_tau input, inverse temperature 7.5 */
} loss_ctx;

static lf_tensor *f_loss(lf_graph *g, lf_tensor **in, void *p)
{
    loss_ctx *c = p;
    lf_tensor *s = c->fixed ? NULL : in[2];
    return c->cloob ? lf_cloob_loss(g, in[0], in[1], s, 7.5, c->beta, NULL)
                    : lf_clip_loss(g, in[0], in[1], s, 7.5, NULL);
}

TEST(grad_clip_loss)
{
    /* log inverse temperature in [1, 2.5]: t between e and 12 */
    gc_input in[3] = {{2, {6, 5}, 0, 0, 0}, {2, {6, 5}, 0, 0, 0}, {1, {1}, 1, 2.5, 0}};
    loss_ctx c = {0, 0, 0};
    GRADCHECK("clip_loss", f_loss, 3, in, &c);
    c.fixed = 1;
    GRADCHECK("clip_loss fixed temperature", f_loss, 2, in, &c);
}

TEST(grad_cloob_loss)
{
    gc_input in[3] = {{2, {6, 5}, 0, 0, 0}, {2, {6, 5}, 0, 0, 0}, {1, {1}, 1, 2.5, 0}};
    loss_ctx c = {1, 14.3, 0};
    GRADCHECK("cloob_loss beta 14.3", f_loss, 3, in, &c);
    c.beta = 2.0;
    GRADCHECK("cloob_loss beta 2", f_loss, 3, in, &c);
    c.fixed = 1;
    GRADCHECK("cloob_loss fixed temperature", f_loss, 2, in, &c);
    /* only one side needs a gradient */
    in[1].no_grad = 1;
    GRADCHECK("cloob_loss a only", f_loss, 2, in, &c);
}

TEST(contrastive_losses_reject_bad_input)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *a = lf_tensor_zeros(g, 2, (int64_t[]){4, 3});
    lf_tensor *b = lf_tensor_zeros(g, 2, (int64_t[]){5, 3});
    CHECK(lf_clip_loss(g, a, b, NULL, 10, NULL) == NULL);
    CHECK(strstr(lf_last_error(), "(5, 3)") != NULL);
    b = lf_tensor_zeros(g, 2, (int64_t[]){4, 3});
    CHECK(lf_clip_loss(g, a, b, NULL, 0, NULL) == NULL);
    CHECK(lf_cloob_loss(g, a, b, NULL, 10, -1, NULL) == NULL);
    CHECK(strstr(lf_last_error(), "beta") != NULL);
    lf_tensor *one = lf_tensor_zeros(g, 2, (int64_t[]){1, 3});
    CHECK(lf_cloob_loss(g, one, one, NULL, 10, 14.3, NULL) == NULL);
    CHECK(lf_clip_loss(g, NULL, b, NULL, 10, NULL) == NULL);
    lf_graph_free(g);
}

/* perfectly aligned, well separated pairs: top-1 is 1 and the loss lower than for shuffled */
TEST(contrastive_losses_prefer_aligned_pairs)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    int64_t sh[2] = {8, 8};
    lf_tensor *a = lf_tensor_zeros(g, 2, sh), *b = lf_tensor_zeros(g, 2, sh);
    lf_tensor *c = lf_tensor_zeros(g, 2, sh);
    for (int i = 0; i < 8; i++) {
        a->data[i * 8 + i] = 1;
        b->data[i * 8 + i] = 2;
        c->data[i * 8 + (i + 3) % 8] = 1;
    }
    for (int k = 0; k < 2; k++) {
        lf_contrastive_stats st;
        lf_tensor *good = k ? lf_cloob_loss(g, a, b, NULL, 14.3, 14.3, &st)
                            : lf_clip_loss(g, a, b, NULL, 14.3, &st);
        CHECK(good != NULL);
        if (!good) break;
        CHECK_NEAR(st.top1_ab, 1, 0);
        CHECK_NEAR(st.top1_ba, 1, 0);
        CHECK_NEAR(st.inv_tau, 14.3, 1e-12);
        lf_tensor *badl = k ? lf_cloob_loss(g, a, c, NULL, 14.3, 14.3, &st)
                            : lf_clip_loss(g, a, c, NULL, 14.3, &st);
        CHECK_NEAR(st.top1_ab, 0, 0);
        CHECK(badl && badl->data[0] > good->data[0] + 1);
    }
    lf_graph_free(g);
}

TEST(parity_contrastive_pytorch)
{
#ifdef LF_DOUBLE
    lf_test_skip("PyTorch parity runs in the float32 build");
#else
    const char *dir = "tests/parity/fixtures/cloome";
    const char *tags[5] = {"clip_a", "clip_b", "cloob_a", "cloob_b", "cloob_c"};
    for (int k = 0; k < 5; k++) {
        const char *parts[8] = {"a", "b", "log_inv_tau", "beta", "loss", "grad_a", "grad_b", "grad_s"};
        npy_array v[8];
        int bad = 0;
        for (int p = 0; p < 8; p++) {
            char nm[64];
            snprintf(nm, sizeof nm, "%s_%s", tags[k], parts[p]);
            bad |= npy_load(dir, nm, &v[p]);
        }
        CHECK(!bad);
        if (bad) return;
        int cloob = tags[k][1] == 'l' && tags[k][2] == 'o';
        for (int fixed = 0; fixed < 2; fixed++) {
            lf_graph *g;
            CHECK_OK(lf_graph_init(&g, 0));
            lf_tensor *a = lf_tensor_new(g, 2, v[0].shape), *b = lf_tensor_new(g, 2, v[1].shape);
            lf_tensor *s = lf_tensor_new(g, 1, (int64_t[]){1});
            for (int64_t i = 0; i < v[0].n; i++) a->data[i] = (lf_real)v[0].data[i];
            for (int64_t i = 0; i < v[1].n; i++) b->data[i] = (lf_real)v[1].data[i];
            s->data[0] = (lf_real)v[2].data[0];
            a->flags |= LF_TENSOR_REQUIRES_GRAD;
            b->flags |= LF_TENSOR_REQUIRES_GRAD;
            s->flags |= LF_TENSOR_REQUIRES_GRAD;
            double t = exp(v[2].data[0]);
            lf_tensor *ls = fixed ? NULL : s;
            lf_tensor *l = cloob ? lf_cloob_loss(g, a, b, ls, t, v[3].data[0], NULL)
                                 : lf_clip_loss(g, a, b, ls, t, NULL);
            CHECK(l != NULL);
            if (!l) { lf_graph_free(g); break; }
            CHECK_OK(lf_backward(g, l));
            double dl = npy_max_rel_diff(l->data, &v[4]);
            double da = npy_max_rel_diff(a->grad, &v[5]), db = npy_max_rel_diff(b->grad, &v[6]);
            double dsv = fixed ? 0 : npy_max_rel_diff(s->grad, &v[7]);
            printf("    %s%s: loss %.6f (torch %.6f) max rel diff loss %.2e grad a %.2e b %.2e "
                   "log_inv_tau %.2e\n", tags[k], fixed ? " (fixed t)" : "", (double)l->data[0],
                   v[4].data[0], dl, da, db, dsv);
            CHECK(dl <= 1e-4);
            CHECK(da <= 1e-4);
            CHECK(db <= 1e-4);
            CHECK(dsv <= 1e-4);
            lf_graph_free(g);
        }
        for (int p = 0; p < 8; p++) npy_free(&v[p]);
    }
#endif
}
