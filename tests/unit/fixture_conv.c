#include "fixture_conv.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fxconv_load(const char *path, fxconv_file *f, char *err, size_t errsize)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errsize, "%s: cannot open", path);
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        fclose(fp);
        free(buf);
        snprintf(err, errsize, "%s: cannot read", path);
        return -1;
    }
    fclose(fp);
    buf[size] = 0;
    f->blob = buf;
    char *p = buf, *end = buf + size;
    int64_t total = 0;
    if (strncmp(p, "LFX1\n", 5) != 0) goto bad;
    p += 5;
    for (;;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) goto bad;
        *nl = 0;
        if (strcmp(p, "data") == 0) {
            p = nl + 1;
            break;
        }
        if (strncmp(p, "meta ", 5) == 0) {
            char *s = p + 5, *e;
            int k = 0;
            while (*s && *s != ' ' && k < 15) f->kind[k++] = *s++;
            while (*s == ' ') {
                long v = strtol(s, &e, 10);
                if (e == s || f->nmeta >= 32) break;
                f->meta[f->nmeta++] = v;
                s = e;
            }
        } else if (strncmp(p, "array ", 6) == 0 && f->narr < FXCONV_MAX_ARRAYS) {
            fxconv_array *a = &f->arr[f->narr++];
            char *s = p + 6, *e;
            int k = 0;
            while (*s && *s != ' ' && k < 15) a->name[k++] = *s++;
            a->ndim = (int)strtol(s, &e, 10);
            if (a->ndim < 0 || a->ndim > LF_MAX_DIMS) goto bad;
            s = e;
            a->n = 1;
            for (int i = 0; i < a->ndim; i++) {
                a->shape[i] = strtol(s, &e, 10);
                s = e;
                a->n *= a->shape[i];
            }
            total += a->n;
        } else goto bad;
        p = nl + 1;
    }
    if ((int64_t)(end - p) != total * 4) goto bad;
    for (int i = 0; i < f->narr; i++) {
        /* the blob is not float-aligned after the header: copy into a fresh block */
        f->arr[i].data = malloc((size_t)(f->arr[i].n ? f->arr[i].n : 1) * sizeof(float));
        memcpy(f->arr[i].data, p, (size_t)f->arr[i].n * 4); /* little-endian host assumed */
        p += f->arr[i].n * 4;
    }
    return 0;
bad:
    snprintf(err, errsize, "%s: not a valid LFX1 fixture", path);
    fxconv_free(f);
    return -1;
}

int fxconv_load_kind(const char *dir, const char *name, const char *kind, int min_meta,
                     fxconv_file *f, char *err, size_t errsize)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (fxconv_load(path, f, err, errsize) != 0) return -1;
    if (strcmp(f->kind, kind) != 0 || f->nmeta < min_meta) {
        fxconv_free(f);
        return 0;
    }
    return 1;
}

const fxconv_array *fxconv_get(const fxconv_file *f, const char *name)
{
    for (int i = 0; i < f->narr; i++)
        if (strcmp(f->arr[i].name, name) == 0) return &f->arr[i];
    return NULL;
}

void fxconv_free(fxconv_file *f)
{
    for (int i = 0; i < f->narr; i++) free(f->arr[i].data);
    free(f->blob);
    memset(f, 0, sizeof *f);
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

int fxconv_list(const char *dir, char names[][64], int max)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 4 && len < 64 && strcmp(e->d_name + len - 4, ".bin") == 0)
            memcpy(names[n++], e->d_name, len + 1);
    }
    closedir(d);
    qsort(names, (size_t)n, 64, cmp_names);
    return n;
}

double fxconv_compare(const lf_real *a, const float *b, int64_t n, double rtol, int *ok)
{
    double mx = 0;
    *ok = 1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= rtol * fmax(1.0, fabs((double)b[i])))) *ok = 0;
        if (d > mx || isnan(d)) mx = isnan(d) ? INFINITY : d;
    }
    return mx;
}
