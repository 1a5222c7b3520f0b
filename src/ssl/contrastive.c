/* Paired contrastive losses of CLIP and CLOOME (CLOOB), each one fused op.
 *
 * Inputs a (N, E) and b (N, E): row i of a (image) and row i of b (molecule) are a pair.
 * x = a / ||a||, y = b / ||b|| row-wise; inverse temperature t = exp(s) with s = log_inv_tau[0]
 * (learnable, CLIP's logit_scale / CLOOME's logit_inv_tau) or a fixed value.
 *
 * CLIP (InfoNCE, both directions; CLOOME's methods.clip):
 *   l = t x y^T;  L = 1/2 mean_i CE(l_i., i) + 1/2 mean_j CE(l_.j, j).
 *   dL/dl = (P_row - I) / 2N + (P_col - I) / 2N  with P_row / P_col the row / column softmax;
 *   dx = t dl y, dy = t dl^T x, dL/ds = sum(dl * l).
 *
 * CLOOB (CLOOME's methods.cloob, the loss of Sanchez-Fernandez et al. 2023):
 *   Hopfield retrieval H(Q, K) = normalize(softmax_rows(beta Q K^T) K)   (state Q, stored K)
 *   Uxx = H(x, x), Uyy = H(y, y), Uxy = H(y, x), Uyx = H(x, y)
 *   L = LOOB(Uxx, Uxy) + LOOB(Uyy, Uyx)   (the sum, not the mean, as CLOOME's code)
 *   LOOB(P, Q) = tau mean_i [ -k_ii + log sum_{j != i} exp(k_ij) ],  k = t P Q^T, tau = 1 / t
 *   (CLOOME masks the diagonal with -1000 inside the logsumexp; here it is left out exactly,
 *   a difference of exp(-1000 - k) relative, far below float precision.)
 *   With S = P Q^T and p_ij the softmax of k_i. over j != i (p_ii = 0):
 *   dL/dS = (p - I) / N, dP = dS Q, dQ = dS^T P, dL/ds = mean_i [ -tau lse_i + sum_j p_ij S_ij ].
 *   Backward of H: dR = (dU - U (U . dU)) / ||R||, dA = dR K^T, dK += A^T dR,
 *   dZ = A * (dA - rowsum(dA * A)), dQ += beta dZ K, dK += beta dZ^T Q.
 *
 * Fused because the N x N matrices are the step's largest activations and the chain of
 * generic ops would keep several copies of each. */
#include "ssl/ssl_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- shared kernels */

void lf_ssl_normalize_rows(const lf_real *X, int64_t N, int64_t D, lf_real *U, lf_real *norm)
{
    for (int64_t i = 0; i < N; i++) {
        double ss = 0;
        for (int64_t k = 0; k < D; k++) ss += (double)X[i * D + k] * X[i * D + k];
        double n = sqrt(ss);
        if (n < 1e-12) n = 1e-12; /* F.normalize's eps clamp */
        norm[i] = (lf_real)n;
        for (int64_t k = 0; k < D; k++) U[i * D + k] = (lf_real)(X[i * D + k] / n);
    }
}

void lf_ssl_normalize_rows_backward(const lf_real *U, const lf_real *norm, const lf_real *dU,
                                    int64_t N, int64_t D, lf_real *dX)
{
    for (int64_t i = 0; i < N; i++) {
        const lf_real *u = U + i * D, *du = dU + i * D;
        double dot = 0;
        for (int64_t k = 0; k < D; k++) dot += (double)u[k] * du[k];
        double inv = 1.0 / norm[i];
        for (int64_t k = 0; k < D; k++) dX[i * D + k] += (lf_real)((du[k] - u[k] * dot) * inv);
    }
}

/* top-1 matching of x against y (rows) and y against x, from S = x y^T (N, N) */
static void top1_both(const lf_real *S, int64_t N, double *ab, double *ba)
{
    int64_t ca = 0, cb = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t ar = 0, ac = 0;
        for (int64_t j = 1; j < N; j++) {
            if (S[i * N + j] > S[i * N + ar]) ar = j;
            if (S[j * N + i] > S[ac * N + i]) ac = j;
        }
        ca += ar == i;
        cb += ac == i;
    }
    *ab = (double)ca / (double)N;
    *ba = (double)cb / (double)N;
}

