/* Losses, reduced to the mean: cross-entropy (fused log-softmax + NLL, with ignore_index and
 * label smoothing as torch.nn.functional.cross_entropy), mean squared error, and binary
 * cross-entropy on logits. Forward and backward side by side. Outputs are 0-D tensors. */
#include "reduce_kernel.h"

#include <string.h>
#include <tgmath.h>

/* ---------------------------------------------------------------- cross-entropy
 * logits (N, C, d...) are viewed as (N, C, K) with K = prod(d): item (n, i) has its C logits
 * at stride K, and target[n * K + i]. For an item with target t and smoothing e:
 *   loss = (1 - e) * (lse - x_t) + e / C * sum_c (lse - x_c)
 * and the mean runs over the items whose target is not ignore_index (count of them). Its
 * gradient: dloss/dx_c = (softmax_c - e / C - (1 - e) [c == t]) / count. */
typedef struct ce_saved {
    const int64_t *target; /* copy in the arena */
    lf_real *lse;          /* per item */
    int64_t count, ignore;
    double smoothing;
} ce_saved;

static lf_status ce_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0];
    const ce_saved *s = n->saved;
    if (s->count == 0) return LF_OK; /* every item ignored: the loss is NaN, no gradient */
    int64_t N = x->shape[0], C = x->shape[1], NC = N * C, K = NC > 0 ? lf_numel(x) / NC : 1;
    lf_real scale = (lf_real)((double)n->out->grad[0] / (double)s->count);
    lf_real sm = (lf_real)(s->smoothing / (double)C), hit = (lf_real)(1.0 - s->smoothing);
    const lf_real *X = x->data;
    lf_real *GX = x->grad;
    int64_t items = N * K;
#pragma omp parallel for if (items * C > LF_PAR_MIN) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        int64_t t = s->target[it];
        if (t == s->ignore) continue;
        int64_t b = (it / K) * C * K + it % K;
        lf_real lse = s->lse[it];
        for (int64_t c = 0; c < C; c++) {
            lf_real p = exp(X[b + c * K] - lse);
            GX[b + c * K] += scale * (p - sm - (c == t ? hit : 0));
        }
    }
    return LF_OK;
}

lf_tensor *lf_cross_entropy(lf_graph *g, lf_tensor *logits, const int64_t *target,
                            int64_t ignore_index, double label_smoothing)
{
    if (!logits) return NULL;
    char b[96];
    if (!target) {
        lf_error(LF_ERR_ARG, "cross_entropy: NULL target array");
        return NULL;
    }
    if (logits->ndim < 2) {
        lf_error(LF_ERR_SHAPE, "cross_entropy: logits %s must be (N, C) or (N, C, d...)",
                 lf_shape_str(logits, b, sizeof b));
        return NULL;
    }
    if (!(label_smoothing >= 0 && label_smoothing <= 1)) {
        lf_error(LF_ERR_ARG, "cross_entropy: label_smoothing %g outside [0, 1]", label_smoothing);
        return NULL;
    }
    lf_tensor *x = lf_contiguous(g, logits);
    if (!x) return NULL;
    int64_t N = x->shape[0], C = x->shape[1], K = 1;
    for (int i = 2; i < x->ndim; i++) K *= x->shape[i];
    int64_t items = N * K, count = 0;
    for (int64_t it = 0; it < items; it++) {
        int64_t t = target[it];
        if (t == ignore_index) continue;
        if (t < 0 || t >= C) {
            lf_error(LF_ERR_ARG, "cross_entropy: target[%lld] = %lld is not a class of logits %s "
                     "(0..%lld) nor ignore_index %lld", (long long)it, (long long)t,
                     lf_shape_str(x, b, sizeof b), (long long)(C - 1), (long long)ignore_index);
            return NULL;
        }
        count++;
    }
    lf_tensor *y = lf_op_output(g, 0, NULL, LF_IN(x));
    ce_saved *s = lf_graph_alloc(g, sizeof *s);
    size_t nb = (size_t)(items ? items : 1);
    int64_t *tg = lf_graph_alloc(g, nb * sizeof(int64_t));
    lf_real *lse = lf_graph_alloc(g, nb * sizeof(lf_real));
    lf_real *item_loss = lf_graph_alloc(g, nb * sizeof(lf_real));
    if (!y || !s || !tg || !lse || !item_loss) return NULL;
    memcpy(tg, target, (size_t)items * sizeof(int64_t));
    const lf_real *X = x->data;
    double e = label_smoothing;
#pragma omp parallel for if (items * C > LF_PAR_MIN) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        int64_t t = tg[it];
        const lf_real *xl = X + (it / K) * C * K + it % K;
        lf_real m = xl[0];
        for (int64_t c = 1; c < C; c++) m = xl[c * K] > m ? xl[c * K] : m;
        double se = 0, sx = 0;
        for (int64_t c = 0; c < C; c++) {
            se += (double)exp(xl[c * K] - m);
            sx += (double)xl[c * K];
        }
        double l = (double)m + log(se);
        lse[it] = (lf_real)l;
        if (t == ignore_index) {
            item_loss[it] = 0;
            continue;
        }
        double nll = l - (double)xl[t * K];
        double smooth = e > 0 ? (double)C * l - sx : 0; /* sum_c (lse - x_c) */
        item_loss[it] = (lf_real)((1 - e) * nll + e / (double)C * smooth);
    }
    /* mean over the non-ignored items; with none, 0/0 = NaN as torch */
    y->data[0] = (lf_real)(lf_sum_flat(item_loss, items) / (double)count);
    lf_node *n = lf_record(g, "cross_entropy", ce_backward, y, LF_IN(x));
    if (n) {
        s->target = tg;
        s->lse = lse;
        s->count = count;
        s->ignore = ignore_index;
        s->smoothing = e;
        n->saved = s;
    }
    return y;
}

