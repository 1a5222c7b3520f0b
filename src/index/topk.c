/* A bounded min-heap keeping the k best (score, id) pairs of one query. */
#include "index_internal.h"

#include <math.h>

static void sift_down(lf_topk *t, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        /* the root must be the WORST kept hit */
        if (l < t->n && lf_topk_better(t->score[w], t->id[w], t->score[l], t->id[l])) w = l;
        if (r < t->n && lf_topk_better(t->score[w], t->id[w], t->score[r], t->id[r])) w = r;
        if (w == i) return;
        float s = t->score[i]; t->score[i] = t->score[w]; t->score[w] = s;
        int64_t d = t->id[i]; t->id[i] = t->id[w]; t->id[w] = d;
        i = w;
    }
}

void lf_topk_push(lf_topk *t, float s, int64_t id)
{
    if (t->n < t->k) {
        int i = t->n++;
        t->score[i] = s;
        t->id[i] = id;
        while (i > 0) { /* sift up: parent must be worse than child */
            int p = (i - 1) / 2;
            if (!lf_topk_better(t->score[p], t->id[p], t->score[i], t->id[i])) break;
            float ts = t->score[i]; t->score[i] = t->score[p]; t->score[p] = ts;
            int64_t ti = t->id[i]; t->id[i] = t->id[p]; t->id[p] = ti;
            i = p;
        }
        return;
    }
    if (!lf_topk_better(s, id, t->score[0], t->id[0])) return;
    t->score[0] = s;
    t->id[0] = id;
    sift_down(t, 0);
}

void lf_topk_finish(lf_topk *t, int64_t *ids, float *scores)
{
    int n = t->n;
    /* pop worst-first into the back of the output */
    for (int i = n - 1; i >= 0; i--) {
        ids[i] = t->id[0];
        scores[i] = t->score[0];
        t->n--;
        t->score[0] = t->score[t->n];
        t->id[0] = t->id[t->n];
        sift_down(t, 0);
    }
    for (int i = n; i < t->k; i++) {
        ids[i] = -1;
        scores[i] = -INFINITY;
    }
}
