/* The encoder fixture reader (see nn_fixture.h). */
#include "nn_fixture.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rd(FILE *fp, void *dst, size_t n) { return fread(dst, 1, n, fp) == n; }

nnfx *nnfx_load(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        printf("    cannot open fixture %s\n", path);
        return NULL;
    }
    nnfx *f = calloc(1, sizeof *f);
    char magic[6];
    uint32_t count = 0;
    int ok = f && rd(fp, magic, 6) && memcmp(magic, "LFNN1\n", 6) == 0 && rd(fp, &count, 4) &&
             count < 100000;
    if (ok) ok = (f->t = calloc(count ? count : 1, sizeof *f->t)) != NULL;
    for (uint32_t i = 0; ok && i < count; i++) {
        nnfx_tensor *t = &f->t[i];
        uint16_t len;
        uint8_t nd;
        ok = rd(fp, &len, 2) && (t->name = calloc(len + 1u, 1)) && rd(fp, t->name, len) &&
             rd(fp, &nd, 1) && nd <= 8;
        if (!ok) break;
        f->n = (int)i + 1;
        t->ndim = nd;
        ok = nd == 0 || rd(fp, t->shape, 8u * nd);
        t->numel = 1;
        for (int d = 0; ok && d < nd; d++) {
            ok = t->shape[d] >= 0 && t->shape[d] < (1 << 28);
            t->numel *= t->shape[d];
        }
        ok = ok && (t->data = malloc((size_t)(t->numel ? t->numel : 1) * 4)) &&
             rd(fp, t->data, (size_t)t->numel * 4);
    }
    fclose(fp);
    if (!ok) {
        printf("    malformed fixture %s\n", path);
        nnfx_free(f);
        return NULL;
    }
    f->n = (int)count;
    return f;
}

void nnfx_free(nnfx *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) {
        free(f->t[i].name);
        free(f->t[i].data);
    }
    free(f->t);
    free(f);
}

const nnfx_tensor *nnfx_get(const nnfx *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

double nnfx_maxdiff(const lf_real *a, const float *b, int64_t n, double *max_abs)
{
    double rel = 0, ab = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= ab)) ab = d; /* NaN propagates */
        double r = d / fmax(1.0, fabs((double)b[i]));
        if (!(r <= rel)) rel = r;
    }
    if (max_abs) *max_abs = ab;
    return rel;
}

static int verbose(void) { return getenv("LF_NN_VERBOSE") != NULL; }

/* compares one tensor; records a failure naming it */
void nnfx_cmp(nnfx_worst *w, const char *name, const lf_real *a, const nnfx_tensor *ref,
              int64_t n)
{
    if (!ref || !a) {
        lf_test_fail(__FILE__, __LINE__, "%s: %s missing", w->group, name);
        return;
    }
    if (n != ref->numel) {
        lf_test_fail(__FILE__, __LINE__, "%s: %s has %lld elements, reference %lld", w->group,
                     name, (long long)n, (long long)ref->numel);
        return;
    }
    double ab, rel = nnfx_maxdiff(a, ref->data, n, &ab);
    if (verbose()) printf("    %-6s %-40s max|d| %.3g  rel %.3g\n", w->group, name, ab, rel);
    double tol = w->tol > 0 ? w->tol : NNFX_TOL;
    if (!(rel <= tol))
        lf_test_fail(__FILE__, __LINE__, "%s %s: max |d|/max(1,|ref|) = %.3g > %g (first c %g "
                     "ref %g)", w->group, name, rel, tol, (double)a[0], (double)ref->data[0]);
    w->n++;
    if (!(rel <= w->rel) || w->n == 1) {
        w->rel = rel;
        w->abs = ab;
        snprintf(w->name, sizeof w->name, "%s", name);
    }
}

void nnfx_report(const nnfx_worst *w)
{
    if (w->n) printf("    %-6s worst of %3d: %-38s max|d| %.3g  rel %.3g\n", w->group, w->n,
                     w->name, w->abs, w->rel);
}

int nnfx_load_params(lf_params *P, const nnfx *f)
{
    int k = 0, ok = 1;
    for (int i = 0; i < f->n && ok; i++) {
        if (strncmp(f->t[i].name, "param/", 6) != 0) continue;
        lf_tensor *t = lf_params_get(P, k);
        const char *nm = f->t[i].name + 6;
        if (!t || strcmp(t->name, nm) != 0) {
            lf_test_fail(__FILE__, __LINE__, "state_dict entry %d: torch '%s', labelfree '%s'",
                         k, nm, t ? t->name : "(none)");
            return 0;
        }
        ok = lf_numel(t) == f->t[i].numel && t->ndim == f->t[i].ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = t->shape[d] == f->t[i].shape[d];
        if (!ok) {
            lf_test_fail(__FILE__, __LINE__, "%s: shape differs from torch", nm);
            return 0;
        }
        for (int64_t j = 0; j < f->t[i].numel; j++) t->data[j] = (lf_real)f->t[i].data[j];
        k++;
    }
    if (k != lf_params_count(P)) {
        lf_test_fail(__FILE__, __LINE__, "torch state_dict has %d entries, labelfree %d", k,
                     lf_params_count(P));
        return 0;
    }
    return 1;
}
