#include "fixture_npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int npy_load(const char *dir, const char *name, npy_array *a)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fixture %s: cannot open\n", path);
        return -1;
    }
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) goto bad;
    size_t hlen;
    if (pre[6] == 1) hlen = pre[8] | (pre[9] << 8);
    else {
        unsigned char more[2];
        if (fread(more, 1, 2, f) != 2) goto bad;
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)more[0] << 16) | ((size_t)more[1] << 24);
    }
    char *h = malloc(hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        free(h);
        goto bad;
    }
    h[hlen] = 0;
    int kind = strstr(h, "'<f4'") ? 4 : strstr(h, "'<f8'") ? 8 : strstr(h, "'<i8'") ? -8 : 0;
    char *sp = strstr(h, "'shape': (");
    if (!kind || strstr(h, "'fortran_order': True") || !sp) {
        free(h);
        goto bad;
    }
    sp += 10;
    a->n = 1;
    while (*sp && *sp != ')') {
        char *end;
        long long v = strtoll(sp, &end, 10);
        if (end == sp) break;
        a->shape[a->ndim++] = v;
        a->n *= v;
        sp = end;
        while (*sp == ',' || *sp == ' ') sp++;
    }
    free(h);
    a->data = malloc((size_t)(a->n ? a->n : 1) * sizeof(double));
    for (int64_t i = 0; i < a->n; i++) {
        if (kind == 4) {
            float v;
            if (fread(&v, 4, 1, f) != 1) goto bad;
            a->data[i] = v;
        } else if (kind == 8) {
            double v;
            if (fread(&v, 8, 1, f) != 1) goto bad;
            a->data[i] = v;
        } else {
            int64_t v;
            if (fread(&v, 8, 1, f) != 1) goto bad;
            a->data[i] = (double)v;
        }
    }
    fclose(f);
    return 0;
bad:
    fprintf(stderr, "fixture %s: not a supported .npy file\n", path);
    fclose(f);
    npy_free(a);
    return -1;
}

void npy_free(npy_array *a)
{
    free(a->data);
    a->data = NULL;
}

double npy_max_rel_diff(const lf_real *x, const npy_array *ref)
{
    double m = 0;
    for (int64_t i = 0; i < ref->n; i++) {
        double d = fabs((double)x[i] - ref->data[i]) / fmax(1.0, fabs(ref->data[i]));
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}
