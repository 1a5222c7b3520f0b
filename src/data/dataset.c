/* lf_dataset: a folder of class subfolders or a CSV manifest -> items with a resolved path,
 * label id, split and site; seeded stratified split when the manifest has no split column. */
#include "core/internal.h"
#include "data/manifest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct lf_dataset {
    char *source;      /* manifest or folder path */
    int64_t n, cap;
    char **path;
    char **label_name; /* per item while building; NULL = unlabelled */
    int *label;
    lf_split *split;
    char **site;
    char **origin;     /* "manifest.csv line 7", or NULL for folder items */
    int n_classes;
    char **classes;
};

lf_dataset_options lf_dataset_options_default(void)
{
    lf_dataset_options o = {0, 0.7, 0.1};
    return o;
}

void lf_dataset_free(lf_dataset *ds)
{
    if (!ds) return;
    for (int64_t i = 0; i < ds->n; i++) {
        lf_free(ds->path[i]);
        lf_free(ds->label_name[i]);
        lf_free(ds->site[i]);
        lf_free(ds->origin[i]);
    }
    for (int k = 0; k < ds->n_classes; k++) lf_free(ds->classes[k]);
    lf_free(ds->classes);
    lf_free(ds->path);
    lf_free(ds->label_name);
    lf_free(ds->label);
    lf_free(ds->split);
    lf_free(ds->site);
    lf_free(ds->origin);
    lf_free(ds->source);
    lf_free(ds);
}

static lf_status add_item(lf_dataset *ds, const char *path, const char *label, int split,
                          const char *site, const char *origin)
{
    if (ds->n == ds->cap) {
        int64_t nc = ds->cap ? ds->cap * 2 : 256;
#define GROW(f)                                                     \
    do {                                                            \
        void *q = lf_realloc(ds->f, (size_t)nc * sizeof *ds->f);   \
        if (!q) return LF_ERR_NOMEM;                                \
        ds->f = q;                                                  \
    } while (0)
        GROW(path); GROW(label_name); GROW(label); GROW(split); GROW(site); GROW(origin);
#undef GROW
        ds->cap = nc;
    }
    int64_t i = ds->n;
    ds->path[i] = lf_strdup(path);
    ds->label_name[i] = label && *label ? lf_strdup(label) : NULL;
    ds->site[i] = lf_strdup(site ? site : "");
    ds->origin[i] = origin ? lf_strdup(origin) : NULL;
    ds->label[i] = -1;
    ds->split[i] = (lf_split)split;
    ds->n++; /* counted before the check so lf_dataset_free releases what was allocated */
    if (!ds->path[i] || !ds->site[i] || (label && *label && !ds->label_name[i]) ||
        (origin && !ds->origin[i]))
        return LF_ERR_NOMEM;
    return LF_OK;
}

/* ---------------------------------------------------------------- labels and split */
static int all_integers;
static int cmp_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    if (all_integers) {
        long long u = strtoll(x, NULL, 10), v = strtoll(y, NULL, 10);
        if (u != v) return u < v ? -1 : 1;
    }
    return strcmp(x, y);
}

static int is_integer(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Maps label names to ids in sorted order (numerically if every name is an integer). */
static lf_status assign_labels(lf_dataset *ds, int label_column)
{
    int64_t nl = 0;
    char **names = lf_malloc((size_t)(ds->n + 1) * sizeof(char *));
    if (!names) return LF_ERR_NOMEM;
    int ints = 1;
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->label_name[i]) {
            names[nl++] = ds->label_name[i];
            ints &= is_integer(ds->label_name[i]);
        }
    all_integers = ints; /* qsort has no context argument; opening datasets is not hot */
    qsort(names, (size_t)nl, sizeof(char *), cmp_names);
    int64_t k = 0;
    for (int64_t i = 0; i < nl; i++)
        if (k == 0 || strcmp(names[k - 1], names[i])) names[k++] = names[i];
    if (label_column && k == 1) {
        lf_status s = lf_error(LF_ERR_FORMAT,
                               "%s: the label column has only one class ('%s'): nothing to "
                               "classify; leave it empty (or drop it) for unlabelled data",
                               ds->source, names[0]);
        lf_free(names);
        return s;
    }
    ds->classes = lf_calloc((size_t)(k + 1), sizeof(char *));
    if (!ds->classes) { lf_free(names); return LF_ERR_NOMEM; }
    for (int64_t j = 0; j < k; j++) {
        ds->classes[j] = lf_strdup(names[j]);
        ds->n_classes++;
        if (!ds->classes[j]) { lf_free(names); return LF_ERR_NOMEM; }
    }
    lf_free(names);
    for (int64_t i = 0; i < ds->n; i++) {
        if (!ds->label_name[i]) continue;
        int lo = 0, hi = ds->n_classes - 1; /* binary search in the sorted class list */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            const char *mn = ds->classes[mid];
            if (cmp_names(&mn, (const char *const *)&ds->label_name[i]) < 0) lo = mid + 1;
            else hi = mid;
        }
        ds->label[i] = lo;
    }
    return LF_OK;
}

