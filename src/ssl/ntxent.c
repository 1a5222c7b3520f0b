/* NT-Xent (normalised temperature-scaled cross entropy), the SimCLR loss, as one fused op.
 *
 * z (2N, D): rows 0..N-1 are the first view of each image, rows N..2N-1 the second.
 * With u_i = z_i / ||z_i|| and s_ij = u_i . u_j / T,
 *   loss = 1/(2N) sum_i [ -s_i,p(i) + log sum_{j != i} exp(s_ij) ],   p(i) = (i + N) mod 2N.
 * Backward: dL/ds_ij = (softmax_i(j) - [j = p(i)]) / 2N for j != i;
 *   dL/du = (dS + dS^T) u / T;  dL/dz = (dL/du - u (u . dL/du)) / ||z||.
 * Fused because the (2N, 2N) similarity matrix is the step's largest activation: it is kept
 * once, as probabilities, for backward. */
#include "ssl/ssl_internal.h"

#include <math.h>
#include <string.h>

typedef struct ntxent_saved {
    lf_real *u;     /* (2N, D) normalised rows */
    lf_real *norm;  /* (2N) row norms */
    lf_real *p;     /* (2N, 2N) softmax over j != i (diagonal 0) */
    double inv_t;
} ntxent_saved;

static lf_status ntxent_backward(lf_graph *g, lf_node *n)
{
    ntxent_saved *s = n->saved;
    lf_tensor *z = n->in[0];
    int64_t M = z->shape[0], D = z->shape[1], N = M / 2;
    double scale = (double)n->out->grad[0] / (double)M;
    lf_real *ds = lf_graph_alloc(g, (size_t)(M * M) * sizeof(lf_real));
    lf_real *du = lf_graph_alloc(g, (size_t)(M * D) * sizeof(lf_real));
    if (!ds || !du) return LF_ERR_NOMEM;
    /* symmetric (dS + dS^T) * scale / T */
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < M; j++) {
            double a = s->p[i * M + j] - (j == (i + N) % M ? 1.0 : 0.0);
            double b = s->p[j * M + i] - (i == (j + N) % M ? 1.0 : 0.0);
            ds[i * M + j] = (lf_real)((a + b) * scale * s->inv_t);
        }
    lf_gemm(false, false, M, D, M, 1, ds, M, s->u, D, 0, du, D);
    lf_ssl_normalize_rows_backward(s->u, s->norm, du, M, D, z->grad);
    return LF_OK;
}

lf_tensor *lf_nt_xent(lf_graph *g, lf_tensor *z, double temperature, double *top1)
{
    if (!z) return NULL;
    char b[96];
    if (z->ndim != 2 || z->shape[0] < 2 || z->shape[0] % 2) {
        lf_error(LF_ERR_SHAPE, "nt_xent: expected (2N, D) with the two views stacked, got %s",
                 lf_shape_str(z, b, sizeof b));
        return NULL;
    }
    if (!(temperature > 0)) {
        lf_error(LF_ERR_ARG, "nt_xent: temperature must be > 0, got %g", temperature);
        return NULL;
    }
    z = lf_contiguous(g, z);
    if (!z) return NULL;
    int64_t M = z->shape[0], D = z->shape[1], N = M / 2;
    ntxent_saved *s = lf_graph_alloc(g, sizeof *s);
    lf_tensor *y = lf_op_output(g, 1, (int64_t[]){1}, LF_IN(z));
    if (!s || !y) return NULL;
    s->u = lf_graph_alloc(g, (size_t)(M * D) * sizeof(lf_real));
    s->norm = lf_graph_alloc(g, (size_t)M * sizeof(lf_real));
    s->p = lf_graph_alloc(g, (size_t)(M * M) * sizeof(lf_real));
    if (!s->u || !s->norm || !s->p) return NULL;
    s->inv_t = 1.0 / temperature;
    lf_ssl_normalize_rows(z->data, M, D, s->u, s->norm);
    lf_gemm(false, true, M, M, D, (lf_real)s->inv_t, s->u, D, s->u, D, 0, s->p, M);
    double loss = 0;
    int64_t correct = 0;
    for (int64_t i = 0; i < M; i++) {
        lf_real *row = s->p + i * M;
        int64_t pos = (i + N) % M;
        double mx = -INFINITY;
        int64_t arg = -1;
        for (int64_t j = 0; j < M; j++)
            if (j != i && row[j] > mx) {
                mx = row[j];
                arg = j;
            }
        correct += arg == pos;
        double sum = 0, spos = row[pos];
        for (int64_t j = 0; j < M; j++) {
            double e = j == i ? 0.0 : exp((double)row[j] - mx);
            row[j] = (lf_real)e;
            sum += e;
        }
        loss += -(spos - mx) + log(sum);
        for (int64_t j = 0; j < M; j++) row[j] = (lf_real)(row[j] / sum);
    }
    y->data[0] = (lf_real)(loss / (double)M);
    if (top1) *top1 = (double)correct / (double)M;
    lf_node *n = lf_record(g, "nt_xent", ntxent_backward, y, LF_IN(z));
    if (n) n->saved = s;
    return y;
}
