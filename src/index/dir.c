/* An index folder: index.json (manifest), image.lfidx / molecule.lfidx (vectors + IVF),
 * meta.sqlite (items), files/ (thumbnails the server may serve). */
#include "index_internal.h"
#include "io/io_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct lf_index_dir {
    char folder[4096];
    lf_index_manifest mf;
    lf_index *coll[2];
    int64_t *row_id[2];
    lf_index_meta *meta;
    lf_query_encoder enc;
};

lf_status lf_index_manifest_write(const char *folder, const lf_index_manifest *mf)
{
    if (!folder || !mf) return lf_error(LF_ERR_ARG, "lf_index_manifest_write: NULL argument");
    json_t *o = json_pack("{s:i, s:I, s:s, s:i, s:i, s:s}", "format", LF_FORMAT_VERSION,
                          "dim", (json_int_t)mf->dim, "encoder", mf->encoder,
                          "fingerprint_radius", mf->fp_radius, "fingerprint_bits", mf->fp_bits,
                          "model", mf->model);
    if (!o) return lf_error(LF_ERR_NOMEM, "index manifest");
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!text) return LF_ERR_NOMEM;
    char path[4200];
    snprintf(path, sizeof path, "%s/index.json", folder);
    lf_atomic_file a;
    lf_status st = lf_atomic_begin(&a, path);
    if (!st) {
        lf_atomic_write(&a, text, strlen(text));
        lf_atomic_write(&a, "\n", 1);
        st = lf_atomic_commit(&a);
    }
    free(text);
    return st;
}

static lf_status read_manifest(const char *folder, lf_index_manifest *mf)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/index.json", folder);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) return lf_error(LF_ERR_FORMAT, "%s: %s (line %d) — is %s an index folder?", path, je.text, je.line, folder);
    memset(mf, 0, sizeof *mf);
    json_int_t dim = 0;
    const char *enc = "none", *model = "";
    int r = 2, b = 2048;
    if (json_unpack_ex(o, &je, 0, "{s:I, s?s, s?i, s?i, s?s}", "dim", &dim, "encoder", &enc,
                       "fingerprint_radius", &r, "fingerprint_bits", &b, "model", &model) || dim < 1) {
        json_decref(o);
        return lf_error(LF_ERR_FORMAT, "%s: %s", path, dim < 1 ? "dim must be >= 1" : je.text);
    }
    mf->dim = dim;
    snprintf(mf->encoder, sizeof mf->encoder, "%s", enc);
    snprintf(mf->model, sizeof mf->model, "%s", model);
    mf->fp_radius = r;
    mf->fp_bits = b;
    json_decref(o);
    return LF_OK;
}

void lf_index_dir_close(lf_index_dir *d)
{
    if (!d) return;
    for (int k = 0; k < 2; k++) {
        lf_index_free(d->coll[k]);
        lf_free(d->row_id[k]);
    }
    lf_index_meta_close(d->meta);
    lf_query_encoder_release(&d->enc);
    lf_free(d);
}