/* Per label group (unlabelled items are one more group): shuffle with (seed, group) and
 * give round(n * train) items to train, round(n * val) to val, the rest to test. */
static lf_status stratified_split(lf_dataset *ds, const lf_dataset_options *o)
{
    int64_t *idx = lf_malloc((size_t)(ds->n + 1) * sizeof(int64_t));
    if (!idx) return LF_ERR_NOMEM;
    for (int g = -1; g < ds->n_classes; g++) {
        int64_t m = 0;
        for (int64_t i = 0; i < ds->n; i++)
            if (ds->label[i] == g) idx[m++] = i;
        lf_rng r = lf_rng_make(o->seed ^ 0x5D11D5A7A11C0DEull, (uint64_t)(g + 1));
        lf_rng_shuffle(&r, idx, m);
        int64_t ntr = (int64_t)(m * o->train_frac + 0.5), nva = (int64_t)(m * o->val_frac + 0.5);
        if (ntr > m) ntr = m;
        if (ntr + nva > m) nva = m - ntr;
        for (int64_t j = 0; j < m; j++)
            ds->split[idx[j]] = j < ntr ? LF_SPLIT_TRAIN : j < ntr + nva ? LF_SPLIT_VAL
                                                                          : LF_SPLIT_TEST;
    }
    lf_free(idx);
    return LF_OK;
}

/* ---------------------------------------------------------------- manifest */
static lf_status open_manifest(lf_dataset *ds, const char *path, int *has_label, int *has_split)
{
    lf_csv csv;
    lf_status st = lf_csv_read(path, &csv);
    if (st) return st;
    if (csv.n_rec == 0) {
        lf_csv_free(&csv);
        return lf_error(LF_ERR_FORMAT, "%s: empty manifest (expected a header with a 'path' "
                        "column)", path);
    }
    int col[4];
    static const char *const names[4] = {"path", "label", "split", "site"};
    if ((st = lf_manifest_columns(&csv, path, names, 4, col)) != LF_OK) {
        lf_csv_free(&csv);
        return st;
    }
    if (col[0] < 0) {
        lf_csv_free(&csv);
        return lf_error(LF_ERR_FORMAT, "%s line 1: no 'path' column in the header", path);
    }
    *has_label = col[1] >= 0;
    *has_split = col[2] >= 0;
    /* directory of the manifest: relative paths are resolved against it */
    char dir[4096];
    lf_manifest_dir(path, dir, sizeof dir);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (int64_t r = 1; r < csv.n_rec && st == LF_OK; r++) {
        int line = csv.rec_line[r];
        const char *p = lf_csv_get(&csv, r, col[0]);
        if (!*p) {
            st = lf_error(LF_ERR_FORMAT, "%s line %d: empty path", path, line);
            break;
        }
        char full[8192];
        if ((st = lf_manifest_existing_file(dir, p, path, line, full, sizeof full)) != LF_OK) break;
        int split = LF_SPLIT_TRAIN;
        if (col[2] >= 0) {
            const char *sv = lf_csv_get(&csv, r, col[2]);
            split = lf_manifest_split(sv);
            if (split == -2) {
                st = lf_error(LF_ERR_FORMAT, "%s line %d: split '%s' is not train, val or "
                              "test", path, line, sv);
                break;
            }
        }
        char origin[512];
        snprintf(origin, sizeof origin, "%s line %d", base, line);
        st = add_item(ds, full, col[1] >= 0 ? lf_csv_get(&csv, r, col[1]) : NULL, split,
                      col[3] >= 0 ? lf_csv_get(&csv, r, col[3]) : "", origin);
    }
    lf_csv_free(&csv);
    if (st == LF_OK && ds->n == 0)
        st = lf_error(LF_ERR_FORMAT, "%s: the manifest lists no images", path);
    return st;
}

/* ---------------------------------------------------------------- folder of class folders */
static int has_image_ext(const char *name)
{
    static const char *ext[] = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy"};
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++)
        if (!strcasecmp(dot, ext[k])) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names in dir: want_dirs = 1 subfolders, 0 image files. */
static lf_status list_dir(const char *dir, int want_dirs, char ***out, int64_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return lf_error(LF_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    int64_t cap = 0;
    lf_status st = LF_OK;
    struct dirent *e;
    while ((e = readdir(d)) && st == LF_OK) {
        if (e->d_name[0] == '.') continue;
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(full, &sb) != 0) continue;
        int ok = want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode) && has_image_ext(e->d_name);
        if (!ok) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **q = lf_realloc(*out, (size_t)cap * sizeof(char *));
            if (!q) { st = LF_ERR_NOMEM; break; }
            *out = q;
        }
        (*out)[*n] = lf_strdup(e->d_name);
        if (!(*out)[*n]) st = LF_ERR_NOMEM;
        else (*n)++;
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof(char *), cmp_str);
    return st;
}

