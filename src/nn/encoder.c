/* lf_encoder: one handle over the architectures (resnet18/50, vit, mlp) with an optional
 * linear head ("fc" as torchvision, "head" as timm), config checks and JSON metadata. */
#include "nn.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ARCH_RESNET, ARCH_VIT, ARCH_MLP };

struct lf_encoder {
    lf_encoder_config cfg;
    int kind;
    nn_resnet *resnet;
    nn_vit *vit;
    lf_mlp *mlp;
    nn_linear head; /* weight NULL when num_classes == 0 */
};

lf_encoder_config lf_encoder_config_default(const char *arch)
{
    lf_encoder_config c;
    memset(&c, 0, sizeof c);
    c.bn_momentum = 0.1;
    c.bn_eps = 1e-5;
    c.ln_eps = 1e-6;
    c.mlp_ratio = 4.0;
    c.in_channels = 3;
    if (!arch) return c;
    if (strcmp(arch, "resnet18") == 0 || strcmp(arch, "resnet50") == 0) {
        snprintf(c.stem, sizeof c.stem, "imagenet");
        c.width = 64;
        c.image_size = 224;
    } else if (strcmp(arch, "vit") == 0) { /* ViT-Tiny/16 */
        c.width = 192;
        c.image_size = 224;
        c.patch = 16;
        c.depth = 12;
        c.heads = 3;
        snprintf(c.pos_embed, sizeof c.pos_embed, "learned");
    } else if (strcmp(arch, "mlp") == 0) {
        c.in_channels = 2048;
        c.width = 512;
        c.depth = 2;
    } else {
        return c;
    }
    snprintf(c.arch, sizeof c.arch, "%s", arch);
    return c;
}

static int arch_kind(const char *arch)
{
    if (strcmp(arch, "resnet18") == 0 || strcmp(arch, "resnet50") == 0) return ARCH_RESNET;
    if (strcmp(arch, "vit") == 0) return ARCH_VIT;
    if (strcmp(arch, "mlp") == 0) return ARCH_MLP;
    return -1;
}

lf_status lf_encoder_config_check(const lf_encoder_config *c)
{
    if (!c) return lf_error(LF_ERR_ARG, "encoder config: NULL");
    int kind = arch_kind(c->arch);
    if (kind < 0)
        return lf_error(LF_ERR_ARG, "encoder config: arch '%s' is not one of resnet18, "
                                    "resnet50, vit, mlp", c->arch);
    if (c->in_channels <= 0)
        return lf_error(LF_ERR_ARG, "encoder config: in_channels = %d must be > 0",
                        c->in_channels);
    if (c->num_classes < 0)
        return lf_error(LF_ERR_ARG, "encoder config: num_classes = %d must be >= 0",
                        c->num_classes);
    if (c->width <= 0)
        return lf_error(LF_ERR_ARG, "encoder config: width = %d must be > 0", c->width);
    if (kind == ARCH_RESNET) {
        if (strcmp(c->stem, "imagenet") != 0 && strcmp(c->stem, "cifar") != 0)
            return lf_error(LF_ERR_ARG, "encoder config: stem '%s' is not imagenet or cifar",
                            c->stem);
        if (!(c->bn_momentum >= 0 && c->bn_momentum <= 1) || !(c->bn_eps > 0))
            return lf_error(LF_ERR_ARG, "encoder config: bn_momentum %g / bn_eps %g",
                            c->bn_momentum, c->bn_eps);
    }
    if (kind == ARCH_VIT) {
        if (c->patch <= 0 || c->image_size <= 0 || c->image_size % c->patch != 0)
            return lf_error(LF_ERR_ARG, "encoder config: image_size %d must be a positive "
                            "multiple of patch %d", c->image_size, c->patch);
        if (c->depth <= 0 || c->heads <= 0 || c->width % c->heads != 0)
            return lf_error(LF_ERR_ARG, "encoder config: vit needs depth > 0 (%d) and width "
                            "%d divisible by heads %d", c->depth, c->width, c->heads);
        if (!(c->mlp_ratio > 0) || (int64_t)(c->mlp_ratio * c->width) < 1)
            return lf_error(LF_ERR_ARG, "encoder config: mlp_ratio %g", c->mlp_ratio);
        if (!(c->ln_eps > 0)) return lf_error(LF_ERR_ARG, "encoder config: ln_eps %g", c->ln_eps);
        if (strcmp(c->pos_embed, "learned") != 0 && strcmp(c->pos_embed, "sincos") != 0)
            return lf_error(LF_ERR_ARG, "encoder config: pos_embed '%s' is not learned or sincos",
                            c->pos_embed);
        if (!strcmp(c->pos_embed, "sincos") && c->width % 4 != 0)
            return lf_error(LF_ERR_ARG, "encoder config: sincos pos_embed needs width %d "
                            "divisible by 4", c->width);
    }
    if (kind == ARCH_MLP && (c->depth < 1 || c->depth > LF_MLP_MAX_LAYERS))
        return lf_error(LF_ERR_ARG, "encoder config: mlp depth %d outside 1..%d", c->depth,
                        LF_MLP_MAX_LAYERS);
    return LF_OK;
}