static int check_inputs(const char *op, lf_tensor *a, lf_tensor *b, lf_tensor *s, double inv_tau)
{
    char b1[96], b2[96];
    if (a->ndim != 2 || b->ndim != 2 || a->shape[0] != b->shape[0] || a->shape[1] != b->shape[1] ||
        a->shape[0] < 2) {
        lf_error(LF_ERR_SHAPE, "%s: expected two (N, E) embedding matrices with N >= 2 paired rows, got %s and %s",
                 op, lf_shape_str(a, b1, sizeof b1), lf_shape_str(b, b2, sizeof b2));
        return 0;
    }
    if (s && lf_numel(s) != 1) {
        lf_error(LF_ERR_SHAPE, "%s: log_inv_tau must have one element, got %s", op,
                 lf_shape_str(s, b1, sizeof b1));
        return 0;
    }
    if (!s && !(inv_tau > 0 && isfinite(inv_tau))) {
        lf_error(LF_ERR_ARG, "%s: inverse temperature must be finite and > 0, got %g", op, inv_tau);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- CLIP */

typedef struct clip_saved {
    lf_real *x, *y, *nx, *ny; /* normalised rows and the norms */
    lf_real *dl;              /* (N, N) dL/dl for an upstream gradient of 1 */
    double t, ds;             /* inverse temperature, dL/ds */
} clip_saved;

static lf_status clip_backward(lf_graph *g, lf_node *n)
{
    clip_saved *sv = n->saved;
    lf_tensor *a = n->in[0], *b = n->in[1], *s = n->in[2];
    int64_t N = a->shape[0], D = a->shape[1];
    double up = (double)n->out->grad[0];
    lf_real *dx = lf_graph_alloc(g, (size_t)(2 * N * D) * sizeof(lf_real));
    if (!dx) return LF_ERR_NOMEM;
    lf_real *dy = dx + N * D;
    lf_real sc = (lf_real)(up * sv->t);
    lf_gemm(false, false, N, D, N, sc, sv->dl, N, sv->y, D, 0, dx, D);
    lf_gemm(true, false, N, D, N, sc, sv->dl, N, sv->x, D, 0, dy, D);
    if (lf_needs_grad(a)) lf_ssl_normalize_rows_backward(sv->x, sv->nx, dx, N, D, a->grad);
    if (lf_needs_grad(b)) lf_ssl_normalize_rows_backward(sv->y, sv->ny, dy, N, D, b->grad);
    if (lf_needs_grad(s)) s->grad[0] += (lf_real)(up * sv->ds);
    return LF_OK;
}

lf_tensor *lf_clip_loss(lf_graph *g, lf_tensor *a, lf_tensor *b, lf_tensor *log_inv_tau,
                        double inv_tau, lf_contrastive_stats *st)
{
    if (!a || !b) return NULL;
    if (!check_inputs("clip_loss", a, b, log_inv_tau, inv_tau)) return NULL;
    a = lf_contiguous(g, a);
    b = lf_contiguous(g, b);
    if (!a || !b) return NULL;
    int64_t N = a->shape[0], D = a->shape[1];
    double t = log_inv_tau ? exp((double)log_inv_tau->data[0]) : inv_tau;
    lf_tensor *out = lf_op_output(g, 1, (int64_t[]){1}, LF_IN(a, b, log_inv_tau));
    clip_saved *sv = lf_graph_alloc(g, sizeof *sv);
    lf_real *buf = lf_graph_alloc(g, (size_t)(2 * N * D + 2 * N + 2 * N * N) * sizeof(lf_real));
    if (!out || !sv || !buf) return NULL;
    sv->x = buf;
    sv->y = buf + N * D;
    sv->nx = buf + 2 * N * D;
    sv->ny = sv->nx + N;
    sv->dl = sv->ny + N;
    lf_real *l = sv->dl + N * N; /* logits */
    sv->t = t;
    lf_ssl_normalize_rows(a->data, N, D, sv->x, sv->nx);
    lf_ssl_normalize_rows(b->data, N, D, sv->y, sv->ny);
    lf_gemm(false, true, N, N, D, 1, sv->x, D, sv->y, D, 0, l, N);
    if (st) {
        top1_both(l, N, &st->top1_ab, &st->top1_ba);
        st->inv_tau = t;
    }
    for (int64_t k = 0; k < N * N; k++) l[k] = (lf_real)(l[k] * t);
    double loss = 0, inv2n = 1.0 / (2.0 * (double)N);
    memset(sv->dl, 0, (size_t)(N * N) * sizeof(lf_real));
    /* rows (image -> molecule), then columns (molecule -> image) */
    for (int dir = 0; dir < 2; dir++)
        for (int64_t i = 0; i < N; i++) {
            int64_t rs = dir ? 1 : N, cs = dir ? N : 1; /* element j of line i at i*rs + j*cs */
            double mx = -INFINITY;
            for (int64_t j = 0; j < N; j++) mx = fmax(mx, (double)l[i * rs + j * cs]);
            double sum = 0;
            for (int64_t j = 0; j < N; j++) sum += exp((double)l[i * rs + j * cs] - mx);
            double lse = mx + log(sum);
            loss += (lse - (double)l[i * rs + i * cs]) * inv2n;
            for (int64_t j = 0; j < N; j++) {
                double p = exp((double)l[i * rs + j * cs] - lse);
                sv->dl[i * rs + j * cs] += (lf_real)((p - (j == i)) * inv2n);
            }
        }
    double ds = 0;
    for (int64_t k = 0; k < N * N; k++) ds += (double)sv->dl[k] * l[k];
    sv->ds = ds;
    out->data[0] = (lf_real)loss;
    lf_node *nd = lf_record(g, "clip_loss", clip_backward, out, LF_IN(a, b, log_inv_tau));
    if (nd) nd->saved = sv;
    return out;
}

/* ---------------------------------------------------------------- CLOOB */

typedef struct hopfield_saved {
    lf_real *A;    /* (N, N) retrieval weights softmax(beta Q K^T) */
    lf_real *U;    /* (N, D) normalised retrieved patterns */
    lf_real *norm; /* (N) norms of the retrieved patterns */
} hopfield_saved;

/* U = normalize(softmax(beta Q K^T) K); Q, K (N, D) */
static void hopfield_forward(const lf_real *Q, const lf_real *K, int64_t N, int64_t D,
                             double beta, hopfield_saved *h, lf_real *R)
{
    lf_gemm(false, true, N, N, D, (lf_real)beta, Q, D, K, D, 0, h->A, N);
    for (int64_t i = 0; i < N; i++) {
        lf_real *row = h->A + i * N;
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < N; j++) mx = fmax(mx, (double)row[j]);
        for (int64_t j = 0; j < N; j++) {
            double e = exp((double)row[j] - mx);
            row[j] = (lf_real)e;
            sum += e;
        }
        for (int64_t j = 0; j < N; j++) row[j] = (lf_real)(row[j] / sum);
    }
    lf_gemm(false, false, N, D, N, 1, h->A, N, K, D, 0, R, D);
    lf_ssl_normalize_rows(R, N, D, h->U, h->norm);
}

/* dQ += ..., dK += ... from dU; scratch: N*D + N*N reals */
static void hopfield_backward(const lf_real *Q, const lf_real *K, int64_t N, int64_t D,
                              double beta, const hopfield_saved *h, const lf_real *dU,
                              lf_real *dQ, lf_real *dK, lf_real *scratch)
{
    lf_real *dR = scratch, *dA = scratch + N * D;
    memset(dR, 0, (size_t)(N * D) * sizeof(lf_real));
    lf_ssl_normalize_rows_backward(h->U, h->norm, dU, N, D, dR);
    lf_gemm(false, true, N, N, D, 1, dR, D, K, D, 0, dA, N); /* dA = dR K^T */
    lf_gemm(true, false, N, D, N, 1, h->A, N, dR, D, 1, dK, D); /* dK += A^T dR */
    for (int64_t i = 0; i < N; i++) { /* dA := dZ, the softmax backward */
        const lf_real *a = h->A + i * N;
        lf_real *d = dA + i * N;
        double dot = 0;
        for (int64_t j = 0; j < N; j++) dot += (double)a[j] * d[j];
        for (int64_t j = 0; j < N; j++) d[j] = (lf_real)((double)a[j] * ((double)d[j] - dot));
    }
    lf_gemm(false, false, N, D, N, (lf_real)beta, dA, N, K, D, 1, dQ, D);
    lf_gemm(true, false, N, D, N, (lf_real)beta, dA, N, Q, D, 1, dK, D);
}

/* InfoLOOB of (P, Q): returns the loss; p (N, N) receives dL/dS = (softmax without the
 * diagonal - I) / N; *ds gets dL/ds. S is scratch (N, N). */
static double infoloob_forward(const lf_real *P, const lf_real *Qm, int64_t N, int64_t D,
                               double t, lf_real *p, double *ds)
{
    lf_gemm(false, true, N, N, D, 1, P, D, Qm, D, 0, p, N); /* S, overwritten row by row */
    double loss = 0, dsum = 0, tau = 1.0 / t;
    for (int64_t i = 0; i < N; i++) {
        lf_real *row = p + i * N;
        double mx = -INFINITY;
        for (int64_t j = 0; j < N; j++)
            if (j != i) mx = fmax(mx, t * (double)row[j]);
        double sum = 0;
        for (int64_t j = 0; j < N; j++)
            if (j != i) sum += exp(t * (double)row[j] - mx);
        double lse = mx + log(sum), sii = (double)row[i], ps = 0;
        for (int64_t j = 0; j < N; j++) {
            if (j == i) continue;
            double pj = exp(t * (double)row[j] - lse);
            ps += pj * (double)row[j];
            row[j] = (lf_real)(pj / (double)N);
        }
        row[i] = (lf_real)(-1.0 / (double)N);
        loss += -sii + tau * lse;
        dsum += -tau * lse + ps;
    }
    *ds = dsum / (double)N;
    return loss / (double)N;
}

typedef struct cloob_saved {
    lf_real *x, *y, *nx, *ny;
    hopfield_saved h[4]; /* xx, yy, xy (state y, stored x), yx (state x, stored y) */
    lf_real *g_img, *g_txt; /* dL/dS of the two InfoLOOB terms */
    double beta, ds;
} cloob_saved;

static lf_status cloob_backward(lf_graph *g, lf_node *n)
{
    cloob_saved *sv = n->saved;
    lf_tensor *a = n->in[0], *b = n->in[1], *s = n->in[2];
    int64_t N = a->shape[0], D = a->shape[1];
    double up = (double)n->out->grad[0];
    size_t nd = (size_t)(N * D);
    lf_real *buf = lf_graph_alloc(g, (4 * nd + 2 * nd + nd + (size_t)(N * N)) * sizeof(lf_real));
    if (!buf) return LF_ERR_NOMEM;
    lf_real *dU[4] = {buf, buf + nd, buf + 2 * nd, buf + 3 * nd};
    lf_real *dx = buf + 4 * nd, *dy = buf + 5 * nd, *scratch = buf + 6 * nd;
    memset(dx, 0, 2 * nd * sizeof(lf_real));
    /* LOOB(Uxx, Uxy): dUxx = G Uxy, dUxy = G^T Uxx; LOOB(Uyy, Uyx) alike */
    const hopfield_saved *h = sv->h;
    lf_real u = (lf_real)up;
    lf_gemm(false, false, N, D, N, u, sv->g_img, N, h[2].U, D, 0, dU[0], D);
    lf_gemm(true, false, N, D, N, u, sv->g_img, N, h[0].U, D, 0, dU[2], D);
    lf_gemm(false, false, N, D, N, u, sv->g_txt, N, h[3].U, D, 0, dU[1], D);
    lf_gemm(true, false, N, D, N, u, sv->g_txt, N, h[1].U, D, 0, dU[3], D);
    hopfield_backward(sv->x, sv->x, N, D, sv->beta, &h[0], dU[0], dx, dx, scratch);
    hopfield_backward(sv->y, sv->y, N, D, sv->beta, &h[1], dU[1], dy, dy, scratch);
    hopfield_backward(sv->y, sv->x, N, D, sv->beta, &h[2], dU[2], dy, dx, scratch);
    hopfield_backward(sv->x, sv->y, N, D, sv->beta, &h[3], dU[3], dx, dy, scratch);
    if (lf_needs_grad(a)) lf_ssl_normalize_rows_backward(sv->x, sv->nx, dx, N, D, a->grad);
    if (lf_needs_grad(b)) lf_ssl_normalize_rows_backward(sv->y, sv->ny, dy, N, D, b->grad);
    if (lf_needs_grad(s)) s->grad[0] += (lf_real)(up * sv->ds);
    return LF_OK;
}

lf_tensor *lf_cloob_loss(lf_graph *g, lf_tensor *a, lf_tensor *b, lf_tensor *log_inv_tau,
                         double inv_tau, double hopfield_beta, lf_contrastive_stats *st)
{
    if (!a || !b) return NULL;
    if (!check_inputs("cloob_loss", a, b, log_inv_tau, inv_tau)) return NULL;
    if (!(hopfield_beta > 0 && isfinite(hopfield_beta))) {
        lf_error(LF_ERR_ARG, "cloob_loss: Hopfield beta must be finite and > 0, got %g", hopfield_beta);
        return NULL;
    }
    a = lf_contiguous(g, a);
    b = lf_contiguous(g, b);
    if (!a || !b) return NULL;
    int64_t N = a->shape[0], D = a->shape[1];
    size_t nd = (size_t)(N * D), nn = (size_t)(N * N);
    double t = log_inv_tau ? exp((double)log_inv_tau->data[0]) : inv_tau;
    lf_tensor *out = lf_op_output(g, 1, (int64_t[]){1}, LF_IN(a, b, log_inv_tau));
    cloob_saved *sv = lf_graph_alloc(g, sizeof *sv);
    /* x, y, 4 U, R scratch; 4 A, 2 G; norms 2 + 4 */
    lf_real *buf = lf_graph_alloc(g, (7 * nd + 6 * nn + 6 * (size_t)N) * sizeof(lf_real));
    if (!out || !sv || !buf) return NULL;
    sv->x = buf;
    sv->y = buf + nd;
    lf_real *R = buf + 6 * nd, *mats = buf + 7 * nd, *norms = mats + 6 * nn;
    sv->nx = norms;
    sv->ny = norms + N;
    for (int k = 0; k < 4; k++) {
        sv->h[k].U = buf + (2 + k) * nd;
        sv->h[k].A = mats + k * nn;
        sv->h[k].norm = norms + (2 + k) * N;
    }
    sv->g_img = mats + 4 * nn;
    sv->g_txt = mats + 5 * nn;
    sv->beta = hopfield_beta;
    lf_ssl_normalize_rows(a->data, N, D, sv->x, sv->nx);
    lf_ssl_normalize_rows(b->data, N, D, sv->y, sv->ny);
    if (st) { /* on the embeddings themselves, before retrieval */
        lf_gemm(false, true, N, N, D, 1, sv->x, D, sv->y, D, 0, sv->g_img, N);
        top1_both(sv->g_img, N, &st->top1_ab, &st->top1_ba);
        st->inv_tau = t;
    }
    hopfield_forward(sv->x, sv->x, N, D, hopfield_beta, &sv->h[0], R);
    hopfield_forward(sv->y, sv->y, N, D, hopfield_beta, &sv->h[1], R);
    hopfield_forward(sv->y, sv->x, N, D, hopfield_beta, &sv->h[2], R);
    hopfield_forward(sv->x, sv->y, N, D, hopfield_beta, &sv->h[3], R);
    double ds_img, ds_txt;
    double loss = infoloob_forward(sv->h[0].U, sv->h[2].U, N, D, t, sv->g_img, &ds_img) +
                  infoloob_forward(sv->h[1].U, sv->h[3].U, N, D, t, sv->g_txt, &ds_txt);
    sv->ds = ds_img + ds_txt;
    out->data[0] = (lf_real)loss;
    lf_node *n = lf_record(g, "cloob_loss", cloob_backward, out, LF_IN(a, b, log_inv_tau));
    if (n) n->saved = sv;
    return out;
}
