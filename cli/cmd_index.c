/* labelfree index build | query: an embedding index folder (see docs/index.md).
 *   build: vectors from .npy files (one row per metadata CSV row) or, for molecules with the
 *          fingerprint encoder, computed from the SMILES column; or, with --model RUN --data
 *          pairs.csv, a CLIP/CLOOB model embeds every sample and every distinct molecule of a
 *          pairs manifest (the model is copied into the folder and answers the queries);
 *          metadata into SQLite; image thumbnails (8-bit PNG) into INDEX/files/.
 *   query: --smiles / --image / --id; prints one JSON line per hit. */
#include "cli.h"
#include "data/csv.h"
#include "index_json.h"
#include "pairs_model.h"
#include "progress.h"

#include <jansson.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *KNOWN[] = {"path", "smiles", "compound", "moa", "label"};

/* one collection: vectors + metadata rows */
typedef struct coll {
    float *vecs;
    int64_t n, d;
    lf_csv csv;
    int colidx[5]; /* of KNOWN, -1 absent */
    char dir[4096]; /* folder of the CSV (image paths are relative to it) */
    /* model build (--data): the pairs manifest; molecules borrow the samples' CSV (src) with
     * row[i] = the first CSV row of molecule i and their own extra (split, samples) */
    const lf_pairs *pairs;
    const lf_csv *src;
    int64_t *row;
    json_t **mol_extra;
} coll;

static const lf_csv *csv_of(const coll *c) { return c->src ? c->src : &c->csv; }
static int64_t csv_row(const coll *c, int64_t r) { return c->row ? c->row[r] : r; }

static int load_csv(const char *path, coll *c)
{
    if (lf_csv_read(path, &c->csv)) return cli_fail("index build");
    if (c->csv.n_rec < 1) {
        fprintf(stderr, "labelfree index build: %s: no header line\n", path);
        return 1;
    }
    for (int k = 0; k < 5; k++) {
        c->colidx[k] = -1;
        for (int j = 0; j < c->csv.rec_count[0]; j++)
            if (!strcasecmp(lf_csv_get(&c->csv, 0, j), KNOWN[k])) c->colidx[k] = j;
    }
    snprintf(c->dir, sizeof c->dir, "%s", path);
    char *sl = strrchr(c->dir, '/');
    if (sl) *sl = 0;
    else snprintf(c->dir, sizeof c->dir, ".");
    return 0;
}

static const char *field(const coll *c, int64_t row, int k)
{
    if (c->colidx[k] < 0) return NULL;
    const char *v = lf_csv_get(csv_of(c), csv_row(c, row) + 1, c->colidx[k]);
    return *v ? v : NULL;
}

static const char *split_name(lf_split s)
{
    return s == LF_SPLIT_TRAIN ? "train" : s == LF_SPLIT_VAL ? "val" : "test";
}