int64_t lf_encoder_feature_dim(const lf_encoder *e)
{
    if (!e) return 0;
    if (e->kind == ARCH_RESNET) return nn_resnet_feature_dim(&e->cfg);
    return e->cfg.width;
}

nn_vit *nn_encoder_vit(lf_encoder *e) { return e ? e->vit : NULL; }

const lf_encoder_config *lf_encoder_get_config(const lf_encoder *e) { return e ? &e->cfg : NULL; }

static lf_mlp_config encoder_mlp_config(const lf_encoder_config *c)
{
    int dims[LF_MLP_MAX_LAYERS + 1];
    dims[0] = c->in_channels;
    for (int i = 1; i <= c->depth; i++) dims[i] = c->width;
    lf_mlp_config m = lf_mlp_config_make(c->depth, dims, 1);
    m.bn_momentum = c->bn_momentum;
    m.bn_eps = c->bn_eps;
    return m;
}

lf_status lf_encoder_init(lf_params *P, const lf_encoder_config *cfg, const char *prefix,
                          lf_encoder **out)
{
    if (!P || !out) return lf_error(LF_ERR_ARG, "lf_encoder_init: NULL argument");
    lf_status s = lf_encoder_config_check(cfg);
    if (s != LF_OK) return s;
    lf_encoder *e = lf_calloc(1, sizeof *e);
    if (!e) return LF_ERR_NOMEM;
    e->cfg = *cfg;
    e->kind = arch_kind(cfg->arch);
    nn_namer nm;
    nn_namer_init(&nm, P, prefix);
    if (e->kind == ARCH_RESNET) s = nn_resnet_init(&nm, cfg, &e->resnet);
    else if (e->kind == ARCH_VIT) s = nn_vit_init(&nm, cfg, &e->vit);
    else {
        char pre[sizeof nm.prefix + 8];
        snprintf(pre, sizeof pre, "%slayers.", nm.prefix);
        lf_mlp_config mc = encoder_mlp_config(cfg);
        s = lf_mlp_init(P, &mc, pre, &e->mlp);
    }
    if (s == LF_OK && cfg->num_classes > 0) {
        nn_linear_declare(&nm, &e->head, lf_encoder_feature_dim(e), cfg->num_classes, 1,
                          e->kind == ARCH_VIT ? "head" : "fc");
        s = nm.status;
    }
    if (s != LF_OK) {
        lf_encoder_free(e);
        return s;
    }
    *out = e;
    return LF_OK;
}

void lf_encoder_free(lf_encoder *e)
{
    if (!e) return;
    nn_resnet_free(e->resnet);
    nn_vit_free(e->vit);
    lf_mlp_free(e->mlp);
    lf_free(e);
}

lf_status lf_encoder_reset_parameters(lf_encoder *e, uint64_t seed, uint64_t stream)
{
    if (!e) return lf_error(LF_ERR_ARG, "lf_encoder_reset_parameters: NULL encoder");
    lf_rng rng = lf_rng_make(seed, stream);
    if (e->resnet) {
        nn_resnet_reset(e->resnet, &rng);
    } else if (e->vit) {
        nn_vit_reset(e->vit, &rng, NN_INIT_TRUNC_NORMAL);
    } else {
        /* the mlp draws from its own stream so its weights do not depend on the head */
        lf_status s = lf_mlp_reset_parameters(e->mlp, seed, stream ^ 0x6d6c70ull);
        if (s != LF_OK) return s;
    }
    if (e->head.weight) {
        if (e->vit) { /* timm: trunc_normal(.02), zero bias */
            nn_init_trunc_normal(&rng, e->head.weight, 0.02, -2.0, 2.0);
            nn_init_const(e->head.bias, 0.0);
        } else { /* torchvision keeps nn.Linear's default */
            nn_init_torch_default(&rng, e->head.weight, e->head.bias);
        }
    }
    return LF_OK;
}

lf_tensor *lf_encoder_tokens(lf_graph *g, lf_encoder *e, lf_tensor *x)
{
    if (!x || !e) return NULL;
    if (!e->vit) {
        lf_error(LF_ERR_UNSUPPORTED, "encoder: tokens are only defined for vit, not '%s'",
                 e->cfg.arch);
        return NULL;
    }
    return nn_vit_tokens(g, e->vit, x);
}

lf_tensor *lf_encoder_features(lf_graph *g, lf_encoder *e, lf_tensor *x)
{
    if (!x || !e) return NULL;
    if (e->resnet) return nn_resnet_features(g, e->resnet, x);
    if (e->mlp) return lf_mlp_forward(g, e->mlp, x);
    /* timm's global_pool='token': the class token after the final norm */
    lf_tensor *t = nn_vit_tokens(g, e->vit, x);
    if (!t) return NULL;
    return lf_reshape(g, lf_slice(g, t, 1, 0, 1), 2, (int64_t[]){t->shape[0], t->shape[2]});
}