lf_status lf_index_dir_open(lf_index_dir **out, const char *folder)
{
    if (!out || !folder) return lf_error(LF_ERR_ARG, "lf_index_dir_open: NULL argument");
    *out = NULL;
    if (strlen(folder) >= 4000) return lf_error(LF_ERR_ARG, "index folder path too long");
    lf_index_dir *d = lf_calloc(1, sizeof *d);
    if (!d) return LF_ERR_NOMEM;
    snprintf(d->folder, sizeof d->folder, "%s", folder);
    lf_status st = read_manifest(folder, &d->mf);
    char path[4200];
    if (!st) {
        snprintf(path, sizeof path, "%s/meta.sqlite", folder);
        st = lf_index_meta_open(&d->meta, path, 0);
    }
    for (int k = 0; !st && k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s.lfidx", folder, lf_item_kind_name(k));
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        st = lf_index_load(&d->coll[k], path);
        if (st) break;
        if (d->coll[k]->d != d->mf.dim) {
            st = lf_error(LF_ERR_FORMAT, "%s: dimension %lld, the manifest says %lld", path,
                          (long long)d->coll[k]->d, (long long)d->mf.dim);
            break;
        }
        d->row_id[k] = lf_malloc(sizeof(int64_t) * (size_t)d->coll[k]->n);
        if (!d->row_id[k]) { st = LF_ERR_NOMEM; break; }
        st = lf_index_meta_row_ids(d->meta, k, d->coll[k]->n, d->row_id[k]);
    }
    if (!st && !d->coll[0] && !d->coll[1])
        st = lf_error(LF_ERR_FORMAT, "%s: no image.lfidx or molecule.lfidx", folder);
    if (!st) {
        if (!strcmp(d->mf.encoder, "fingerprint")) {
            st = lf_query_encoder_fingerprint(&d->enc, d->mf.fp_radius, d->mf.fp_bits);
        } else if (!strcmp(d->mf.encoder, "model") && lf_index_model_loader()) {
            /* a relative model path is relative to the index folder (index build copies the
             * model there), so the folder can be moved; else as given (cwd) */
            struct stat sb;
            if (d->mf.model[0] && d->mf.model[0] != '/') {
                snprintf(path, sizeof path, "%s/%s", folder, d->mf.model);
                if (stat(path, &sb) != 0) snprintf(path, sizeof path, "%s", d->mf.model);
            } else {
                snprintf(path, sizeof path, "%s", d->mf.model);
            }
            st = lf_index_model_loader()(&d->enc, path);
        }
        if (!st && d->enc.dim && d->enc.dim != d->mf.dim)
            st = lf_error(LF_ERR_FORMAT, "%s: encoder '%s' gives %lld-d vectors, the index holds %lld-d",
                          folder, d->enc.name, (long long)d->enc.dim, (long long)d->mf.dim);
    }
    if (st) {
        lf_index_dir_close(d);
        return st;
    }
    *out = d;
    return LF_OK;
}

const char *lf_index_dir_folder(const lf_index_dir *d) { return d ? d->folder : NULL; }
const lf_index_manifest *lf_index_dir_manifest(const lf_index_dir *d) { return d ? &d->mf : NULL; }
lf_index_meta *lf_index_dir_meta(const lf_index_dir *d) { return d ? d->meta : NULL; }

lf_index *lf_index_dir_collection(const lf_index_dir *d, int kind)
{
    return d && (kind == 0 || kind == 1) ? d->coll[kind] : NULL;
}

lf_status lf_index_dir_encode_smiles(lf_index_dir *d, const char *smiles, float *out)
{
    if (!d || !smiles || !out) return lf_error(LF_ERR_ARG, "encode smiles: NULL argument");
    if (!d->enc.encode_smiles)
        return lf_error(LF_ERR_UNSUPPORTED, "this index has no molecule encoder (encoder '%s'%s)", d->mf.encoder,
                        !strcmp(d->mf.encoder, "model") ? "; no model loader is registered" : "");
    return d->enc.encode_smiles(d->enc.ctx, smiles, out);
}

lf_status lf_index_dir_encode_image(lf_index_dir *d, const char *path, float *out)
{
    if (!d || !path || !out) return lf_error(LF_ERR_ARG, "encode image: NULL argument");
    if (!d->enc.encode_image)
        return lf_error(LF_ERR_UNSUPPORTED, "this index has no image encoder (encoder '%s'); query by a stored image id instead",
                        d->mf.encoder);
    return d->enc.encode_image(d->enc.ctx, path, out);
}

lf_status lf_index_dir_search(lf_index_dir *d, int kind, const float *q, int k, int exact,
                              lf_index_hit *hits, int *n_hits)
{
    if (!d || !q || !hits || !n_hits) return lf_error(LF_ERR_ARG, "index search: NULL argument");
    *n_hits = 0;
    lf_index *ix = lf_index_dir_collection(d, kind);
    if (!ix) return lf_error(LF_ERR_ARG, "this index holds no %s collection", lf_item_kind_name(kind));
    if (k < 1 || k > 1000) return lf_error(LF_ERR_ARG, "k = %d must be 1..1000", k);
    int64_t ids[1000];
    float sc[1000];
    lf_status st = lf_index_search(ix, q, 1, k, exact, ids, sc);
    for (int i = 0; !st && i < k; i++) {
        if (ids[i] < 0) break;
        hits[i].id = d->row_id[kind][ids[i]];
        hits[i].score = sc[i];
        (*n_hits)++;
    }
    return st;
}
