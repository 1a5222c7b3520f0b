/* RFC 4180 CSV parsing for manifests (see csv.h). */
#include "data/csv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static lf_status grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return LF_OK;
    int64_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = lf_realloc(*p, (size_t)nc * elem);
    if (!q) return LF_ERR_NOMEM;
    *p = q;
    *cap = nc;
    return LF_OK;
}

void lf_csv_free(lf_csv *c)
{
    if (!c) return;
    lf_free(c->text);
    lf_free(c->field);
    lf_free(c->rec_first);
    lf_free(c->rec_count);
    lf_free(c->rec_line);
    memset(c, 0, sizeof *c);
}

lf_status lf_csv_parse(const char *s, size_t n, const char *name, lf_csv *c)
{
    memset(c, 0, sizeof *c);
    /* unescaping only shrinks, plus one NUL per field: 2n + 2 bounds the text */
    c->text = lf_malloc(2 * n + 2);
    if (!c->text) return LF_ERR_NOMEM;
    int64_t fcap = 0, rcap[3] = {0, 0, 0}, t = 0;
    size_t i = 0;
    int line = 1;
    lf_status st = LF_OK;
    if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) i = 3; /* UTF-8 byte-order mark */
    while (i < n && st == LF_OK) {
        /* skip blank lines between records */
        if (s[i] == '\n' || s[i] == '\r') {
            if (s[i] == '\n') line++;
            i++;
            continue;
        }
        if ((st = grow((void **)&c->rec_first, &rcap[0], c->n_rec + 1, sizeof(int64_t))) ||
            (st = grow((void **)&c->rec_count, &rcap[1], c->n_rec + 1, sizeof(int32_t))) ||
            (st = grow((void **)&c->rec_line, &rcap[2], c->n_rec + 1, sizeof(int32_t))))
            break;
        int64_t r = c->n_rec++;
        c->rec_first[r] = c->n_field;
        c->rec_count[r] = 0;
        c->rec_line[r] = line;
        for (;;) { /* one field per iteration */
            if ((st = grow((void **)&c->field, &fcap, c->n_field + 1, sizeof(int64_t)))) break;
            c->field[c->n_field++] = t;
            c->rec_count[r]++;
            if (i < n && s[i] == '"') {
                int qline = line;
                i++;
                for (;;) {
                    if (i >= n) {
                        st = lf_error(LF_ERR_FORMAT, "%s line %d: unterminated quoted field",
                                      name, qline);
                        break;
                    }
                    if (s[i] == '"') {
                        if (i + 1 < n && s[i + 1] == '"') {
                            c->text[t++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (s[i] == '\n') line++;
                    c->text[t++] = s[i++];
                }
                if (st) break;
                if (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
                    st = lf_error(LF_ERR_FORMAT,
                                  "%s line %d: unexpected character '%c' after a closing quote",
                                  name, line, s[i]);
                    break;
                }
            } else {
                while (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r') c->text[t++] = s[i++];
            }
            c->text[t++] = 0;
            if (i < n && s[i] == ',') {
                i++;
                continue;
            }
            /* end of record */
            if (i < n && s[i] == '\r') i++;
            if (i < n && s[i] == '\n') {
                i++;
                line++;
            }
            break;
        }
    }
    if (st != LF_OK) lf_csv_free(c);
    return st;
}

lf_status lf_csv_read(const char *path, lf_csv *c)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lf_error(LF_ERR_IO, "%s: cannot open manifest: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = lf_malloc(cap);
    lf_status st = buf ? LF_OK : LF_ERR_NOMEM;
    while (st == LF_OK) {
        if (n == cap) {
            char *q = lf_realloc(buf, cap * 2);
            if (!q) { st = LF_ERR_NOMEM; break; }
            buf = q;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (st == LF_OK && ferror(f)) st = lf_error(LF_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st == LF_OK) st = lf_csv_parse(buf, n, path, c);
    lf_free(buf);
    return st;
}
