/* safetensors reader: the header is parsed and checked once at open (every offset inside the
 * file, sizes consistent with dtype and shape), then tensors are read on demand with a
 * fixed stack buffer for dtype conversion (no allocation per tensor). */
#include "io_internal.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#define ST_MAX_HEADER (100u << 20) /* the format's own limit on the JSON header */

typedef struct st_entry {
    char *name;
    char dtype_str[16];
    int known;          /* dtype is one lf_dtype knows */
    lf_dtype dtype;
    int ndim;
    int64_t shape[LF_ST_MAX_DIMS];
    uint64_t begin, end; /* byte range within the data section */
} st_entry;

struct lf_safetensors {
    char *path;
    FILE *fp;
    uint64_t data_start, data_size;
    st_entry *e;
    int n;
    char **meta; /* key0, value0, key1, value1, ... */
    int n_meta;
};

void lf_st_close(lf_safetensors *f)
{
    if (!f) return;
    if (f->fp) fclose(f->fp);
    for (int i = 0; i < f->n; i++) lf_free(f->e[i].name);
    for (int i = 0; i < 2 * f->n_meta; i++) lf_free(f->meta[i]);
    lf_free(f->e);
    lf_free(f->meta);
    lf_free(f->path);
    lf_free(f);
}

static lf_status parse_metadata(lf_safetensors *f, json_t *m)
{
    if (!json_is_object(m))
        return lf_error(LF_ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", f->path);
    size_t n = json_object_size(m);
    f->meta = lf_calloc(2 * n + 1, sizeof *f->meta);
    if (!f->meta) return LF_ERR_NOMEM;
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v) {
        if (!json_is_string(v))
            return lf_error(LF_ERR_FORMAT, "%s: metadata value of '%s' is not a string", f->path, key);
        char *k = lf_strdup(key), *s = lf_strdup(json_string_value(v));
        f->meta[2 * f->n_meta] = k;
        f->meta[2 * f->n_meta + 1] = s;
        f->n_meta++;
        if (!k || !s) return LF_ERR_NOMEM;
    }
    return LF_OK;
}

static lf_status parse_entry(lf_safetensors *f, const char *name, json_t *v, st_entry *e)
{
    const char *p = f->path;
    if (!json_is_object(v)) return lf_error(LF_ERR_FORMAT, "%s: tensor '%s': entry is not an object", p, name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off))
        return lf_error(LF_ERR_FORMAT, "%s: tensor '%s': needs \"dtype\" (string), \"shape\" and "
                        "\"data_offsets\" (arrays)", p, name);
    snprintf(e->dtype_str, sizeof e->dtype_str, "%s", json_string_value(dt));
    e->known = lf_dtype_parse(json_string_value(dt), &e->dtype);
    size_t nd = json_array_size(sh);
    if (nd > LF_ST_MAX_DIMS)
        return lf_error(LF_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions (at most %d)", p,
                        name, nd, LF_ST_MAX_DIMS);
    e->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return lf_error(LF_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                            p, name, i);
        e->shape[i] = json_integer_value(d);
        if (e->shape[i] && numel > UINT64_MAX / 16 / (uint64_t)e->shape[i])
            return lf_error(LF_ERR_FORMAT, "%s: tensor '%s': shape overflows", p, name);
        numel *= (uint64_t)e->shape[i];
    }
    json_t *b = json_array_get(off, 0), *en = json_array_get(off, 1);
    if (json_array_size(off) != 2 || !json_is_integer(b) || !json_is_integer(en) ||
        json_integer_value(b) < 0 || json_integer_value(en) < json_integer_value(b))
        return lf_error(LF_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end] with "
                        "0 <= begin <= end", p, name);
    e->begin = (uint64_t)json_integer_value(b);
    e->end = (uint64_t)json_integer_value(en);
    if (e->end > f->data_size)
        return lf_error(LF_ERR_FORMAT, "%s: tensor '%s' ends at byte %llu of the data but the data "
                        "section has %llu bytes (truncated file?)", p, name,
                        (unsigned long long)e->end, (unsigned long long)f->data_size);
    if (e->known && e->end - e->begin != numel * lf_dtype_size(e->dtype)) {
        char s[160];
        lf_dims_str(e->shape, e->ndim, s, sizeof s);
        return lf_error(LF_ERR_FORMAT, "%s: tensor '%s': %llu bytes for %s %s (expected %llu)", p,
                        name, (unsigned long long)(e->end - e->begin), e->dtype_str, s,
                        (unsigned long long)(numel * lf_dtype_size(e->dtype)));
    }
    e->name = lf_strdup(name);
    return e->name ? LF_OK : LF_ERR_NOMEM;
}

