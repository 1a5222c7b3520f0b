#include "pairs_model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lf_mlp_config mlp_cfg(int in, int hidden, int layers, int out)
{
    int dims[LF_MLP_MAX_LAYERS + 1];
    dims[0] = in;
    for (int i = 1; i <= layers; i++) dims[i] = hidden;
    dims[layers + 1] = out;
    return lf_mlp_config_make(layers + 1, dims, 1);
}

lf_status pm_build(pairs_model *m, const pm_config *c, int learnable)
{
    memset(m, 0, sizeof *m);
    m->c = *c;
    if (c->mol_layers < 0 || c->mol_layers + 1 > LF_MLP_MAX_LAYERS || c->profile_layers < 0 ||
        c->profile_layers + 1 > LF_MLP_MAX_LAYERS)
        return lf_error(LF_ERR_ARG, "hidden layers must be in [0, %d]", LF_MLP_MAX_LAYERS - 1);
    lf_status s = lf_params_init(&m->P);
    if (s) return s;
    int feat = !strcmp(c->modality, "features");
    if (feat) {
        lf_mlp_config pc = mlp_cfg((int)c->feature_dim, c->profile_hidden, c->profile_layers, c->embed_dim);
        if ((s = lf_mlp_init(m->P, &pc, "visual.", &m->prof))) return s;
        int64_t sh[1] = {c->feature_dim};
        m->feat_mean = lf_param_add(m->P, "feature_norm.mean", 1, sh, LF_TENSOR_BUFFER);
        m->feat_std = lf_param_add(m->P, "feature_norm.std", 1, sh, LF_TENSOR_BUFFER);
        if (!m->feat_mean || !m->feat_std) return lf_last_status();
    } else {
        lf_encoder_config ec = c->enc;
        ec.num_classes = c->embed_dim;
        m->c.enc = ec;
        if ((s = lf_encoder_init(m->P, &ec, "visual.", &m->enc))) return s;
    }
    lf_mlp_config mc = mlp_cfg(c->fp_bits, c->mol_hidden, c->mol_layers, c->embed_dim);
    if ((s = lf_mlp_init(m->P, &mc, "molecule.", &m->mol))) return s;
    m->logit_inv_tau = lf_param_add(m->P, "logit_inv_tau", 1, (int64_t[]){1},
                                    learnable ? LF_TENSOR_NO_DECAY : LF_TENSOR_BUFFER);
    if (!m->logit_inv_tau) return lf_last_status();
    return lf_params_finalize(m->P);
}

void pm_free(pairs_model *m)
{
    if (m->enc) lf_encoder_free(m->enc);
    if (m->prof) lf_mlp_free(m->prof);
    if (m->mol) lf_mlp_free(m->mol);
    if (m->P) lf_params_free(m->P);
    for (int64_t i = 0; i < m->n_cache; i++) lf_image_free(&m->cache[i]);
    lf_free(m->cache);
    memset(m, 0, sizeof *m);
}

char *pm_config_to_json(const pm_config *c)
{
    char *enc = lf_encoder_config_to_json(&c->enc);
    char norm[4096] = "{}";
    if (!enc) return NULL;
    if (!strcmp(c->modality, "image") && lf_norm_stats_to_json(&c->norm, norm, sizeof norm)) {
        lf_free(enc);
        return NULL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "modality", json_string(c->modality));
    json_object_set_new(o, "embed_dim", json_integer(c->embed_dim));
    if (!strcmp(c->modality, "features")) {
        json_object_set_new(o, "feature_dim", json_integer(c->feature_dim));
        json_object_set_new(o, "profile_hidden", json_integer(c->profile_hidden));
        json_object_set_new(o, "profile_layers", json_integer(c->profile_layers));
    } else {
        json_object_set_new(o, "image_encoder", json_loads(enc, 0, NULL));
        json_object_set_new(o, "image_size", json_integer(c->image_size));
        json_object_set_new(o, "normalization", json_loads(norm, 0, NULL));
    }
    json_object_set_new(o, "molecule_hidden", json_integer(c->mol_hidden));
    json_object_set_new(o, "molecule_layers", json_integer(c->mol_layers));
    json_t *fp = json_object();
    json_object_set_new(fp, "kind", json_string("morgan_bits"));
    json_object_set_new(fp, "radius", json_integer(c->fp_radius));
    json_object_set_new(fp, "n_bits", json_integer(c->fp_bits));
    json_object_set_new(fp, "chirality", json_boolean(c->fp_chirality));
    json_object_set_new(fp, "chirality_fallbacks", json_integer(c->fp_fallbacks));
    json_object_set_new(o, "fingerprint", fp);
    lf_free(enc);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!s) {
        lf_error(LF_ERR_NOMEM, "cloome config: cannot write JSON");
        return NULL;
    }
    char *r = lf_malloc(strlen(s) + 1);
    if (r) strcpy(r, s);
    free(s);
    return r;
}

