#include "fixture_opsc.h"

#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int read_line(FILE *fp, char *buf, size_t size)
{
    size_t k = 0;
    int c;
    while ((c = fgetc(fp)) != EOF && c != '\n')
        if (k + 1 < size) buf[k++] = (char)c;
    buf[k] = 0;
    return c != EOF || k > 0;
}

void fxc_free(fxc_file *f)
{
    if (!f) return;
    for (int j = 0; j < f->n; j++) {
        free(f->a[j].f);
        free(f->a[j].i);
    }
    free(f);
}

fxc_file *fxc_load(const char *name)
{
    char path[512], line[512];
    snprintf(path, sizeof path, "tests/parity/fixtures/ops_c/%s.bin", name);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        lf_test_fail(__FILE__, __LINE__, "cannot open fixture %s (run from the repo root)", path);
        return NULL;
    }
    fxc_file *f = calloc(1, sizeof *f);
    if (!f || !read_line(fp, line, sizeof line) || strcmp(line, "LFFX 1") != 0) goto bad;
    while (read_line(fp, line, sizeof line)) {
        if (strcmp(line, "END") == 0) {
            fclose(fp);
            return f;
        }
        if (f->n >= 64) goto bad;
        fxc_array *a = &f->a[f->n];
        char type[8];
        int used = 0;
        if (sscanf(line, "%63s %7s %d%n", a->name, type, &a->ndim, &used) != 3 || a->ndim < 0 ||
            a->ndim > LF_MAX_DIMS)
            goto bad;
        a->n = 1;
        const char *p = line + used;
        for (int d = 0; d < a->ndim; d++) {
            long long v;
            int k;
            if (sscanf(p, "%lld%n", &v, &k) != 1 || v < 0) goto bad;
            a->shape[d] = v;
            a->n *= v;
            p += k;
        }
        a->is_int = strcmp(type, "i64") == 0;
        if (!a->is_int && strcmp(type, "f32") != 0) goto bad;
        size_t cnt = (size_t)a->n;
        if (a->is_int) {
            a->i = malloc((cnt ? cnt : 1) * sizeof(int64_t));
            if (!a->i || fread(a->i, sizeof(int64_t), cnt, fp) != cnt) goto bad;
        } else {
            float *tmp = malloc((cnt ? cnt : 1) * sizeof(float));
            a->f = malloc((cnt ? cnt : 1) * sizeof(lf_real));
            if (!tmp || !a->f || fread(tmp, sizeof(float), cnt, fp) != cnt) {
                free(tmp);
                goto bad;
            }
            for (size_t j = 0; j < cnt; j++) a->f[j] = (lf_real)tmp[j];
            free(tmp);
        }
        f->n++;
    }
bad:
    lf_test_fail(__FILE__, __LINE__, "fixture %s: bad format near '%s'", path, line);
    fclose(fp);
    fxc_free(f);
    return NULL;
}

const fxc_array *fxc_find(const fxc_file *f, const char *name)
{
    for (int j = 0; f && j < f->n; j++)
        if (strcmp(f->a[j].name, name) == 0) return &f->a[j];
    return NULL;
}

const fxc_array *fxc_get(const fxc_file *f, const char *name)
{
    const fxc_array *a = fxc_find(f, name);
    if (!a) lf_test_fail(__FILE__, __LINE__, "fixture has no array '%s'", name);
    return a;
}

double fxc_maxdiff(const lf_real *a, const lf_real *b, int64_t n, double tol, int *ok)
{
    double mx = 0;
    *ok = 1;
    for (int64_t j = 0; j < n; j++) {
        double d = fabs((double)a[j] - (double)b[j]);
        if (isnan(d)) d = INFINITY;
        if (d > mx) mx = d;
        if (!(d <= tol * fmax(1.0, fabs((double)b[j])))) *ok = 0;
    }
    return mx;
}

double fxc_compare(const fxc_file *f, const char *ref, const lf_real *got, int64_t n,
                   const char *what, double tol)
{
    const fxc_array *r = fxc_get(f, ref);
    if (!r || !got) {
        if (!got) lf_test_fail(__FILE__, __LINE__, "%s: nothing to compare", what);
        return INFINITY;
    }
    if (r->n != n) {
        lf_test_fail(__FILE__, __LINE__, "%s: %lld values vs %lld in the fixture", what,
                     (long long)n, (long long)r->n);
        return INFINITY;
    }
    int ok;
    double mx = fxc_maxdiff(got, r->f, n, tol, &ok);
    printf("    %-28s max |diff| = %.3g (%lld values)\n", what, mx, (long long)n);
    if (!ok)
        lf_test_fail(__FILE__, __LINE__, "%s differs from PyTorch by %.3g (> %g * max(1, |ref|))",
                     what, mx, tol);
    return mx;
}
