/* Internals of the embedding index (src/index/). */
#ifndef LF_INDEX_INTERNAL_H
#define LF_INDEX_INTERNAL_H

#include "core/internal.h"

/* Vectors are kept in "slot" order: grouped by IVF list once one is trained (so a list is one
 * contiguous block), identity order before. slot_id maps a slot to the caller's id, id_slot
 * back. */
struct lf_index {
    int64_t n, d;
    float *vecs;      /* (n, d) in slot order, unit norm */
    int64_t *slot_id; /* (n) */
    int64_t *id_slot; /* (n) */
    /* IVF (nlist == 0: none) */
    int64_t nlist;
    int nprobe;
    float *centroids; /* (nlist, d), unit norm */
    int64_t *list_off; /* (nlist + 1): list j is slots [list_off[j], list_off[j+1]) */
};

/* Top-k of one query kept as a min-heap on (score, -id): the root is the worst kept hit. */
typedef struct lf_topk {
    int k, n;
    float *score;
    int64_t *id;
} lf_topk;

static inline int lf_topk_better(float sa, int64_t ia, float sb, int64_t ib)
{
    return sa > sb || (sa == sb && ia < ib);
}
void lf_topk_push(lf_topk *t, float s, int64_t id);
/* Sorts the kept hits best first into ids/scores (k entries, padded with -1 / -inf). */
void lf_topk_finish(lf_topk *t, int64_t *ids, float *scores);

/* Exact top-k of queries q (nq, d; unit norm) against rows [0, n) of x (slot order); the
 * ids written are slot indices. Blocked sgemm; threads over queries for the heaps. */
lf_status lf_flat_search(const float *x, int64_t n, int64_t d, const float *q, int64_t nq,
                         int k, int64_t *ids, float *scores);

/* Spherical k-means: centroids (kc, d) from x (n, d); unit-norm rows in and out. */
lf_status lf_kmeans_spherical(const float *x, int64_t n, int64_t d, int64_t kc, int iters,
                              uint64_t seed, float *centroids);
/* Nearest centroid (by inner product) of every row; blocked sgemm. */
lf_status lf_assign_nearest(const float *x, int64_t n, const float *c, int64_t kc, int64_t d,
                            int64_t *assign);

/* ids[row] = global id of every row of kind (n rows); an error when a row has no item. */
lf_status lf_index_meta_row_ids(lf_index_meta *m, int kind, int64_t n, int64_t *ids);
lf_model_encoder_loader lf_index_model_loader(void); /* NULL when none registered */

#endif
