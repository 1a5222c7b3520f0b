/* lf_loader: worker threads fill a ring of prefetched batches (see labelfree.h).
 *
 * Batches form one sequence q = 0, 1, 2, ... across epochs; slot q % ring holds batch q.
 * A worker claims the next q, waits until the consumer has released the slot's previous
 * batch (slot.free_for == q), fills it without the lock, then publishes it (ready == q).
 * The consumer takes batches strictly in order, so the stream is the same for any number
 * of workers; each image's augmentation draws from its own (seed, epoch, index, view)
 * stream, so the pixels are too. */
#include "labelfree.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct slot {
    lf_batch b;
    int64_t free_for; /* the batch number allowed to fill this slot next */
    int64_t ready;    /* the batch number it holds, -1 none */
    lf_status status;
    char err[1024];
} slot;

typedef struct worker {
    lf_loader *L;
    pthread_t th;
    int started;
    lf_image img, view;   /* decoded image (no cache) and augmented view */
    float *scratch;
    int64_t *perm;        /* this worker's copy of an epoch's order */
    int64_t perm_epoch;
} worker;

struct lf_loader {
    const lf_dataset *ds;
    lf_loader_config cfg;
    lf_norm_stats norm;
    int has_norm;
    int64_t n, bpe;       /* items in the split, batches per epoch */
    int64_t *items;       /* dataset indices of the split */
    lf_image *cache;      /* decoded images (cfg.cache) */
    int c, h, w, src_h, src_w;
    slot *slots;
    worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t next_claim, consumed; /* consumed: batch handed out last, -1 none */
    int64_t first;                /* stream position of batch 0 (cfg.start_batch) */
    int stop;
};

lf_loader_config lf_loader_config_default(void)
{
    lf_loader_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = 256;
    c.views = 2;
    c.threads = 1;
    c.prefetch = 3;
    c.shuffle = 1;
    c.drop_last = 1;
    c.cache = 1;
    c.split = LF_SPLIT_TRAIN;
    c.aug = lf_augment_simclr(96, 96);
    return c;
}

int64_t lf_loader_batches_per_epoch(const lf_loader *L) { return L ? L->bpe : 0; }
int64_t lf_loader_count(const lf_loader *L) { return L ? L->n : 0; }

static void epoch_order(const lf_loader *L, int64_t epoch, int64_t *perm)
{
    memcpy(perm, L->items, (size_t)L->n * sizeof(int64_t));
    if (L->cfg.shuffle) {
        lf_rng r = lf_rng_make(L->cfg.seed ^ 0x0DE5C0FFEEull, (uint64_t)epoch);
        lf_rng_shuffle(&r, perm, L->n);
    }
}

/* Checks a decoded image against the loader's channel count and size. */
static lf_status check_image(const lf_loader *L, int64_t i, const lf_image *im)
{
    if (im->c != L->c)
        return lf_error(LF_ERR_SHAPE, "%s: %s has %d channels but the data set's first image "
                        "has %d (mixed channel counts)", lf_dataset_origin(L->ds, i),
                        lf_dataset_path(L->ds, i), im->c, L->c);
    if (im->h != L->src_h || im->w != L->src_w || im->d != 1)
        return lf_error(LF_ERR_SHAPE, "%s: %s is %dx%d but the data set's first image is %dx%d "
                        "(mixed image sizes)", lf_dataset_origin(L->ds, i),
                        lf_dataset_path(L->ds, i), im->h, im->w, L->src_h, L->src_w);
    return LF_OK;
}

static lf_status fill(worker *wk, int64_t q, lf_batch *b)
{
    lf_loader *L = wk->L;
    int64_t epoch = q / L->bpe, step = q % L->bpe;
    if (wk->perm_epoch != epoch) {
        epoch_order(L, epoch, wk->perm);
        wk->perm_epoch = epoch;
    }
    int64_t start = step * L->cfg.batch_size, n = L->n - start;
    if (n > L->cfg.batch_size) n = L->cfg.batch_size;
    b->n = (int)n;
    b->epoch = epoch;
    b->step = step;
    size_t per = (size_t)L->c * L->h * L->w, plane = (size_t)L->h * L->w;
    for (int64_t j = 0; j < n; j++) {
        int64_t i = wk->perm[start + j];
        const lf_image *src;
        lf_status st;
        if (L->cache) {
            src = &L->cache[i];
        } else {
            if ((st = lf_dataset_read(L->ds, i, &wk->img)) != LF_OK) return st;
            if ((st = check_image(L, i, &wk->img)) != LF_OK) return st;
            src = &wk->img;
        }
        b->index[j] = i;
        b->label[j] = lf_dataset_label(L->ds, i);
        for (int v = 0; v < L->cfg.views; v++) {
            lf_rng r = lf_augment_rng(L->cfg.seed, epoch, i, v);
            if ((st = lf_augment_apply(&L->cfg.aug, src, &wk->view, wk->scratch, &r)) != LF_OK)
                return st;
            lf_real *out = b->view[v] + (size_t)j * per;
            for (int c = 0; c < L->c; c++) {
                const float *p = wk->view.data + c * plane;
                lf_real *o = out + c * plane;
                if (L->has_norm) {
                    float m = (float)L->norm.mean[c], inv = (float)(1.0 / L->norm.std[c]);
                    for (size_t k = 0; k < plane; k++) o[k] = (lf_real)((p[k] - m) * inv);
                } else {
                    for (size_t k = 0; k < plane; k++) o[k] = (lf_real)p[k];
                }
            }
        }
    }
    return LF_OK;
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    lf_loader *L = wk->L;
    int R = L->cfg.prefetch;
    for (;;) {
        pthread_mutex_lock(&L->mu);
        int64_t q = L->next_claim++;
        slot *s = &L->slots[q % R];
        while (!L->stop && s->free_for != q) pthread_cond_wait(&L->cv, &L->mu);
        if (L->stop) {
            pthread_mutex_unlock(&L->mu);
            return NULL;
        }
        pthread_mutex_unlock(&L->mu);
        lf_clear_error();
        lf_status st = fill(wk, q + L->first, &s->b);
        pthread_mutex_lock(&L->mu);
        s->status = st;
        if (st != LF_OK) snprintf(s->err, sizeof s->err, "%s", lf_last_error());
        s->ready = q;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
    }
}

