/* Elementwise ops and activations: finite-difference gradient checks (float64 build) on
 * broadcast and odd shapes, forward values against direct formulas, error messages, and
 * dropout's statistics, reproducibility and thread-count independence. */
#include "core/internal.h"
#include "gradcheck.h"
#include "test.h"

#include <string.h>

typedef struct ew_ctx {
    int op;
    double p0, p1;
} ew_ctx;

enum { E_ADD, E_SUB, E_MUL, E_DIV, E_SCALE, E_ADDS, E_EXP, E_LOG, E_SQRT, E_POW, E_CLAMP,
       E_RELU, E_GELU, E_SILU, E_SIGMOID, E_TANH, E_SOFTPLUS, E_DROPOUT };

static lf_tensor *f_ew(lf_graph *g, lf_tensor **in, void *vctx)
{
    ew_ctx *c = vctx;
    lf_tensor *a = in[0], *b = in[1];
    switch (c->op) {
    case E_ADD: return lf_add(g, a, b);
    case E_SUB: return lf_sub(g, a, b);
    case E_MUL: return lf_mul(g, a, b);
    case E_DIV: return lf_div(g, a, b);
    case E_SCALE: return lf_scale(g, a, c->p0);
    case E_ADDS: return lf_add_scalar(g, a, c->p0);
    case E_EXP: return lf_exp(g, a);
    case E_LOG: return lf_log(g, a);
    case E_SQRT: return lf_sqrt(g, a);
    case E_POW: return lf_pow(g, a, c->p0);
    case E_CLAMP: return lf_clamp(g, a, c->p0, c->p1);
    case E_RELU: return lf_relu(g, a);
    case E_GELU: return lf_gelu(g, a);
    case E_SILU: return lf_silu(g, a);
    case E_SIGMOID: return lf_sigmoid(g, a);
    case E_TANH: return lf_tanh(g, a);
    case E_SOFTPLUS: return lf_softplus(g, a);
    default: return lf_dropout(g, a, c->p0);
    }
}

#define IN(nd, ...) {nd, {__VA_ARGS__}, 0, 0, 0}
#define INR(lo, hi, nd, ...) {nd, {__VA_ARGS__}, lo, hi, 0}

TEST(gradcheck_binary_broadcast)
{
    /* pairs of shapes: same, (2,1,3)+(4,3), (3,1)*(1,5), scalar-like, leading dims */
    static const struct { gc_input a, b; } cases[] = {
        {IN(2, 3, 5), IN(2, 3, 5)},
        {IN(3, 2, 1, 3), INR(0.5, 2, 2, 4, 3)},
        {IN(2, 3, 1), INR(0.5, 2, 2, 1, 5)},
        {IN(1, 1), INR(0.5, 2, 3, 2, 3, 7)},
        {IN(4, 2, 3, 1, 5), INR(0.5, 2, 3, 3, 4, 1)},
        {IN(1, 7), INR(0.5, 2, 1, 7)},
        {IN(3, 2, 3, 4), INR(0.5, 2, 1, 4)},
    };
    const char *names[] = {"add", "sub", "mul", "div"};
    for (int op = E_ADD; op <= E_DIV; op++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            gc_input in[2] = {cases[k].a, cases[k].b};
            ew_ctx c = {op, 0, 0};
            char name[64];
            snprintf(name, sizeof name, "%s case %zu", names[op], k);
            GRADCHECK(name, f_ew, 2, in, &c);
            /* and with the operands swapped (the divisor kept away from 0) */
            gc_input sw[2] = {cases[k].b, cases[k].a};
            sw[1].lo = 0.5, sw[1].hi = 2;
            snprintf(name, sizeof name, "%s case %zu swapped", names[op], k);
            GRADCHECK(name, f_ew, 2, sw, &c);
        }
}

static lf_tensor *f_self_mul(lf_graph *g, lf_tensor **in, void *ctx)
{
    (void)ctx; /* the same tensor on both sides: both gradients must add up */
    return lf_div(g, lf_mul(g, in[0], in[0]), lf_add_scalar(g, in[0], 3));
}

