#include "gradcheck.h"

#include "test.h"

#include <math.h>
#include <string.h>

static double weighted_sum(const lf_tensor *y, const lf_real *w)
{
    double s = 0;
    int64_t n = lf_numel(y);
    for (int64_t i = 0; i < n; i++) s += (double)y->data[i] * (double)w[i];
    return s;
}

double gradcheck(const char *name, gc_fn f, int n_in, const gc_input *inputs, void *ctx,
                 double atol, double rtol, int training)
{
    if (!GRADCHECK_ENABLED) {
        lf_test_skip("gradient checks run in the float64 build");
        return 0;
    }
    lf_graph *g;
    if (lf_graph_init(&g, 1 << 20) != LF_OK) return -1;
    lf_graph_set_training(g, training);
    lf_tensor in[8];
    lf_tensor *ptr[8];
    lf_rng r = lf_rng_make(1234, 99);
    for (int i = 0; i < n_in; i++) {
        memset(&in[i], 0, sizeof in[i]);
        lf_tensor_set_shape(&in[i], inputs[i].ndim, inputs[i].shape);
        int64_t n = lf_numel(&in[i]);
        in[i].data = lf_malloc((size_t)(n ? n : 1) * sizeof(lf_real));
        in[i].grad = lf_calloc((size_t)(n ? n : 1), sizeof(lf_real));
        double lo = inputs[i].lo, hi = inputs[i].hi;
        if (lo == 0 && hi == 0) lo = -1, hi = 1;
        lf_rng_fill_uniform(&r, in[i].data, n, lo, hi);
        if (!inputs[i].no_grad) in[i].flags = LF_TENSOR_REQUIRES_GRAD;
        ptr[i] = &in[i];
    }
    lf_rng graph_rng = lf_rng_make(77, 3);
    lf_graph_set_rng(g, graph_rng);
    lf_tensor *y = f(g, ptr, ctx);
    double maxdiff = -1;
    if (!y) {
        lf_test_fail(__FILE__, __LINE__, "%s: forward failed: %s", name, lf_last_error());
        goto done;
    }
    int64_t ny = lf_numel(y);
    lf_real *w = lf_malloc((size_t)ny * sizeof(lf_real));
    lf_rng_fill_uniform(&r, w, ny, -1, 1);
    if (lf_backward_with(g, y, w) != LF_OK) {
        lf_test_fail(__FILE__, __LINE__, "%s: backward failed: %s", name, lf_last_error());
        lf_free(w);
        goto done;
    }
    maxdiff = 0;
    int reported = 0;
    for (int i = 0; i < n_in; i++) {
        if (inputs[i].no_grad) continue;
        int64_t n = lf_numel(&in[i]);
        for (int64_t j = 0; j < n; j++) {
            lf_real orig = in[i].data[j];
            double h = 1e-6 * fmax(1.0, fabs((double)orig));
            double fp, fm;
            lf_graph_set_grad_enabled(g, 0);
            in[i].data[j] = (lf_real)(orig + h);
            lf_graph_reset(g);
            lf_graph_set_rng(g, graph_rng);
            lf_tensor *yp = f(g, ptr, ctx);
            fp = yp ? weighted_sum(yp, w) : NAN;
            in[i].data[j] = (lf_real)(orig - h);
            lf_graph_reset(g);
            lf_graph_set_rng(g, graph_rng);
            lf_tensor *ym = f(g, ptr, ctx);
            fm = ym ? weighted_sum(ym, w) : NAN;
            in[i].data[j] = orig;
            lf_graph_set_grad_enabled(g, 1);
            double num = (fp - fm) / (2 * h), ana = (double)in[i].grad[j];
            double d = fabs(num - ana);
            if (d > maxdiff || isnan(d)) maxdiff = isnan(d) ? INFINITY : d;
            if (!(d <= atol + rtol * fabs(num)) && reported < 5) {
                lf_test_fail(__FILE__, __LINE__, "%s: input %d element %lld: analytic %.10g numeric %.10g",
                             name, i, (long long)j, ana, num);
                reported++;
            }
        }
    }
    lf_free(w);
done:
    for (int i = 0; i < n_in; i++) {
        lf_free(in[i].data);
        lf_free(in[i].grad);
    }
    lf_graph_free(g);
    return maxdiff;
}
