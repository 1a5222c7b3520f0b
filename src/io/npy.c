/* NumPy .npy files: float 2-D arrays (embeddings) and int64 1-D arrays (labels).
 * Header: "\x93NUMPY", major, minor, header length (u16 for 1.0, u32 for 2.0/3.0), then a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (R, C), }. */
#include "io_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static lf_status write_npy(const char *path, const char *descr, int ndim, const int64_t *shape,
                           const void *data, size_t bytes)
{
    char dict[256];
    int k = ndim == 1 ? snprintf(dict, sizeof dict,
                                 "{'descr': '%s', 'fortran_order': False, 'shape': (%lld,), }",
                                 descr, (long long)shape[0])
                      : snprintf(dict, sizeof dict,
                                 "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }",
                                 descr, (long long)shape[0], (long long)shape[1]);
    /* pad with spaces and end with '\n' so that magic + header is a multiple of 64 bytes */
    size_t total = (size_t)(10 + k + 1 + 63) / 64 * 64, hlen = total - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    char hdr[320];
    memset(hdr, ' ', hlen);
    memcpy(hdr, dict, (size_t)k);
    hdr[hlen - 1] = '\n';
    lf_atomic_file a;
    lf_status s = lf_atomic_begin(&a, path);
    if (s != LF_OK) return s;
    s = lf_atomic_write(&a, pre, 10);
    if (s == LF_OK) s = lf_atomic_write(&a, hdr, hlen);
    if (s == LF_OK) s = lf_atomic_write(&a, data, bytes);
    if (s != LF_OK) {
        lf_atomic_abort(&a);
        return s;
    }
    return lf_atomic_commit(&a);
}

lf_status lf_npy_write_f32(const char *path, const lf_real *data, int64_t rows, int64_t cols)
{
    if (!path || (!data && rows * cols != 0) || rows < 0 || cols < 0)
        return lf_error(LF_ERR_ARG, "lf_npy_write_f32: bad argument");
    size_t n = (size_t)(rows * cols);
#ifdef LF_DOUBLE
    float *tmp = lf_malloc(n * sizeof *tmp);
    if (!tmp) return LF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) tmp[i] = (float)data[i];
    lf_status s = write_npy(path, "<f4", 2, (int64_t[]){rows, cols}, tmp, n * 4);
    lf_free(tmp);
    return s;
#else
    return write_npy(path, "<f4", 2, (int64_t[]){rows, cols}, data, n * 4);
#endif
}

lf_status lf_npy_write_i64(const char *path, const int64_t *data, int64_t n)
{
    if (!path || (!data && n) || n < 0) return lf_error(LF_ERR_ARG, "lf_npy_write_i64: bad argument");
    return write_npy(path, "<i8", 1, &n, data, (size_t)n * 8);
}

/* value text after 'key': within the dict, or NULL */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\"%s\"", key);
        if (!(p = strstr(h, pat))) return NULL;
    }
    p += strlen(pat);
    while (isspace((unsigned char)*p)) p++;
    if (*p != ':') return NULL;
    p++;
    while (isspace((unsigned char)*p)) p++;
    return p;
}

static lf_status parse_header(const char *path, const char *h, npy_info *info)
{
    const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"),
               *sh = dict_value(h, "shape");
    if (!d || !fo || !sh || (*d != '\'' && *d != '"') || *sh != '(')
        return lf_error(LF_ERR_FORMAT, "%s: .npy header is not a {descr, fortran_order, shape} "
                        "dict: %.80s", path, h);
    const char *e = strchr(d + 1, *d);
    if (!e || e - d - 1 >= (long)sizeof info->descr)
        return lf_error(LF_ERR_FORMAT, "%s: bad 'descr' in the .npy header", path);
    memcpy(info->descr, d + 1, (size_t)(e - d - 1));
    info->descr[e - d - 1] = 0;
    if (strncmp(fo, "True", 4) == 0) info->fortran = 1;
    else if (strncmp(fo, "False", 5) == 0) info->fortran = 0;
    else return lf_error(LF_ERR_FORMAT, "%s: bad 'fortran_order' in the .npy header", path);
    info->ndim = 0;
    const char *p = sh + 1;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || errno || info->ndim == 8)
            return lf_error(LF_ERR_FORMAT, "%s: bad 'shape' in the .npy header", path);
        info->shape[info->ndim++] = v;
        p = end;
    }
    return LF_OK;
}