lf_status lf_loader_next(lf_loader *L, const lf_batch **batch)
{
    if (!L || !batch) return lf_error(LF_ERR_ARG, "lf_loader_next: NULL argument");
    *batch = NULL;
    int R = L->cfg.prefetch;
    pthread_mutex_lock(&L->mu);
    if (L->consumed >= 0) { /* give the previous batch's slot back */
        L->slots[L->consumed % R].free_for = L->consumed + R;
        pthread_cond_broadcast(&L->cv);
    }
    int64_t q = ++L->consumed;
    slot *s = &L->slots[q % R];
    while (s->ready != q) pthread_cond_wait(&L->cv, &L->mu);
    lf_status st = s->status;
    pthread_mutex_unlock(&L->mu);
    if (st != LF_OK) return lf_error(st, "%s", s->err);
    *batch = &s->b;
    return LF_OK;
}

void lf_loader_free(lf_loader *L)
{
    if (!L) return;
    if (L->workers) {
        pthread_mutex_lock(&L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
        for (int t = 0; t < L->cfg.threads; t++) {
            worker *wk = &L->workers[t];
            if (wk->started) pthread_join(wk->th, NULL);
            lf_image_free(&wk->img);
            lf_image_free(&wk->view);
            lf_free(wk->scratch);
            lf_free(wk->perm);
        }
        lf_free(L->workers);
    }
    if (L->slots) {
        for (int k = 0; k < L->cfg.prefetch; k++) {
            lf_free(L->slots[k].b.view[0]);
            lf_free(L->slots[k].b.view[1]);
            lf_free(L->slots[k].b.label);
            lf_free(L->slots[k].b.index);
        }
        lf_free(L->slots);
    }
    if (L->cache) {
        for (int64_t i = 0; i < lf_dataset_count(L->ds); i++) lf_image_free(&L->cache[i]);
        lf_free(L->cache);
    }
    lf_free(L->items);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    lf_free(L);
}

lf_status lf_loader_create(lf_loader **out, const lf_dataset *ds, const lf_loader_config *cfg)
{
    if (!out || !ds || !cfg) return lf_error(LF_ERR_ARG, "lf_loader_create: NULL argument");
    *out = NULL;
    if (cfg->batch_size < 1 || cfg->views < 1 || cfg->views > 2 || cfg->threads < 1 ||
        cfg->threads > 256 || cfg->prefetch < 1 || cfg->prefetch > 64)
        return lf_error(LF_ERR_ARG, "lf_loader_create: batch_size %d, views %d (1 or 2), "
                        "threads %d, prefetch %d", cfg->batch_size, cfg->views, cfg->threads,
                        cfg->prefetch);
    lf_loader *L = lf_calloc(1, sizeof *L);
    if (!L) return LF_ERR_NOMEM;
    L->ds = ds;
    L->cfg = *cfg;
    L->consumed = -1;
    L->first = cfg->start_batch > 0 ? cfg->start_batch : 0;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    lf_status st = LF_OK;
    L->n = cfg->indices ? cfg->n_indices : lf_dataset_indices(ds, cfg->split, NULL);
    for (int64_t k = 0; cfg->indices && k < cfg->n_indices && st == LF_OK; k++)
        if (cfg->indices[k] < 0 || cfg->indices[k] >= lf_dataset_count(ds))
            st = lf_error(LF_ERR_ARG, "lf_loader_create: index %lld at position %lld is out of "
                          "range [0, %lld)", (long long)cfg->indices[k], (long long)k,
                          (long long)lf_dataset_count(ds));
    if (st == LF_OK && cfg->start_batch < 0)
        st = lf_error(LF_ERR_ARG, "lf_loader_create: start_batch %lld < 0", (long long)cfg->start_batch);
    if (st == LF_OK && L->n == 0) st = lf_error(LF_ERR_ARG, "lf_loader_create: no items in the split");
    if (st == LF_OK && cfg->drop_last && L->n < cfg->batch_size)
        st = lf_error(LF_ERR_ARG, "lf_loader_create: %lld items < batch size %d with "
                      "drop_last", (long long)L->n, cfg->batch_size);
    if (st == LF_OK) {
        L->bpe = cfg->drop_last ? L->n / cfg->batch_size
                                : (L->n + cfg->batch_size - 1) / cfg->batch_size;
        L->items = lf_malloc((size_t)L->n * sizeof(int64_t));
        if (!L->items) st = LF_ERR_NOMEM;
        else if (cfg->indices) memcpy(L->items, cfg->indices, (size_t)L->n * sizeof(int64_t));
        else lf_dataset_indices(ds, cfg->split, L->items);
    }
    /* geometry from the first image; with the cache, decode (and check) everything now */
    lf_image first = {0};
    if (st == LF_OK && (st = lf_dataset_read(ds, L->items[0], &first)) == LF_OK) {
        L->c = first.c;
        L->src_h = first.h;
        L->src_w = first.w;
        if (first.d != 1)
            st = lf_error(LF_ERR_UNSUPPORTED, "%s: volumes (depth %d) are not supported by the "
                          "loader yet", lf_dataset_path(ds, L->items[0]), first.d);
    }
    lf_image_free(&first);
    L->h = cfg->aug.out_h;
    L->w = cfg->aug.out_w;
    if (st == LF_OK && (L->h < 1 || L->w < 1))
        st = lf_error(LF_ERR_ARG, "lf_loader_create: output size %dx%d", L->h, L->w);
    if (st == LF_OK && cfg->norm) {
        if (cfg->norm->channels != L->c)
            st = lf_error(LF_ERR_SHAPE, "lf_loader_create: normalisation stats for %d channels "
                          "but the images have %d", cfg->norm->channels, L->c);
        L->norm = *cfg->norm;
        L->has_norm = 1;
    }
    if (st == LF_OK && cfg->cache) {
        L->cache = lf_calloc((size_t)lf_dataset_count(ds), sizeof(lf_image));
        if (!L->cache) st = LF_ERR_NOMEM;
        for (int64_t k = 0; k < L->n && st == LF_OK; k++) {
            int64_t i = L->items[k];
            if ((st = lf_dataset_read(ds, i, &L->cache[i])) == LF_OK)
                st = check_image(L, i, &L->cache[i]);
        }
    }
    if (st == LF_OK) {
        int R = cfg->prefetch;
        size_t per = (size_t)cfg->batch_size * L->c * L->h * L->w;
        L->slots = lf_calloc((size_t)R, sizeof(slot));
        if (!L->slots) st = LF_ERR_NOMEM;
        for (int k = 0; k < R && st == LF_OK; k++) {
            lf_batch *b = &L->slots[k].b;
            L->slots[k].free_for = k;
            L->slots[k].ready = -1;
            b->c = L->c;
            b->h = L->h;
            b->w = L->w;
            for (int v = 0; v < cfg->views; v++)
                if (!(b->view[v] = lf_malloc(per * sizeof(lf_real)))) st = LF_ERR_NOMEM;
            b->label = lf_malloc((size_t)cfg->batch_size * sizeof(int64_t));
            b->index = lf_malloc((size_t)cfg->batch_size * sizeof(int64_t));
            if (!b->label || !b->index) st = LF_ERR_NOMEM;
        }
    }
    if (st == LF_OK) {
        L->workers = lf_calloc((size_t)cfg->threads, sizeof(worker));
        if (!L->workers) st = LF_ERR_NOMEM;
        for (int t = 0; t < cfg->threads && st == LF_OK; t++) {
            worker *wk = &L->workers[t];
            wk->L = L;
            wk->perm_epoch = -1;
            wk->perm = lf_malloc((size_t)L->n * sizeof(int64_t));
            wk->scratch = lf_malloc((size_t)L->h * L->w * sizeof(float));
            if (!wk->perm || !wk->scratch ||
                lf_image_alloc(&wk->view, L->c, 1, L->h, L->w) != LF_OK) {
                st = LF_ERR_NOMEM;
                break;
            }
        }
        for (int t = 0; t < cfg->threads && st == LF_OK; t++) {
            if (pthread_create(&L->workers[t].th, NULL, worker_main, &L->workers[t]) != 0)
                st = lf_error(LF_ERR_STATE, "lf_loader_create: cannot start worker thread %d", t);
            else L->workers[t].started = 1;
        }
    }
    if (st != LF_OK) {
        lf_loader_free(L);
        return st;
    }
    *out = L;
    return LF_OK;
}