static int geti(json_t *o, const char *k, int dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

lf_status pm_config_from_json(const char *json, pm_config *c)
{
    memset(c, 0, sizeof *c);
    json_error_t e;
    json_t *o = json_loads(json, 0, &e);
    if (!o) return lf_error(LF_ERR_FORMAT, "cloome config: %s (line %d)", e.text, e.line);
    lf_status s = LF_OK;
    const char *mod = json_string_value(json_object_get(o, "modality"));
    if (!mod || (strcmp(mod, "features") && strcmp(mod, "image"))) {
        s = lf_error(LF_ERR_FORMAT, "cloome config: 'modality' must be features or image");
        goto out;
    }
    snprintf(c->modality, sizeof c->modality, "%s", mod);
    c->embed_dim = geti(o, "embed_dim", 512);
    c->feature_dim = geti(o, "feature_dim", 0);
    c->profile_hidden = geti(o, "profile_hidden", 512);
    c->profile_layers = geti(o, "profile_layers", 2);
    c->image_size = geti(o, "image_size", 96);
    c->mol_hidden = geti(o, "molecule_hidden", 1024);
    c->mol_layers = geti(o, "molecule_layers", 4);
    json_t *fp = json_object_get(o, "fingerprint");
    c->fp_radius = geti(fp, "radius", 3);
    c->fp_bits = geti(fp, "n_bits", 1024);
    c->fp_chirality = json_is_true(json_object_get(fp, "chirality"));
    c->fp_fallbacks = geti(fp, "chirality_fallbacks", 0);
    if (!strcmp(mod, "image")) {
        char *enc = json_dumps(json_object_get(o, "image_encoder"), 0);
        char *norm = json_dumps(json_object_get(o, "normalization"), 0);
        if (!enc || !norm) s = lf_error(LF_ERR_FORMAT, "cloome config: image_encoder / normalization missing");
        else if (!(s = lf_encoder_config_from_json(enc, &c->enc))) s = lf_norm_stats_from_json(norm, &c->norm);
        free(enc);
        free(norm);
    }
out:
    json_decref(o);
    return s;
}

lf_status pm_load(const char *path, pairs_model *m)
{
    memset(m, 0, sizeof *m);
    lf_safetensors *f;
    lf_status s = lf_st_open(&f, path);
    if (s) return s;
    const char *cj = lf_st_meta(f, "cloome");
    pm_config c;
    if (!cj) {
        lf_st_close(f);
        return lf_error(LF_ERR_FORMAT, "%s: not a CLOOME model (no 'cloome' metadata); train one with "
                        "`labelfree pretrain --method clip|cloob`", path);
    }
    if ((s = pm_config_from_json(cj, &c))) {
        lf_st_close(f);
        return lf_error(s, "%s: %s", path, lf_last_error());
    }
    if ((s = pm_build(m, &c, 0)) || (s = lf_st_load_params(f, m->P, "", 0))) {
        lf_st_close(f);
        pm_free(m);
        return s;
    }
    lf_st_close(f);
    return LF_OK;
}

void pm_normalize_into(const pairs_model *m, const lf_image *img, lf_real *dst)
{
    int S = m->c.image_size, C = m->c.enc.in_channels;
    for (int ch = 0; ch < C; ch++) {
        double mu = m->c.norm.mean[ch], sd = m->c.norm.std[ch];
        const float *sp = img->data + (size_t)ch * S * S;
        for (int k = 0; k < S * S; k++) dst[ch * S * S + k] = (lf_real)(((double)sp[k] - mu) / sd);
    }
}

lf_tensor *pm_input(lf_graph *g, pairs_model *m, const lf_pairs *p, const int64_t *idx, int64_t n,
                    const lf_augment_config *aug, uint64_t seed, int64_t epoch)
{
    if (!strcmp(m->c.modality, "features")) {
        int64_t F = m->c.feature_dim;
        lf_tensor *x = lf_tensor_new(g, 2, (int64_t[]){n, F});
        if (!x) return NULL;
        for (int64_t r = 0; r < n; r++) {
            const float *f = lf_pairs_features(p, idx[r]);
            for (int64_t k = 0; k < F; k++)
                x->data[r * F + k] = (lf_real)(((double)f[k] - m->feat_mean->data[k]) / m->feat_std->data[k]);
        }
        return x;
    }
    int S = m->c.image_size, C = m->c.enc.in_channels;
    if (!m->cache) { /* decode each image once */
        m->n_cache = lf_pairs_count(p);
        m->cache = lf_calloc((size_t)m->n_cache, sizeof(lf_image));
        if (!m->cache) return NULL;
    }
    lf_tensor *x = lf_tensor_new(g, 4, (int64_t[]){n, C, S, S});
    if (!x) return NULL;
    lf_image out = {0};
    lf_augment_config none = lf_augment_none(S, S);
    for (int64_t r = 0; r < n; r++) {
        lf_image *src = &m->cache[idx[r]];
        if (!src->data && lf_pairs_read_image(p, idx[r], src)) break;
        if (src->c != C || src->d != 1) {
            lf_error(LF_ERR_SHAPE, "row %lld: image has %d channels (depth %d); the model takes %d 2-D channels",
                     (long long)idx[r], src->c, src->d, C);
            break;
        }
        lf_rng rng = lf_augment_rng(seed, epoch, idx[r], 0);
        if (lf_augment_apply(aug ? aug : &none, src, &out, NULL, &rng)) break;
        pm_normalize_into(m, &out, x->data + r * C * S * S);
        if (r == n - 1) {
            lf_image_free(&out);
            return x;
        }
    }
    lf_image_free(&out);
    return NULL;
}

lf_tensor *pm_embed_sample(lf_graph *g, pairs_model *m, lf_tensor *x)
{
    return m->prof ? lf_mlp_forward(g, m->prof, x) : lf_encoder_forward(g, m->enc, x);
}

lf_tensor *pm_embed_molecule(lf_graph *g, pairs_model *m, lf_tensor *fp)
{
    return lf_mlp_forward(g, m->mol, fp);
}

static void l2_rows(float *z, int64_t n, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t k = 0; k < d; k++) s += (double)z[i * d + k] * z[i * d + k];
        double inv = 1.0 / fmax(sqrt(s), 1e-12);
        for (int64_t k = 0; k < d; k++) z[i * d + k] = (float)(z[i * d + k] * inv);
    }
}