/* ---------------------------------------------------------------- elementwise losses
 * Both take x and target of one shape; the per-element losses go to an arena buffer and are
 * summed in a fixed order (lf_sum_flat). Gradients flow to x and, if it needs one, target. */
static int same_shape_or_error(const lf_tensor *x, const lf_tensor *t, const char *op)
{
    if (lf_same_shape(x, t)) return 1;
    char a[96], b[96];
    lf_error(LF_ERR_SHAPE, "%s: input %s and target %s must have the same shape", op,
             lf_shape_str(x, a, sizeof a), lf_shape_str(t, b, sizeof b));
    return 0;
}

/* Shared start of the elementwise losses: same shapes, contiguous inputs (replaced in *x and
 * *t), the scalar output, and *tmp with room for the per-element terms. */
static lf_tensor *pointwise_loss_begin(lf_graph *g, lf_tensor **x, lf_tensor **t,
                                       const char *op, lf_real **tmp)
{
    if (!*x || !*t || !same_shape_or_error(*x, *t, op)) return NULL;
    *x = lf_contiguous(g, *x);
    *t = lf_contiguous(g, *t);
    if (!*x || !*t) return NULL;
    const int64_t m = lf_numel(*x);
    lf_tensor *y = lf_op_output(g, 0, NULL, LF_IN(*x, *t));
    *tmp = lf_graph_alloc(g, (size_t)(m ? m : 1) * sizeof(lf_real));
    return *tmp ? y : NULL;
}

/* mse: d/dx = 2 (x - t) / n, d/dt = -d/dx */
static lf_status mse_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *t = n->in[1];
    int64_t m = lf_numel(x);
    lf_real k = (lf_real)(2.0 * (double)n->out->grad[0] / (double)m);
    const lf_real *X = x->data, *T = t->data;
    if (lf_needs_grad(x)) {
        lf_real *gx = x->grad;
        LF_FOR_EACH(m, gx[i] += k * (X[i] - T[i]));
    }
    if (lf_needs_grad(t)) {
        lf_real *gt = t->grad;
        LF_FOR_EACH(m, gt[i] -= k * (X[i] - T[i]));
    }
    return LF_OK;
}

lf_tensor *lf_mse_loss(lf_graph *g, lf_tensor *x, lf_tensor *target)
{
    lf_real *tmp;
    lf_tensor *y = pointwise_loss_begin(g, &x, &target, "mse_loss", &tmp);
    if (!y) return NULL;
    const int64_t m = lf_numel(x);
    const lf_real *X = x->data, *T = target->data;
    LF_FOR_EACH(m, lf_real d = X[i] - T[i]; tmp[i] = d * d);
    y->data[0] = (lf_real)(lf_sum_flat(tmp, m) / (double)m);
    lf_record(g, "mse_loss", mse_backward, y, LF_IN(x, target));
    return y;
}

/* bce with logits, stable: max(x, 0) - x t + log(1 + exp(-|x|));
 * d/dx = (sigmoid(x) - t) / n, d/dt = -x / n */
static lf_status bce_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *t = n->in[1];
    int64_t m = lf_numel(x);
    lf_real k = (lf_real)((double)n->out->grad[0] / (double)m);
    const lf_real *X = x->data, *T = t->data;
    if (lf_needs_grad(x)) {
        lf_real *gx = x->grad;
        LF_FOR_EACH(m, gx[i] += k * (1 / (1 + exp(-X[i])) - T[i]));
    }
    if (lf_needs_grad(t)) {
        lf_real *gt = t->grad;
        LF_FOR_EACH(m, gt[i] -= k * X[i]);
    }
    return LF_OK;
}

lf_tensor *lf_bce_with_logits(lf_graph *g, lf_tensor *x, lf_tensor *target)
{
    lf_real *tmp;
    lf_tensor *y = pointwise_loss_begin(g, &x, &target, "bce_with_logits", &tmp);
    if (!y) return NULL;
    const int64_t m = lf_numel(x);
    const lf_real *X = x->data, *T = target->data;
    LF_FOR_EACH(m, lf_real v = X[i];
                tmp[i] = (v > 0 ? v : 0) - v * T[i] + log1p(exp(-fabs(v))));
    y->data[0] = (lf_real)(lf_sum_flat(tmp, m) / (double)m);
    lf_record(g, "bce_with_logits", bce_backward, y, LF_IN(x, target));
    return y;
}
