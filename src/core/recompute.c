/* Recomputed segments (activation checkpointing): the forward keeps only a segment's output;
 * its backward runs the segment again with a tape of its own, backpropagates through it and
 * frees everything it allocated. Arena space is released stack-like (lf_arena_release), so
 * the segment's intermediates never outlive it. With retain_grads off (a training step) the
 * backward also frees memory as soon as it is dead: each segment's kept output before the
 * segment runs again, and inside the segment each tensor once its producer's backward has
 * run (lf_tape_backward). */
#include "internal.h"
#include "../backend/backend.h"

#include <string.h>

typedef struct recompute_saved {
    lf_segment_fn fn;
    void *ctx;
    lf_rng rng; /* the generator as the forward found it: dropout draws the same masks */
} recompute_saved;

static lf_status recompute_backward(lf_graph *g, lf_node *n)
{
    const recompute_saved *s = n->saved;
    lf_tensor *x = n->in[0];
    /* The output is dead unless it is kept for the caller (retain_grads on, or the root of
     * this backward: the tape's n->grad_writable says): the segments after it (which read
     * it) have run their backward, and the run below computes it again. Freeing it first
     * lets that run (and the segments still to come) use its memory. (lf_tape_backward
     * refuses to run a node whose tensors were freed.) */
    if (n->grad_writable && lf_arena_block_free(&g->arena, n->out->data)) n->out->data = NULL;
    /* the outer tape's state; the inner tape starts empty and, with an empty gradient free
     * list, takes all its buffers above the mark, so releasing the mark frees them */
    lf_node *tail = g->tail;
    int64_t n_nodes = g->n_nodes;
    int n_free = g->n_grad_free;
    /* the segment's releases write into the table: keep the outer entries aside */
    lf_grad_free_list free_table[LF_GRAD_FREE_SIZES];
    memcpy(free_table, g->grad_free, sizeof free_table);
    bool retain = g->retain_grads, mode = g->recompute;
    const lf_arena_mark *outer_segment = g->segment;
    lf_rng rng = g->rng;
    lf_arena_mark m = lf_arena_get_mark(&g->arena);
    g->segment = &m;
    g->tail = NULL;
    g->n_nodes = 0;
    g->n_grad_free = 0;
    g->retain_grads = false; /* the segment's inner gradients are invisible to the caller */
    g->recompute = false;
    g->rng = s->rng;

    lf_status st = LF_OK;
    bool y_grad_taken = false;
    lf_tensor *xr = lf_view_of(g, x, x->data, x->ndim, x->shape, x->stride);
    if (!xr) {
        st = LF_ERR_NOMEM;
    } else {
        xr->flags = x->flags & LF_TENSOR_REQUIRES_GRAD;
        xr->grad = x->grad; /* the segment's input gradient lands in x's directly */
        lf_tensor *y = s->fn(g, xr, s->ctx);
        if (y && !lf_is_contiguous(y)) y = lf_contiguous(g, y);
        if (!y) {
            st = lf_error(lf_last_status() != LF_OK ? lf_last_status() : LF_ERR_STATE,
                          "recompute: the segment failed when run again: %s", lf_last_error());
        } else if (lf_numel(y) != lf_numel(n->out)) {
            st = lf_error(LF_ERR_STATE, "recompute: the segment gave a different output when "
                                        "run again (it may read tensors other than its input)");
        } else if (y == xr) { /* the segment returned its input: the gradient passes through */
            if (lf_needs_grad(x))
                for (int64_t i = 0; i < lf_numel(x); i++) x->grad[i] += n->out->grad[i];
        } else if (lf_needs_grad(y)) {
            y->grad = n->out->grad;
            /* the output's gradient may be consumed inside only if the caller does not
             * keep it */
            st = lf_tape_backward(g, y, n->grad_writable);
            /* an op may have taken the buffer over for its input's gradient */
            y_grad_taken = y->grad != n->out->grad;
        }
    }
    lf_arena_release(&g->arena, m);
    g->tail = tail;
    g->n_nodes = n_nodes;
    memcpy(g->grad_free, free_table, sizeof free_table);
    g->n_grad_free = n_free;
    g->segment = outer_segment;
    g->retain_grads = retain;
    g->recompute = mode;
    g->rng = rng;
    if (y_grad_taken) n->out->grad = NULL; /* now owned (and freed) inside the segment */
    return st;
}

