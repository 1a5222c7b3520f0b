/* labelfree fingerprint: Morgan fingerprints (identical to RDKit's) of the SMILES column of
 * a CSV. Output .tsv: `row<TAB>on-bit indices` (or `bit:count` with --counts), one line per
 * input row; .npy: an (N, bits) uint8 matrix (float32 with --counts). An invalid SMILES stops
 * with the row and character position; with --skip-invalid it is reported on stderr and left
 * out of the TSV (an all-zero row in the .npy, so rows stay aligned). */
#include "cli.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splits a CSV line in place (double quotes allowed); returns the number of fields */
static int split_csv(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            while (*p) {
                if (*p == '"' && p[1] == '"') { *w++ = '"'; p += 2; }
                else if (*p == '"') { p++; break; }
                else *w++ = *p++;
            }
            char *rest = p;
            *w = 0;
            p = rest;
            while (*p && *p != ',') p++;
        } else {
            f[n++] = p;
            while (*p && *p != ',') p++;
        }
        if (!*p) break;
        *p++ = 0;
    }
    return n;
}

static void npy_header(FILE *f, const char *descr, long rows, long cols)
{
    char h[128];
    int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (%12ld, %ld), }", descr, rows, cols);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned short hl = (unsigned short)(n + pad + 1);
    fputc(hl & 0xff, f);
    fputc(hl >> 8, f);
    fwrite(h, 1, (size_t)n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
}

int cmd_fingerprint(int argc, char **argv)
{
    const char *input = NULL, *out = NULL, *column = "smiles";
    int64_t radius = 2, nbits = 2048;
    bool chir = false, counts = false, skip = false;
    cli_arg args[] = {
        {"input", ARG_STR, &input, "CSV file with a header line", true, false},
        {"smiles-column", ARG_STR, &column, "name of the SMILES column (default smiles)", false, false},
        {"radius", ARG_INT, &radius, "Morgan radius (default 2)", false, false},
        {"bits", ARG_INT, &nbits, "fingerprint length (default 2048)", false, false},
        {"chirality", ARG_BOOL, &chir, "chirality-aware invariants", false, false},
        {"counts", ARG_BOOL, &counts, "count vectors instead of bits", false, false},
        {"out", ARG_STR, &out, "output .tsv or .npy", true, false},
        {"skip-invalid", ARG_BOOL, &skip, "report and skip rows whose SMILES is invalid", false, false},
    };
    int n_args = (int)(sizeof args / sizeof args[0]);
    int rc = cli_parse("fingerprint", argc, argv, args, n_args);
    if (rc) {
        cli_usage("fingerprint", "Morgan fingerprints of the SMILES in a CSV", args, n_args);
        return rc == 2 ? 0 : 1;
    }
    if (radius < 0 || radius > 10 || nbits < 1 || nbits > (1 << 24)) {
        fprintf(stderr, "labelfree fingerprint: --radius must be 0..10 and --bits 1..16777216\n");
        return 1;
    }
    size_t olen = strlen(out);
    int npy = olen > 4 && !strcmp(out + olen - 4, ".npy");
    if (!npy && !(olen > 4 && !strcmp(out + olen - 4, ".tsv"))) {
        fprintf(stderr, "labelfree fingerprint: --out must end in .tsv or .npy\n");
        return 1;
    }
    FILE *in = fopen(input, "r");
    if (!in) {
        fprintf(stderr, "labelfree fingerprint: cannot open %s\n", input);
        return 1;
    }
    FILE *fo = fopen(out, "wb");
    if (!fo) {
        fprintf(stderr, "labelfree fingerprint: cannot write %s\n", out);
        fclose(in);
        return 1;
    }
    char *line = NULL, *fields[256];
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, in);
    int col = -1, status = 1;
    long rows = 0, bad = 0;
    uint8_t *bits = malloc((size_t)nbits);
    uint32_t *cnt = malloc(sizeof(uint32_t) * (size_t)nbits);
    float *fbuf = malloc(sizeof(float) * (size_t)nbits);
    if (!bits || !cnt || !fbuf) goto done;
    if (len > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        int nf = split_csv(line, fields, 256);
        for (int i = 0; i < nf; i++)
            if (!strcmp(fields[i], column)) col = i;
    }
    if (col < 0) {
        fprintf(stderr, "labelfree fingerprint: %s: no column '%s' in the header\n", input, column);
        goto done;
    }
    if (npy) npy_header(fo, counts ? "<f4" : "|u1", 0, (long)nbits); /* rewritten at the end */
    else fprintf(fo, "row\tmorgan_r%d_%d_%s\n", (int)radius, (int)nbits, counts ? "counts" : "on_bits");
    const double t0 = now_seconds();
    while ((len = getline(&line, &cap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        long row = rows++;
        int nf = split_csv(line, fields, 256);
        const char *smi = col < nf ? fields[col] : "";
        lf_mol *m = NULL;
        int pos = -1;
        lf_status st = lf_mol_parse(smi, &m, &pos);
        if (!st) st = counts ? lf_morgan_counts(m, (int)radius, (int)nbits, chir, cnt)
                             : lf_morgan_bits(m, (int)radius, (int)nbits, chir, bits);
        lf_mol_free(m);
        if (st) {
            fprintf(stderr, "labelfree fingerprint: %s row %ld (line %ld)%s: %s\n", input, row, row + 2,
                    skip ? " skipped" : "", lf_last_error());
            if (!skip) goto done;
            bad++;
            if (npy) {
                memset(bits, 0, (size_t)nbits);
                memset(fbuf, 0, sizeof(float) * (size_t)nbits);
                fwrite(counts ? (void *)fbuf : (void *)bits, counts ? sizeof(float) : 1, (size_t)nbits, fo);
            }
            continue;
        }
        if (npy) {
            if (counts) {
                for (int64_t i = 0; i < nbits; i++) fbuf[i] = (float)cnt[i];
                fwrite(fbuf, sizeof(float), (size_t)nbits, fo);
            } else {
                fwrite(bits, 1, (size_t)nbits, fo);
            }
        } else {
            fprintf(fo, "%ld\t", row);
            int first = 1;
            for (int64_t i = 0; i < nbits; i++) {
                if (counts ? !cnt[i] : !bits[i]) continue;
                if (counts) fprintf(fo, first ? "%ld:%u" : " %ld:%u", (long)i, cnt[i]);
                else fprintf(fo, first ? "%ld" : " %ld", (long)i);
                first = 0;
            }
            fputc('\n', fo);
        }
    }
    const double sec = now_seconds() - t0;
    if (npy) {
        rewind(fo);
        npy_header(fo, counts ? "<f4" : "|u1", rows, (long)nbits); /* same header length */
    }
    fprintf(stderr, "labelfree fingerprint: %ld molecules (%ld invalid, skipped) in %.3f s: %.0f molecules/s\n",
            rows, bad, sec, sec > 0 ? (double)rows / sec : 0.0);
    status = 0;
done:
    free(line);
    free(bits);
    free(cnt);
    free(fbuf);
    fclose(in);
    if (fclose(fo) != 0) status = 1;
    return status;
}
