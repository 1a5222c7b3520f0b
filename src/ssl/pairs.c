/* Paired data for CLOOME: a CSV manifest of (image or feature vector, molecule) pairs.
 * See the lf_pairs block of include/labelfree.h for the columns. Everything but the images is
 * read at open (feature rows are copied out of their .npy files, which are loaded once each). */
#include "core/internal.h"
#include "data/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum { COL_SMILES, COL_IMAGE, COL_FEATURES, COL_COMPOUND, COL_MOA, COL_LABEL, COL_SPLIT, COL_PLATE, N_COLS };
static const char *const col_names[N_COLS] = {"smiles", "image", "features", "compound", "moa", "label", "split", "plate"};

typedef struct classes {
    int n;
    char **names; /* sorted */
    int *id;      /* per row, -1 unknown */
} classes;

struct lf_pairs {
    char *source, *base;  /* manifest path, its file name */
    int64_t n;
    char **smiles, **image, **plate;
    int32_t *line;
    lf_split *split;
    int64_t *compound;    /* dense ids in order of first appearance */
    int64_t n_compounds;
    char **compound_names;
    classes cls[2];       /* moa, label */
    float *features;      /* (n, feature_dim) or NULL */
    int64_t feature_dim;
    char origin[600];
};

static void free_strs(char **s, int64_t n)
{
    if (!s) return;
    for (int64_t i = 0; i < n; i++) lf_free(s[i]);
    lf_free(s);
}

void lf_pairs_free(lf_pairs *p)
{
    if (!p) return;
    free_strs(p->smiles, p->n);
    free_strs(p->image, p->n);
    free_strs(p->plate, p->n);
    free_strs(p->compound_names, p->n_compounds);
    for (int k = 0; k < 2; k++) {
        free_strs(p->cls[k].names, p->cls[k].n);
        lf_free(p->cls[k].id);
    }
    lf_free(p->line);
    lf_free(p->split);
    lf_free(p->compound);
    lf_free(p->features);
    lf_free(p->source);
    lf_free(p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* class names of column col (sorted), ids per row */
static lf_status build_classes(classes *c, const lf_csv *csv, int col, int64_t n)
{
    c->id = lf_malloc((size_t)(n ? n : 1) * sizeof(int));
    c->names = lf_calloc((size_t)(n ? n : 1), sizeof(char *));
    if (!c->id || !c->names) return LF_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) c->id[i] = -1;
    if (col < 0) return LF_OK;
    for (int64_t i = 0; i < n; i++) {
        const char *v = lf_csv_get(csv, i + 1, col);
        if (!*v) continue;
        int found = 0;
        for (int k = 0; k < c->n && !found; k++) found = !strcmp(c->names[k], v);
        if (!found && !(c->names[c->n++] = lf_strdup(v))) return LF_ERR_NOMEM;
    }
    qsort(c->names, (size_t)c->n, sizeof(char *), cmp_str);
    for (int64_t i = 0; i < n; i++) {
        const char *v = lf_csv_get(csv, i + 1, col);
        if (!*v) continue;
        char *key = (char *)v;
        char **hit = bsearch(&key, c->names, (size_t)c->n, sizeof(char *), cmp_str);
        c->id[i] = (int)(hit - c->names);
    }
    return LF_OK;
}

/* "file.npy#row" of every row into p->features (each .npy file loaded once) */
static lf_status load_features(lf_pairs *p, const lf_csv *csv, int col, const char *dir)
{
    char cur[8192] = "";
    lf_real *arr = NULL;
    int64_t rows = 0, cols = 0;
    lf_status st = LF_OK;
    for (int64_t i = 0; i < p->n && st == LF_OK; i++) {
        const char *v = lf_csv_get(csv, i + 1, col);
        const char *hash = strrchr(v, '#');
        char *end = NULL;
        long long row = hash ? strtoll(hash + 1, &end, 10) : -1;
        if (!hash || hash == v || !end || *end || end == hash + 1 || row < 0) {
            st = lf_error(LF_ERR_FORMAT, "%s line %d: features '%s' is not FILE.npy#ROW (a 0-based row)",
                          p->source, p->line[i], v);
            break;
        }
        char rel[4096], full[8192];
        snprintf(rel, sizeof rel, "%.*s", (int)(hash - v), v);
        lf_manifest_resolve(dir, rel, full, sizeof full);
        if (strcmp(full, cur)) {
            lf_free(arr);
            arr = NULL;
            if ((st = lf_npy_read_f32(full, &arr, &rows, &cols))) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", lf_last_error());
                st = lf_error(st, "%s line %d: %s", p->source, p->line[i], msg);
                break;
            }
            snprintf(cur, sizeof cur, "%s", full);
            if (!p->features) {
                p->feature_dim = cols;
                p->features = lf_malloc((size_t)(p->n * cols) * sizeof(float));
                if (!p->features) { st = LF_ERR_NOMEM; break; }
            } else if (cols != p->feature_dim) {
                st = lf_error(LF_ERR_SHAPE, "%s line %d: %s has %lld columns, earlier feature files %lld",
                              p->source, p->line[i], full, (long long)cols, (long long)p->feature_dim);
                break;
            }
        }
        if (row >= rows) {
            st = lf_error(LF_ERR_ARG, "%s line %d: row %lld of %s, which has %lld rows", p->source,
                          p->line[i], row, full, (long long)rows);
            break;
        }
        for (int64_t k = 0; k < cols; k++) p->features[i * cols + k] = (float)arr[row * cols + k];
    }
    lf_free(arr);
    return st;
}

