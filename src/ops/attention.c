/* Fused scaled dot-product attention: softmax(q k^T * scale + mask) v.
 *
 * Dimension letters: B batch, H heads, Tq query tokens, Tk key tokens, Dh head dim.
 *   q (B, H, Tq, Dh), k and v (B, H, Tk, Dh), mask (Tq, Tk) or (B, 1, Tq, Tk) or NULL,
 *   out (B, H, Tq, Dh).
 * Forward keeps the probabilities P (B, H, Tq, Tk) in the arena for backward.
 * A row whose mask is -inf everywhere attends to nothing: its probabilities and output are 0
 * (torch gives NaN there), and no gradient flows through it. */
#include "../core/internal.h"
#include "softmax_row.h"

#include <math.h>
#include <string.h>

#define ATT_PAR_MIN 16384 /* elements of P below which the softmax stays serial */

typedef struct att_saved {
    lf_real *p; /* (B, H, Tq, Tk) */
    int64_t B, H, Tq, Tk, Dh;
    double scale;
} att_saved;

/* Adds the mask and takes a stable softmax in place over each row of P (rows = B*H*Tq rows
 * of length Tk). Row r belongs to (b, h) = divmod(r / Tq, H) and query t = r % Tq; the mask
 * row is mask[t] for a (Tq, Tk) mask and mask[b, 0, t] for a (B, 1, Tq, Tk) one. */
static void softmax_rows(lf_real *p, const lf_real *mask, int64_t rows, int64_t Tk, int64_t Tq,
                         int64_t H, bool mask_per_batch)
{
#pragma omp parallel for schedule(static) if (rows * Tk >= ATT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        lf_real *pr = p + r * Tk;
        if (mask) {
            int64_t bh = r / Tq, t = r % Tq;
            const lf_real *mr = mask + (mask_per_batch ? (bh / H) * Tq * Tk : 0) + t * Tk;
            for (int64_t j = 0; j < Tk; j++) pr[j] += mr[j];
        }
        lf_real mx = -INFINITY;
        for (int64_t j = 0; j < Tk; j++)
            if (pr[j] > mx) mx = pr[j];
        if (mx == -INFINITY) { /* fully masked row */
            memset(pr, 0, (size_t)Tk * sizeof(lf_real));
            continue;
        }
        double sum = 0;
        for (int64_t j = 0; j < Tk; j++) {
            lf_real e = (lf_real)exp((double)(pr[j] - mx));
            pr[j] = e;
            sum += e;
        }
        lf_real inv = (lf_real)(1.0 / sum);
        for (int64_t j = 0; j < Tk; j++) pr[j] *= inv;
    }
}

/* With S = scale q k^T (+ mask), P = softmax(S), O = P v and upstream dO:
 *   dv = P^T dO,  dP = dO v^T,  dS = P * (dP - rowsum(dP * P)),
 *   dq = scale dS k,  dk = scale dS^T q. */
static lf_status attention_backward(lf_graph *g, lf_node *n)
{
    att_saved *s = n->saved;
    lf_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    int64_t Tq = s->Tq, Tk = s->Tk, Dh = s->Dh, BH = s->B * s->H;
    bool gq = lf_needs_grad(q), gk = lf_needs_grad(k), gv = lf_needs_grad(v);
    lf_real *ds = NULL;
    if (gq || gk) {
        ds = lf_graph_alloc(g, (size_t)(BH * Tq * Tk) * sizeof(lf_real));
        if (!ds) return LF_ERR_NOMEM;
    }
    const lf_real *dout = n->out->grad;
    int64_t qs = Tq * Dh, ks = Tk * Dh, ps = Tq * Tk;
    /* BLAS stays outside parallel regions (it has its own threads) */
    for (int64_t i = 0; i < BH; i++) {
        const lf_real *p = s->p + i * ps, *dO = dout + i * qs;
        if (gv) lf_gemm(true, false, Tk, Dh, Tq, 1, p, Tk, dO, Dh, 1, v->grad + i * ks, Dh);
        if (ds) lf_gemm(false, true, Tq, Tk, Dh, 1, dO, Dh, v->data + i * ks, Dh, 0, ds + i * ps, Tk);
    }
    if (!ds) return LF_OK;
    int64_t rows = BH * Tq;
#pragma omp parallel for schedule(static) if (rows * Tk >= ATT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        lf_softmax_backward_row(ds + r * Tk, s->p + r * Tk, Tk);
    }
    lf_real sc = (lf_real)s->scale;
    for (int64_t i = 0; i < BH; i++) {
        const lf_real *dsi = ds + i * ps;
        if (gq) lf_gemm(false, false, Tq, Dh, Tk, sc, dsi, Tk, k->data + i * ks, Dh, 1, q->grad + i * qs, Dh);
        if (gk) lf_gemm(true, false, Tk, Dh, Tq, sc, dsi, Tk, q->data + i * qs, Dh, 1, k->grad + i * ks, Dh);
    }
    return LF_OK;
}

