/* Activations (relu, gelu, silu, sigmoid, tanh, softplus) and inverted dropout. Forward and
 * backward side by side; x = in[0], y = out. */
#include "reduce_kernel.h"
#include "fast_math.h"

#include <string.h>
#include <tgmath.h>


enum { ACT_RELU, ACT_GELU, ACT_SILU, ACT_SIGMOID, ACT_TANH, ACT_SOFTPLUS };

#define SOFTPLUS_THRESHOLD 20 /* torch default (beta = 1): above it softplus(x) = x */

static inline lf_real sigm(lf_real x) { return 1 / (1 + exp(-x)); }

static lf_status act_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    int64_t m = lf_numel(y);
    const lf_real *X = x->data, *Y = y->data, *gy = y->grad;
    lf_real *gx = x->grad;
    const lf_real inv_sqrt2 = (lf_real)0.70710678118654752440;
    const lf_real inv_sqrt2pi = (lf_real)0.39894228040143267794;
    switch ((int)n->iarg[0]) {
    case ACT_RELU: LF_FOR_EACH(m, gx[i] += Y[i] > 0 ? gy[i] : 0); break;
    case ACT_GELU: /* d/dx x Phi(x) = Phi(x) + x phi(x) */
        LF_FOR_EACH(m, lf_real v = X[i];
                    lf_real cdf = (lf_real)0.5 * (1 + LF_GELU_ERF(v * inv_sqrt2));
                    gx[i] += gy[i] * (cdf + v * inv_sqrt2pi * LF_GELU_EXP((lf_real)-0.5 * v * v)));
        break;
    case ACT_SILU:
        LF_FOR_EACH(m, lf_real s = sigm(X[i]); gx[i] += gy[i] * s * (1 + X[i] * (1 - s)));
        break;
    case ACT_SIGMOID: LF_FOR_EACH(m, gx[i] += gy[i] * Y[i] * (1 - Y[i])); break;
    case ACT_TANH: LF_FOR_EACH(m, gx[i] += gy[i] * (1 - Y[i] * Y[i])); break;
    case ACT_SOFTPLUS:
        LF_FOR_EACH(m, gx[i] += X[i] > SOFTPLUS_THRESHOLD ? gy[i] : gy[i] * sigm(X[i]));
        break;
    }
    return LF_OK;
}

static lf_tensor *activation(lf_graph *g, lf_tensor *x, int op, const char *name)
{
    if (!x) return NULL;
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x));
    if (!y) return NULL;
    int64_t m = lf_numel(x);
    const lf_real *X = x->data;
    lf_real *Y = y->data;
    switch (op) {
    case ACT_RELU: LF_FOR_EACH(m, Y[i] = X[i] > 0 ? X[i] : 0); break;
    case ACT_GELU: LF_FOR_EACH(m, Y[i] = LF_GELU_VALUE(X[i])); break;
    case ACT_SILU: LF_FOR_EACH(m, Y[i] = X[i] * sigm(X[i])); break;
    case ACT_SIGMOID: LF_FOR_EACH(m, Y[i] = sigm(X[i])); break;
    case ACT_TANH: LF_FOR_EACH(m, Y[i] = tanh(X[i])); break;
    case ACT_SOFTPLUS:
        LF_FOR_EACH(m, Y[i] = X[i] > SOFTPLUS_THRESHOLD ? X[i] : log1p(exp(X[i])));
        break;
    }
    lf_node *n = lf_record(g, name, act_backward, y, LF_IN(x));
    if (n) n->iarg[0] = op;
    return y;
}

lf_tensor *lf_relu(lf_graph *g, lf_tensor *x) { return activation(g, x, ACT_RELU, "relu"); }
lf_tensor *lf_gelu(lf_graph *g, lf_tensor *x) { return activation(g, x, ACT_GELU, "gelu"); }
lf_tensor *lf_silu(lf_graph *g, lf_tensor *x) { return activation(g, x, ACT_SILU, "silu"); }
lf_tensor *lf_sigmoid(lf_graph *g, lf_tensor *x) { return activation(g, x, ACT_SIGMOID, "sigmoid"); }
lf_tensor *lf_tanh(lf_graph *g, lf_tensor *x) { return activation(g, x, ACT_TANH, "tanh"); }
lf_tensor *lf_softplus(lf_graph *g, lf_tensor *x) { return activation(g, x, ACT_SOFTPLUS, "softplus"); }

/* ---------------------------------------------------------------- dropout
 * Element i keeps its value (times 1/(1-p)) when draw (offset + i) of the graph's Philox
 * stream is >= p * 2^32. Each draw is a pure function of its counter, so the mask does not
 * depend on how the elements are split over threads. saved: the keep mask (1 byte each). */
static lf_status dropout_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *y = n->out;
    const uint8_t *keep = n->saved;
    const lf_real *gy = y->grad;
    lf_real *gx = x->grad, scale = (lf_real)n->farg[0];
    int64_t m = lf_numel(y);
    LF_FOR_EACH(m, gx[i] += keep[i] ? gy[i] * scale : 0);
    return LF_OK;
}

#define DROP_CHUNK 4096 /* a multiple of 4: each Philox call gives 4 draws */

lf_tensor *lf_dropout(lf_graph *g, lf_tensor *x, double p)
{
    if (!x) return NULL;
    if (!(p >= 0 && p <= 1)) {
        lf_error(LF_ERR_ARG, "dropout: probability %g outside [0, 1]", p);
        return NULL;
    }
    if (!g->training || p == 0) return x;
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    lf_tensor *y = lf_op_output(g, x->ndim, x->shape, LF_IN(x));
    if (!y) return NULL;
    int64_t m = lf_numel(x);
    uint8_t *keep = lf_graph_alloc(g, (size_t)(m ? m : 1));
    if (!keep) return NULL;
    lf_rng *r = lf_graph_rng(g);
    /* start on a fresh Philox block so that draw i of this op is block (base + i/4), lane i%4 */
    uint64_t base = (r->offset + 3) >> 2;
    r->offset = (base << 2) + (uint64_t)m;
    /* keep when u >= p * 2^32; p = 1 drops everything (torch returns zeros) */
    double thr_d = p * 4294967296.0;
    uint64_t thr = thr_d >= 4294967296.0 ? 4294967296ull : (uint64_t)thr_d;
    lf_real scale = p < 1 ? (lf_real)(1.0 / (1.0 - p)) : 0;
    int64_t nch = (m + DROP_CHUNK - 1) / DROP_CHUNK;
    const lf_real *X = x->data;
    lf_real *Y = y->data;
    uint64_t seed = r->seed, stream = r->stream;
#pragma omp parallel for if (m > LF_PAR_MIN) schedule(static)
    for (int64_t c = 0; c < nch; c++) {
        int64_t lo = c * DROP_CHUNK, hi = lo + DROP_CHUNK < m ? lo + DROP_CHUNK : m;
        for (int64_t i = lo; i < hi; i += 4) {
            uint32_t u[4];
            lf_philox4x32(seed, stream, base + (uint64_t)(i >> 2), u);
            for (int k = 0; k < 4 && i + k < hi; k++) {
                keep[i + k] = (uint64_t)u[k] >= thr;
                Y[i + k] = keep[i + k] ? X[i + k] * scale : 0;
            }
        }
    }
    lf_node *n = lf_record(g, "dropout", dropout_backward, y, LF_IN(x));
    if (n) {
        n->saved = keep;
        n->farg[0] = scale;
    }
    return y;
}