lf_status lf_npy_read_header(FILE *fp, const char *path, npy_info *info)
{
    unsigned char pre[12];
    char *h = NULL;
    lf_status s;
    if (fread(pre, 1, 8, fp) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return lf_error(LF_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
    uint32_t hlen;
    if (pre[6] == 1) {
        if (fread(pre + 8, 1, 2, fp) != 2) goto trunc;
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 8, 1, 4, fp) != 4) goto trunc;
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
               (uint32_t)pre[11] << 24;
    } else {
        return lf_error(LF_ERR_UNSUPPORTED, "%s: .npy format version %d.%d", path, pre[6], pre[7]);
    }
    if (hlen > (1u << 20))
        return lf_error(LF_ERR_FORMAT, "%s: .npy header length %u is implausible", path, hlen);
    if (!(h = lf_malloc(hlen + 1))) return LF_ERR_NOMEM;
    if (fread(h, 1, hlen, fp) != hlen) goto trunc;
    h[hlen] = 0;
    s = parse_header(path, h, info);
    if (s == LF_OK && info->fortran)
        s = lf_error(LF_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported (save with "
                     "np.ascontiguousarray)", path);
    lf_free(h);
    return s;
trunc:
    lf_free(h);
    return lf_error(LF_ERR_FORMAT, "%s: truncated .npy header", path);
}

/* Opens path and reads its header; leaves *fpo at the data. */
static lf_status open_npy(const char *path, FILE **fpo, npy_info *info)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return lf_error(LF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    lf_status s = lf_npy_read_header(fp, path, info);
    if (s != LF_OK) {
        fclose(fp);
        return s;
    }
    *fpo = fp;
    return LF_OK;
}

static lf_status read_body(const char *path, FILE *fp, void *dst, size_t bytes)
{
    if (fread(dst, 1, bytes, fp) != bytes)
        return lf_error(LF_ERR_FORMAT, "%s: truncated .npy data (expected %zu bytes)", path, bytes);
    return LF_OK;
}

lf_status lf_npy_read_f32(const char *path, lf_real **data, int64_t *rows, int64_t *cols)
{
    if (!path || !data || !rows || !cols) return lf_error(LF_ERR_ARG, "lf_npy_read_f32: NULL argument");
    *data = NULL;
    FILE *fp = NULL;
    npy_info in;
    lf_status s = open_npy(path, &fp, &in);
    if (s != LF_OK) return s;
    int f4 = strcmp(in.descr, "<f4") == 0, f8 = strcmp(in.descr, "<f8") == 0;
    char sh[96];
    if (!f4 && !f8) s = lf_error(LF_ERR_UNSUPPORTED, "%s: dtype '%s' not supported (expected '<f4' "
                                 "or '<f8')", path, in.descr);
    else if (in.ndim != 2)
        s = lf_error(LF_ERR_SHAPE, "%s: expected a 2-D array, file has shape %s", path,
                     lf_dims_str(in.shape, in.ndim, sh, sizeof sh));
    else if (in.shape[1] && in.shape[0] > INT64_MAX / 8 / in.shape[1])
        s = lf_error(LF_ERR_FORMAT, "%s: shape %s too large", path,
                     lf_dims_str(in.shape, in.ndim, sh, sizeof sh));
    if (s != LF_OK) {
        fclose(fp);
        return s;
    }
    size_t n = (size_t)(in.shape[0] * in.shape[1]), es = f4 ? 4 : 8;
    lf_real *out = lf_malloc(n * sizeof(lf_real));
    void *raw = (es == sizeof(lf_real)) ? (void *)out : lf_malloc(n * es);
    if (!out || !raw) s = LF_ERR_NOMEM;
    else s = read_body(path, fp, raw, n * es);
    fclose(fp);
    if (s == LF_OK && raw != (void *)out)
        for (size_t i = 0; i < n; i++)
            out[i] = f4 ? (lf_real)((float *)raw)[i] : (lf_real)((double *)raw)[i];
    if (raw != (void *)out) lf_free(raw);
    if (s != LF_OK) {
        lf_free(out);
        return s;
    }
    *data = out;
    *rows = in.shape[0];
    *cols = in.shape[1];
    return LF_OK;
}

lf_status lf_npy_read_i64(const char *path, int64_t **data, int64_t *n)
{
    if (!path || !data || !n) return lf_error(LF_ERR_ARG, "lf_npy_read_i64: NULL argument");
    *data = NULL;
    FILE *fp = NULL;
    npy_info in;
    lf_status s = open_npy(path, &fp, &in);
    if (s != LF_OK) return s;
    int i8 = strcmp(in.descr, "<i8") == 0, i4 = strcmp(in.descr, "<i4") == 0;
    char sh[96];
    if (!i8 && !i4) s = lf_error(LF_ERR_UNSUPPORTED, "%s: dtype '%s' not supported (expected '<i8' "
                                 "or '<i4')", path, in.descr);
    else if (in.ndim != 1)
        s = lf_error(LF_ERR_SHAPE, "%s: expected a 1-D array, file has shape %s", path,
                     lf_dims_str(in.shape, in.ndim, sh, sizeof sh));
    else if (in.shape[0] > INT64_MAX / 8)
        s = lf_error(LF_ERR_FORMAT, "%s: shape %s too large", path,
                     lf_dims_str(in.shape, in.ndim, sh, sizeof sh));
    if (s != LF_OK) {
        fclose(fp);
        return s;
    }
    size_t k = (size_t)in.shape[0];
    int64_t *out = lf_malloc(k * 8);
    if (!out) s = LF_ERR_NOMEM;
    else s = read_body(path, fp, out, k * (i8 ? 8 : 4));
    fclose(fp);
    if (s == LF_OK && i4) /* widen in place, from the end so nothing is overwritten early */
        for (size_t i = k; i-- > 0;) {
            int32_t v;
            memcpy(&v, (char *)out + 4 * i, 4);
            out[i] = v;
        }
    if (s != LF_OK) {
        lf_free(out);
        return s;
    }
    *data = out;
    *n = in.shape[0];
    return LF_OK;
}
