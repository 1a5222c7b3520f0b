/* Embedding lookup: table (V, E), int64 ids of any shape -> (shape..., E), as
 * torch.nn.functional.embedding. Backward scatter-adds each output row into the table's
 * gradient row of its id (repeated ids accumulate). */
#include "../core/internal.h"

#include <string.h>

typedef struct emb_saved {
    int64_t *ids; /* (n) copy: the caller's array may change before backward */
    int64_t n;
} emb_saved;

static lf_status embedding_backward(lf_graph *g, lf_node *nd)
{
    (void)g;
    emb_saved *s = nd->saved;
    lf_tensor *table = nd->in[0];
    int64_t E = table->shape[1];
    const lf_real *dy = nd->out->grad;
    /* serial on purpose: rows of repeated ids would race, and the order fixes the rounding */
    for (int64_t i = 0; i < s->n; i++) {
        lf_real *gr = table->grad + s->ids[i] * E;
        const lf_real *dr = dy + i * E;
        for (int64_t e = 0; e < E; e++) gr[e] += dr[e];
    }
    return LF_OK;
}

lf_tensor *lf_embedding(lf_graph *g, lf_tensor *table, const int64_t *ids, int ndim,
                        const int64_t *shape)
{
    if (!table) return NULL;
    char st[96];
    if (table->ndim != 2) {
        lf_error(LF_ERR_SHAPE, "embedding: table %s must be (V, E)",
                 lf_shape_str(table, st, sizeof st));
        return NULL;
    }
    if (ndim < 0 || ndim + 1 > LF_MAX_DIMS || (ndim > 0 && !shape)) {
        lf_error(LF_ERR_ARG, "embedding: ids with %d dims (0 to %d allowed)", ndim,
                 LF_MAX_DIMS - 1);
        return NULL;
    }
    int64_t n = 1, yshape[LF_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            lf_error(LF_ERR_SHAPE, "embedding: negative size %lld in dim %d of the ids",
                     (long long)shape[i], i);
            return NULL;
        }
        n *= shape[i];
        yshape[i] = shape[i];
    }
    if (n > 0 && !ids) {
        lf_error(LF_ERR_ARG, "embedding: NULL ids for %lld positions", (long long)n);
        return NULL;
    }
    int64_t V = table->shape[0], E = table->shape[1];
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V) {
            lf_error(LF_ERR_ARG, "embedding: id %lld at position %lld is out of range [0, %lld) "
                                 "for table %s",
                     (long long)ids[i], (long long)i, (long long)V,
                     lf_shape_str(table, st, sizeof st));
            return NULL;
        }
    yshape[ndim] = E;
    table = lf_contiguous(g, table);
    if (!table) return NULL;
    lf_tensor *y = lf_op_output(g, ndim + 1, yshape, LF_IN(table));
    if (!y) return NULL;
    for (int64_t i = 0; i < n; i++)
        memcpy(y->data + i * E, table->data + ids[i] * E, (size_t)E * sizeof(lf_real));
    lf_node *nd = lf_record(g, "embedding", embedding_backward, y, LF_IN(table));
    if (nd) {
        emb_saved *s = lf_graph_alloc(g, sizeof *s);
        int64_t *copy = lf_graph_alloc(g, (size_t)(n ? n : 1) * sizeof(int64_t));
        if (!s || !copy) return NULL;
        if (n) memcpy(copy, ids, (size_t)n * sizeof(int64_t));
        s->ids = copy;
        s->n = n;
        nd->saved = s;
    }
    return y;
}
