/* safetensors writer: collects (name, dtype, shape, data pointer), then writes the header
 * (JSON via jansson, padded with spaces to a multiple of 8 bytes so the data is aligned) and
 * the data, converting lf_real to the stored dtype through a fixed buffer. Atomic. */
#include "io_internal.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

typedef struct st_item {
    char *name;
    lf_dtype dtype;
    int ndim;
    int64_t shape[LF_ST_MAX_DIMS];
    const lf_real *rdata;
    const int64_t *idata;
} st_item;

struct lf_st_writer {
    st_item *items;
    int n, cap;
    json_t *meta;
};

lf_status lf_st_writer_init(lf_st_writer **w)
{
    if (!w) return lf_error(LF_ERR_ARG, "lf_st_writer_init: NULL output pointer");
    *w = lf_calloc(1, sizeof **w);
    if (!*w) return LF_ERR_NOMEM;
    (*w)->meta = json_object();
    if (!(*w)->meta) {
        lf_free(*w);
        *w = NULL;
        return lf_error(LF_ERR_NOMEM, "lf_st_writer_init: out of memory");
    }
    return LF_OK;
}

void lf_st_writer_free(lf_st_writer *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) lf_free(w->items[i].name);
    lf_free(w->items);
    json_decref(w->meta);
    lf_free(w);
}

lf_status lf_st_add_meta(lf_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value) return lf_error(LF_ERR_ARG, "lf_st_add_meta: NULL argument");
    json_t *v = json_string(value);
    if (!v) return lf_error(LF_ERR_ARG, "lf_st_add_meta: value of '%s' is not valid UTF-8", key);
    if (json_object_set_new(w->meta, key, v) != 0)
        return lf_error(LF_ERR_ARG, "lf_st_add_meta: bad key '%s'", key);
    return LF_OK;
}

static lf_status add_item(lf_st_writer *w, const char *name, int ndim, const int64_t *shape,
                          lf_dtype dtype, const lf_real *r, const int64_t *iv)
{
    if (!w || !name || (!r && !iv) || (ndim > 0 && !shape))
        return lf_error(LF_ERR_ARG, "lf_st_add: NULL argument");
    if (ndim < 0 || ndim > LF_ST_MAX_DIMS)
        return lf_error(LF_ERR_ARG, "lf_st_add: tensor '%s' has %d dims", name, ndim);
    if (strcmp(name, "__metadata__") == 0 || !*name)
        return lf_error(LF_ERR_ARG, "lf_st_add: reserved or empty tensor name '%s'", name);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->items[i].name, name) == 0)
            return lf_error(LF_ERR_ARG, "lf_st_add: duplicate tensor name '%s'", name);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) return lf_error(LF_ERR_ARG, "lf_st_add: '%s' has a negative dim", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        st_item *it = lf_realloc(w->items, (size_t)cap * sizeof *it);
        if (!it) return LF_ERR_NOMEM;
        w->items = it;
        w->cap = cap;
    }
    st_item *it = &w->items[w->n];
    memset(it, 0, sizeof *it);
    size_t len = strlen(name) + 1;
    if (!(it->name = lf_malloc(len))) return LF_ERR_NOMEM;
    memcpy(it->name, name, len);
    it->dtype = dtype;
    it->ndim = ndim;
    if (ndim) memcpy(it->shape, shape, (size_t)ndim * sizeof *shape);
    it->rdata = r;
    it->idata = iv;
    w->n++;
    return LF_OK;
}

lf_status lf_st_add(lf_st_writer *w, const char *name, int ndim, const int64_t *shape,
                    const lf_real *data, lf_dtype dtype)
{
    if (dtype != LF_DTYPE_F32 && dtype != LF_DTYPE_F64 && dtype != LF_DTYPE_I64)
        return lf_error(LF_ERR_UNSUPPORTED, "lf_st_add: '%s': writing %s is not supported (F32, "
                        "F64 or I64)", name ? name : "?", lf_dtype_name(dtype));
    return add_item(w, name, ndim, shape, dtype, data, NULL);
}

