/* The arena's block heap: allocations of LF_ARENA_BLOCK_MIN bytes or more (activations and
 * gradients), which a backward pass frees as soon as they are dead (a recomputed segment's
 * output once its backward has run, the gradient of a node that has run). A bump allocator
 * cannot reuse such holes; here a freed block merges with free neighbours and serves the next
 * allocation of any size.
 *
 * Layout: regions (one malloc each, kept across steps) hold blocks back to back, each a
 * header of LF_ALIGN bytes followed by its payload. A header knows its size and its
 * neighbour below, so freeing merges in O(1); allocation is best fit over all blocks (a
 * training step has tens to a few hundred large tensors, so the walk costs microseconds),
 * the lowest-addressed among the blocks within 1/64 of the best size: a step touches fewer
 * pages of its region (peak RSS of a 64x64 ResNet-18 step with recomputation 525 -> 469 MB,
 * bench/NOTES.md 20).
 * Each used block carries the allocation number (seq) it was handed out with: releasing a
 * mark frees the blocks numbered after it. */
#include "internal.h"

#include <stdint.h>
#include <string.h>

/* In the sanitizer build, free payloads are poisoned: a read of a tensor that backward has
 * freed stops ASan as a use-after-free would (headers stay addressable). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define REGION_MIN ((size_t)16 << 20)

typedef struct block {
    size_t size;        /* bytes, header included; a multiple of LF_ALIGN */
    struct block *prev; /* the block just below in the region, NULL for the first */
    uint64_t seq;       /* allocation number; 0 = free */
} block;

struct lf_block_region {
    lf_block_region *next;
    size_t cap;           /* bytes of blocks */
    unsigned char *base;  /* the first block (LF_ALIGN-aligned) */
};

_Static_assert(sizeof(block) <= LF_ALIGN, "a block header fits in one alignment unit");

static block *first_block(const lf_block_region *r) { return (block *)r->base; }
static unsigned char *region_end(const lf_block_region *r) { return r->base + r->cap; }
static block *next_block(const lf_block_region *r, const block *b)
{
    unsigned char *n = (unsigned char *)b + b->size;
    return n < region_end(r) ? (block *)n : NULL;
}
static void *payload(block *b) { return (unsigned char *)b + LF_ALIGN; }
static void poison_payload(block *b) { POISON(payload(b), b->size - LF_ALIGN); }

static lf_block_region *region_new(size_t cap)
{
    unsigned char *raw = lf_malloc(sizeof(lf_block_region) + cap + LF_ALIGN);
    if (!raw) return NULL;
    lf_block_region *r = (lf_block_region *)raw;
    uintptr_t start = (uintptr_t)(raw + sizeof *r);
    start = (start + LF_ALIGN - 1) & ~(uintptr_t)(LF_ALIGN - 1);
    r->base = (unsigned char *)start;
    r->cap = cap;
    r->next = NULL;
    block *b = first_block(r);
    b->size = cap;
    b->prev = NULL;
    b->seq = 0;
    poison_payload(b);
    return r;
}

/* The region holding ptr, or NULL. */
static lf_block_region *region_of(const lf_arena *a, const void *ptr)
{
    const unsigned char *q = ptr;
    for (lf_block_region *r = a->regions; r; r = r->next)
        if (q >= r->base && q < region_end(r)) return r;
    return NULL;
}

/* The block holding ptr (walks its region; *rp: the region), or NULL when ptr is not in
 * the heap. */
static block *find_block(const lf_arena *a, const void *ptr, lf_block_region **rp)
{
    const unsigned char *q = ptr;
    lf_block_region *r = ptr ? region_of(a, ptr) : NULL;
    if (rp) *rp = r;
    if (r)
        for (block *b = first_block(r); b; b = next_block(r, b))
            if (q >= (unsigned char *)b && q < (unsigned char *)b + b->size) return b;
    return NULL;
}

