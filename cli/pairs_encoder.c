/* The index's "model" query encoder for CLIP/CLOOB models (pretrain --method clip|cloob): a
 * SMILES goes through the model's molecule tower, an image file or a profile row through its
 * sample tower, both L2-normalised so that the index's inner product is the cosine. */
#include "pairs_model.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pe_ctx {
    pairs_model m;
    pthread_mutex_t mu; /* one forward at a time: the server calls from several threads */
    uint8_t *bits;      /* (fp_bits) scratch, under mu */
} pe_ctx;

static void l2(float *z, int64_t d)
{
    double s = 0;
    for (int64_t k = 0; k < d; k++) s += (double)z[k] * z[k];
    double inv = 1.0 / fmax(sqrt(s), 1e-12);
    for (int64_t k = 0; k < d; k++) z[k] = (float)(z[k] * inv);
}

/* One eval-mode forward of x (1, ...) through the molecule (mol != 0) or sample tower. */
static lf_status forward(pe_ctx *c, lf_graph *g, lf_tensor *x, int mol, float *out)
{
    lf_tensor *z = mol ? pm_embed_molecule(g, &c->m, x) : pm_embed_sample(g, &c->m, x);
    if (!z) return lf_last_status() ? lf_last_status() : LF_ERR_NOMEM;
    int64_t E = c->m.c.embed_dim;
    for (int64_t k = 0; k < E; k++) {
        if (!isfinite((double)z->data[k])) return lf_error(LF_ERR_NUMERIC, "model embedding is not finite");
        out[k] = (float)z->data[k];
    }
    l2(out, E);
    return LF_OK;
}

static lf_status new_graph(lf_graph **g)
{
    lf_status s = lf_graph_init(g, 0);
    if (s) return s;
    lf_graph_set_grad_enabled(*g, 0);
    lf_graph_set_training(*g, 0);
    lf_graph_set_frozen_weights(*g, 1); /* a loaded encoder: its weights never change */
    return LF_OK;
}

/* Morgan bits exactly as training computed them (lf_pairs_fingerprints): chiral when the
 * model was trained with chirality, the non-chiral bits when this build cannot fingerprint
 * the molecule's stereo marks chirally. */
static lf_status pe_smiles(void *ctx, const char *smiles, float *out)
{
    pe_ctx *c = ctx;
    if (!smiles || !*smiles) return lf_error(LF_ERR_FORMAT, "empty SMILES");
    lf_mol *mol = NULL;
    int pos = -1;
    lf_status st = lf_mol_parse(smiles, &mol, &pos);
    if (st) return st; /* the parser's message names the position */
    pthread_mutex_lock(&c->mu);
    int nb = c->m.c.fp_bits;
    st = lf_morgan_bits(mol, c->m.c.fp_radius, nb, c->m.c.fp_chirality, c->bits);
    if (st == LF_ERR_UNSUPPORTED && c->m.c.fp_chirality) {
        lf_clear_error();
        st = lf_morgan_bits(mol, c->m.c.fp_radius, nb, 0, c->bits);
    }
    int on = 0;
    for (int b = 0; !st && b < nb; b++) on += c->bits[b] != 0;
    if (!st && !on) st = lf_error(LF_ERR_FORMAT, "SMILES '%.60s' has no atoms (empty fingerprint)", smiles);
    lf_graph *g = NULL;
    if (!st) st = new_graph(&g);
    if (!st) {
        lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){1, nb});
        if (!x) st = lf_last_status() ? lf_last_status() : LF_ERR_NOMEM;
        for (int b = 0; !st && b < nb; b++) x->data[b] = c->bits[b] ? 1 : 0;
        if (!st) st = forward(c, g, x, 1, out);
    }
    lf_graph_free(g);
    pthread_mutex_unlock(&c->mu);
    lf_mol_free(mol);
    return st;
}

/* "FILE.npy#ROW", or FILE.npy with a single row */
static lf_status read_profile(const char *spec, int64_t F, lf_real **row)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", spec);
    char *hash = strrchr(path, '#');
    long long want = -1;
    if (hash) {
        char *end;
        want = strtoll(hash + 1, &end, 10);
        if (end == hash + 1 || *end || want < 0)
            return lf_error(LF_ERR_ARG, "'%s': the row after '#' must be a non-negative integer", spec);
        *hash = 0;
    }
    lf_real *data = NULL;
    int64_t rows = 0, cols = 0;
    lf_status st = lf_npy_read_f32(path, &data, &rows, &cols);
    if (st) return st;
    if (want < 0 && rows != 1) st = lf_error(LF_ERR_ARG, "%s has %lld rows: name one as %s#ROW", path, (long long)rows, path);
    else if (want >= rows) st = lf_error(LF_ERR_ARG, "%s: row %lld out of range (%lld rows)", path, want, (long long)rows);
    else if (cols != F) st = lf_error(LF_ERR_SHAPE, "%s has %lld columns; the model takes %lld features", path, (long long)cols, (long long)F);
    if (st) { lf_free(data); return st; }
    if (want < 0) want = 0;
    *row = lf_malloc(sizeof(lf_real) * (size_t)F);
    if (!*row) { lf_free(data); return LF_ERR_NOMEM; }
    memcpy(*row, data + want * F, sizeof(lf_real) * (size_t)F);
    lf_free(data);
    return LF_OK;
}

