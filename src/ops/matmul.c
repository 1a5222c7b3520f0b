/* Matrix products on BLAS gemm: batched matmul with broadcast batch dims, and linear. */
#include "../backend/backend.h"
#include "fast_math.h"

#include <string.h>

/* a (..., M, K) @ b (..., K, N): batch dims broadcast; saved: batch index maps */
typedef struct mm_saved {
    int64_t nb;      /* number of output batches */
    int64_t *ia, *ib; /* batch index of a and b for each output batch */
    int64_t M, N, K;
} mm_saved;

static lf_status matmul_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    mm_saved *s = n->saved;
    lf_tensor *a = n->in[0], *b = n->in[1];
    const lf_backend *be = lf_backend_for(a->device);
    const lf_real *gy = n->out->grad;
    for (int64_t i = 0; i < s->nb; i++) {
        const lf_real *gyi = gy + i * s->M * s->N;
        if (lf_needs_grad(a)) /* dA = dY B^T */
            be->gemm(false, true, s->M, s->K, s->N, 1, gyi, s->N, b->data + s->ib[i] * s->K * s->N,
                    s->N, 1, a->grad + s->ia[i] * s->M * s->K, s->K);
        if (lf_needs_grad(b)) /* dB = A^T dY */
            be->gemm(true, false, s->K, s->N, s->M, 1, a->data + s->ia[i] * s->M * s->K, s->K, gyi,
                    s->N, 1, b->grad + s->ib[i] * s->K * s->N, s->N);
    }
    return LF_OK;
}

lf_tensor *lf_matmul(lf_graph *g, lf_tensor *a, lf_tensor *b)
{
    if (!a || !b) return NULL;
    if (a->ndim < 1 || b->ndim < 1) {
        lf_error(LF_ERR_SHAPE, "matmul: scalar operand");
        return NULL;
    }
    /* numpy rules for 1-D operands: promote, multiply, drop the added dim */
    if (a->ndim == 1) {
        int64_t s[2] = {1, a->shape[0]};
        lf_tensor *y = lf_matmul(g, lf_reshape(g, a, 2, s), b);
        if (!y) return NULL;
        int64_t ys[LF_MAX_DIMS];
        int k = 0;
        for (int i = 0; i < y->ndim; i++)
            if (i != y->ndim - 2) ys[k++] = y->shape[i];
        return lf_reshape(g, y, k, ys);
    }
    if (b->ndim == 1) {
        int64_t s[2] = {b->shape[0], 1};
        lf_tensor *y = lf_matmul(g, a, lf_reshape(g, b, 2, s));
        if (!y) return NULL;
        return lf_reshape(g, y, y->ndim - 1, y->shape);
    }
    a = lf_contiguous(g, a);
    b = lf_contiguous(g, b);
    if (!a || !b) return NULL;
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1];
    int64_t K2 = b->shape[b->ndim - 2], N = b->shape[b->ndim - 1];
    char sa[96], sb[96];
    if (K != K2) {
        lf_error(LF_ERR_SHAPE, "matmul: inner sizes differ: %s @ %s", lf_shape_str(a, sa, sizeof sa),
                 lf_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    /* broadcast the batch dims */
    int na = a->ndim - 2, nbd = b->ndim - 2, nd = na > nbd ? na : nbd;
    int64_t bshape[LF_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int ia = na - nd + i, ib = nbd - nd + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            lf_error(LF_ERR_SHAPE, "matmul: batch dims of %s and %s do not broadcast",
                     lf_shape_str(a, sa, sizeof sa), lf_shape_str(b, sb, sizeof sb));
            return NULL;
        }
        bshape[i] = da == 1 ? db : da;
    }
    if (nd + 2 > LF_MAX_DIMS) {
        lf_error(LF_ERR_SHAPE, "matmul: too many dims");
        return NULL;
    }
    int64_t yshape[LF_MAX_DIMS];
    int64_t nb = 1;
    for (int i = 0; i < nd; i++) {
        yshape[i] = bshape[i];
        nb *= bshape[i];
    }
    yshape[nd] = M;
    yshape[nd + 1] = N;
    lf_tensor *y = lf_op_output(g, nd + 2, yshape, LF_IN(a, b));
    if (!y) return NULL;
    mm_saved *s = lf_graph_alloc(g, sizeof *s);
    int64_t *ia = lf_graph_alloc(g, (size_t)nb * sizeof(int64_t));
    int64_t *ib = lf_graph_alloc(g, (size_t)nb * sizeof(int64_t));
    if (!s || !ia || !ib) return NULL;
    for (int64_t i = 0; i < nb; i++) {
        int64_t rem = i, oa = 0, ob = 0, ma = 1, mb = 1;
        for (int d = nd - 1; d >= 0; d--) {
            int64_t idx = rem % bshape[d];
            rem /= bshape[d];
            int da_i = na - nd + d, db_i = nbd - nd + d;
            if (da_i >= 0) {
                if (a->shape[da_i] != 1) oa += idx * ma;
                ma *= a->shape[da_i];
            }
            if (db_i >= 0) {
                if (b->shape[db_i] != 1) ob += idx * mb;
                mb *= b->shape[db_i];
            }
        }
        ia[i] = oa;
        ib[i] = ob;
    }
    const lf_backend *be = lf_backend_for(y->device);
    for (int64_t i = 0; i < nb; i++)
        be->gemm(false, false, M, N, K, 1, a->data + ia[i] * M * K, K, b->data + ib[i] * K * N, N,
                0, y->data + i * M * N, N);
    lf_node *n = lf_record(g, "matmul", matmul_backward, y, LF_IN(a, b));
    if (n) {
        s->nb = nb;
        s->ia = ia;
        s->ib = ib;
        s->M = M;
        s->N = N;
        s->K = K;
        n->saved = s;
    }
    return y;
}

