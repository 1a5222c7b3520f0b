/* lf_index file: little-endian, one atomic write.
 *   "LFINDEX1" | int64 n, d, nlist, nprobe | float vecs[n*d] (slot order) | int64 slot_id[n]
 *   | if nlist: float centroids[nlist*d] | int64 list_off[nlist+1]
 * Everything read back is validated (sizes against the file, ids a permutation, list offsets
 * monotone and ending at n), so a damaged file is an error, not a crash. */
#include "index_internal.h"
#include "io/io_internal.h"

#include <errno.h>
#include <string.h>

static const char MAGIC[8] = {'L', 'F', 'I', 'N', 'D', 'E', 'X', '1'};

lf_status lf_index_save(const lf_index *ix, const char *path)
{
    if (!ix || !path) return lf_error(LF_ERR_ARG, "lf_index_save: NULL argument");
    lf_atomic_file a;
    lf_status st = lf_atomic_begin(&a, path);
    if (st) return st;
    int64_t hdr[4] = {ix->n, ix->d, ix->nlist, ix->nprobe};
    lf_atomic_write(&a, MAGIC, 8);
    lf_atomic_write(&a, hdr, sizeof hdr);
    lf_atomic_write(&a, ix->vecs, sizeof(float) * (size_t)(ix->n * ix->d));
    lf_atomic_write(&a, ix->slot_id, sizeof(int64_t) * (size_t)ix->n);
    if (ix->nlist) {
        lf_atomic_write(&a, ix->centroids, sizeof(float) * (size_t)(ix->nlist * ix->d));
        lf_atomic_write(&a, ix->list_off, sizeof(int64_t) * (size_t)(ix->nlist + 1));
    }
    return lf_atomic_commit(&a);
}

static lf_status rd(FILE *f, void *p, size_t n, const char *path, const char *what)
{
    if (fread(p, 1, n, f) != n)
        return lf_error(LF_ERR_FORMAT, "%s: truncated index file (reading %s)", path, what);
    return LF_OK;
}

lf_status lf_index_load(lf_index **out, const char *path)
{
    if (!out || !path) return lf_error(LF_ERR_ARG, "lf_index_load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return lf_error(LF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char magic[8];
    int64_t h[4];
    lf_index *ix = NULL;
    lf_status st = rd(f, magic, 8, path, "magic");
    if (!st && memcmp(magic, MAGIC, 8)) st = lf_error(LF_ERR_FORMAT, "%s: not a labelfree index file", path);
    if (!st) st = rd(f, h, sizeof h, path, "header");
    if (st) goto fail;
    fseek(f, 0, SEEK_END);
    long long fsize = ftell(f);
    fseek(f, 8 + (long)sizeof h, SEEK_SET);
    int64_t n = h[0], d = h[1], nl = h[2];
    if (n < 1 || d < 1 || d > (1 << 20) || nl < 0 || nl > n || n > (int64_t)1 << 40 ||
        (double)n * (double)d * 4 + (double)n * 8 + (nl ? (double)nl * ((double)d * 4 + 8) + 8 : 0) + 40 != (double)fsize) {
        st = lf_error(LF_ERR_FORMAT, "%s: header (n=%lld, d=%lld, nlist=%lld) does not match the file size %lld",
                      path, (long long)n, (long long)d, (long long)nl, fsize);
        goto fail;
    }
    ix = lf_calloc(1, sizeof *ix);
    if (!ix) { st = LF_ERR_NOMEM; goto fail; }
    ix->n = n; ix->d = d; ix->nlist = nl; ix->nprobe = (int)h[3];
    ix->vecs = lf_malloc(sizeof(float) * (size_t)(n * d));
    ix->slot_id = lf_malloc(sizeof(int64_t) * (size_t)n);
    ix->id_slot = lf_malloc(sizeof(int64_t) * (size_t)n);
    if (nl) {
        ix->centroids = lf_malloc(sizeof(float) * (size_t)(nl * d));
        ix->list_off = lf_malloc(sizeof(int64_t) * (size_t)(nl + 1));
    }
    if (!ix->vecs || !ix->slot_id || !ix->id_slot || (nl && (!ix->centroids || !ix->list_off))) {
        st = lf_error(LF_ERR_NOMEM, "%s: %lld x %lld vectors", path, (long long)n, (long long)d);
        goto fail;
    }
    st = rd(f, ix->vecs, sizeof(float) * (size_t)(n * d), path, "vectors");
    if (!st) st = rd(f, ix->slot_id, sizeof(int64_t) * (size_t)n, path, "ids");
    if (!st && nl) st = rd(f, ix->centroids, sizeof(float) * (size_t)(nl * d), path, "centroids");
    if (!st && nl) st = rd(f, ix->list_off, sizeof(int64_t) * (size_t)(nl + 1), path, "list offsets");
    if (st) goto fail;
    for (int64_t i = 0; i < n; i++) ix->id_slot[i] = -1;
    for (int64_t s = 0; s < n; s++) {
        int64_t id = ix->slot_id[s];
        if (id < 0 || id >= n || ix->id_slot[id] != -1) {
            st = lf_error(LF_ERR_FORMAT, "%s: slot %lld holds id %lld (ids must be a permutation of 0..%lld)",
                          path, (long long)s, (long long)id, (long long)(n - 1));
            goto fail;
        }
        ix->id_slot[id] = s;
    }
    if (nl) {
        if (ix->list_off[0] != 0 || ix->list_off[nl] != n) {
            st = lf_error(LF_ERR_FORMAT, "%s: IVF list offsets do not span 0..%lld", path, (long long)n);
            goto fail;
        }
        for (int64_t j = 0; j < nl; j++)
            if (ix->list_off[j + 1] < ix->list_off[j]) {
                st = lf_error(LF_ERR_FORMAT, "%s: IVF list %lld has a negative length", path, (long long)j);
                goto fail;
            }
        if (ix->nprobe < 1 || ix->nprobe > nl) ix->nprobe = nl < 8 ? (int)nl : 8;
    }
    fclose(f);
    *out = ix;
    return LF_OK;
fail:
    fclose(f);
    lf_index_free(ix);
    return st;
}