lf_status lf_st_add_i64(lf_st_writer *w, const char *name, int ndim, const int64_t *shape,
                        const int64_t *data)
{
    return add_item(w, name, ndim, shape, LF_DTYPE_I64, NULL, data);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

lf_status lf_st_add_params(lf_st_writer *w, const lf_params *p, const char *prefix)
{
    if (!w || !p) return lf_error(LF_ERR_ARG, "lf_st_add_params: NULL argument");
    char full[512];
    for (int i = 0; i < lf_params_count(p); i++) {
        lf_tensor *t = lf_params_get(p, i);
        if (!t->data) return lf_error(LF_ERR_STATE, "lf_st_add_params: parameters not finalized");
        snprintf(full, sizeof full, "%s%s", prefix ? prefix : "", t->name);
        lf_dtype d = (t->flags & LF_TENSOR_SAVE_I64) || ends_with(t->name, "num_batches_tracked")
                         ? LF_DTYPE_I64 : LF_DTYPE_F32;
        lf_status s = lf_st_add(w, full, t->ndim, t->shape, t->data, d);
        if (s != LF_OK) return s;
    }
    return LF_OK;
}

static int64_t item_numel(const st_item *it)
{
    int64_t n = 1;
    for (int i = 0; i < it->ndim; i++) n *= it->shape[i];
    return n;
}

static lf_status write_data(lf_atomic_file *a, const st_item *it)
{
    const int64_t n = item_numel(it);
    if (it->idata) return lf_atomic_write(a, it->idata, (size_t)n * 8);
    if (it->dtype == LF_REAL_DTYPE) return lf_atomic_write(a, it->rdata, (size_t)n * sizeof(lf_real));
    unsigned char buf[1 << 14];
    const size_t es = lf_dtype_size(it->dtype);
    const int64_t per = (int64_t)(sizeof buf / es);
    for (int64_t i = 0; i < n; i += per) {
        int64_t k = n - i < per ? n - i : per;
        for (int64_t j = 0; j < k; j++) {
            double v = (double)it->rdata[i + j];
            unsigned char *p = buf + (size_t)j * es;
            if (it->dtype == LF_DTYPE_F32) {
                float f = (float)v;
                memcpy(p, &f, 4);
            } else if (it->dtype == LF_DTYPE_F64) {
                memcpy(p, &v, 8);
            } else {
                int64_t q = isfinite(v) ? (int64_t)llround(v) : 0;
                memcpy(p, &q, 8);
            }
        }
        lf_status s = lf_atomic_write(a, buf, (size_t)k * es);
        if (s != LF_OK) return s;
    }
    return LF_OK;
}

/* Builds the header JSON; returns a jansson-allocated string (free with free()). */
static char *build_header(lf_st_writer *w)
{
    json_t *root = json_object();
    if (!root) return NULL;
    if (json_object_size(w->meta)) json_object_set(root, "__metadata__", w->meta);
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const st_item *it = &w->items[i];
        json_t *shape = json_array();
        for (int d = 0; d < it->ndim; d++) json_array_append_new(shape, json_integer(it->shape[d]));
        uint64_t bytes = (uint64_t)item_numel(it) * lf_dtype_size(it->dtype);
        json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", lf_dtype_name(it->dtype), "shape",
                              shape, "data_offsets", (json_int_t)off, (json_int_t)(off + bytes));
        if (!e || json_object_set_new(root, it->name, e) != 0) {
            json_decref(root);
            return NULL;
        }
        off += bytes;
    }
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

lf_status lf_st_write(lf_st_writer *w, const char *path)
{
    if (!w || !path) return lf_error(LF_ERR_ARG, "lf_st_write: NULL argument");
    char *hdr = build_header(w);
    if (!hdr) return lf_error(LF_ERR_NOMEM, "%s: cannot build the safetensors header", path);
    size_t hn = strlen(hdr), padded = (hn + 7) / 8 * 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    lf_atomic_file a;
    lf_status s = lf_atomic_begin(&a, path);
    if (s == LF_OK) s = lf_atomic_write(&a, len8, 8);
    if (s == LF_OK) s = lf_atomic_write(&a, hdr, hn);
    if (s == LF_OK) s = lf_atomic_write(&a, "        ", padded - hn);
    free(hdr);
    for (int i = 0; s == LF_OK && i < w->n; i++) s = write_data(&a, &w->items[i]);
    if (s != LF_OK) {
        if (a.fp) lf_atomic_abort(&a);
        return s;
    }
    return lf_atomic_commit(&a);
}

lf_status lf_safetensors_save(const char *path, const lf_params *p, const char *const *meta,
                              int n_meta)
{
    lf_st_writer *w;
    lf_status s = lf_st_writer_init(&w);
    if (s != LF_OK) return s;
    char ver[16];
    snprintf(ver, sizeof ver, "%d", LF_FORMAT_VERSION);
    s = lf_st_add_meta(w, "format_version", ver);
    if (s == LF_OK) s = lf_st_add_meta(w, "labelfree_version", LF_VERSION);
    for (int i = 0; s == LF_OK && i < n_meta; i++) s = lf_st_add_meta(w, meta[2 * i], meta[2 * i + 1]);
    if (s == LF_OK) s = lf_st_add_params(w, p, NULL);
    if (s == LF_OK) s = lf_st_write(w, path);
    lf_st_writer_free(w);
    return s;
}