/* ---- linear: y = x W^T + b over the last dim of x */
static lf_status linear_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    lf_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const lf_backend *be = lf_backend_for(x->device);
    int64_t out = w->shape[0], in = w->shape[1], rows = lf_numel(x) / in;
    const lf_real *gy = n->out->grad;
    if (lf_needs_grad(x)) be->gemm(false, false, rows, in, out, 1, gy, out, w->data, in, 1, x->grad, in);
    if (lf_needs_grad(w)) be->gemm(true, false, out, in, rows, 1, gy, out, x->data, in, 1, w->grad, in);
    if (b && lf_needs_grad(b)) {
        /* column sums, 64 columns a task (each task's rows in order: any thread count gives
         * the same sums) */
#pragma omp parallel for schedule(static) if (rows * out >= (1 << 16))
        for (int64_t o0 = 0; o0 < out; o0 += 64) {
            const int64_t o1 = o0 + 64 < out ? o0 + 64 : out;
            lf_real acc[64] = {0};
            for (int64_t r = 0; r < rows; r++)
                for (int64_t o = o0; o < o1; o++) acc[o - o0] += gy[r * out + o];
            for (int64_t o = o0; o < o1; o++) b->grad[o] += acc[o - o0];
        }
    }
    return LF_OK;
}

typedef struct bias_act {
    const lf_real *bias; /* (out) or NULL */
    lf_activation act;
    const lf_real *res;  /* (rows, out) added last, or NULL */
    const lf_real *y;    /* the product's first element: a block's place is c - y */
} bias_act;

static void bias_act_epilogue(lf_real *c, int64_t ldc, int64_t rows, int64_t cols, int64_t col0,
                              const void *ctx)
{
    const bias_act *e = ctx;
    const lf_real *bias = e->bias ? e->bias + col0 : NULL;
    for (int64_t r = 0; r < rows; r++) {
        lf_real *cr = c + r * ldc;
        if (e->act == LF_ACT_GELU && bias) { /* the bias in the same pass (the same bits) */
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) {
                const lf_real v = cr[j] + bias[j];
                cr[j] = LF_GELU_VALUE(v);
            }
        } else if (e->act == LF_ACT_GELU) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) cr[j] = LF_GELU_VALUE(cr[j]);
        } else if (bias) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) cr[j] += bias[j];
        }
        if (e->act == LF_ACT_RELU) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) cr[j] = cr[j] > 0 ? cr[j] : 0;
        }
        if (e->res) {
            const lf_real *rr = e->res + (cr - e->y);
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) cr[j] += rr[j];
        }
    }
}

