/* Training checkpoints (resume after a kill): parameters and buffers in lf_real's own dtype,
 * the optimizer state block as "__optim_state__", and the scalars (step, RNG, optimizer
 * step count/lr/weight decay) as decimal strings in the metadata, so 64-bit values survive
 * exactly. One safetensors file written atomically, so a kill mid-save leaves the previous
 * checkpoint intact. */
#include "io_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define OPTIM_TENSOR "__optim_state__"

/* An FNV-1a-style hash (FNV prime, but a start value that is not FNV's offset basis
 * 14695981039346656037: a digit was lost; kept, as saved checkpoints store this hash) over
 * the trainable parameters' names and sizes in declaration order: the optimizer state block
 * is indexed in that order, so it is only valid for the same layout. */
static uint64_t layout_hash(const lf_params *p)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < lf_params_count(p); i++) {
        const lf_tensor *t = lf_params_get(p, i);
        if (!(t->flags & LF_TENSOR_REQUIRES_GRAD)) continue;
        for (const char *c = t->name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
        int64_t n = lf_numel(t);
        for (int b = 0; b < 8; b++) h = (h ^ (uint64_t)((n >> (8 * b)) & 0xff)) * 1099511628211ull;
    }
    return h;
}

static const char *kind_name(lf_optim_kind k)
{
    return k == LF_OPTIM_SGD ? "sgd" : k == LF_OPTIM_ADAMW ? "adamw" : "lars";
}

lf_status lf_checkpoint_save(const char *path, const lf_params *p, const lf_optim *opt,
                             int64_t step, const lf_rng *rng, const char *config_json)
{
    if (!path || !p) return lf_error(LF_ERR_ARG, "lf_checkpoint_save: NULL path or params");
    if (config_json) {
        json_error_t e;
        json_t *j = json_loads(config_json, JSON_DECODE_ANY, &e);
        if (!j) return lf_error(LF_ERR_ARG, "%s: config is not JSON: %s", path, e.text);
        json_decref(j);
    }
    lf_st_writer *w;
    lf_status s = lf_st_writer_init(&w);
    if (s != LF_OK) return s;
    char buf[64];
#define META(k, ...) \
    if (s == LF_OK) { snprintf(buf, sizeof buf, __VA_ARGS__); s = lf_st_add_meta(w, k, buf); }
    META("format_version", "%d", LF_FORMAT_VERSION);
    META("labelfree_version", "%s", LF_VERSION);
    META("labelfree_checkpoint", "1");
    META("step", "%" PRId64, step);
    META("params_layout", "%016" PRIx64, layout_hash(p));
    if (rng) {
        META("rng_seed", "%" PRIu64, rng->seed);
        META("rng_stream", "%" PRIu64, rng->stream);
        META("rng_offset", "%" PRIu64, rng->offset);
    }
    int64_t n_state = 0;
    lf_real *state = NULL;
    if (opt) {
        const lf_optim_config *c = lf_optim_get_config(opt);
        META("optim_kind", "%s", kind_name(c->kind));
        META("optim_step", "%" PRId64, lf_optim_step_count(opt));
        META("optim_lr", "%.17g", c->lr);
        META("optim_weight_decay", "%.17g", c->weight_decay);
        state = lf_optim_state_block((lf_optim *)opt, &n_state);
        META("optim_state_numel", "%" PRId64, n_state);
    }
#undef META
    if (s == LF_OK && config_json) s = lf_st_add_meta(w, "config", config_json);
    for (int i = 0; s == LF_OK && i < lf_params_count(p); i++) {
        const lf_tensor *t = lf_params_get(p, i);
        s = lf_st_add(w, t->name, t->ndim, t->shape, t->data, LF_REAL_DTYPE);
    }
    if (s == LF_OK && n_state) s = lf_st_add(w, OPTIM_TENSOR, 1, &n_state, state, LF_REAL_DTYPE);
    if (s == LF_OK) s = lf_st_write(w, path);
    lf_st_writer_free(w);
    return s;
}

/* parses a metadata integer; LF_ERR_FORMAT naming the key when absent or malformed */
static lf_status meta_u64(const lf_safetensors *f, const char *path, const char *key, int base,
                          uint64_t *out)
{
    const char *v = lf_st_meta(f, key);
    if (!v) return lf_error(LF_ERR_FORMAT, "%s: checkpoint metadata has no '%s'", path, key);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, base);
    if (errno || end == v || *end)
        return lf_error(LF_ERR_FORMAT, "%s: checkpoint metadata '%s' = '%s' is not a number", path,
                        key, v);
    *out = x;
    return LF_OK;
}

