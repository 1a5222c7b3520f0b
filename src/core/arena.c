/* Bump allocator for a training step's activations, saved tensors and tape nodes. */
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

lf_status lf_arena_init(lf_arena *a, size_t bytes)
{
    memset(a, 0, sizeof *a);
    a->min_chunk = bytes ? bytes : DEFAULT_ARENA;
    a->head = chunk_new(a->min_chunk);
    if (!a->head) return LF_ERR_NOMEM;
    a->total_cap = a->min_chunk;
    return LF_OK;
}

void lf_arena_free(lf_arena *a)
{
    lf_arena_chunk *c = a->head;
    while (c) {
        lf_arena_chunk *n = c->next;
        lf_free(c);
        c = n;
    }
    a->head = NULL;
    a->total_cap = 0;
}

void *lf_arena_alloc(lf_arena *a, size_t bytes)
{
    bytes = (bytes + LF_ALIGN - 1) & ~(size_t)(LF_ALIGN - 1);
    lf_arena_chunk *c = a->head;
    if (!c || c->used + bytes > c->cap) {
        size_t cap = a->min_chunk;
        if (cap < bytes) cap = bytes;
        if (cap < a->total_cap / 2) cap = a->total_cap / 2; /* grow geometrically */
        lf_arena_chunk *n = chunk_new(cap);
        if (!n) return NULL;
        n->next = c;
        a->head = n;
        a->total_cap += cap;
        c = n;
    }
    void *p = c->base + c->used;
    c->used += bytes;
    return p;
}

lf_status lf_arena_reset(lf_arena *a)
{
    if (a->head && a->head->next) {
        /* the step's high-water mark (what the chunks hold), not their capacity: geometric
         * growth leaves up to half of the last chunk unused */
        size_t total = 0;
        for (lf_arena_chunk *c = a->head; c; c = c->next) total += c->used;
        if (total < a->min_chunk) total = a->min_chunk;
        lf_arena_free(a);
        a->head = chunk_new(total);
        if (!a->head) return LF_ERR_NOMEM;
        a->total_cap = total;
    }
    if (a->head) a->head->used = 0;
    return LF_OK;
}
