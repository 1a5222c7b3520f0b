/* Loader for the parity fixtures (format in fixture.h). */
#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(lf_fixture *fx, FILE *f, const char *path, const char *why)
{
    snprintf(fx->error, sizeof fx->error, "%s: %s", path, why);
    if (f) fclose(f);
    lf_fixture_free(fx);
    return -1;
}

int lf_fixture_load(lf_fixture *fx, const char *path)
{
    memset(fx, 0, sizeof *fx);
    FILE *f = fopen(path, "rb");
    if (!f) return fail(fx, NULL, path, "cannot open (run the tests from the repository root)");
    char line[512];
    if (!fgets(line, sizeof line, f) || strcmp(line, "LFFIX 1\n") != 0)
        return fail(fx, f, path, "not a fixture file (no 'LFFIX 1' header)");
    while (fgets(line, sizeof line, f)) {
        if (fx->n >= LF_FIXTURE_MAX_ARRAYS) return fail(fx, f, path, "too many arrays");
        lf_fixture_array *a = &fx->arr[fx->n];
        char type[8];
        int used = 0;
        if (sscanf(line, "%63s %7s %d%n", a->name, type, &a->ndim, &used) != 3 || a->ndim < 0 ||
            a->ndim > LF_MAX_DIMS)
            return fail(fx, f, path, "bad array header line");
        a->is_int = strcmp(type, "i64") == 0;
        if (!a->is_int && strcmp(type, "f32") != 0) return fail(fx, f, path, "unknown dtype");
        a->numel = 1;
        char *p = line + used;
        for (int i = 0; i < a->ndim; i++) {
            char *end;
            a->shape[i] = strtoll(p, &end, 10);
            if (end == p || a->shape[i] < 0) return fail(fx, f, path, "bad shape");
            p = end;
            a->numel *= a->shape[i];
        }
        size_t esz = a->is_int ? 8 : 4, n = (size_t)a->numel;
        void *buf = malloc(n ? n * esz : 1);
        if (!buf) return fail(fx, f, path, "out of memory");
        if (a->is_int) a->i64 = buf;
        else a->f32 = buf;
        fx->n++;
        if (fread(buf, esz, n, f) != n) return fail(fx, f, path, "truncated array data");
    }
    fclose(f);
    return 0;
}

void lf_fixture_free(lf_fixture *fx)
{
    for (int i = 0; i < fx->n; i++) {
        free(fx->arr[i].f32);
        free(fx->arr[i].i64);
    }
    fx->n = 0;
}

const lf_fixture_array *lf_fixture_get(const lf_fixture *fx, const char *name)
{
    for (int i = 0; i < fx->n; i++)
        if (strcmp(fx->arr[i].name, name) == 0) return &fx->arr[i];
    return NULL;
}

lf_tensor *lf_fixture_tensor(lf_graph *g, const lf_fixture *fx, const char *name)
{
    const lf_fixture_array *a = lf_fixture_get(fx, name);
    if (!a || a->is_int) return NULL;
    lf_tensor *t = lf_tensor_new(g, a->ndim, a->shape);
    if (t)
        for (int64_t i = 0; i < a->numel; i++) t->data[i] = (lf_real)a->f32[i];
    return t;
}

double lf_fixture_max_rel(const lf_real *got, const float *want, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double w = want[i], d = fabs((double)got[i] - w) / fmax(1.0, fabs(w));
        if (isnan(d) && !(isnan((double)got[i]) && isnan(w))) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}
