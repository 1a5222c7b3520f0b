/* Allocation wrappers: one place to count allocations (the no-malloc-per-step test) and to
 * report failures through the error slot. */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_fast64_t alloc_calls;

uint64_t lf_alloc_count(void) { return (uint64_t)atomic_load(&alloc_calls); }

void *lf_malloc(size_t n)
{
    atomic_fetch_add(&alloc_calls, 1);
    void *p = malloc(n ? n : 1);
    if (!p) lf_error(LF_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *lf_calloc(size_t count, size_t size)
{
    atomic_fetch_add(&alloc_calls, 1);
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) lf_error(LF_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *lf_realloc(void *p, size_t n)
{
    atomic_fetch_add(&alloc_calls, 1);
    void *q = realloc(p, n ? n : 1);
    if (!q) lf_error(LF_ERR_NOMEM, "out of memory reallocating %zu bytes", n);
    return q;
}

void lf_free(void *p) { free(p); }

char *lf_strdup(const char *s)
{
    if (!s) return NULL;
    const size_t n = strlen(s) + 1;
    char *d = lf_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