/* Runs fn on x with the arena marked, then frees everything fn allocated except its output,
 * which moves to memory of its own (or stays in its block). Returns a view of the output
 * (not recorded), NULL on failure. */
static lf_tensor *run_keeping_output(lf_graph *g, lf_segment_fn fn, void *ctx, lf_tensor *x)
{
    lf_arena_mark m = lf_arena_get_mark(&g->arena);
    bool grad = g->grad_enabled;
    g->grad_enabled = false;
    lf_tensor *y = fn(g, x, ctx);
    if (y && !lf_is_contiguous(y)) y = lf_contiguous(g, y);
    g->grad_enabled = grad;
    if (!y) {
        lf_arena_release(&g->arena, m);
        return NULL;
    }
    int ndim = y->ndim;
    int64_t shape[LF_MAX_DIMS];
    memcpy(shape, y->shape, sizeof shape);
    size_t bytes = (size_t)lf_numel(y) * sizeof(lf_real);
    lf_real *d;
    if (lf_arena_block_start(&g->arena, y->data) && lf_arena_above(&g->arena, m, y->data)) {
        /* the output has a block of the segment's own: keep it, free the intermediates */
        d = y->data;
        lf_arena_block_keep(m, d);
        lf_arena_release(&g->arena, m);
    } else if (bytes >= g->arena.block_min || lf_arena_in_blocks(&g->arena, y->data)) {
        /* a view into a block (which the release frees): copy it out to a block of its own */
        d = lf_arena_block_alloc(&g->arena, bytes);
        if (!d) {
            lf_arena_release(&g->arena, m);
            return NULL;
        }
        memcpy(d, y->data, bytes);
        lf_arena_block_keep(m, d);
        lf_arena_release(&g->arena, m);
    } else {
        /* bump memory: free the intermediates, then move the output down to the mark (the
         * released memory stays mapped until the next reset, and memmove copes with the
         * overlap) */
        const lf_real *src = y->data;
        lf_arena_release(&g->arena, m);
        d = lf_graph_alloc(g, bytes);
        if (!d) return NULL;
        memmove(d, src, bytes);
    }
    return lf_view_of(g, NULL, d, ndim, shape, NULL);
}

lf_tensor *lf_recompute(lf_graph *g, lf_segment_fn fn, void *ctx, lf_tensor *x)
{
    if (!x) return NULL;
    if (!fn) {
        lf_error(LF_ERR_ARG, "recompute: no segment function");
        return NULL;
    }
    /* inference: nothing to recompute, only the intermediates to drop */
    if (!g->grad_enabled) return run_keeping_output(g, fn, ctx, x);
    if (x->device != LF_DEVICE_CPU) {
        lf_error(LF_ERR_UNSUPPORTED, "recompute: input on %s (CPU only for now)",
                 lf_device_name(x->device));
        return NULL;
    }
    lf_rng rng = g->rng;
    lf_tensor *out = run_keeping_output(g, fn, ctx, x);
    if (!out) return NULL;
    out->flags |= LF_TENSOR_REQUIRES_GRAD;
    lf_node *n = lf_record(g, "recompute", recompute_backward, out, LF_IN(x));
    recompute_saved *s = n ? lf_graph_alloc(g, sizeof *s) : NULL;
    if (!s) return NULL;
    s->fn = fn;
    s->ctx = ctx;
    s->rng = rng;
    n->saved = s;
    return out;
}
