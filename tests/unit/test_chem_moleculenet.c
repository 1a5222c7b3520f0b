/* Morgan bits (radius 2, 2048) against RDKit's references for the 12,476 MoleculeNet
 * molecules in ../shared/data/mol-moleculenet. Skips when the data is absent. Set
 * LF_CHEM_VERBOSE=1 to print every mismatch. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

static char *read_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, f);
    if (n < 0) return NULL;
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) (*buf)[--n] = 0;
    return *buf;
}

/* returns mismatches; *total = molecules compared */
static int check_set(const char *name, int *total)
{
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "../shared/data/mol-moleculenet/%s.csv", name);
    snprintf(p2, sizeof p2, "../shared/data/mol-moleculenet/%s_morgan_r2_2048.tsv", name);
    FILE *fc = fopen(p1, "r"), *ft = fopen(p2, "r");
    if (!fc || !ft) {
        if (fc) fclose(fc);
        if (ft) fclose(ft);
        return -1;
    }
    int verbose = getenv("LF_CHEM_VERBOSE") != NULL;
    char *l1 = NULL, *l2 = NULL;
    size_t c1 = 0, c2 = 0;
    read_line(fc, &l1, &c1);
    read_line(ft, &l2, &c2);
    int bad = 0, n = 0;
    uint8_t bits[2048], ref[2048];
    while (read_line(fc, &l1, &c1) && read_line(ft, &l2, &c2)) {
        char *comma = strchr(l1, ',');
        if (comma) *comma = 0;
        memset(ref, 0, sizeof ref);
        char *tab = strchr(l2, '\t');
        for (char *p = tab ? tab + 1 : l2; *p;) {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p) break;
            if (v >= 0 && v < 2048) ref[v] = 1;
            p = e;
        }
        lf_mol *m = NULL;
        int pos;
        lf_status st = lf_mol_parse(l1, &m, &pos);
        int ok = st == LF_OK && lf_morgan_bits(m, 2, 2048, 0, bits) == LF_OK && !memcmp(bits, ref, sizeof ref);
        if (!ok) {
            bad++;
            if (verbose) {
                printf("MISMATCH %s row %d %s : %s\n", name, n, l1, st ? lf_last_error() : "");
                if (!st) {
                    printf("   extra:");
                    for (int i = 0; i < 2048; i++) if (bits[i] && !ref[i]) printf(" %d", i);
                    printf("  missing:");
                    for (int i = 0; i < 2048; i++) if (!bits[i] && ref[i]) printf(" %d", i);
                    printf("\n");
                }
            }
        }
        lf_mol_free(m);
        n++;
    }
    free(l1);
    free(l2);
    fclose(fc);
    fclose(ft);
    *total = n;
    printf("    %s: %d/%d match (%.3f%%)\n", name, n - bad, n, 100.0 * (n - bad) / (n ? n : 1));
    return bad;
}

TEST(chem_moleculenet_morgan_r2_2048)
{
    const char *sets[] = {"tox21", "bbbp", "esol", "clintox"};
    int bad = 0, total = 0, found = 0;
    for (int i = 0; i < 4; i++) {
        int n = 0, b = check_set(sets[i], &n);
        if (b < 0) continue;
        found++;
        bad += b;
        total += n;
    }
    if (!found) {
        lf_test_skip("../shared/data/mol-moleculenet not found");
        return;
    }
    printf("    all: %d/%d match (%.3f%%)\n", total - bad, total, 100.0 * (total - bad) / total);
    CHECK_MSG(total - bad >= 0.999 * total, "%d of %d molecules differ from RDKit", bad, total);
}