static lf_status parse_header(lf_safetensors *f, const char *buf, size_t n)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return lf_error(LF_ERR_FORMAT, "%s: header is not JSON: %s (line %d, column %d)", f->path,
                        jerr.text, jerr.line, jerr.column);
    lf_status s = LF_OK;
    if (!json_is_object(root)) {
        s = lf_error(LF_ERR_FORMAT, "%s: header is not a JSON object", f->path);
        goto done;
    }
    f->e = lf_calloc(json_object_size(root) + 1, sizeof *f->e);
    if (!f->e) {
        s = LF_ERR_NOMEM;
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) s = parse_metadata(f, v);
        else if ((s = parse_entry(f, key, v, &f->e[f->n])) == LF_OK) f->n++;
        if (s != LF_OK) break;
    }
done:
    json_decref(root);
    return s;
}

lf_status lf_st_open(lf_safetensors **out, const char *path)
{
    if (!out || !path) return lf_error(LF_ERR_ARG, "lf_st_open: NULL argument");
    *out = NULL;
    lf_safetensors *f = lf_calloc(1, sizeof *f);
    if (!f) return LF_ERR_NOMEM;
    lf_status s = LF_OK;
    char *hdr = NULL;
    if (!(f->path = lf_strdup(path))) {
        s = LF_ERR_NOMEM;
        goto fail;
    }
    f->fp = fopen(path, "rb");
    if (!f->fp) {
        s = lf_error(LF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    if (fseeko(f->fp, 0, SEEK_END) != 0) {
        s = lf_error(LF_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t size = (uint64_t)ftello(f->fp);
    unsigned char len8[8];
    rewind(f->fp);
    if (size < 8 || fread(len8, 1, 8, f->fp) != 8) {
        s = lf_error(LF_ERR_FORMAT, "%s: truncated: %llu bytes, shorter than the 8-byte header "
                     "length", path, (unsigned long long)size);
        goto fail;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
    if (n > ST_MAX_HEADER || n > size - 8) {
        s = lf_error(LF_ERR_FORMAT, "%s: header length %llu does not fit in the file (%llu bytes): "
                     "truncated or not a safetensors file", path, (unsigned long long)n,
                     (unsigned long long)size);
        goto fail;
    }
    hdr = lf_malloc((size_t)n + 1);
    if (!hdr) {
        s = LF_ERR_NOMEM;
        goto fail;
    }
    if (fread(hdr, 1, (size_t)n, f->fp) != n) {
        s = lf_error(LF_ERR_IO, "%s: cannot read the header", path);
        goto fail;
    }
    f->data_start = 8 + n;
    f->data_size = size - 8 - n;
    if ((s = parse_header(f, hdr, (size_t)n)) != LF_OK) goto fail;
    lf_free(hdr);
    *out = f;
    return LF_OK;
fail:
    lf_free(hdr);
    lf_st_close(f);
    return s;
}

int lf_st_count(const lf_safetensors *f) { return f ? f->n : 0; }
const char *lf_st_name(const lf_safetensors *f, int i) { return f && i >= 0 && i < f->n ? f->e[i].name : NULL; }
int lf_st_meta_count(const lf_safetensors *f) { return f ? f->n_meta : 0; }
const char *lf_st_meta_key(const lf_safetensors *f, int i)
{
    return f && i >= 0 && i < f->n_meta ? f->meta[2 * i] : NULL;
}

const char *lf_st_meta(const lf_safetensors *f, const char *key)
{
    if (!f || !key) return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

static const st_entry *find(const lf_safetensors *f, const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0) return &f->e[i];
    return NULL;
}

lf_status lf_st_info(const lf_safetensors *f, const char *name, lf_dtype *dtype, int *ndim,
                     int64_t *shape)
{
    if (!f) return lf_error(LF_ERR_ARG, "safetensors: NULL file");
    const st_entry *e = find(f, name);
    if (!e) return lf_error(LF_ERR_ARG, "%s: no tensor '%s' in the file", f->path, name);
    if (!e->known)
        return lf_error(LF_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported dtype '%s'", f->path,
                        name, e->dtype_str);
    if (dtype) *dtype = e->dtype;
    if (ndim) *ndim = e->ndim;
    if (shape) memcpy(shape, e->shape, (size_t)e->ndim * sizeof *shape);
    return LF_OK;
}

static int64_t entry_numel(const st_entry *e)
{
    int64_t n = 1;
    for (int i = 0; i < e->ndim; i++) n *= e->shape[i];
    return n;
}

static double conv_one(lf_dtype d, const unsigned char *p)
{
    switch (d) {
    case LF_DTYPE_F32: { float v; memcpy(&v, p, 4); return v; }
    case LF_DTYPE_F64: { double v; memcpy(&v, p, 8); return v; }
    case LF_DTYPE_F16: { uint16_t v; memcpy(&v, p, 2); return lf_half_to_float(v); }
    case LF_DTYPE_BF16: { uint16_t v; memcpy(&v, p, 2); return lf_bf16_to_float(v); }
    case LF_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case LF_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case LF_DTYPE_I8: return (int8_t)p[0];
    case LF_DTYPE_U8: return p[0];
    case LF_DTYPE_BOOL: return p[0] != 0;
    }
    return 0;
}

/* Reads entry e as doubles or int64s into out (exactly one of outr/outi set), converting
 * through a fixed buffer. */
static lf_status read_entry(lf_safetensors *f, const st_entry *e, lf_real *outr, int64_t *outi,
                            int64_t n)
{
    if (!e->known)
        return lf_error(LF_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported dtype '%s'", f->path,
                        e->name, e->dtype_str);
    int64_t numel = entry_numel(e);
    if (n != numel)
        return lf_error(LF_ERR_SHAPE, "%s: tensor '%s' has %lld elements, caller expects %lld",
                        f->path, e->name, (long long)numel, (long long)n);
    if (fseeko(f->fp, (off_t)(f->data_start + e->begin), SEEK_SET) != 0)
        return lf_error(LF_ERR_IO, "%s: cannot seek to tensor '%s'", f->path, e->name);
    const size_t es = lf_dtype_size(e->dtype);
    if (outr && e->dtype == LF_REAL_DTYPE) { /* same layout: read straight into the output */
        if (fread(outr, es, (size_t)n, f->fp) != (size_t)n)
            return lf_error(LF_ERR_IO, "%s: short read in tensor '%s' (truncated?)", f->path, e->name);
        return LF_OK;
    }
    unsigned char buf[1 << 14];
    const int64_t per = (int64_t)(sizeof buf / es);
    for (int64_t i = 0; i < n; i += per) {
        int64_t k = n - i < per ? n - i : per;
        if (fread(buf, es, (size_t)k, f->fp) != (size_t)k)
            return lf_error(LF_ERR_IO, "%s: short read in tensor '%s' (truncated?)", f->path, e->name);
        for (int64_t j = 0; j < k; j++) {
            const unsigned char *p = buf + (size_t)j * es;
            if (outr) {
                outr[i + j] = (lf_real)conv_one(e->dtype, p);
            } else if (e->dtype == LF_DTYPE_I64) {
                memcpy(&outi[i + j], p, 8); /* exact, not through double */
            } else {
                outi[i + j] = (int64_t)conv_one(e->dtype, p);
            }
        }
    }
    return LF_OK;
}

lf_status lf_st_read(lf_safetensors *f, const char *name, lf_real *out, int64_t n)
{
    if (!f) return lf_error(LF_ERR_ARG, "safetensors: NULL file");
    const st_entry *e = find(f, name);
    if (!e) return lf_error(LF_ERR_ARG, "%s: no tensor '%s' in the file", f->path, name);
    if (!out && n) return lf_error(LF_ERR_ARG, "%s: NULL output for '%s'", f->path, name);
    return read_entry(f, e, out, NULL, n);
}

lf_status lf_st_read_i64(lf_safetensors *f, const char *name, int64_t *out, int64_t n)
{
    if (!f) return lf_error(LF_ERR_ARG, "safetensors: NULL file");
    const st_entry *e = find(f, name);
    if (!e) return lf_error(LF_ERR_ARG, "%s: no tensor '%s' in the file", f->path, name);
    if (e->known && (e->dtype == LF_DTYPE_F32 || e->dtype == LF_DTYPE_F64 ||
                     e->dtype == LF_DTYPE_F16 || e->dtype == LF_DTYPE_BF16))
        return lf_error(LF_ERR_FORMAT, "%s: tensor '%s' is %s, not an integer type", f->path, name,
                        e->dtype_str);
    return read_entry(f, e, NULL, out, n);
}

/* Names beginning with "__" are labelfree's own (checkpoint state) and never unexpected. */
lf_status lf_st_load_params(lf_safetensors *f, lf_params *p, const char *prefix, int flags)
{
    if (!f || !p) return lf_error(LF_ERR_ARG, "lf_st_load_params: NULL argument");
    if (!prefix) prefix = "";
    size_t plen = strlen(prefix);
    char full[512];
    int np = lf_params_count(p), missing = 0;
    const char *first_missing = NULL;
    /* check everything before writing anything */
    for (int i = 0; i < np; i++) {
        lf_tensor *t = lf_params_get(p, i);
        snprintf(full, sizeof full, "%s%s", prefix, t->name);
        const st_entry *e = find(f, full);
        char want[160], have[160];
        if (!e) {
            if (!missing++) first_missing = t->name;
            continue;
        }
        if (!e->known)
            return lf_error(LF_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported dtype '%s'",
                            f->path, full, e->dtype_str);
        int same = e->ndim == t->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == t->shape[d];
        if (!same) {
            lf_dims_str(t->shape, t->ndim, want, sizeof want);
            lf_dims_str(e->shape, e->ndim, have, sizeof have);
            return lf_error(LF_ERR_SHAPE, "%s: tensor '%s': expected %s, file has %s", f->path, full,
                            want, have);
        }
    }
    if (missing && !(flags & LF_LOAD_ALLOW_MISSING)) {
        char want[160];
        lf_tensor *t = lf_params_find(p, first_missing);
        lf_dims_str(t->shape, t->ndim, want, sizeof want);
        return lf_error(LF_ERR_FORMAT, "%s: missing tensor '%s%s' %s%s", f->path, prefix,
                        first_missing, want,
                        missing > 1 ? " (and more: the file does not match this model)" : "");
    }
    if (!(flags & LF_LOAD_ALLOW_UNEXPECTED)) {
        int unexpected = 0;
        const char *first = NULL;
        for (int i = 0; i < f->n; i++) {
            const char *nm = f->e[i].name;
            if (strncmp(nm, prefix, plen) != 0 || strncmp(nm, "__", 2) == 0) continue;
            if (!lf_params_find(p, nm + plen) && !unexpected++) first = nm;
        }
        if (unexpected)
            return lf_error(LF_ERR_FORMAT, "%s: unexpected tensor '%s' (%d in all) matches no "
                            "parameter", f->path, first, unexpected);
    }
    for (int i = 0; i < np; i++) {
        lf_tensor *t = lf_params_get(p, i);
        snprintf(full, sizeof full, "%s%s", prefix, t->name);
        const st_entry *e = find(f, full);
        if (!e) continue;
        lf_status s = read_entry(f, e, t->data, NULL, lf_numel(t));
        if (s != LF_OK) return s;
    }
    return LF_OK;
}

lf_status lf_safetensors_load(const char *path, lf_params *p, const char *prefix, int flags)
{
    lf_safetensors *f;
    lf_status s = lf_st_open(&f, path);
    if (s != LF_OK) return s;
    s = lf_st_load_params(f, p, prefix, flags);
    lf_st_close(f);
    return s;
}