TEST(gradcheck_unary)
{
    gc_input odd = IN(3, 3, 1, 7), pos = INR(0.3, 2.5, 2, 5, 3), wide = INR(-4, 4, 2, 3, 11);
    struct { ew_ctx c; gc_input in; const char *name; } cases[] = {
        {{E_SCALE, -1.75, 0}, odd, "scale"},   {{E_ADDS, 0.5, 0}, odd, "add_scalar"},
        {{E_EXP, 0, 0}, odd, "exp"},            {{E_LOG, 0, 0}, pos, "log"},
        {{E_SQRT, 0, 0}, pos, "sqrt"},          {{E_POW, 2, 0}, odd, "pow 2"},
        {{E_POW, 3, 0}, odd, "pow 3"},          {{E_POW, -1.5, 0}, pos, "pow -1.5"},
        {{E_POW, 0.5, 0}, pos, "pow 0.5"},      {{E_POW, 0, 0}, odd, "pow 0"},
        {{E_CLAMP, -0.4, 0.3, }, odd, "clamp"}, {{E_CLAMP, -INFINITY, 0.1}, odd, "clamp max"},
        {{E_RELU, 0, 0}, wide, "relu"},         {{E_GELU, 0, 0}, wide, "gelu"},
        {{E_SILU, 0, 0}, wide, "silu"},         {{E_SIGMOID, 0, 0}, wide, "sigmoid"},
        {{E_TANH, 0, 0}, wide, "tanh"},         {{E_SOFTPLUS, 0, 0}, wide, "softplus"},
        {{E_SOFTPLUS, 0, 0}, INR(15, 25, 1, 9), "softplus near threshold"},
        {{E_DROPOUT, 0.3, 0}, odd, "dropout"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        GRADCHECK(cases[k].name, f_ew, 1, &cases[k].in, &cases[k].c);
    gc_input one = IN(2, 4, 3);
    GRADCHECK("x*x/(x+3)", f_self_mul, 1, &one, NULL);
}

/* forward values against direct formulas, in the default build too */
TEST(elementwise_forward_values)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_real av[6] = {1, -2, 3, 0.5, -0.25, 4}, bv[3] = {2, -4, 0.5};
    lf_tensor *a = lf_tensor_from(g, 2, (int64_t[]){2, 3}, av);
    lf_tensor *b = lf_tensor_from(g, 1, (int64_t[]){3}, bv);
    lf_tensor *s = lf_add(g, a, b), *d = lf_sub(g, b, a), *m = lf_mul(g, a, b),
              *q = lf_div(g, a, b);
    CHECK(s && d && m && q && s->ndim == 2 && s->shape[0] == 2 && s->shape[1] == 3);
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(s->data[i], av[i] + bv[i % 3], 1e-6);
        CHECK_NEAR(d->data[i], bv[i % 3] - av[i], 1e-6);
        CHECK_NEAR(m->data[i], av[i] * bv[i % 3], 1e-6);
        CHECK_NEAR(q->data[i], av[i] / bv[i % 3], 1e-6);
    }
    lf_tensor *c = lf_clamp(g, a, -1, 2), *gl = lf_gelu(g, a), *sp = lf_softplus(g, a);
    for (int i = 0; i < 6; i++) {
        double x = av[i];
        CHECK_NEAR(c->data[i], fmin(fmax(x, -1), 2), 1e-7);
        CHECK_NEAR(gl->data[i], 0.5 * x * (1 + erf(x / sqrt(2.0))), 1e-6);
        CHECK_NEAR(sp->data[i], log1p(exp(x)), 1e-6);
    }
    /* a transposed (strided) input goes through lf_contiguous */
    lf_tensor *t = lf_transpose(g, a, 0, 1); /* (3, 2) */
    lf_tensor *e = lf_exp(g, t);
    CHECK(e && e->shape[0] == 3 && e->shape[1] == 2);
    if (e) CHECK_NEAR(e->data[1], exp(av[3]), 1e-5);
    lf_graph_free(g);
}

TEST(elementwise_errors_and_null)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *a = lf_tensor_zeros(g, 2, (int64_t[]){2, 3});
    lf_tensor *b = lf_tensor_zeros(g, 2, (int64_t[]){4, 5});
    CHECK(lf_add(g, a, b) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    CHECK(strstr(lf_last_error(), "(2, 3)") && strstr(lf_last_error(), "(4, 5)"));
    CHECK(strstr(lf_last_error(), "add") != NULL);
    lf_clear_error();
    CHECK(lf_mul(g, NULL, a) == NULL && lf_div(g, a, NULL) == NULL);
    CHECK(lf_exp(g, NULL) == NULL && lf_relu(g, NULL) == NULL && lf_dropout(g, NULL, 0.5) == NULL);
    CHECK(lf_last_status() == LF_OK); /* NULL propagates without a new error */
    CHECK(lf_dropout(g, a, 1.5) == NULL && lf_last_status() == LF_ERR_ARG);
    CHECK(lf_clamp(g, a, NAN, 1) == NULL && lf_last_status() == LF_ERR_ARG);
    lf_graph_free(g);
}

/* large enough to run the parallel paths */
static void dropout_run(int threads, lf_real *out, int64_t n, double p)
{
    lf_set_threads(threads);
    lf_graph *g;
    if (lf_graph_init(&g, 0) != LF_OK) return;
    lf_graph_set_rng(g, lf_rng_make(2024, 5));
    lf_tensor *x = lf_tensor_new(g, 1, &n);
    for (int64_t i = 0; i < n; i++) x->data[i] = 1;
    lf_dropout(g, x, 0.1); /* advances the stream: the second call must differ */
    lf_tensor *y = lf_dropout(g, x, p);
    if (y) memcpy(out, y->data, (size_t)n * sizeof(lf_real));
    lf_graph_free(g);
}

