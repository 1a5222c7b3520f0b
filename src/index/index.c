/* lf_index: creation, IVF training and search (exact or IVF-Flat). */
#include "index_internal.h"

#include <cblas.h>
#include <omp.h>
#include <math.h>
#include <string.h>

void lf_normalize_rows(float *x, int64_t n, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        float *r = x + i * d;
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += (double)r[j] * r[j];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (int64_t j = 0; j < d; j++) r[j] *= inv;
        }
    }
}

static lf_index *alloc_index(int64_t n, int64_t d)
{
    lf_index *ix = lf_calloc(1, sizeof *ix);
    if (!ix) return NULL;
    ix->n = n;
    ix->d = d;
    ix->vecs = lf_malloc(sizeof(float) * (size_t)(n * d > 0 ? n * d : 1));
    ix->slot_id = lf_malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    ix->id_slot = lf_malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (!ix->vecs || !ix->slot_id || !ix->id_slot) {
        lf_index_free(ix);
        return NULL;
    }
    return ix;
}

lf_status lf_index_create(lf_index **out, const float *vecs, int64_t n, int64_t d)
{
    if (!out) return lf_error(LF_ERR_ARG, "lf_index_create: out is NULL");
    *out = NULL;
    if (n < 1 || d < 1 || d > (1 << 20) || (!vecs))
        return lf_error(LF_ERR_ARG, "lf_index_create: %lld vectors of dimension %lld (need n >= 1, 1 <= d <= 2^20)",
                        (long long)n, (long long)d);
    lf_index *ix = alloc_index(n, d);
    if (!ix) return lf_error(LF_ERR_NOMEM, "lf_index_create: %lld x %lld floats", (long long)n, (long long)d);
    memcpy(ix->vecs, vecs, sizeof(float) * (size_t)(n * d));
    for (int64_t i = 0; i < n; i++) {
        const float *r = vecs + i * d;
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += (double)r[j] * r[j];
        if (!(s > 0) || !isfinite(s)) {
            lf_index_free(ix);
            return lf_error(LF_ERR_NUMERIC, "lf_index_create: row %lld has %s norm (cosine undefined)",
                            (long long)i, isfinite(s) ? "zero" : "non-finite");
        }
        ix->slot_id[i] = i;
        ix->id_slot[i] = i;
    }
    lf_normalize_rows(ix->vecs, n, d);
    *out = ix;
    return LF_OK;
}

void lf_index_free(lf_index *ix)
{
    if (!ix) return;
    lf_free(ix->vecs);
    lf_free(ix->slot_id);
    lf_free(ix->id_slot);
    lf_free(ix->centroids);
    lf_free(ix->list_off);
    lf_free(ix);
}

int64_t lf_index_count(const lf_index *ix) { return ix ? ix->n : 0; }
int64_t lf_index_dim(const lf_index *ix) { return ix ? ix->d : 0; }
int lf_index_has_ivf(const lf_index *ix) { return ix && ix->nlist > 0; }
int64_t lf_index_nlist(const lf_index *ix) { return ix ? ix->nlist : 0; }
int lf_index_nprobe(const lf_index *ix) { return ix ? ix->nprobe : 0; }

void lf_index_set_nprobe(lf_index *ix, int nprobe)
{
    if (!ix || !ix->nlist) return;
    if (nprobe < 1) nprobe = 1;
    if (nprobe > ix->nlist) nprobe = (int)ix->nlist;
    ix->nprobe = nprobe;
}

const float *lf_index_vector(const lf_index *ix, int64_t id)
{
    if (!ix || id < 0 || id >= ix->n) return NULL;
    return ix->vecs + ix->id_slot[id] * ix->d;
}

