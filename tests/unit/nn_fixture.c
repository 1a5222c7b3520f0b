/* The encoder fixture reader (see nn_fixture.h). */
#include "nn_fixture.h"

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