/* other columns as a JSON object */
static char *extra_json(const coll *c, int64_t row, const char *source)
{
    if (c->mol_extra) return json_dumps(c->mol_extra[row], JSON_COMPACT);
    json_t *o = json_object();
    const lf_csv *csv = csv_of(c);
    for (int j = 0; j < csv->rec_count[0]; j++) {
        int known = 0;
        for (int k = 0; k < 5; k++) known |= c->colidx[k] == j;
        if (known) continue;
        json_object_set_new(o, lf_csv_get(csv, 0, j), json_string(lf_csv_get(csv, csv_row(c, row) + 1, j)));
    }
    /* the split the model saw (also when the manifest has no split column: seeded) */
    if (c->pairs) json_object_set_new(o, "split", json_string(split_name(lf_pairs_split(c->pairs, row))));
    if (source) json_object_set_new(o, "source", json_string(source));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* the training seed in the model's config (the split seed of a manifest without split) */
static int64_t model_seed(const char *mpath)
{
    int64_t seed = 0;
    lf_safetensors *f;
    if (lf_st_open(&f, mpath)) { lf_clear_error(); return 0; }
    const char *cj = lf_st_meta(f, "config");
    json_t *c = cj ? json_loads(cj, 0, NULL) : NULL;
    if (c && json_is_integer(json_object_get(c, "seed"))) seed = json_integer_value(json_object_get(c, "seed"));
    json_decref(c);
    lf_st_close(f);
    return seed;
}

/* --model RUN --data pairs.csv: C[0] = every sample of the manifest through the sample
 * encoder, C[1] = every distinct molecule (compound) through the molecule encoder, both
 * L2-normalised; *P receives the manifest (the samples' metadata points into it). */
static int model_collections(const char *mpath, const char *data, int64_t split_seed, coll *C, lf_pairs **P,
                             pm_config *cfg)
{
    pairs_model m;
    int status = 1;
    float *fp = NULL, *zs = NULL, *zm = NULL;
    int64_t *idx = NULL, *first = NULL;
    if (pm_load(mpath, &m)) return cli_fail("index build");
    *cfg = m.c;
    if (lf_pairs_open(P, data, (uint64_t)split_seed)) { cli_fail("index build"); goto done; }
    if ((strcmp(m.c.modality, "features") == 0) != (lf_pairs_has_features(*P) != 0) ||
        (lf_pairs_has_features(*P) && lf_pairs_feature_dim(*P) != m.c.feature_dim)) {
        fprintf(stderr, "labelfree index build: %s does not fit the model (%s, %lld features)\n", data,
                m.c.modality, (long long)m.c.feature_dim);
        goto done;
    }
    if (load_csv(data, &C[0])) goto done;
    int64_t n = lf_pairs_count(*P), E = m.c.embed_dim, nb = m.c.fp_bits, nc = lf_pairs_num_compounds(*P);
    if (C[0].csv.n_rec - 1 != n) {
        fprintf(stderr, "labelfree index build: %s: %lld CSV rows but %lld pairs\n", data,
                (long long)(C[0].csv.n_rec - 1), (long long)n);
        goto done;
    }
    /* the manifest names images "image" (';'-separated channel files); thumbnails use it */
    C[0].colidx[0] = -1;
    for (int j = 0; j < C[0].csv.rec_count[0]; j++)
        if (!strcasecmp(lf_csv_get(&C[0].csv, 0, j), "image")) C[0].colidx[0] = j;
    C[0].pairs = *P;
    fp = malloc(sizeof(float) * (size_t)(n * nb));
    zs = malloc(sizeof(float) * (size_t)(n * E));
    zm = malloc(sizeof(float) * (size_t)(n * E));
    idx = malloc(sizeof(int64_t) * (size_t)n);
    first = malloc(sizeof(int64_t) * (size_t)nc);
    C[1].row = malloc(sizeof(int64_t) * (size_t)nc);
    C[1].mol_extra = calloc((size_t)nc, sizeof(json_t *));
    C[0].vecs = malloc(sizeof(float) * (size_t)(n * E));
    C[1].vecs = malloc(sizeof(float) * (size_t)(nc * E));
    if (!fp || !zs || !zm || !idx || !first || !C[1].row || !C[1].mol_extra || !C[0].vecs || !C[1].vecs) {
        fprintf(stderr, "labelfree index build: out of memory\n");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    int64_t fallbacks = 0;
    if (lf_pairs_fingerprints(*P, m.c.fp_radius, (int)nb, m.c.fp_chirality, fp, &fallbacks) ||
        pm_embed_rows(&m, *P, fp, idx, n, zs, zm)) { cli_fail("index build"); goto done; }
    memcpy(C[0].vecs, zs, sizeof(float) * (size_t)(n * E));
    C[0].n = n;
    C[0].d = E;
    /* one molecule per compound, from its first row (rows of a compound share the molecule) */
    for (int64_t k = 0; k < nc; k++) first[k] = -1;
    int64_t *count = idx; /* reused: samples per compound */
    for (int64_t k = 0; k < nc; k++) count[k] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = lf_pairs_compound(*P, i);
        if (first[k] < 0) first[k] = i;
        count[k]++;
    }
    for (int64_t k = 0; k < nc; k++) {
        C[1].row[k] = first[k];
        memcpy(C[1].vecs + k * E, zm + first[k] * E, sizeof(float) * (size_t)E);
        C[1].mol_extra[k] = json_pack("{s:s, s:I}", "split", split_name(lf_pairs_split(*P, first[k])),
                                      "samples", (json_int_t)count[k]);
    }
    C[1].n = nc;
    C[1].d = E;
    C[1].src = &C[0].csv;
    memcpy(C[1].colidx, C[0].colidx, sizeof C[1].colidx);
    C[1].colidx[0] = -1; /* no image */
    snprintf(C[1].dir, sizeof C[1].dir, "%s", C[0].dir);
    fprintf(stderr, "index build: model %s (%s, %lld-d): %lld samples, %lld molecules (%lld without chiral bits)\n",
            mpath, m.c.modality, (long long)E, (long long)n, (long long)nc, (long long)fallbacks);
    status = 0;
done:
    free(fp);
    free(zs);
    free(zm);
    free(idx);
    free(first);
    pm_free(&m);
    return status;
}

/* copies the model file into the index folder (atomically: temp + rename) */
static int copy_model(const char *src, const char *dst)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    FILE *in = fopen(src, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
    int ok = in && out;
    char buf[1 << 16];
    size_t r;
    while (ok && (r = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, r, out) == r;
    if (in && ferror(in)) ok = 0;
    if (in) fclose(in);
    if (out && fclose(out)) ok = 0;
    if (ok && rename(tmp, dst)) ok = 0;
    if (!ok) {
        remove(tmp);
        fprintf(stderr, "labelfree index build: cannot copy %s to %s\n", src, dst);
    }
    return !ok;
}

static int build(int argc, char **argv)
{
    const char *emb = NULL, *meta = NULL, *memb = NULL, *mmeta = NULL, *out = NULL;
    const char *approx = "none", *encoder = "fingerprint", *model = NULL, *data = NULL;
    int64_t nlist = 0, nprobe = 0, radius = 2, bits = 2048, thumb = 256, seed = 0, split_seed = -1;
    cli_arg args[] = {
        {"embeddings", ARG_STR, &emb, "image/profile embeddings .npy (N, d)", false, false},
        {"metadata", ARG_STR, &meta, "CSV with one row per image: path, smiles, compound, moa, label, ...", false, false},
        {"molecule-embeddings", ARG_STR, &memb, "molecule embeddings .npy (M, d)", false, false},
        {"molecule-metadata", ARG_STR, &mmeta, "CSV with one row per molecule (column smiles)", false, false},
        {"out", ARG_STR, &out, "index folder to create", true, false},
        {"approx", ARG_STR, &approx, "none (exact only) or ivf", false, false},
        {"nlist", ARG_INT, &nlist, "IVF lists (default 4 sqrt(n))", false, false},
        {"nprobe", ARG_INT, &nprobe, "IVF lists scanned per query (default max(8, nlist/16))", false, false},
        {"encoder", ARG_STR, &encoder, "query encoder: fingerprint (Morgan bits) or none", false, false},
        {"model", ARG_STR, &model, "CLIP/CLOOB run (or its model.safetensors): the query encoder; with --data it embeds the data too", false, false},
        {"data", ARG_STR, &data, "pairs manifest (pretrain --method clip|cloob input) embedded with --model", false, false},
        {"split-seed", ARG_INT, &split_seed, "split seed when the manifest has no split column (default: the model's training seed)", false, false},
        {"fp-radius", ARG_INT, &radius, "Morgan radius of the fingerprint encoder (default 2)", false, false},
        {"fp-bits", ARG_INT, &bits, "fingerprint bits (default 2048)", false, false},
        {"thumb", ARG_INT, &thumb, "thumbnail size in pixels (default 256; 0: none)", false, false},
        {"seed", ARG_INT, &seed, "k-means seed", false, false},
    };
    int n_args = (int)(sizeof args / sizeof args[0]);
    int rc = cli_parse("index build", argc, argv, args, n_args);
    if (rc) {
        cli_usage("index build", "build an embedding index folder", args, n_args);
        return rc == 2 ? 0 : 1;
    }
    int ivf = !strcmp(approx, "ivf");
    if (!ivf && strcmp(approx, "none")) {
        fprintf(stderr, "labelfree index build: --approx must be none or ivf (HNSW: see docs/index.md)\n");
        return 1;
    }
    if (model) encoder = "model";
    int fp = !strcmp(encoder, "fingerprint");
    if (!fp && strcmp(encoder, "none") && strcmp(encoder, "model")) {
        fprintf(stderr, "labelfree index build: --encoder must be fingerprint or none\n");
        return 1;
    }
    if (data && (!model || emb || meta || memb || mmeta)) {
        fprintf(stderr, "labelfree index build: --data needs --model and replaces --embeddings/--metadata/--molecule-*\n");
        return 1;
    }
    if (!!emb != !!meta) {
        fprintf(stderr, "labelfree index build: --embeddings and --metadata go together\n");
        return 1;
    }
    if (memb && !mmeta) {
        fprintf(stderr, "labelfree index build: --molecule-embeddings needs --molecule-metadata\n");
        return 1;
    }
    if (!emb && !mmeta && !data) {
        fprintf(stderr, "labelfree index build: nothing to index (--embeddings or --molecule-metadata)\n");
        return 1;
    }
    coll C[2];
    memset(C, 0, sizeof C);
    int status = 1;
    lf_index_meta *db = NULL;
    lf_query_encoder enc = {0};
    lf_pairs *P = NULL;
    pm_config mcfg = {0};
    char mpath[4096];
    double t0 = now_seconds();
    if (cli_make_dirs("index build", out)) return 1;
    char path[4200];
    snprintf(path, sizeof path, "%s/files", out);
    mkdir(path, 0755);
    if (fp && lf_query_encoder_fingerprint(&enc, (int)radius, (int)bits)) { cli_fail("index build"); goto done; }
    const char *vec_files[2] = {emb, memb}, *csv_files[2] = {meta, mmeta};
    if (data) {
        model_path_of(model, mpath, sizeof mpath);
        if (split_seed < 0) split_seed = model_seed(mpath);
        if (model_collections(mpath, data, split_seed, C, &P, &mcfg)) goto done;
        radius = mcfg.fp_radius;
        bits = mcfg.fp_bits;
    }
    for (int k = 0; k < 2 && !data; k++) {
        if (!csv_files[k]) continue;
        if (load_csv(csv_files[k], &C[k])) goto done;
        int64_t rows = C[k].csv.n_rec - 1;
        if (vec_files[k]) {
            lf_real *v = NULL;
            if (lf_npy_read_f32(vec_files[k], &v, &C[k].n, &C[k].d)) { cli_fail("index build"); goto done; }
            /* lf_real is double in the f64 build: the index always stores float32 */
            C[k].vecs = malloc(sizeof(float) * (size_t)(C[k].n * C[k].d));
            if (!C[k].vecs) { lf_free(v); fprintf(stderr, "labelfree index build: out of memory\n"); goto done; }
            for (int64_t i = 0; i < C[k].n * C[k].d; i++) C[k].vecs[i] = (float)v[i];
            lf_free(v);
        } else if (k == LF_ITEM_MOLECULE && fp) {
            if (C[k].colidx[1] < 0) {
                fprintf(stderr, "labelfree index build: %s: no smiles column\n", csv_files[k]);
                goto done;
            }
            C[k].n = rows;
            C[k].d = enc.dim;
            C[k].vecs = malloc(sizeof(float) * (size_t)(rows * enc.dim));
            for (int64_t r = 0; r < rows; r++) {
                const char *smi = field(&C[k], r, 1);
                if (enc.encode_smiles(enc.ctx, smi ? smi : "", C[k].vecs + r * enc.dim)) {
                    fprintf(stderr, "labelfree index build: %s line %d: %s\n", csv_files[k],
                            C[k].csv.rec_line[r + 1], lf_last_error());
                    goto done;
                }
            }
        } else {
            fprintf(stderr, "labelfree index build: molecules need --molecule-embeddings or --encoder fingerprint\n");
            goto done;
        }
        if (C[k].n != rows) {
            fprintf(stderr, "labelfree index build: %s has %lld rows, %s has %lld\n", csv_files[k],
                    (long long)rows, vec_files[k] ? vec_files[k] : "the fingerprints", (long long)C[k].n);
            goto done;
        }
    }
    int64_t dim = C[0].vecs ? C[0].d : C[1].d;
    if (C[0].vecs && C[1].vecs && C[0].d != C[1].d) {
        fprintf(stderr, "labelfree index build: images are %lld-d, molecules %lld-d (one shared space needed)\n",
                (long long)C[0].d, (long long)C[1].d);
        goto done;
    }
    if (fp && enc.dim != dim) {
        fprintf(stderr, "labelfree index build: the fingerprint encoder gives %lld-d vectors, the embeddings are %lld-d "
                        "(set --fp-bits %lld or --encoder none)\n", (long long)enc.dim, (long long)dim, (long long)dim);
        goto done;
    }
    snprintf(path, sizeof path, "%s/meta.sqlite", out);
    if (lf_index_meta_open(&db, path, 1)) { cli_fail("index build"); goto done; }
    int64_t next_id = 0, n_thumbs = 0;
    for (int k = 0; k < 2; k++) {
        if (!C[k].vecs) {
            snprintf(path, sizeof path, "%s/%s.lfidx", out, lf_item_kind_name(k));
            remove(path);
            continue;
        }
        lf_index *ix = NULL;
        if (lf_index_create(&ix, C[k].vecs, C[k].n, C[k].d)) { cli_fail("index build"); goto done; }
        if (ivf) {
            lf_ivf_config cfg = {.nlist = nlist, .nprobe = (int)nprobe, .seed = (uint64_t)seed};
            double t1 = now_seconds();
            if (lf_index_train_ivf(ix, &cfg)) { lf_index_free(ix); cli_fail("index build"); goto done; }
            fprintf(stderr, "%s: IVF %lld lists, nprobe %d, trained in %.2f s\n", lf_item_kind_name(k),
                    (long long)lf_index_nlist(ix), lf_index_nprobe(ix), now_seconds() - t1);
        }
        snprintf(path, sizeof path, "%s/%s.lfidx", out, lf_item_kind_name(k));
        lf_status st = lf_index_save(ix, path);
        lf_index_free(ix);
        if (st) { cli_fail("index build"); goto done; }
        for (int64_t r = 0; r < C[k].n; r++) {
            lf_index_item it = {.id = next_id++, .kind = k, .row = r};
            const char *src = field(&C[k], r, 0);
            char thumb_rel[64], src_abs[8400];
            if (src && thumb > 0) {
                if (src[0] == '/') snprintf(src_abs, sizeof src_abs, "%s", src);
                else snprintf(src_abs, sizeof src_abs, "%s/%s", C[k].dir, src);
                /* a pairs manifest's "a.tif;b.tif;...": the first channel's file */
                char *semi = data ? strchr(src_abs, ';') : NULL;
                if (semi) *semi = 0;
                snprintf(thumb_rel, sizeof thumb_rel, "files/%lld.png", (long long)it.id);
                snprintf(path, sizeof path, "%s/%s", out, thumb_rel);
                if (lf_thumbnail_png(src_abs, path, (int)thumb))
                    fprintf(stderr, "labelfree index build: warning: no thumbnail for %s: %s\n", src_abs, lf_last_error());
                else {
                    it.path = thumb_rel;
                    n_thumbs++;
                }
            }
            it.smiles = (char *)field(&C[k], r, 1);
            it.compound = (char *)field(&C[k], r, 2);
            it.moa = (char *)field(&C[k], r, 3);
            it.label = (char *)field(&C[k], r, 4);
            it.extra = extra_json(&C[k], r, src);
            st = lf_index_meta_add(db, &it);
            free(it.extra);
            if (st) { cli_fail("index build"); goto done; }
        }
    }
    if (lf_index_meta_commit(db)) { cli_fail("index build"); goto done; }
    lf_index_manifest mf = {.dim = dim, .fp_radius = (int)radius, .fp_bits = (int)bits};
    snprintf(mf.encoder, sizeof mf.encoder, "%s", encoder);
    snprintf(mf.model, sizeof mf.model, "%s", model ? model : "");
    if (data) { /* the index carries its model: queries and the server encode with it */
        snprintf(path, sizeof path, "%s/model.safetensors", out);
        if (copy_model(mpath, path)) goto done;
        snprintf(mf.model, sizeof mf.model, "model.safetensors");
    }
    if (lf_index_manifest_write(out, &mf)) { cli_fail("index build"); goto done; }
    printf("{\"index\": \"%s\", \"images\": %lld, \"molecules\": %lld, \"dim\": %lld, \"approx\": \"%s\", "
           "\"thumbnails\": %lld, \"seconds\": %.3f}\n", out, (long long)C[0].n, (long long)C[1].n,
           (long long)dim, approx, (long long)n_thumbs, now_seconds() - t0);
    status = 0;
done:
    lf_index_meta_close(db);
    lf_query_encoder_release(&enc);
    for (int k = 0; k < 2; k++) {
        free(C[k].vecs);
        lf_csv_free(&C[k].csv);
        free(C[k].row);
        for (int64_t i = 0; C[k].mol_extra && i < C[k].n; i++) json_decref(C[k].mol_extra[i]);
        free(C[k].mol_extra);
    }
    lf_pairs_free(P);
    return status;
}

/* one hit as a JSON object (caller decrefs) */
json_t *index_hit_json(lf_index_dir *d, int rank, const lf_index_hit *h)
{
    lf_index_item it;
    json_t *o = json_object();
    json_object_set_new(o, "rank", json_integer(rank));
    json_object_set_new(o, "id", json_integer(h->id));
    json_object_set_new(o, "score", json_real(h->score));
    if (lf_index_meta_get(lf_index_dir_meta(d), h->id, &it) == LF_OK) {
        json_object_set_new(o, "kind", json_string(lf_item_kind_name(it.kind)));
        const char *keys[] = {"path", "smiles", "compound", "moa", "label"};
        char *vals[] = {it.path, it.smiles, it.compound, it.moa, it.label};
        for (int i = 0; i < 5; i++) json_object_set_new(o, keys[i], vals[i] ? json_string(vals[i]) : json_null());
        json_t *ex = it.extra ? json_loads(it.extra, 0, NULL) : NULL;
        json_object_set_new(o, "extra", ex ? ex : json_object());
        lf_index_item_clear(&it);
    }
    return o;
}

static int query(int argc, char **argv)
{
    const char *index = NULL, *smiles = NULL, *image = NULL, *features = NULL, *target = NULL;
    int64_t k = 10, id = -1, nprobe = 0;
    bool exact = false;
    cli_arg args[] = {
        {"index", ARG_STR, &index, "index folder", true, false},
        {"smiles", ARG_STR, &smiles, "query molecule", false, false},
        {"image", ARG_STR, &image, "query image file", false, false},
        {"features", ARG_STR, &features, "query feature vector FILE.npy#ROW (profile models)", false, false},
        {"id", ARG_INT, &id, "query by a stored item's id", false, false},
        {"target", ARG_STR, &target, "collection to search: image or molecule (default: the other kind)", false, false},
        {"k", ARG_INT, &k, "hits (default 10)", false, false},
        {"exact", ARG_BOOL, &exact, "exact search even when an IVF index exists", false, false},
        {"nprobe", ARG_INT, &nprobe, "IVF lists to scan", false, false},
    };
    int n_args = (int)(sizeof args / sizeof args[0]);
    int rc = cli_parse("index query", argc, argv, args, n_args);
    if (rc) {
        cli_usage("index query", "nearest items of a SMILES, an image or a stored item", args, n_args);
        return rc == 2 ? 0 : 1;
    }
    if ((smiles != NULL) + (image != NULL) + (features != NULL) + (id >= 0) != 1) {
        fprintf(stderr, "labelfree index query: give exactly one of --smiles, --image, --features, --id\n");
        return 1;
    }
    if (features) image = features; /* the sample encoder reads FILE.npy#ROW */
    lf_index_set_model_loader(pm_query_encoder_load);
    lf_index_dir *d = NULL;
    if (lf_index_dir_open(&d, index)) return cli_fail("index query");
    int64_t dim = lf_index_dir_manifest(d)->dim;
    float *q = malloc(sizeof(float) * (size_t)dim);
    lf_index_hit *hits = malloc(sizeof(lf_index_hit) * (size_t)(k > 0 && k <= 1000 ? k : 1));
    int status = 1, kind_from = LF_ITEM_MOLECULE;
    lf_status st;
    if (smiles) st = lf_index_dir_encode_smiles(d, smiles, q);
    else if (image) { st = lf_index_dir_encode_image(d, image, q); kind_from = LF_ITEM_IMAGE; }
    else {
        lf_index_item it;
        st = lf_index_meta_get(lf_index_dir_meta(d), id, &it);
        if (!st) {
            kind_from = it.kind;
            const float *v = lf_index_vector(lf_index_dir_collection(d, it.kind), it.row);
            if (v) memcpy(q, v, sizeof(float) * (size_t)dim);
            else st = lf_error(LF_ERR_FORMAT, "item %lld has no vector", (long long)id);
            lf_index_item_clear(&it);
        }
    }
    if (st) { cli_fail("index query"); goto done; }
    int kind = 1 - kind_from;
    if (target) kind = !strcmp(target, "image") ? LF_ITEM_IMAGE : !strcmp(target, "molecule") ? LF_ITEM_MOLECULE : -1;
    if (kind < 0) { fprintf(stderr, "labelfree index query: --target must be image or molecule\n"); goto done; }
    if (!target && !lf_index_dir_collection(d, kind)) kind = kind_from;
    if (nprobe > 0) lf_index_set_nprobe(lf_index_dir_collection(d, kind), (int)nprobe);
    int nh = 0;
    if (lf_index_dir_search(d, kind, q, (int)k, exact, hits, &nh)) { cli_fail("index query"); goto done; }
    for (int i = 0; i < nh; i++) {
        json_t *o = index_hit_json(d, i + 1, &hits[i]);
        char *s = json_dumps(o, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(o);
    }
    status = 0;
done:
    free(q);
    free(hits);
    lf_index_dir_close(d);
    return status;
}

int cmd_index(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: labelfree index build|query [flags]  (`labelfree index build --help`)\n");
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "build")) return build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "query")) return query(argc - 1, argv + 1);
    fprintf(stderr, "labelfree index: unknown subcommand '%s' (build or query)\n", argv[1]);
    return 1;
}