/* a seeded ~20 % of the compounds (at least one, at most n - 1) is test, the rest train */
static void split_by_compound(lf_pairs *p, uint64_t seed)
{
    int64_t nc = p->n_compounds;
    int64_t *perm = lf_malloc((size_t)nc * sizeof(int64_t));
    if (!perm) return;
    for (int64_t k = 0; k < nc; k++) perm[k] = k;
    lf_rng r = lf_rng_make(seed, 0x9a125);
    lf_rng_shuffle(&r, perm, nc);
    int64_t n_test = (nc + 2) / 5;
    if (n_test < 1) n_test = 1;
    if (n_test > nc - 1) n_test = nc - 1;
    char *is_test = lf_calloc((size_t)nc, 1);
    if (is_test) {
        for (int64_t k = 0; k < n_test; k++) is_test[perm[k]] = 1;
        for (int64_t i = 0; i < p->n; i++) p->split[i] = is_test[p->compound[i]] ? LF_SPLIT_TEST : LF_SPLIT_TRAIN;
    }
    lf_free(is_test);
    lf_free(perm);
}

lf_status lf_pairs_open(lf_pairs **out, const char *path, uint64_t seed)
{
    if (!out || !path) return lf_error(LF_ERR_ARG, "lf_pairs_open: NULL argument");
    *out = NULL;
    lf_csv csv;
    lf_status st = lf_csv_read(path, &csv);
    if (st) return st;
    lf_pairs *p = lf_calloc(1, sizeof *p);
    if (!p) { lf_csv_free(&csv); return LF_ERR_NOMEM; }
    p->source = lf_strdup(path);
    if (!p->source) { st = LF_ERR_NOMEM; goto done; }
    p->base = strrchr(p->source, '/') ? strrchr(p->source, '/') + 1 : p->source;
    if (csv.n_rec < 2) {
        st = lf_error(LF_ERR_FORMAT, "%s: no pairs (expected a header with 'smiles' and 'image' or "
                      "'features', then one row per pair)", path);
        goto done;
    }
    int col[N_COLS];
    if ((st = lf_manifest_columns(&csv, path, col_names, N_COLS, col)) != LF_OK) goto done;
    if (col[COL_SMILES] < 0) {
        st = lf_error(LF_ERR_FORMAT, "%s line 1: no 'smiles' column in the header", path);
        goto done;
    }
    if ((col[COL_IMAGE] < 0) == (col[COL_FEATURES] < 0)) {
        st = lf_error(LF_ERR_FORMAT, "%s line 1: the header needs exactly one of 'image' (paths) and "
                      "'features' (FILE.npy#ROW)", path);
        goto done;
    }
    int64_t n = p->n = csv.n_rec - 1;
    size_t np = (size_t)n * sizeof(char *);
    p->smiles = lf_calloc(1, np);
    p->image = lf_calloc(1, np);
    p->plate = lf_calloc(1, np);
    p->compound_names = lf_calloc(1, np);
    p->line = lf_malloc((size_t)n * sizeof(int32_t));
    p->split = lf_malloc((size_t)n * sizeof(lf_split));
    p->compound = lf_malloc((size_t)n * sizeof(int64_t));
    if (!p->smiles || !p->image || !p->plate || !p->compound_names || !p->line || !p->split || !p->compound) {
        st = LF_ERR_NOMEM;
        goto done;
    }
    char dir[4096];
    lf_manifest_dir(path, dir, sizeof dir);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i + 1;
        int line = p->line[i] = csv.rec_line[r];
        const char *sm = lf_csv_get(&csv, r, col[COL_SMILES]);
        if (!*sm) {
            st = lf_error(LF_ERR_FORMAT, "%s line %d: empty smiles", path, line);
            goto done;
        }
        const char *cname = col[COL_COMPOUND] >= 0 ? lf_csv_get(&csv, r, col[COL_COMPOUND]) : "";
        if (!*cname) cname = sm;
        p->compound[i] = -1;
        for (int64_t k = 0; k < p->n_compounds && p->compound[i] < 0; k++) /* names are unique */
            if (!strcmp(p->compound_names[k], cname)) p->compound[i] = k;
        if (p->compound[i] < 0) {
            if (!(p->compound_names[p->n_compounds] = lf_strdup(cname))) { st = LF_ERR_NOMEM; goto done; }
            p->compound[i] = p->n_compounds++;
        }
        p->split[i] = LF_SPLIT_TRAIN;
        if (col[COL_SPLIT] >= 0) {
            const char *sv = lf_csv_get(&csv, r, col[COL_SPLIT]);
            int s = lf_manifest_split(sv);
            if (s == -2) {
                st = lf_error(LF_ERR_FORMAT, "%s line %d: split '%s' is not train, val or test", path, line, sv);
                goto done;
            }
            p->split[i] = (lf_split)s;
        }
        p->smiles[i] = lf_strdup(sm);
        p->plate[i] = lf_strdup(col[COL_PLATE] >= 0 ? lf_csv_get(&csv, r, col[COL_PLATE]) : "");
        if (!p->smiles[i] || !p->plate[i]) { st = LF_ERR_NOMEM; goto done; }
        if (col[COL_IMAGE] >= 0) {
            /* resolve each ';'-separated channel file and check that it exists */
            const char *v = lf_csv_get(&csv, r, col[COL_IMAGE]);
            size_t cap = strlen(v) * 2 + 8192, used = 0;
            char *res = lf_malloc(cap);
            if (!res) { st = LF_ERR_NOMEM; goto done; }
            res[0] = 0;
            const char *q = v;
            while (1) {
                const char *e = strchr(q, ';');
                size_t len = e ? (size_t)(e - q) : strlen(q);
                char rel[4096], full[8192];
                snprintf(rel, sizeof rel, "%.*s", (int)len, q);
                if (!rel[0]) {
                    lf_free(res);
                    st = lf_error(LF_ERR_FORMAT, "%s line %d: empty image path in '%s'", path, line, v);
                    goto done;
                }
                if ((st = lf_manifest_existing_file(dir, rel, path, line, full, sizeof full)) != LF_OK) {
                    lf_free(res);
                    goto done;
                }
                size_t fl = strlen(full);
                if (used + fl + 2 > cap) {
                    cap = (used + fl + 2) * 2;
                    char *nr = lf_realloc(res, cap);
                    if (!nr) { lf_free(res); st = LF_ERR_NOMEM; goto done; }
                    res = nr;
                }
                if (used) res[used++] = ';';
                memcpy(res + used, full, fl + 1);
                used += fl;
                if (!e) break;
                q = e + 1;
            }
            p->image[i] = res;
        }
    }
    if (col[COL_FEATURES] >= 0 && (st = load_features(p, &csv, col[COL_FEATURES], dir))) goto done;
    if ((st = build_classes(&p->cls[0], &csv, col[COL_MOA], n)) ||
        (st = build_classes(&p->cls[1], &csv, col[COL_LABEL], n)))
        goto done;
    if (col[COL_SPLIT] < 0) {
        if (p->n_compounds < 2) {
            st = lf_error(LF_ERR_ARG, "%s: one compound only; cannot hold out compounds (add a 'split' column)", path);
            goto done;
        }
        split_by_compound(p, seed);
    }
