/* Named parameters and buffers: declared one by one, then given one data block and one
 * gradient block, so zero_grad is one memset and a checkpoint is one table. */
#include "internal.h"

#include <string.h>

struct lf_params {
    lf_tensor **items;
    int count, cap;
    bool finalized;
    lf_real *data;   /* all parameters then all buffers */
    lf_real *grad;   /* gradients of the trainable parameters, same order */
    int64_t n_data, n_grad;
};

lf_status lf_params_init(lf_params **p)
{
    if (!p) return lf_error(LF_ERR_ARG, "lf_params_init: NULL output pointer");
    *p = lf_calloc(1, sizeof **p);
    return *p ? LF_OK : LF_ERR_NOMEM;
}

void lf_params_free(lf_params *p)
{
    if (!p) return;
    for (int i = 0; i < p->count; i++) {
        lf_free((void *)p->items[i]->name);
        lf_free(p->items[i]);
    }
    lf_free(p->items);
    lf_free(p->data);
    lf_free(p->grad);
    lf_free(p);
}

lf_tensor *lf_param_add(lf_params *p, const char *name, int ndim, const int64_t *shape, int flags)
{
    if (!p || !name) {
        lf_error(LF_ERR_ARG, "lf_param_add: NULL params or name");
        return NULL;
    }
    if (p->finalized) {
        lf_error(LF_ERR_STATE, "lf_param_add: '%s' added after lf_params_finalize", name);
        return NULL;
    }
    if (ndim < 0 || ndim > LF_MAX_DIMS) {
        lf_error(LF_ERR_ARG, "lf_param_add: '%s' has %d dims", name, ndim);
        return NULL;
    }
    if (lf_params_find(p, name)) {
        lf_error(LF_ERR_ARG, "lf_param_add: duplicate parameter name '%s'", name);
        return NULL;
    }
    if (p->count == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        lf_tensor **items = lf_realloc(p->items, (size_t)cap * sizeof *items);
        if (!items) return NULL;
        p->items = items;
        p->cap = cap;
    }
    lf_tensor *t = lf_calloc(1, sizeof *t);
    char *nm = lf_malloc(strlen(name) + 1);
    if (!t || !nm) {
        lf_free(t);
        lf_free(nm);
        return NULL;
    }
    strcpy(nm, name);
    lf_tensor_set_shape(t, ndim, shape);
    t->name = nm;
    t->flags = flags | LF_TENSOR_PARAM;
    if (!(flags & LF_TENSOR_BUFFER)) t->flags |= LF_TENSOR_REQUIRES_GRAD;
    p->items[p->count++] = t;
    return t;
}

lf_status lf_params_finalize(lf_params *p)
{
    if (p->finalized) return lf_error(LF_ERR_STATE, "lf_params_finalize called twice");
    int64_t nd = 0, ng = 0;
    for (int i = 0; i < p->count; i++) {
        int64_t n = lf_numel(p->items[i]);
        nd += n;
        if (p->items[i]->flags & LF_TENSOR_REQUIRES_GRAD) ng += n;
    }
    p->data = lf_calloc((size_t)(nd ? nd : 1), sizeof(lf_real));
    p->grad = lf_calloc((size_t)(ng ? ng : 1), sizeof(lf_real));
    if (!p->data || !p->grad) return LF_ERR_NOMEM;
    int64_t od = 0, og = 0;
    /* trainable parameters first so that the gradient block lines up with their data */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < p->count; i++) {
            lf_tensor *t = p->items[i];
            bool trainable = (t->flags & LF_TENSOR_REQUIRES_GRAD) != 0;
            if (trainable != (pass == 0)) continue;
            t->data = p->data + od;
            od += lf_numel(t);
            if (trainable) {
                t->grad = p->grad + og;
                og += lf_numel(t);
            }
        }
    p->n_data = nd;
    p->n_grad = ng;
    p->finalized = true;
    return LF_OK;
}

int lf_params_count(const lf_params *p) { return p->count; }
lf_tensor *lf_params_get(const lf_params *p, int i)
{
    return (i >= 0 && i < p->count) ? p->items[i] : NULL;
}

lf_tensor *lf_params_find(const lf_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->items[i]->name, name) == 0) return p->items[i];
    return NULL;
}

int64_t lf_params_numel(const lf_params *p, int trainable_only)
{
    int64_t n = 0;
    for (int i = 0; i < p->count; i++)
        if (!trainable_only || (p->items[i]->flags & LF_TENSOR_REQUIRES_GRAD))
            n += lf_numel(p->items[i]);
    return n;
}

void lf_params_zero_grad(lf_params *p)
{
    if (p->grad) memset(p->grad, 0, (size_t)p->n_grad * sizeof(lf_real));
}

lf_real *lf_params_data_block(const lf_params *p, int64_t *n)
{
    if (n) *n = p->n_data;
    return p->data;
}

lf_real *lf_params_grad_block(const lf_params *p, int64_t *n)
{
    if (n) *n = p->n_grad;
    return p->grad;
}

lf_status lf_params_copy(lf_params *dst, const lf_params *src)
{
    for (int i = 0; i < dst->count; i++) {
        lf_tensor *d = dst->items[i];
        lf_tensor *s = lf_params_find(src, d->name);
        if (!s) return lf_error(LF_ERR_ARG, "params copy: '%s' missing in source", d->name);
        if (!lf_same_shape(d, s)) {
            char a[96], b[96];
            return lf_error(LF_ERR_SHAPE, "params copy: '%s' is %s in source, %s in destination",
                            d->name, lf_shape_str(s, a, sizeof a), lf_shape_str(d, b, sizeof b));
        }
        memcpy(d->data, s->data, (size_t)lf_numel(d) * sizeof(lf_real));
    }
    return LF_OK;
}
