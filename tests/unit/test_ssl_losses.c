/* Self-supervised losses: gradients by finite differences and parity with PyTorch. */
#include "fixture_npy.h"
#include "gradcheck.h"
#include "test.h"

#include <string.h>

static lf_tensor *f_ntxent(lf_graph *g, lf_tensor **in, void *ctx)
{
    return lf_nt_xent(g, in[0], *(double *)ctx, NULL);
}

TEST(grad_nt_xent)
{
    double t = 0.3;
    gc_input in[1] = {{2, {6, 5}, 0, 0, 0}};
    GRADCHECK("nt_xent", f_ntxent, 1, in, &t);
}

TEST(nt_xent_rejects_bad_input)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *z = lf_tensor_zeros(g, 2, (int64_t[]){5, 3});
    CHECK(lf_nt_xent(g, z, 0.5, NULL) == NULL);
    CHECK(strstr(lf_last_error(), "(5, 3)") != NULL);
    z = lf_tensor_zeros(g, 2, (int64_t[]){4, 3});
    CHECK(lf_nt_xent(g, z, 0, NULL) == NULL);
    lf_graph_free(g);
}

TEST(parity_nt_xent_pytorch)
{
#ifdef LF_DOUBLE
    lf_test_skip("PyTorch parity runs in the float32 build");
#else
    const char *dir = "tests/parity/fixtures/ssl";
    const char *tags[2] = {"ntxent_a", "ntxent_b"};
    for (int k = 0; k < 2; k++) {
        char nm[64];
        npy_array z, loss, grad, temp;
        snprintf(nm, sizeof nm, "%s_z", tags[k]);
        if (npy_load(dir, nm, &z)) { CHECK(0); return; }
        snprintf(nm, sizeof nm, "%s_loss", tags[k]);
        npy_load(dir, nm, &loss);
        snprintf(nm, sizeof nm, "%s_grad", tags[k]);
        npy_load(dir, nm, &grad);
        snprintf(nm, sizeof nm, "%s_temperature", tags[k]);
        npy_load(dir, nm, &temp);
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_tensor *zt = lf_tensor_new(g, 2, z.shape);
        for (int64_t i = 0; i < z.n; i++) zt->data[i] = (lf_real)z.data[i];
        zt->flags |= LF_TENSOR_REQUIRES_GRAD;
        double top1;
        lf_tensor *l = lf_nt_xent(g, zt, temp.data[0], &top1);
        CHECK(l != NULL);
        CHECK_OK(lf_backward(g, l));
        double dl = npy_max_rel_diff(l->data, &loss), dg = npy_max_rel_diff(zt->grad, &grad);
        printf("    %s: loss %.6f (torch %.6f) max rel diff loss %.2e grad %.2e\n", tags[k],
               (double)l->data[0], loss.data[0], dl, dg);
        CHECK(dl <= 1e-4);
        CHECK(dg <= 1e-4);
        lf_graph_free(g);
        npy_free(&z); npy_free(&loss); npy_free(&grad); npy_free(&temp);
    }
#endif
}