TEST(dropout_statistics_and_threads)
{
    int64_t n = 200003;
    double p = 0.3;
    lf_real *a = lf_malloc((size_t)n * sizeof(lf_real)), *b = lf_malloc((size_t)n * sizeof(lf_real));
    dropout_run(1, a, n, p);
    dropout_run(4, b, n, p);
    lf_set_threads(2);
    CHECK(memcmp(a, b, (size_t)n * sizeof(lf_real)) == 0); /* same mask with 1 or 4 threads */
    int64_t kept = 0;
    double sum = 0;
    int values_ok = 1;
    for (int64_t i = 0; i < n; i++) {
        if (a[i] != 0) {
            kept++;
            values_ok &= fabs(a[i] - 1 / (1 - p)) < 1e-5;
        }
        sum += a[i];
    }
    CHECK(values_ok);
    /* binomial: sd of the kept fraction is sqrt(p(1-p)/n) ~ 0.001 */
    CHECK_NEAR((double)kept / (double)n, 1 - p, 0.005);
    CHECK_NEAR(sum / (double)n, 1.0, 0.01); /* inverted dropout keeps the mean */
    lf_free(a);
    lf_free(b);

    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 1, (int64_t[]){10});
    lf_graph_set_training(g, 0);
    CHECK(lf_dropout(g, x, 0.5) == x); /* identity in evaluation */
    lf_graph_set_training(g, 1);
    lf_tensor *y = lf_dropout(g, x, 1.0);
    CHECK(y != NULL);
    if (y)
        for (int i = 0; i < 10; i++) CHECK(y->data[i] == 0);
    lf_graph_free(g);
}

/* large broadcast ops give the same bits with 1 and 3 threads */
TEST(broadcast_thread_independence)
{
    int64_t sa[3] = {64, 33, 40}, sb[2] = {1, 40};
    lf_real *res[2];
    for (int r = 0; r < 2; r++) {
        lf_set_threads(r ? 3 : 1);
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_rng rng = lf_rng_make(3, 3);
        lf_tensor *a = lf_tensor_new(g, 3, sa), *b = lf_tensor_new(g, 2, sb);
        lf_rng_fill_uniform(&rng, a->data, lf_numel(a), -1, 1);
        lf_rng_fill_uniform(&rng, b->data, lf_numel(b), -1, 1);
        a->flags = b->flags = LF_TENSOR_REQUIRES_GRAD;
        lf_tensor *y = lf_sum_all(g, lf_mul(g, lf_tanh(g, lf_add(g, a, b)), b));
        CHECK_OK(lf_backward(g, y));
        res[r] = lf_malloc(41 * sizeof(lf_real));
        memcpy(res[r], b->grad, 40 * sizeof(lf_real));
        res[r][40] = y->data[0];
        lf_graph_free(g);
    }
    lf_set_threads(2);
    CHECK(memcmp(res[0], res[1], 41 * sizeof(lf_real)) == 0);
    lf_free(res[0]);
    lf_free(res[1]);
}

/* The vectorisable exp and erf (src/ops/fast_math.h) over a dense grid against libm in
 * double: exp within 2 ulp (relative 2.4e-7) on [-87, 88], 0 far below; erf within 3.5e-7 (float rounding of 1 - w above 0.5). */
#include "ops/fast_math.h"
#include <math.h>
TEST(fast_expf_erff_accuracy)
{
    double worst_e = 0, worst_f = 0, at_e = 0, at_f = 0;
    for (double x = -87.0; x <= 88.0; x += 1e-3) {
        float xf = (float)x;
        double ref = exp((double)xf), rel = fabs(lf_fast_expf(xf) - ref) / ref;
        if (rel > worst_e) worst_e = rel, at_e = xf;
    }
    for (double x = -6.0; x <= 6.0; x += 1e-4) {
        float xf = (float)x;
        double ab = fabs(lf_fast_erff(xf) - erf((double)xf));
        if (ab > worst_f) worst_f = ab, at_f = xf;
    }
    printf("    fast expf: worst relative error %.3g at %g; fast erff: worst absolute %.3g at %g\n",
           worst_e, at_e, worst_f, at_f);
    CHECK_MSG(worst_e <= 2.4e-7, "expf relative error %.3g at %g", worst_e, at_e);
    CHECK_MSG(worst_f <= 3.5e-7, "erff absolute error %.3g at %g", worst_f, at_f);
    CHECK(lf_fast_expf(-200.0f) == 0.0f && lf_fast_expf(0.0f) == 1.0f);
    CHECK(lf_fast_erff(0.0f) == 0.0f && lf_fast_erff(10.0f) == 1.0f && lf_fast_erff(-10.0f) == -1.0f);
    CHECK(isfinite(lf_fast_expf(100.0f)));
}