done:
    lf_csv_free(&csv);
    if (st) {
        lf_pairs_free(p);
        return st;
    }
    *out = p;
    return LF_OK;
}

int64_t lf_pairs_count(const lf_pairs *p) { return p ? p->n : 0; }
int lf_pairs_has_features(const lf_pairs *p) { return p->features != NULL; }
int64_t lf_pairs_feature_dim(const lf_pairs *p) { return p->feature_dim; }
const float *lf_pairs_features(const lf_pairs *p, int64_t i)
{
    return p->features ? p->features + i * p->feature_dim : NULL;
}
const char *lf_pairs_smiles(const lf_pairs *p, int64_t i) { return p->smiles[i]; }
int64_t lf_pairs_compound(const lf_pairs *p, int64_t i) { return p->compound[i]; }
int64_t lf_pairs_num_compounds(const lf_pairs *p) { return p->n_compounds; }
const char *lf_pairs_compound_name(const lf_pairs *p, int64_t k) { return p->compound_names[k]; }
int lf_pairs_class(const lf_pairs *p, int set, int64_t i) { return p->cls[set != 0].id[i]; }
int lf_pairs_num_classes(const lf_pairs *p, int set) { return p->cls[set != 0].n; }
const char *lf_pairs_class_name(const lf_pairs *p, int set, int k) { return p->cls[set != 0].names[k]; }
lf_split lf_pairs_split(const lf_pairs *p, int64_t i) { return p->split[i]; }
const char *lf_pairs_plate(const lf_pairs *p, int64_t i) { return p->plate[i]; }
const char *lf_pairs_origin(lf_pairs *p, int64_t i)
{
    snprintf(p->origin, sizeof p->origin, "%s line %d", p->base, p->line[i]);
    return p->origin;
}