lf_tensor *lf_attention(lf_graph *g, lf_tensor *q, lf_tensor *k, lf_tensor *v,
                        lf_tensor *mask, double scale)
{
    if (!q || !k || !v) return NULL;
    char a[96], b[96], c[96];
    if (q->ndim != 4 || k->ndim != 4 || !lf_same_shape(k, v) || q->shape[0] != k->shape[0] ||
        q->shape[1] != k->shape[1] || q->shape[3] != k->shape[3]) {
        lf_error(LF_ERR_SHAPE, "attention: q %s, k %s, v %s: expected q (B, H, Tq, Dh) and "
                               "k, v (B, H, Tk, Dh)",
                 lf_shape_str(q, a, sizeof a), lf_shape_str(k, b, sizeof b),
                 lf_shape_str(v, c, sizeof c));
        return NULL;
    }
    int64_t B = q->shape[0], H = q->shape[1], Tq = q->shape[2], Tk = k->shape[2], Dh = q->shape[3];
    bool mask_per_batch = false;
    if (mask) {
        if (mask->ndim == 2 && mask->shape[0] == Tq && mask->shape[1] == Tk) {
            mask_per_batch = false;
        } else if (mask->ndim == 4 && mask->shape[0] == B && mask->shape[1] == 1 &&
                   mask->shape[2] == Tq && mask->shape[3] == Tk) {
            mask_per_batch = true;
        } else {
            lf_error(LF_ERR_SHAPE, "attention: mask %s must be (Tq, Tk) = (%lld, %lld) or "
                                   "(B, 1, Tq, Tk) = (%lld, 1, %lld, %lld)",
                     lf_shape_str(mask, a, sizeof a), (long long)Tq, (long long)Tk,
                     (long long)B, (long long)Tq, (long long)Tk);
            return NULL;
        }
        mask = lf_contiguous(g, mask);
        if (!mask) return NULL;
    }
    q = lf_contiguous(g, q);
    k = lf_contiguous(g, k);
    v = lf_contiguous(g, v);
    if (!q || !k || !v) return NULL;
    lf_tensor *y = lf_op_output(g, 4, (int64_t[]){B, H, Tq, Dh}, LF_IN(q, k, v));
    int64_t BH = B * H, ps = Tq * Tk, qs = Tq * Dh, ks = Tk * Dh;
    lf_real *p = lf_graph_alloc(g, (size_t)(BH * ps) * sizeof(lf_real));
    if (!y || !p) return NULL;
    for (int64_t i = 0; i < BH; i++) /* S = scale q k^T */
        lf_gemm(false, true, Tq, Tk, Dh, (lf_real)scale, q->data + i * qs, Dh, k->data + i * ks,
                Dh, 0, p + i * ps, Tk);
    if (Tk > 0)
        softmax_rows(p, mask ? mask->data : NULL, BH * Tq, Tk, Tq, H, mask_per_batch);
    for (int64_t i = 0; i < BH; i++) /* O = P v */
        lf_gemm(false, false, Tq, Dh, Tk, 1, p + i * ps, Tk, v->data + i * ks, Dh, 0,
                y->data + i * qs, Dh);
    if (Tk == 0) memset(y->data, 0, (size_t)(BH * qs) * sizeof(lf_real));
    lf_node *n = lf_record(g, "attention", attention_backward, y, LF_IN(q, k, v));
    if (n) {
        att_saved *s = lf_graph_alloc(g, sizeof *s);
        if (!s) return NULL;
        s->p = p;
        s->B = B;
        s->H = H;
        s->Tq = Tq;
        s->Tk = Tk;
        s->Dh = Dh;
        s->scale = scale;
        n->saved = s;
    }
    return y;
}