lf_status lf_index_train_ivf(lf_index *ix, const lf_ivf_config *cfg_in)
{
    if (!ix) return lf_error(LF_ERR_ARG, "lf_index_train_ivf: index is NULL");
    lf_ivf_config cfg = {0};
    if (cfg_in) cfg = *cfg_in;
    int64_t n = ix->n, d = ix->d;
    if (cfg.nlist <= 0) {
        cfg.nlist = (int64_t)(4.0 * sqrt((double)n));
        if (cfg.nlist < 1) cfg.nlist = 1;
    }
    if (cfg.nlist > n) cfg.nlist = n;
    if (cfg.nprobe <= 0) cfg.nprobe = (int)(cfg.nlist / 16 > 8 ? cfg.nlist / 16 : 8);
    if (cfg.iters <= 0) cfg.iters = 12;
    if (cfg.train_max <= 0) cfg.train_max = 64 * cfg.nlist;
    if (cfg.train_max < cfg.nlist) cfg.train_max = cfg.nlist;
    int64_t nt = n < cfg.train_max ? n : cfg.train_max;
    int64_t kc = cfg.nlist;
    /* training sample: a seeded subset, in slot order of the original ids so that the result
     * does not depend on a previous training */
    float *train = lf_malloc(sizeof(float) * (size_t)(nt * d));
    float *cent = lf_malloc(sizeof(float) * (size_t)(kc * d));
    int64_t *perm = lf_malloc(sizeof(int64_t) * (size_t)n);
    int64_t *assign = lf_malloc(sizeof(int64_t) * (size_t)n);
    int64_t *off = lf_calloc((size_t)kc + 1, sizeof(int64_t));
    float *nv = lf_malloc(sizeof(float) * (size_t)(n * d));
    int64_t *nslot = lf_malloc(sizeof(int64_t) * (size_t)n);
    lf_status st = LF_OK;
    if (!train || !cent || !perm || !assign || !off || !nv || !nslot) {
        st = lf_error(LF_ERR_NOMEM, "lf_index_train_ivf: %lld vectors x %lld lists", (long long)n, (long long)kc);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    if (nt < n) {
        lf_rng rng = lf_rng_make(cfg.seed, 0x5a5a);
        for (int64_t j = 0; j < nt; j++) {
            int64_t r = j + (int64_t)lf_rng_below(&rng, (uint32_t)(n - j));
            int64_t t = perm[j]; perm[j] = perm[r]; perm[r] = t;
        }
    }
    for (int64_t j = 0; j < nt; j++)
        memcpy(train + j * d, lf_index_vector(ix, perm[j]), sizeof(float) * (size_t)d);
    st = lf_kmeans_spherical(train, nt, d, kc, cfg.iters, cfg.seed, cent);
    if (st) goto done;
    st = lf_assign_nearest(ix->vecs, n, cent, kc, d, assign); /* assign is per slot */
    if (st) goto done;
    /* counting sort of the slots by list, stable in id order */
    for (int64_t s = 0; s < n; s++) off[assign[s] + 1]++;
    for (int64_t j = 0; j < kc; j++) off[j + 1] += off[j];
    {
        int64_t *pos = perm; /* reuse: write cursor per list */
        for (int64_t j = 0; j < kc; j++) pos[j] = off[j];
        for (int64_t id = 0; id < n; id++) {
            int64_t s = ix->id_slot[id];
            int64_t dst = pos[assign[s]]++;
            memcpy(nv + dst * d, ix->vecs + s * d, sizeof(float) * (size_t)d);
            nslot[dst] = id;
        }
    }
    lf_free(ix->vecs);
    lf_free(ix->slot_id);
    lf_free(ix->centroids);
    lf_free(ix->list_off);
    ix->vecs = nv;
    ix->slot_id = nslot;
    for (int64_t s = 0; s < n; s++) ix->id_slot[nslot[s]] = s;
    ix->centroids = cent;
    ix->list_off = off;
    ix->nlist = kc;
    ix->nprobe = cfg.nprobe > kc ? (int)kc : cfg.nprobe;
    nv = NULL; nslot = NULL; cent = NULL; off = NULL;
done:
    lf_free(train); lf_free(cent); lf_free(perm); lf_free(assign); lf_free(off);
    lf_free(nv); lf_free(nslot);
    return st;
}

/* IVF-Flat search of one query: its nprobe nearest lists, each scanned with one sgemv. */
static void ivf_search_one(const lf_index *ix, const float *q, float *cs, float *ls,
                           lf_topk *lists, lf_topk *h)
{
    int64_t d = ix->d;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)ix->nlist, (int)d, 1.0f, ix->centroids,
                (int)d, q, 1, 0.0f, cs, 1);
    for (int64_t j = 0; j < ix->nlist; j++) lf_topk_push(lists, cs[j], j);
    int np = lists->n;
    for (int p = 0; p < np; p++) {
        int64_t j = lists->id[p];
        int64_t a = ix->list_off[j], len = ix->list_off[j + 1] - a;
        if (len == 0) continue;
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)len, (int)d, 1.0f, ix->vecs + a * d,
                    (int)d, q, 1, 0.0f, ls, 1);
        for (int64_t t = 0; t < len; t++) {
            if (h->n == h->k && ls[t] < h->score[0]) continue;
            lf_topk_push(h, ls[t], ix->slot_id[a + t]);
        }
    }
}