/* apply = 0: only check that the saved state fits opt; 1: also restore it */
static lf_status restore_optim(lf_safetensors *f, const char *path, const lf_params *p,
                               lf_optim *opt, int apply)
{
    const lf_optim_config *c = lf_optim_get_config(opt);
    const char *kind = lf_st_meta(f, "optim_kind");
    if (!kind) return lf_error(LF_ERR_FORMAT, "%s: checkpoint has no optimizer state", path);
    if (strcmp(kind, kind_name(c->kind)) != 0)
        return lf_error(LF_ERR_ARG, "%s: checkpoint optimizer is %s, this run uses %s", path, kind,
                        kind_name(c->kind));
    uint64_t layout, n_saved, t;
    lf_status s = meta_u64(f, path, "params_layout", 16, &layout);
    if (s == LF_OK) s = meta_u64(f, path, "optim_state_numel", 10, &n_saved);
    if (s == LF_OK) s = meta_u64(f, path, "optim_step", 10, &t);
    if (s != LF_OK) return s;
    if (layout != layout_hash(p))
        return lf_error(LF_ERR_ARG, "%s: parameters were declared in another order or with other "
                        "sizes than when saved: the optimizer state does not apply", path);
    int64_t n;
    lf_real *state = lf_optim_state_block(opt, &n);
    if ((uint64_t)n != n_saved)
        return lf_error(LF_ERR_ARG, "%s: optimizer state has %llu values, this optimizer %lld (other "
                        "momentum setting?)", path, (unsigned long long)n_saved, (long long)n);
    if (!apply) return LF_OK;
    if (n && (s = lf_st_read(f, OPTIM_TENSOR, state, n)) != LF_OK) return s;
    lf_optim_set_step_count(opt, (int64_t)t);
    const char *lr = lf_st_meta(f, "optim_lr"), *wd = lf_st_meta(f, "optim_weight_decay");
    if (lr) lf_optim_set_lr(opt, strtod(lr, NULL));
    if (wd) lf_optim_set_weight_decay(opt, strtod(wd, NULL));
    return LF_OK;
}

lf_status lf_checkpoint_load(const char *path, lf_params *p, lf_optim *opt, int64_t *step,
                             lf_rng *rng, char **config_json)
{
    if (!path || !p) return lf_error(LF_ERR_ARG, "lf_checkpoint_load: NULL path or params");
    if (config_json) *config_json = NULL;
    lf_safetensors *f;
    lf_status s = lf_st_open(&f, path);
    if (s != LF_OK) return s;
    if (!lf_st_meta(f, "labelfree_checkpoint")) {
        s = lf_error(LF_ERR_FORMAT, "%s: not a labelfree checkpoint (no 'labelfree_checkpoint' "
                     "metadata; a weights file loads with lf_safetensors_load)", path);
        goto done;
    }
    uint64_t st = 0, seed = 0, stream = 0, off = 0;
    if (step && (s = meta_u64(f, path, "step", 10, &st)) != LF_OK) goto done;
    if (rng && ((s = meta_u64(f, path, "rng_seed", 10, &seed)) != LF_OK ||
                (s = meta_u64(f, path, "rng_stream", 10, &stream)) != LF_OK ||
                (s = meta_u64(f, path, "rng_offset", 10, &off)) != LF_OK))
        goto done;
    /* check the optimizer before touching the parameters, so a mismatch changes nothing */
    if (opt && (s = restore_optim(f, path, p, opt, 0)) != LF_OK) goto done;
    if ((s = lf_st_load_params(f, p, NULL, 0)) != LF_OK) goto done;
    if (opt && (s = restore_optim(f, path, p, opt, 1)) != LF_OK) goto done;
    if (step) *step = (int64_t)st;
    if (rng) {
        rng->seed = seed;
        rng->stream = stream;
        rng->offset = off;
    }
    const char *cfg = lf_st_meta(f, "config");
    if (config_json && cfg) {
        if (!(*config_json = lf_strdup(cfg))) {
            s = LF_ERR_NOMEM;
            goto done;
        }
    }
done:
    lf_st_close(f);
    return s;
}
