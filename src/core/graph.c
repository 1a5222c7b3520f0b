/* The tape: ops append nodes during the forward pass; lf_backward walks them newest first. */
#include "internal.h"
#include "../backend/backend.h"

#include <string.h>

lf_status lf_graph_init(lf_graph **out, size_t arena_bytes)
{
    if (!out) return lf_error(LF_ERR_ARG, "lf_graph_init: NULL output pointer");
    lf_graph *g = lf_calloc(1, sizeof *g);
    if (!g) return LF_ERR_NOMEM;
    if (lf_arena_init(&g->arena, arena_bytes) != LF_OK) {
        lf_free(g);
        return LF_ERR_NOMEM;
    }
    g->grad_enabled = true;
    g->training = true;
    g->retain_grads = true;
    g->rng = lf_rng_make(0, 0x6772617068ull);
    *out = g;
    return LF_OK;
}

void lf_graph_free(lf_graph *g)
{
    if (!g) return;
    lf_arena_free(&g->arena);
    for (int i = 0; i < LF_SCRATCH_SLOTS; i++) lf_free(g->scratch[i]);
    lf_graph_weight_forms_free(g);
    lf_free(g);
}

void lf_graph_reset(lf_graph *g)
{
    g->tail = NULL;
    g->n_nodes = 0;
    g->n_grad_free = 0;
    lf_arena_reset(&g->arena);
}

void *lf_graph_scratch(lf_graph *g, int slot, size_t bytes)
{
    if (slot < 0 || slot >= LF_SCRATCH_SLOTS) {
        lf_error(LF_ERR_ARG, "graph scratch: slot %d (0..%d)", slot, LF_SCRATCH_SLOTS - 1);
        return NULL;
    }
    if (bytes > g->scratch_cap[slot]) {
        lf_free(g->scratch[slot]);
        g->scratch[slot] = lf_malloc(bytes);
        g->scratch_cap[slot] = g->scratch[slot] ? bytes : 0;
        if (!g->scratch[slot]) return NULL;
    }
    return g->scratch[slot];
}

/* Frees t's gradient buffer: a block goes back to the arena's heap, a smaller buffer on the
 * free list of its size (see struct lf_graph). */
static void grad_release(lf_graph *g, lf_tensor *t)
{
    size_t bytes = (size_t)lf_numel(t) * sizeof(lf_real);
    if (!t->grad || bytes < sizeof(void *)) return;
    if (lf_arena_block_free(&g->arena, t->grad)) {
        t->grad = NULL;
        return;
    }
    int i = 0;
    while (i < g->n_grad_free && g->grad_free[i].bytes != bytes) i++;
    if (i == g->n_grad_free) {
        if (i == LF_GRAD_FREE_SIZES) return; /* table full: the buffer just stays unused */
        g->grad_free[i].bytes = bytes;
        g->grad_free[i].head = NULL;
        g->n_grad_free++;
    }
    memcpy(t->grad, &g->grad_free[i].head, sizeof(void *));
    g->grad_free[i].head = t->grad;
    t->grad = NULL;
}

void lf_graph_set_grad_enabled(lf_graph *g, int on) { g->grad_enabled = on != 0; }
int lf_graph_grad_enabled(const lf_graph *g) { return g->grad_enabled; }
void lf_graph_set_retain_grads(lf_graph *g, int on) { g->retain_grads = on != 0; }
void lf_graph_set_training(lf_graph *g, int on) { g->training = on != 0; }
void lf_graph_set_recompute(lf_graph *g, int on) { g->recompute = on != 0; }
int lf_graph_recompute(const lf_graph *g) { return g->recompute; }
int lf_graph_training(const lf_graph *g) { return g->training; }
size_t lf_graph_arena_bytes(const lf_graph *g)
{
    return g->arena.total_cap + g->arena.block_cap;
}
void lf_graph_set_rng(lf_graph *g, lf_rng rng) { g->rng = rng; }
lf_rng *lf_graph_rng(lf_graph *g) { return &g->rng; }

void *lf_graph_alloc(lf_graph *g, size_t bytes) { return lf_arena_alloc(&g->arena, bytes); }