lf_status lf_index_search(const lf_index *ix, const float *q, int64_t nq, int k, int exact,
                          int64_t *ids, float *scores)
{
    if (!ix || (!q && nq) || !ids || !scores || nq < 0)
        return lf_error(LF_ERR_ARG, "lf_index_search: NULL argument or nq < 0");
    if (k < 1 || k > 100000) return lf_error(LF_ERR_ARG, "lf_index_search: k = %d (1..100000)", k);
    if (nq == 0) return LF_OK;
    int64_t d = ix->d;
    float *qn = lf_malloc(sizeof(float) * (size_t)(nq * d));
    if (!qn) return lf_error(LF_ERR_NOMEM, "lf_index_search: %lld queries", (long long)nq);
    memcpy(qn, q, sizeof(float) * (size_t)(nq * d));
    for (int64_t i = 0; i < nq * d; i++)
        if (!isfinite(qn[i])) {
            lf_free(qn);
            return lf_error(LF_ERR_NUMERIC, "lf_index_search: query %lld has a non-finite value", (long long)(i / d));
        }
    lf_normalize_rows(qn, nq, d);
    lf_status st = LF_OK;
    if (exact || !ix->nlist) {
        st = lf_flat_search(ix->vecs, ix->n, d, qn, nq, k, ids, scores);
        if (!st)
            for (int64_t i = 0; i < nq * k; i++)
                if (ids[i] >= 0) ids[i] = ix->slot_id[ids[i]];
        lf_free(qn);
        return st;
    }
    int64_t maxlen = 0;
    for (int64_t j = 0; j < ix->nlist; j++)
        if (ix->list_off[j + 1] - ix->list_off[j] > maxlen) maxlen = ix->list_off[j + 1] - ix->list_off[j];
    int nthreads = lf_get_threads();
    if (nthreads < 1) nthreads = 1;
    int np = ix->nprobe;
    size_t per = (size_t)ix->nlist + (size_t)maxlen + (size_t)np + (size_t)k; /* floats */
    float *fs = lf_malloc(sizeof(float) * per * (size_t)nthreads);
    int64_t *is = lf_malloc(sizeof(int64_t) * (size_t)(np + k) * (size_t)nthreads);
    if (!fs || !is) {
        lf_free(qn); lf_free(fs); lf_free(is);
        return lf_error(LF_ERR_NOMEM, "lf_index_search: IVF scratch");
    }
#pragma omp parallel for schedule(dynamic, 4) num_threads(nthreads) if (nq > 1)
    for (int64_t i = 0; i < nq; i++) {
        int t = omp_get_thread_num();
        float *cs = fs + per * (size_t)t, *ls = cs + ix->nlist, *lsc = ls + maxlen, *hsc = lsc + np;
        int64_t *lid = is + (size_t)(np + k) * (size_t)t, *hid = lid + np;
        lf_topk lists = {np, 0, lsc, lid}, h = {k, 0, hsc, hid};
        ivf_search_one(ix, qn + i * d, cs, ls, &lists, &h);
        lf_topk_finish(&h, ids + i * k, scores + i * k);
    }
    lf_free(qn); lf_free(fs); lf_free(is);
    return st;
}
