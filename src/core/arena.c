/* The arena's bump allocator (tape nodes, tensor headers, small tensors), with stack-like
 * release for recomputed segments (src/core/recompute.c); allocations of LF_ARENA_BLOCK_MIN
 * bytes or more go to the block heap (arena_blocks.c). */
#include "internal.h"

#include <stdint.h>
#include <string.h>

#define DEFAULT_ARENA (16u << 20)

static lf_arena_chunk *chunk_new(size_t cap)
{
    unsigned char *raw = lf_malloc(sizeof(lf_arena_chunk) + cap + LF_ALIGN);
    if (!raw) return NULL;
    lf_arena_chunk *c = (lf_arena_chunk *)raw;
    uintptr_t start = (uintptr_t)(raw + sizeof(lf_arena_chunk));
    start = (start + LF_ALIGN - 1) & ~(uintptr_t)(LF_ALIGN - 1);
    c->base = (unsigned char *)start;
    c->cap = cap;
    c->used = 0;
    c->next = NULL;
    return c;
}

static void chain_free(lf_arena_chunk *c)
{
    while (c) {
        lf_arena_chunk *n = c->next;
        lf_free(c);
        c = n;
    }
}

lf_status lf_arena_init(lf_arena *a, size_t bytes)
{
    memset(a, 0, sizeof *a);
    a->min_chunk = bytes ? bytes : DEFAULT_ARENA;
    a->block_min = LF_ARENA_BLOCK_MIN;
    a->head = chunk_new(a->min_chunk);
    if (!a->head) return LF_ERR_NOMEM;
    a->total_cap = a->min_chunk;
    return LF_OK;
}

void lf_arena_free(lf_arena *a)
{
    lf_arena_blocks_free(a);
    chain_free(a->head);
    chain_free(a->spare);
    a->head = a->spare = NULL;
    a->total_cap = 0;
}

/* A spare chunk that holds `bytes`, unlinked from the spare list; NULL if none. */
static lf_arena_chunk *take_spare(lf_arena *a, size_t bytes)
{
    for (lf_arena_chunk **p = &a->spare; *p; p = &(*p)->next)
        if ((*p)->cap >= bytes) {
            lf_arena_chunk *c = *p;
            *p = c->next;
            c->used = 0;
            return c;
        }
    return NULL;
}

void *lf_arena_alloc(lf_arena *a, size_t bytes)
{
    if (bytes >= a->block_min) return lf_arena_block_alloc(a, bytes);
    bytes = (bytes + LF_ALIGN - 1) & ~(size_t)(LF_ALIGN - 1);
    lf_arena_chunk *c = a->head;
    if (!c || c->used + bytes > c->cap) {
        lf_arena_chunk *n = take_spare(a, bytes);
        if (!n) {
            size_t cap = a->min_chunk;
            if (cap < bytes) cap = bytes;
            if (cap < a->total_cap / 2) cap = a->total_cap / 2; /* grow geometrically */
            n = chunk_new(cap);
            if (!n) return NULL;
            a->total_cap += cap;
        }
        n->next = c;
        a->head = n;
        c = n;
    }
    void *p = c->base + c->used;
    c->used += bytes;
    a->live += bytes;
    if (a->live > a->peak) a->peak = a->live;
    if (a->live + a->block_live > a->peak_all) a->peak_all = a->live + a->block_live;
    return p;
}

lf_arena_mark lf_arena_get_mark(lf_arena *a)
{
    /* the mark takes an allocation number of its own: blocks kept for it (lf_arena_block_keep)
     * carry it, so they are older than what follows it and newer than earlier marks */
    lf_arena_mark m = {a->head, a->head ? a->head->used : 0, a->live, ++a->seq};
    return m;
}

bool lf_arena_above(const lf_arena *a, lf_arena_mark m, const void *ptr)
{
    bool in_blocks;
    bool above = lf_arena_block_above(a, m, ptr, &in_blocks);
    if (in_blocks) return above;
    const unsigned char *q = ptr;
    for (const lf_arena_chunk *c = a->head; c; c = c->next) {
        if (c == m.chunk) return q >= c->base + m.used && q < c->base + c->cap;
        if (q >= c->base && q < c->base + c->cap) return true;
    }
    return false;
}

void lf_arena_release(lf_arena *a, lf_arena_mark m)
{
    lf_arena_blocks_release(a, m);
    while (a->head && a->head != m.chunk) {
        lf_arena_chunk *c = a->head;
        a->head = c->next;
        c->next = a->spare;
        a->spare = c;
    }
    if (a->head) a->head->used = m.used;
    a->live = m.live;
}

lf_status lf_arena_reset(lf_arena *a)
{
    if (a->head && (a->head->next || a->spare)) {
        /* the step's high-water mark, not the chunks' capacity: geometric growth leaves up
         * to half of the last chunk unused */
        size_t total = a->peak;
        if (total < a->min_chunk) total = a->min_chunk;
        lf_arena_free(a);
        a->head = chunk_new(total);
        if (!a->head) return LF_ERR_NOMEM;
        a->total_cap = total;
    }
    if (a->head) a->head->used = 0;
    a->live = a->peak = a->peak_all = 0;
    a->seq = 0;
    return lf_arena_blocks_reset(a);
}