lf_tensor *lf_view_of(lf_graph *g, lf_tensor *base, lf_real *data, int ndim,
                      const int64_t *shape, const int64_t *stride)
{
    lf_tensor *t = lf_graph_alloc(g, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    lf_tensor_set_shape(t, ndim, shape);
    if (stride)
        for (int i = 0; i < ndim; i++) t->stride[i] = stride[i];
    t->data = data;
    t->device = base ? base->device : LF_DEVICE_CPU;
    return t;
}

lf_tensor *lf_tensor_new(lf_graph *g, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > LF_MAX_DIMS) {
        lf_error(LF_ERR_ARG, "tensor: %d dimensions (1 to %d allowed)", ndim, LF_MAX_DIMS);
        return NULL;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            lf_error(LF_ERR_SHAPE, "tensor: negative size %lld in dim %d", (long long)shape[i], i);
            return NULL;
        }
        n *= shape[i];
    }
    lf_real *data = lf_graph_alloc(g, (size_t)n * sizeof(lf_real));
    if (!data) return NULL;
    lf_tensor *t = lf_view_of(g, NULL, data, ndim, shape, NULL);
    if (t) t->flags |= LF_TENSOR_OWNS_DATA;
    return t;
}

lf_tensor *lf_tensor_zeros(lf_graph *g, int ndim, const int64_t *shape)
{
    lf_tensor *t = lf_tensor_new(g, ndim, shape);
    if (t) memset(t->data, 0, (size_t)lf_numel(t) * sizeof(lf_real));
    return t;
}

lf_tensor *lf_tensor_from(lf_graph *g, int ndim, const int64_t *shape, const lf_real *data)
{
    lf_tensor *t = lf_tensor_new(g, ndim, shape);
    if (t) memcpy(t->data, data, (size_t)lf_numel(t) * sizeof(lf_real));
    return t;
}

lf_tensor *lf_op_output(lf_graph *g, int ndim, const int64_t *shape, lf_tensor **in, int n_in)
{
    /* every input on one device, and a backend for it in this build */
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) continue;
        if (in[i]->device != in[0]->device || !lf_backend_for(in[i]->device)) {
            lf_error(LF_ERR_UNSUPPORTED, "op input %d is on %s%s", i, lf_device_name(in[i]->device),
                     in[i]->device != in[0]->device ? ", input 0 elsewhere (move tensors to one device)"
                                                    : ": this build has no backend for it");
            return NULL;
        }
    }
    lf_tensor *y = lf_tensor_new(g, ndim, shape);
    if (!y) return NULL;
    if (g->grad_enabled)
        for (int i = 0; i < n_in; i++)
            if (lf_needs_grad(in[i])) y->flags |= LF_TENSOR_REQUIRES_GRAD;
    if (n_in > 0 && in[0]) y->device = in[0]->device;
    return y;
}

lf_node *lf_record(lf_graph *g, const char *op, lf_backward_fn bw, lf_tensor *out,
                   lf_tensor **in, int n_in)
{
    if (!g->grad_enabled || !lf_needs_grad(out)) return NULL;
    if (n_in > LF_NODE_MAX_IN) {
        lf_error(LF_ERR_ARG, "%s: %d inputs recorded (max %d)", op, n_in, LF_NODE_MAX_IN);
        return NULL;
    }
    lf_node *n = lf_graph_alloc(g, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->op = op;
    n->backward = bw;
    n->out = out;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) n->in[i] = in[i];
    n->prev = g->tail;
    g->tail = n;
    g->n_nodes++;
    return n;
}

lf_real *lf_grad(lf_graph *g, lf_tensor *t)
{
    if (!t->grad) {
        size_t bytes = (size_t)lf_numel(t) * sizeof(lf_real);
        for (int i = 0; i < g->n_grad_free; i++)
            if (g->grad_free[i].bytes == bytes && g->grad_free[i].head) {
                t->grad = g->grad_free[i].head;
                memcpy(&g->grad_free[i].head, t->grad, sizeof(void *));
                break;
            }
        if (!t->grad && g->segment && !lf_arena_above(&g->arena, *g->segment, t)) {
            /* a tensor from outside a recomputed segment: its gradient would be freed with
             * the segment (lf_recompute's contract: only x and parameters need gradients) */
            lf_error(LF_ERR_STATE, "recompute: the segment reads a tensor from outside it that "
                                   "needs a gradient; pass it as the segment's input or make it "
                                   "a parameter");
            return NULL;
        }
        if (!t->grad) t->grad = lf_graph_alloc(g, bytes);
        if (t->grad) memset(t->grad, 0, bytes);
    }
    return t->grad;
}