int64_t lf_pairs_indices(const lf_pairs *p, lf_split split, int64_t *out)
{
    int64_t m = 0;
    for (int64_t i = 0; i < p->n; i++)
        if (split == LF_SPLIT_ALL || p->split[i] == split) {
            if (out) out[m] = i;
            m++;
        }
    return m;
}

lf_status lf_pairs_read_image(const lf_pairs *p, int64_t i, lf_image *img)
{
    if (!p || i < 0 || i >= p->n) return lf_error(LF_ERR_ARG, "lf_pairs_read_image: bad index");
    if (!p->image[i]) return lf_error(LF_ERR_ARG, "%s: the pairs have feature vectors, not images", p->source);
    const char *v = p->image[i];
    if (!strchr(v, ';')) {
        lf_status st = lf_image_read(v, img);
        if (st) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", lf_last_error());
            lf_error(st, "%s line %d: %s", p->source, p->line[i], msg);
        }
        return st;
    }
    /* several files, one or more channels each, stacked in order; each decoded once */
    lf_image parts[LF_IMAGE_MAX_CHANNELS];
    memset(parts, 0, sizeof parts);
    lf_status st = LF_OK;
    int np = 0, c_total = 0;
    const char *q = v, *e = v;
    while (e && st == LF_OK) {
        e = strchr(q, ';');
        char f[8192];
        snprintf(f, sizeof f, "%.*s", (int)(e ? (size_t)(e - q) : strlen(q)), q);
        if (np == LF_IMAGE_MAX_CHANNELS) { /* every file has a channel at least */
            st = lf_error(LF_ERR_ARG, "%d channels stacked (max %d)", c_total + 1,
                          LF_IMAGE_MAX_CHANNELS);
            break;
        }
        if ((st = lf_image_read(f, &parts[np]))) break;
        const lf_image *pt = &parts[np++], *p0 = &parts[0];
        if (pt->d != p0->d || pt->h != p0->h || pt->w != p0->w)
            st = lf_error(LF_ERR_SHAPE, "%s: %dx%dx%d, but the first channel file of the row is %dx%dx%d",
                          f, pt->d, pt->h, pt->w, p0->d, p0->h, p0->w);
        c_total += pt->c;
        if (e) q = e + 1;
    }
    if (st == LF_OK && c_total > LF_IMAGE_MAX_CHANNELS)
        st = lf_error(LF_ERR_ARG, "%d channels stacked (max %d)", c_total, LF_IMAGE_MAX_CHANNELS);
    if (st == LF_OK && !(st = lf_image_alloc(img, c_total, parts[0].d, parts[0].h, parts[0].w))) {
        img->bit_depth = parts[0].bit_depth;
        const size_t plane = (size_t)parts[0].d * parts[0].h * parts[0].w;
        for (int k = 0, c_at = 0; k < np; c_at += parts[k++].c)
            memcpy(img->data + (size_t)c_at * plane, parts[k].data, (size_t)parts[k].c * plane * sizeof(float));
    }
    for (int k = 0; k < np; k++) lf_image_free(&parts[k]);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", lf_last_error());
        lf_error(st, "%s line %d: %s", p->source, p->line[i], msg);
    }
    return st;
}