/* act(x W^T + b) (+ res, whose shape the caller checked) */
static lf_tensor *linear_act(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b,
                             lf_activation act, const lf_tensor *res)
{
    if (!x || !w) return NULL;
    char sx[96], sw[96];
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1] ||
        (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))) {
        lf_error(LF_ERR_SHAPE, "linear: input %s does not fit weight %s%s",
                 lf_shape_str(x, sx, sizeof sx), lf_shape_str(w, sw, sizeof sw),
                 b ? " (or bias)" : "");
        return NULL;
    }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    int64_t shape[LF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    int64_t out = w->shape[0], in = w->shape[1], rows = lf_numel(x) / in;
    shape[x->ndim - 1] = out;
    lf_tensor *ins[3] = {x, w, b};
    int n_in = b ? 3 : 2;
    lf_tensor *y = lf_op_output(g, x->ndim, shape, ins, n_in);
    if (!y) return NULL;
    /* the bias (and the activation or the residual, in inference) added to each block of the
     * product while it is in cache */
    const bias_act ba = {b ? b->data : NULL, act, res ? res->data : NULL, y->data};
    const lf_gemm_epilogue epi = {bias_act_epilogue, &ba};
    lf_gemm_epi(false, true, rows, out, in, 1, x->data, in, w->data, in, 0, y->data, out,
                b || act != LF_ACT_NONE || res ? &epi : NULL);
    lf_record(g, "linear", linear_backward, y, ins, n_in);
    return y;
}

lf_tensor *lf_linear(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b)
{
    return linear_act(g, x, w, b, LF_ACT_NONE, NULL);
}

/* true when nothing of the call needs a gradient recorded: the fused inference passes */
static bool no_grad_needed(lf_graph *g, const lf_tensor *x, const lf_tensor *w,
                           const lf_tensor *b, const lf_tensor *res)
{
    return !lf_graph_grad_enabled(g) || !(lf_needs_grad(x) || lf_needs_grad(w) ||
                                          lf_needs_grad(b) || lf_needs_grad(res));
}

lf_tensor *lf_linear_add(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b, lf_tensor *res)
{
    if (!x || !w || !res) return NULL;
    /* the same shape as the product, contiguous, or the two ops (lf_add says what is wrong) */
    const bool fits = res->ndim == x->ndim && lf_is_contiguous(res) && w->ndim == 2 &&
                      res->shape[res->ndim - 1] == w->shape[0] &&
                      !memcmp(res->shape, x->shape, sizeof(int64_t) * (size_t)(x->ndim - 1));
    if (!fits || !no_grad_needed(g, x, w, b, res)) return lf_add(g, res, lf_linear(g, x, w, b));
    return linear_act(g, x, w, b, LF_ACT_NONE, res);
}

lf_tensor *lf_linear_act(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b, lf_activation act)
{
    if (act != LF_ACT_NONE && act != LF_ACT_RELU && act != LF_ACT_GELU) {
        lf_error(LF_ERR_ARG, "linear_act: activation %d is not relu, gelu or none", (int)act);
        return NULL;
    }
    /* with a gradient to record: the two ops (the activation's backward needs the product);
     * in inference: one pass */
    if (act == LF_ACT_NONE || !no_grad_needed(g, x, w, b, NULL)) {
        lf_tensor *y = linear_act(g, x, w, b, LF_ACT_NONE, NULL);
        return act == LF_ACT_GELU ? lf_gelu(g, y) : act == LF_ACT_RELU ? lf_relu(g, y) : y;
    }
    return linear_act(g, x, w, b, act, NULL);
}