lf_tensor *lf_encoder_forward(lf_graph *g, lf_encoder *e, lf_tensor *x)
{
    lf_tensor *f = lf_encoder_features(g, e, x);
    if (!f || !e->head.weight) return f;
    return nn_linear_forward(g, &e->head, f);
}

/* ---- JSON metadata */
char *lf_encoder_config_to_json(const lf_encoder_config *c)
{
    if (!c) {
        lf_error(LF_ERR_ARG, "lf_encoder_config_to_json: NULL config");
        return NULL;
    }
    json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:s}",
                          "arch", c->arch, "stem", c->stem, "in_channels", c->in_channels,
                          "num_classes", c->num_classes, "width", c->width, "image_size",
                          c->image_size, "patch", c->patch, "depth", c->depth, "heads",
                          c->heads, "mlp_ratio", c->mlp_ratio, "bn_momentum", c->bn_momentum,
                          "bn_eps", c->bn_eps, "ln_eps", c->ln_eps, "pos_embed", c->pos_embed);
    if (!o) {
        lf_error(LF_ERR_NOMEM, "encoder config: cannot build JSON");
        return NULL;
    }
    char *txt = json_dumps(o, JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!txt) {
        lf_error(LF_ERR_NOMEM, "encoder config: cannot write JSON");
        return NULL;
    }
    /* hand back memory from lf_malloc so the caller frees it with lf_free */
    char *out = lf_strdup(txt);
    free(txt);
    return out;
}

static lf_status get_int(json_t *o, const char *key, int *dst)
{
    json_t *v = json_object_get(o, key);
    if (!v) return LF_OK;
    if (!json_is_integer(v))
        return lf_error(LF_ERR_FORMAT, "encoder config JSON: '%s' must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < -2147483647 || x > 2147483647)
        return lf_error(LF_ERR_FORMAT, "encoder config JSON: '%s' = %lld out of range", key,
                        (long long)x);
    *dst = (int)x;
    return LF_OK;
}

static lf_status get_real(json_t *o, const char *key, double *dst)
{
    json_t *v = json_object_get(o, key);
    if (!v) return LF_OK;
    if (!json_is_number(v))
        return lf_error(LF_ERR_FORMAT, "encoder config JSON: '%s' must be a number", key);
    *dst = json_number_value(v);
    return LF_OK;
}

static lf_status get_str(json_t *o, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!v) return LF_OK;
    if (!json_is_string(v) || strlen(json_string_value(v)) >= cap)
        return lf_error(LF_ERR_FORMAT, "encoder config JSON: '%s' must be a string shorter "
                        "than %zu", key, cap);
    snprintf(dst, cap, "%s", json_string_value(v));
    return LF_OK;
}

lf_status lf_encoder_config_from_json(const char *text, lf_encoder_config *cfg)
{
    if (!text || !cfg) return lf_error(LF_ERR_ARG, "lf_encoder_config_from_json: NULL argument");
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    if (!o) return lf_error(LF_ERR_FORMAT, "encoder config JSON: line %d column %d: %s",
                            err.line, err.column, err.text);
    lf_status s = LF_OK;
    json_t *arch = json_object_get(o, "arch");
    if (!json_is_object(o) || !json_is_string(arch)) {
        s = lf_error(LF_ERR_FORMAT, "encoder config JSON: an object with a string 'arch' "
                                    "is required");
    } else {
        lf_encoder_config c = lf_encoder_config_default(json_string_value(arch));
        if (!c.arch[0]) {
            s = lf_error(LF_ERR_FORMAT, "encoder config JSON: unknown arch '%s'",
                         json_string_value(arch));
        } else {
            if (!s) s = get_str(o, "stem", c.stem, sizeof c.stem);
            if (!s) s = get_int(o, "in_channels", &c.in_channels);
            if (!s) s = get_int(o, "num_classes", &c.num_classes);
            if (!s) s = get_int(o, "width", &c.width);
            if (!s) s = get_int(o, "image_size", &c.image_size);
            if (!s) s = get_int(o, "patch", &c.patch);
            if (!s) s = get_int(o, "depth", &c.depth);
            if (!s) s = get_int(o, "heads", &c.heads);
            if (!s) s = get_real(o, "mlp_ratio", &c.mlp_ratio);
            if (!s) s = get_real(o, "bn_momentum", &c.bn_momentum);
            if (!s) s = get_real(o, "bn_eps", &c.bn_eps);
            if (!s) s = get_real(o, "ln_eps", &c.ln_eps);
            if (!s) s = get_str(o, "pos_embed", c.pos_embed, sizeof c.pos_embed);
            if (!s) s = lf_encoder_config_check(&c);
            if (!s) *cfg = c;
        }
    }
    json_decref(o);
    return s;
}