lf_status lf_pairs_fingerprints(const lf_pairs *p, int radius, int n_bits, int use_chirality,
                                float *out, int64_t *n_fallback)
{
    if (!p || !out || radius < 0 || n_bits < 1)
        return lf_error(LF_ERR_ARG, "lf_pairs_fingerprints: bad argument (radius %d, bits %d)", radius, n_bits);
    uint8_t *bits = lf_malloc((size_t)n_bits);
    int64_t *first = lf_malloc((size_t)p->n_compounds * sizeof(int64_t));
    if (!bits || !first) {
        lf_free(bits);
        lf_free(first);
        return LF_ERR_NOMEM;
    }
    for (int64_t k = 0; k < p->n_compounds; k++) first[k] = -1;
    int64_t fallback = 0;
    lf_status st = LF_OK;
    for (int64_t i = 0; i < p->n && st == LF_OK; i++) {
        float *row = out + i * n_bits;
        /* rows of one compound usually share the SMILES: reuse the first row's bits */
        int64_t f = first[p->compound[i]];
        if (f >= 0 && !strcmp(p->smiles[f], p->smiles[i])) {
            memcpy(row, out + f * n_bits, (size_t)n_bits * sizeof(float));
            continue;
        }
        if (f < 0) first[p->compound[i]] = i;
        lf_mol *m = NULL;
        int pos = -1;
        if ((st = lf_mol_parse(p->smiles[i], &m, &pos))) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", lf_last_error());
            st = lf_error(st, "%s line %d: smiles '%s': %s", p->source, p->line[i], p->smiles[i], msg);
            break;
        }
        st = lf_morgan_bits(m, radius, n_bits, use_chirality, bits);
        if (st == LF_ERR_UNSUPPORTED && use_chirality) {
            /* stereo marks this build cannot fingerprint chirally (see lf_morgan_bits) */
            fallback++;
            lf_clear_error();
            st = lf_morgan_bits(m, radius, n_bits, 0, bits);
        }
        lf_mol_free(m);
        if (st) break;
        for (int b = 0; b < n_bits; b++) row[b] = bits[b] ? 1.0f : 0.0f;
    }
    lf_free(bits);
    lf_free(first);
    if (n_fallback) *n_fallback = fallback;
    return st;
}