static lf_status pe_sample(void *ctx, const char *path, float *out)
{
    pe_ctx *c = ctx;
    pairs_model *m = &c->m;
    lf_graph *g = NULL;
    lf_status st;
    if (m->prof) {
        lf_real *row = NULL;
        int64_t F = m->c.feature_dim;
        if ((st = read_profile(path, F, &row))) {
            /* an image given to a profile model: say what it takes rather than a .npy error */
            lf_image probe = {0};
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", lf_last_error());
            int is_image = !strchr(path, '#') && lf_image_read(path, &probe) == LF_OK;
            lf_image_free(&probe);
            if (is_image)
                return lf_error(LF_ERR_FORMAT, "this model embeds feature vectors (%lld values), not images: "
                                "give FILE.npy#ROW", (long long)F);
            return lf_error(st, "%s", msg);
        }
        pthread_mutex_lock(&c->mu);
        if (!(st = new_graph(&g))) {
            lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){1, F});
            if (!x) st = lf_last_status() ? lf_last_status() : LF_ERR_NOMEM;
            /* the training split's standardisation, as pm_input does */
            for (int64_t k = 0; !st && k < F; k++)
                x->data[k] = (lf_real)(((double)row[k] - m->feat_mean->data[k]) / m->feat_std->data[k]);
            if (!st) st = forward(c, g, x, 0, out);
        }
        lf_graph_free(g);
        pthread_mutex_unlock(&c->mu);
        lf_free(row);
        return st;
    }
    lf_image img = {0}, sized = {0};
    int S = m->c.image_size, C = m->c.enc.in_channels;
    if ((st = lf_image_read(path, &img))) return st;
    if (img.c != C || img.d != 1) {
        st = lf_error(LF_ERR_SHAPE, "%s: %d channels (depth %d); the model takes %d 2-D channels", path, img.c, img.d, C);
        lf_image_free(&img);
        return st;
    }
    lf_augment_config none = lf_augment_none(S, S);
    lf_rng rng = lf_augment_rng(0, 0, 0, 0);
    st = lf_augment_apply(&none, &img, &sized, NULL, &rng);
    lf_image_free(&img);
    if (!st) {
        pthread_mutex_lock(&c->mu);
        if (!(st = new_graph(&g))) {
            lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){1, C, S, S});
            if (!x) st = lf_last_status() ? lf_last_status() : LF_ERR_NOMEM;
            else {
                pm_normalize_into(m, &sized, x->data);
                st = forward(c, g, x, 0, out);
            }
        }
        lf_graph_free(g);
        pthread_mutex_unlock(&c->mu);
    }
    lf_image_free(&sized);
    return st;
}

static void pe_release(void *ctx)
{
    pe_ctx *c = ctx;
    if (!c) return;
    pm_free(&c->m);
    pthread_mutex_destroy(&c->mu);
    lf_free(c->bits);
    lf_free(c);
}

lf_status pm_query_encoder_load(lf_query_encoder *e, const char *model_path)
{
    if (!e || !model_path) return lf_error(LF_ERR_ARG, "pm_query_encoder_load: NULL argument");
    memset(e, 0, sizeof *e);
    pe_ctx *c = lf_calloc(1, sizeof *c);
    if (!c) return LF_ERR_NOMEM;
    lf_status st = pm_load(model_path, &c->m);
    if (st) { lf_free(c); return st; }
    c->bits = lf_malloc((size_t)c->m.c.fp_bits);
    if (!c->bits) { pm_free(&c->m); lf_free(c); return LF_ERR_NOMEM; }
    pthread_mutex_init(&c->mu, NULL);
    snprintf(e->name, sizeof e->name, "model (%s)", c->m.c.modality);
    e->dim = c->m.c.embed_dim;
    e->ctx = c;
    e->encode_smiles = pe_smiles;
    e->encode_image = pe_sample;
    e->release = pe_release;
    return LF_OK;
}