void *lf_arena_block_alloc(lf_arena *a, size_t bytes)
{
    const size_t need = LF_ALIGN + ((bytes + LF_ALIGN - 1) & ~(size_t)(LF_ALIGN - 1));
    block *best = NULL;
    lf_block_region *best_r = NULL;
    for (lf_block_region *r = a->regions; r; r = r->next)
        for (block *b = first_block(r); b; b = next_block(r, b))
            if (!b->seq && b->size >= need && (!best || b->size < best->size)) {
                best = b;
                best_r = r;
            }
    if (best) { /* near ties go to the lowest address (per region: the first one found) */
        const size_t lim = best->size + best->size / 64;
        for (lf_block_region *r = a->regions; r; r = r->next)
            for (block *b = first_block(r); b; b = next_block(r, b))
                if (!b->seq && b->size >= need && b->size <= lim) {
                    if ((uintptr_t)b < (uintptr_t)best) best = b, best_r = r;
                    break;
                }
    }
    if (!best) { /* the first steps only: later steps find room in what earlier ones made */
        size_t cap = need > REGION_MIN ? need : REGION_MIN;
        if (cap < a->block_cap / 2) cap = a->block_cap / 2; /* grow geometrically */
        lf_block_region *r = region_new(cap);
        if (!r) return NULL;
        r->next = a->regions;
        a->regions = r;
        a->block_cap += cap;
        best = first_block(r);
        best_r = r;
    }
    if (best->size - need >= 2 * LF_ALIGN) { /* split: the rest stays free */
        block *rest = (block *)((unsigned char *)best + need);
        UNPOISON(rest, LF_ALIGN);
        rest->size = best->size - need;
        rest->prev = best;
        rest->seq = 0;
        block *after = next_block(best_r, rest);
        if (after) after->prev = rest;
        best->size = need;
    }
    UNPOISON(best, best->size);
    best->seq = ++a->seq;
    a->block_live += best->size;
    if (a->live + a->block_live > a->peak_all) a->peak_all = a->live + a->block_live;
    return payload(best);
}

/* Frees b and merges it with free neighbours. Returns the merged free block. */
static block *block_release(lf_arena *a, lf_block_region *r, block *b)
{
    a->block_live -= b->size;
    b->seq = 0;
    block *n = next_block(r, b);
    if (n && !n->seq) {
        b->size += n->size;
        block *after = next_block(r, b);
        if (after) after->prev = b;
    }
    if (b->prev && !b->prev->seq) {
        block *p = b->prev;
        p->size += b->size;
        block *after = next_block(r, p);
        if (after) after->prev = p;
        b = p;
    }
    poison_payload(b);
    return b;
}

bool lf_arena_in_blocks(const lf_arena *a, const void *ptr) { return region_of(a, ptr) != NULL; }

bool lf_arena_in_free_block(const lf_arena *a, const void *ptr)
{
    block *b = find_block(a, ptr, NULL);
    return b && !b->seq;
}

bool lf_arena_block_start(const lf_arena *a, const void *ptr)
{
    block *b = find_block(a, ptr, NULL);
    return b && b->seq && payload(b) == ptr;
}

bool lf_arena_block_free(lf_arena *a, void *ptr)
{
    lf_block_region *r;
    block *b = find_block(a, ptr, &r);
    if (!b || !b->seq || payload(b) != ptr) return false;
    block_release(a, r, b);
    return true;
}

void lf_arena_block_keep(lf_arena_mark m, void *ptr)
{
    block *b = (block *)((unsigned char *)ptr - LF_ALIGN);
    b->seq = m.seq;
}

bool lf_arena_block_above(const lf_arena *a, lf_arena_mark m, const void *ptr, bool *found)
{
    lf_block_region *r;
    block *b = find_block(a, ptr, &r);
    *found = r != NULL;
    return b && b->seq > m.seq;
}

void lf_arena_blocks_release(lf_arena *a, lf_arena_mark m)
{
    for (lf_block_region *r = a->regions; r; r = r->next)
        for (block *b = first_block(r); b; b = next_block(r, b))
            if (b->seq > m.seq) b = block_release(a, r, b);
}

int lf_arena_block_regions(const lf_arena *a)
{
    int n = 0;
    for (const lf_block_region *r = a->regions; r; r = r->next) n++;
    return n;
}

void lf_arena_blocks_free(lf_arena *a)
{
    lf_block_region *r = a->regions;
    while (r) {
        lf_block_region *n = r->next;
        UNPOISON(r->base, r->cap);
        lf_free(r);
        r = n;
    }
    a->regions = NULL;
    a->block_cap = a->block_live = 0;
}

lf_status lf_arena_blocks_reset(lf_arena *a)
{
    if (a->regions && a->regions->next) {
        /* the first step spread its blocks over regions grown one by one: one region of
         * their total size holds the same step (pages never written cost no memory) */
        size_t total = a->block_cap;
        lf_arena_blocks_free(a);
        a->regions = region_new(total);
        if (!a->regions) return LF_ERR_NOMEM;
        a->block_cap = total;
    } else if (a->regions) {
        block *b = first_block(a->regions);
        b->size = a->regions->cap;
        b->prev = NULL;
        b->seq = 0;
        poison_payload(b);
    }
    a->block_live = 0;
    return LF_OK;
}