lf_status lf_backward_with(lf_graph *g, lf_tensor *out, const lf_real *seed)
{
    if (!out) return lf_error(LF_ERR_ARG, "backward: no output tensor (an earlier op failed: %s)",
                              lf_last_error());
    if (!lf_needs_grad(out))
        return lf_error(LF_ERR_STATE, "backward: the output does not depend on any parameter "
                                      "that requires a gradient");
    lf_real *og = lf_grad(g, out);
    if (!og) return LF_ERR_NOMEM;
    int64_t n = lf_numel(out);
    for (int64_t i = 0; i < n; i++) og[i] += seed ? seed[i] : (lf_real)1;
    return lf_tape_backward(g, out, false);
}

/* Whether nd's input 0 may take over its output's gradient buffer (which is dead after nd's
 * backward): the op allows it, nothing has flowed into the input yet, the sizes
 * match and the input is not also one of the node's other inputs. */
static bool can_take_grad(const lf_graph *g, const lf_node *nd)
{
    const lf_tensor *x = nd->in[0], *y = nd->out;
    if (!nd->grad_in_place || !lf_needs_grad(x) || x->grad) return false;
    if (x->flags & LF_TENSOR_PARAM || lf_numel(x) != lf_numel(y)) return false;
    for (int i = 1; i < nd->n_in; i++)
        if (nd->in[i] == x) return false;
    /* inside a recomputed segment only its own tensors: lf_grad reports the others */
    if (g->segment && !lf_arena_above(&g->arena, *g->segment, x)) return false;
    return true;
}

/* Whether t's memory was freed by an earlier backward (with retain_grads off, recomputed
 * segments free their tensors; a view keeps pointing into the freed block). */
static bool data_freed(const lf_graph *g, const lf_tensor *t)
{
    if (!t || lf_numel(t) == 0) return false;
    return !t->data || lf_arena_in_free_block(&g->arena, t->data);
}

lf_status lf_tape_backward(lf_graph *g, lf_tensor *out, bool root_consumable)
{
    for (lf_node *nd = g->tail; nd; nd = nd->prev) {
        if (!nd->out->grad) continue; /* nothing flowed into this node */
        bool freed = data_freed(g, nd->out);
        for (int i = 0; i < nd->n_in; i++) freed = freed || data_freed(g, nd->in[i]);
        if (freed)
            return lf_error(LF_ERR_STATE, "backward: %s reads a tensor freed by an earlier "
                                          "backward (with retain_grads off, backward frees "
                                          "recomputed segments' tensors); run the forward "
                                          "again", nd->op);
        nd->grad_writable = !g->retain_grads && (nd->out != out || root_consumable) &&
                            !(nd->out->flags & LF_TENSOR_PARAM);
        nd->grad_taken = nd->grad_writable && can_take_grad(g, nd);
        if (nd->grad_taken) {
            nd->in[0]->grad = nd->out->grad;
            nd->out->grad = NULL;
        }
        for (int i = 0; i < nd->n_in; i++)
            if (lf_needs_grad(nd->in[i]) && !lf_grad(g, nd->in[i]))
                return lf_last_status() != LF_OK ? lf_last_status() : LF_ERR_NOMEM;
        lf_status s = nd->backward(g, nd);
        if (s != LF_OK) return s;
        /* the producer has run: nothing reads this gradient any more (the root's is kept) */
        if (!g->retain_grads && nd->out != out && !(nd->out->flags & LF_TENSOR_PARAM))
            grad_release(g, nd->out);
        /* nor, inside a recomputed segment (whose tensors the caller never sees), its data:
         * the consumers ran before, older nodes saved only older tensors */
        if (g->segment && (nd->out->flags & LF_TENSOR_OWNS_DATA) &&
            lf_arena_block_free(&g->arena, nd->out->data))
            nd->out->data = NULL;
    }
    return LF_OK;
}

lf_status lf_backward(lf_graph *g, lf_tensor *loss)
{
    if (loss && lf_numel(loss) != 1) {
        char b[96];
        return lf_error(LF_ERR_SHAPE, "backward: loss must have one element, got shape %s",
                        lf_shape_str(loss, b, sizeof b));
    }
    return lf_backward_with(g, loss, NULL);
}
