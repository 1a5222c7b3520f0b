/* RFC 4180 CSV reader (internal): quoted fields with "" escapes, commas and line breaks inside
 * quotes, CRLF or LF line ends, blank lines skipped. Each record remembers the line it starts
 * on, for error messages. */
#ifndef LF_DATA_CSV_H
#define LF_DATA_CSV_H

#include "labelfree.h"

typedef struct lf_csv {
    char *text;          /* unescaped fields, each NUL-terminated */
    int64_t *field;      /* offsets of every field into text */
    int64_t *rec_first;  /* per record: index of its first field */
    int32_t *rec_count;  /* per record: number of fields */
    int32_t *rec_line;   /* per record: 1-based line where it starts */
    int64_t n_rec, n_field;
} lf_csv;

/* Parses the file at path (name used in errors). */
lf_status lf_csv_read(const char *path, lf_csv *csv);
/* Parses a buffer; `name` is used in error messages. */
lf_status lf_csv_parse(const char *data, size_t n, const char *name, lf_csv *csv);
void lf_csv_free(lf_csv *csv);
static inline const char *lf_csv_get(const lf_csv *c, int64_t rec, int col)
{
    return col < c->rec_count[rec] ? c->text + c->field[c->rec_first[rec] + col] : "";
}

#endif