lf_status pm_embed_rows(pairs_model *m, const lf_pairs *p, const float *fp, const int64_t *idx,
                        int64_t n, float *zs, float *zm)
{
    lf_graph *g;
    lf_status s = lf_graph_init(&g, 0);
    if (s) return s;
    lf_graph_set_grad_enabled(g, 0);
    lf_graph_set_training(g, 0);
    lf_graph_set_frozen_weights(g, 1); /* the weights stay as they are during this call */
    int64_t E = m->c.embed_dim, B = 128, nb = m->c.fp_bits;
    for (int64_t at = 0; at < n && !s; at += B) {
        int64_t k = n - at < B ? n - at : B;
        lf_graph_reset(g);
        lf_tensor *x = pm_input(g, m, p, idx + at, k, NULL, 0, 0);
        lf_tensor *f = lf_tensor_new(g, 2, (int64_t[]){k, nb});
        if (!x || !f) { s = lf_last_status() ? lf_last_status() : LF_ERR_NOMEM; break; }
        for (int64_t r = 0; r < k; r++)
            for (int64_t b = 0; b < nb; b++) f->data[r * nb + b] = (lf_real)fp[idx[at + r] * nb + b];
        lf_tensor *a = pm_embed_sample(g, m, x), *c = pm_embed_molecule(g, m, f);
        if (!a || !c) { s = lf_last_status(); break; }
        for (int64_t q = 0; q < k * E; q++) {
            zs[at * E + q] = (float)a->data[q];
            zm[at * E + q] = (float)c->data[q];
        }
    }
    lf_graph_free(g);
    if (!s) {
        l2_rows(zs, n, E);
        l2_rows(zm, n, E);
    }
    return s;
}
