/* Multi-head self-attention on packed projections, the transformer block's attention in one op.
 *
 * qkv (B, T, 3E) is what Linear(E, 3E) gives: per token q, k, v side by side, each of H heads
 * of Dh = E / H. out (B, T, E) holds the heads side by side, the layout the output projection
 * reads. It equals reshape (B, T, 3, H, Dh) -> permute to q, k, v (B, H, T, Dh) ->
 * lf_attention -> transpose -> reshape, without the five copies: the products read and write
 * the packed rows in place (leading dimension 3E or E), and the (b, h) pairs run in parallel,
 * each on one thread (so the matrix products inside are single-threaded).
 * Per (b, h): S = scale q k^T (+ the key mask of b on every row), P = softmax(S) (rows),
 * O = P v; backward with dO:
 *   dv = P^T dO, dP = dO v^T, dS = P * (dP - rowsum(dP * P)), dq = scale dS k, dk = scale dS^T q.
 * Training keeps P (B, H, T, T) for backward; inference uses one T x T buffer per thread. */
#include "../core/internal.h"
#include "fast_math.h"
#include "softmax_row.h"

#include <math.h>
#include <omp.h>
#include <string.h>

typedef struct sa_saved {
    lf_real *p; /* (B, H, T, T) */
    int64_t B, T, E, H;
    double scale;
} sa_saved;

#ifdef LF_DOUBLE
#define SA_EXP(v) exp(v)
#else
#define SA_EXP(v) lf_fast_expf(v) /* vectorised (fast_math.h) */
#endif

/* softmax in place over each of the rows of p (rows x T), after adding the key mask (T values,
 * or NULL); a row whose keys are all masked becomes zeros */
static void softmax_rows(lf_real *p, const lf_real *mask, int64_t rows, int64_t T)
{
    for (int64_t r = 0; r < rows; r++) {
        lf_real *pr = p + r * T, sum = 0;
        if (mask)
            for (int64_t j = 0; j < T; j++) pr[j] += mask[j];
        lf_real mx = pr[0];
        for (int64_t j = 1; j < T; j++) mx = pr[j] > mx ? pr[j] : mx;
        if (mx == -INFINITY) {
            memset(pr, 0, (size_t)T * sizeof(lf_real));
            continue;
        }
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < T; j++) {
            const lf_real e = SA_EXP(pr[j] - mx);
            pr[j] = e;
            sum += e;
        }
        const lf_real inv = 1 / sum;
        for (int64_t j = 0; j < T; j++) pr[j] *= inv;
    }
}

static int team_size(int64_t pairs)
{
    int t = lf_get_threads();
    return pairs < t ? (int)pairs : t;
}

static lf_status self_attention_backward(lf_graph *g, lf_node *n)
{
    const sa_saved *s = n->saved;
    lf_tensor *qkv = n->in[0];
    const int64_t B = s->B, T = s->T, E = s->E, H = s->H, Dh = E / H, BH = B * H;
    const int threads = team_size(BH);
    lf_real *dp_all = lf_graph_scratch(g, 0, (size_t)(threads * T * T) * sizeof(lf_real));
    if (!dp_all) return LF_ERR_NOMEM;
    const lf_real sc = (lf_real)s->scale, *dout = n->out->grad;
    lf_real *dqkv = qkv->grad;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t i = 0; i < BH; i++) {
        const int64_t b = i / H, h = i % H;
        const lf_real *p = s->p + i * T * T, *dO = dout + b * T * E + h * Dh;
        const lf_real *q = qkv->data + b * T * 3 * E + h * Dh, *k = q + E, *v = q + 2 * E;
        lf_real *dq = dqkv + b * T * 3 * E + h * Dh, *dk = dq + E, *dv = dq + 2 * E;
        lf_real *dp = dp_all + (int64_t)(threads > 1 ? omp_get_thread_num() : 0) * T * T;
        lf_gemm(true, false, T, Dh, T, 1, p, T, dO, E, 1, dv, 3 * E);
        lf_gemm(false, true, T, T, Dh, 1, dO, E, v, 3 * E, 0, dp, T);
        for (int64_t r = 0; r < T; r++) lf_softmax_backward_row(dp + r * T, p + r * T, T);
        lf_gemm(false, false, T, Dh, T, sc, dp, T, k, 3 * E, 1, dq, 3 * E);
        lf_gemm(true, false, T, Dh, T, sc, dp, T, q, 3 * E, 1, dk, 3 * E);
    }
    return LF_OK;
}

lf_tensor *lf_self_attention(lf_graph *g, lf_tensor *qkv, int heads, double scale,
                             lf_tensor *key_mask)
{
    if (!qkv) return NULL;
    char a[96], b[96];
    if (qkv->ndim != 3 || heads < 1 || qkv->shape[2] % (3 * (int64_t)heads) != 0) {
        lf_error(LF_ERR_SHAPE, "self_attention: qkv %s with %d heads: expected (B, T, 3E) with E "
                 "divisible by the heads", lf_shape_str(qkv, a, sizeof a), heads);
        return NULL;
    }
    if (key_mask && (key_mask->ndim != 2 || key_mask->shape[0] != qkv->shape[0] ||
                     key_mask->shape[1] != qkv->shape[1])) {
        lf_error(LF_ERR_SHAPE, "self_attention: key mask %s must be (B, T) for qkv %s",
                 lf_shape_str(key_mask, a, sizeof a), lf_shape_str(qkv, b, sizeof b));
        return NULL;
    }
    qkv = lf_contiguous(g, qkv);
    if (!qkv) return NULL;
    if (key_mask && !(key_mask = lf_contiguous(g, key_mask))) return NULL;
    const int64_t B = qkv->shape[0], T = qkv->shape[1], E = qkv->shape[2] / 3, H = heads;
    const int64_t Dh = E / H, BH = B * H;
    lf_tensor *y = lf_op_output(g, 3, (int64_t[]){B, T, E}, LF_IN(qkv));
    if (!y) return NULL;
    if (T == 0 || BH == 0) return y;
    const bool keep = g->grad_enabled && lf_needs_grad(y);
    const int threads = team_size(BH);
    /* training: every P kept for backward; inference: one T x T buffer per thread */
    lf_real *p_all = keep ? lf_graph_alloc(g, (size_t)(BH * T * T) * sizeof(lf_real))
                          : lf_graph_scratch(g, 0, (size_t)(threads * T * T) * sizeof(lf_real));
    if (!p_all) return NULL;
    const lf_real sc = (lf_real)scale;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t i = 0; i < BH; i++) {
        const int64_t b = i / H, h = i % H;
        const lf_real *q = qkv->data + b * T * 3 * E + h * Dh, *k = q + E, *v = q + 2 * E;
        lf_real *p = p_all + (keep ? i : (threads > 1 ? omp_get_thread_num() : 0)) * T * T;
        lf_gemm(false, true, T, T, Dh, sc, q, 3 * E, k, 3 * E, 0, p, T);
        softmax_rows(p, key_mask ? key_mask->data + b * T : NULL, T, T);
        lf_gemm(false, false, T, Dh, T, 1, p, T, v, 3 * E, 0, y->data + b * T * E + h * Dh, E);
    }
    if (!keep) return y;
    /* what backward reads, allocated before the node exists (a node without it must not be
     * left on the tape) */
    sa_saved *s = lf_graph_alloc(g, sizeof *s);
    if (!s) return NULL;
    *s = (sa_saved){p_all, B, T, E, H, scale};
    lf_node *n = lf_record(g, "self_attention", self_attention_backward, y, LF_IN(qkv));
    if (n) n->saved = s;
    return y;
}