static void free_list(char **l, int64_t n)
{
    for (int64_t i = 0; i < n; i++) lf_free(l[i]);
    lf_free(l);
}

static lf_status open_folder(lf_dataset *ds, const char *dir, int *labelled)
{
    char **sub, **files;
    int64_t ns, nf;
    lf_status st = list_dir(dir, 1, &sub, &ns);
    *labelled = 0;
    for (int64_t k = 0; k < ns && st == LF_OK; k++) {
        char sd[8192];
        snprintf(sd, sizeof sd, "%s/%s", dir, sub[k]);
        if ((st = list_dir(sd, 0, &files, &nf)) != LF_OK) break;
        for (int64_t j = 0; j < nf && st == LF_OK; j++) {
            char full[8192 + 256];
            snprintf(full, sizeof full, "%s/%s", sd, files[j]);
            st = add_item(ds, full, sub[k], LF_SPLIT_TRAIN, "", NULL);
            *labelled = 1;
        }
        free_list(files, nf);
    }
    free_list(sub, ns);
    if (st == LF_OK && ds->n == 0) { /* no class folders: a flat folder of unlabelled images */
        if ((st = list_dir(dir, 0, &files, &nf)) != LF_OK) return st;
        for (int64_t j = 0; j < nf && st == LF_OK; j++) {
            char full[8192 + 256];
            snprintf(full, sizeof full, "%s/%s", dir, files[j]);
            st = add_item(ds, full, NULL, LF_SPLIT_TRAIN, "", NULL);
        }
        free_list(files, nf);
        if (st == LF_OK && ds->n == 0)
            st = lf_error(LF_ERR_FORMAT, "%s: no images (.png .jpg .tif .npy) in the folder or "
                          "its subfolders", dir);
    }
    return st;
}

lf_status lf_dataset_open(lf_dataset **out, const char *path, const lf_dataset_options *opts)
{
    if (!out || !path) return lf_error(LF_ERR_ARG, "lf_dataset_open: NULL argument");
    *out = NULL;
    lf_dataset_options o = opts ? *opts : lf_dataset_options_default();
    if (o.train_frac < 0 || o.val_frac < 0 || o.train_frac + o.val_frac > 1.0 + 1e-9)
        return lf_error(LF_ERR_ARG, "lf_dataset_open: split fractions train %g, val %g",
                        o.train_frac, o.val_frac);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return lf_error(LF_ERR_IO, "%s: no such file or folder", path);
    lf_dataset *ds = lf_calloc(1, sizeof *ds);
    if (!ds) return LF_ERR_NOMEM;
    ds->source = lf_strdup(path);
    if (!ds->source) { lf_dataset_free(ds); return LF_ERR_NOMEM; }
    int has_label = 0, has_split = 0;
    lf_status st = S_ISDIR(sb.st_mode) ? open_folder(ds, path, &has_label)
                                       : open_manifest(ds, path, &has_label, &has_split);
    if (st == LF_OK) st = assign_labels(ds, has_label);
    if (st == LF_OK && !has_split) st = stratified_split(ds, &o);
    if (st != LF_OK) {
        lf_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LF_OK;
}

/* ---------------------------------------------------------------- accessors */
int64_t lf_dataset_count(const lf_dataset *ds) { return ds ? ds->n : 0; }
const char *lf_dataset_path(const lf_dataset *ds, int64_t i) { return ds->path[i]; }
int lf_dataset_label(const lf_dataset *ds, int64_t i) { return ds->label[i]; }
int lf_dataset_num_classes(const lf_dataset *ds) { return ds->n_classes; }
const char *lf_dataset_class_name(const lf_dataset *ds, int k)
{
    return k >= 0 && k < ds->n_classes ? ds->classes[k] : NULL;
}
lf_split lf_dataset_split(const lf_dataset *ds, int64_t i) { return ds->split[i]; }
const char *lf_dataset_site(const lf_dataset *ds, int64_t i) { return ds->site[i]; }
const char *lf_dataset_origin(const lf_dataset *ds, int64_t i)
{
    return ds->origin[i] ? ds->origin[i] : ds->path[i];
}

int64_t lf_dataset_indices(const lf_dataset *ds, lf_split split, int64_t *out)
{
    int64_t m = 0;
    for (int64_t i = 0; i < ds->n; i++)
        if (split == LF_SPLIT_ALL || ds->split[i] == split) {
            if (out) out[m] = i;
            m++;
        }
    return m;
}

lf_status lf_dataset_read(const lf_dataset *ds, int64_t i, lf_image *img)
{
    if (!ds || i < 0 || i >= ds->n) return lf_error(LF_ERR_ARG, "lf_dataset_read: bad index");
    lf_status st = lf_image_read(ds->path[i], img);
    if (st != LF_OK && ds->origin[i]) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", lf_last_error());
        lf_error(st, "%s: %s", ds->origin[i], msg);
    }
    return st;
}
