/* PyTorch parity for the elementwise, activation, reduction, softmax and loss ops: outputs
 * and input gradients (for a fixed upstream gradient) against fixtures written by
 * tests/parity/gen_ops_a.py (torch 1.13, float64 references). Float32 build only.
 * Tolerance: |got - want| <= 1e-4 * max(1, |want|). Prints the max difference per case. */
#include "fixture.h"
#include "test.h"

#include <string.h>

#ifndef LF_DOUBLE

#define FIX_DIR "tests/parity/fixtures/ops_a/"
#define TOL 1e-4

static lf_tensor *run_op(lf_graph *g, const char *op, lf_tensor **x, const float *a,
                         const int64_t *target)
{
    if (!strcmp(op, "add")) return lf_add(g, x[0], x[1]);
    if (!strcmp(op, "sub")) return lf_sub(g, x[0], x[1]);
    if (!strcmp(op, "mul")) return lf_mul(g, x[0], x[1]);
    if (!strcmp(op, "div")) return lf_div(g, x[0], x[1]);
    if (!strcmp(op, "scale")) return lf_scale(g, x[0], a[0]);
    if (!strcmp(op, "add_scalar")) return lf_add_scalar(g, x[0], a[0]);
    if (!strcmp(op, "exp")) return lf_exp(g, x[0]);
    if (!strcmp(op, "log")) return lf_log(g, x[0]);
    if (!strcmp(op, "sqrt")) return lf_sqrt(g, x[0]);
    if (!strcmp(op, "pow")) return lf_pow(g, x[0], a[0]);
    if (!strcmp(op, "clamp")) return lf_clamp(g, x[0], a[0], a[1]);
    if (!strcmp(op, "relu")) return lf_relu(g, x[0]);
    if (!strcmp(op, "gelu")) return lf_gelu(g, x[0]);
    if (!strcmp(op, "silu")) return lf_silu(g, x[0]);
    if (!strcmp(op, "sigmoid")) return lf_sigmoid(g, x[0]);
    if (!strcmp(op, "tanh")) return lf_tanh(g, x[0]);
    if (!strcmp(op, "softplus")) return lf_softplus(g, x[0]);
    if (!strcmp(op, "sum")) return lf_sum(g, x[0], (uint32_t)a[0], (int)a[1]);
    if (!strcmp(op, "mean")) return lf_mean(g, x[0], (uint32_t)a[0], (int)a[1]);
    if (!strcmp(op, "max")) return lf_max(g, x[0], (int)a[0], (int)a[1]);
    if (!strcmp(op, "sum_all")) return lf_sum_all(g, x[0]);
    if (!strcmp(op, "mean_all")) return lf_mean_all(g, x[0]);
    if (!strcmp(op, "softmax")) return lf_softmax(g, x[0], (int)a[0]);
    if (!strcmp(op, "log_softmax")) return lf_log_softmax(g, x[0], (int)a[0]);
    if (!strcmp(op, "logsumexp")) return lf_logsumexp(g, x[0], (int)a[0], (int)a[1]);
    if (!strcmp(op, "l2_normalize")) return lf_l2_normalize(g, x[0], (int)a[0], a[1]);
    if (!strcmp(op, "cross_entropy"))
        return lf_cross_entropy(g, x[0], target, (int64_t)a[0], a[1]);
    if (!strcmp(op, "mse_loss")) return lf_mse_loss(g, x[0], x[1]);
    if (!strcmp(op, "bce_with_logits")) return lf_bce_with_logits(g, x[0], x[1]);
    lf_error(LF_ERR_ARG, "parity: unknown op '%s'", op);
    return NULL;
}

/* returns the max relative difference of output and gradients for one case */
static double run_case(const char *name, const char *op)
{
    char path[256];
    snprintf(path, sizeof path, FIX_DIR "%s.bin", name);
    lf_fixture fx;
    if (lf_fixture_load(&fx, path) != 0) {
        lf_test_fail(__FILE__, __LINE__, "%s", fx.error);
        return INFINITY;
    }
    lf_graph *g;
    if (lf_graph_init(&g, 0) != LF_OK) return INFINITY;
    lf_tensor *x[4] = {0};
    int nx = 0;
    for (; nx < 4; nx++) {
        char nm[16];
        snprintf(nm, sizeof nm, "x%d", nx);
        x[nx] = lf_fixture_tensor(g, &fx, nm);
        if (!x[nx]) break;
        x[nx]->flags |= LF_TENSOR_REQUIRES_GRAD;
    }
    const lf_fixture_array *args = lf_fixture_get(&fx, "args"), *tg = lf_fixture_get(&fx, "target");
    const lf_fixture_array *want = lf_fixture_get(&fx, "y"), *gy = lf_fixture_get(&fx, "gy");
    double worst = INFINITY;
    if (!args || !want || !gy || nx == 0) {
        lf_test_fail(__FILE__, __LINE__, "%s: missing arrays", path);
        goto done;
    }
    lf_tensor *y = run_op(g, op, x, args->f32, tg ? tg->i64 : NULL);
    if (!y || lf_numel(y) != want->numel || y->ndim != want->ndim) {
        lf_test_fail(__FILE__, __LINE__, "%s: %s", name, y ? "output shape differs" : lf_last_error());
        goto done;
    }
    for (int i = 0; i < y->ndim; i++) CHECK(y->shape[i] == want->shape[i]);
    double dy = lf_fixture_max_rel(y->data, want->f32, want->numel), dg = 0;
    lf_real *seed = lf_malloc((size_t)gy->numel * sizeof(lf_real));
    for (int64_t i = 0; i < gy->numel; i++) seed[i] = (lf_real)gy->f32[i];
    lf_status s = lf_backward_with(g, y, seed);
    lf_free(seed);
    if (s != LF_OK) {
        lf_test_fail(__FILE__, __LINE__, "%s: backward: %s", name, lf_last_error());
        goto done;
    }
    for (int i = 0; i < nx; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "gx%d", i);
        const lf_fixture_array *gw = lf_fixture_get(&fx, nm);
        if (!gw || !x[i]->grad) {
            lf_test_fail(__FILE__, __LINE__, "%s: no gradient %s", name, nm);
            continue;
        }
        double d = lf_fixture_max_rel(x[i]->grad, gw->f32, gw->numel);
        if (d > dg) dg = d;
    }
    printf("    %-22s %-16s output %.2e  grad %.2e\n", name, op, dy, dg);
    CHECK_MSG(dy <= TOL && dg <= TOL, "%s: max rel diff output %.3g grad %.3g > %g", name, dy,
              dg, TOL);
    worst = dy > dg ? dy : dg;
done:
    lf_fixture_free(&fx);
    lf_graph_free(g);
    return worst;
}

TEST(parity_ops_a_torch)
{
    FILE *f = fopen(FIX_DIR "cases.txt", "r");
    if (!f) {
        lf_test_fail(__FILE__, __LINE__, "cannot open " FIX_DIR "cases.txt (run from the repo root)");
        return;
    }
    char name[128], op[64];
    int n = 0;
    double worst = 0;
    while (fscanf(f, "%127s %63s", name, op) == 2) {
        double d = run_case(name, op);
        if (d > worst) worst = d;
        n++;
    }
    fclose(f);
    printf("    %d cases, max relative difference %.2e\n", n, worst);
    CHECK(n >= 40);
}

#endif
