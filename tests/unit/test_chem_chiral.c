/* Chirality-aware Morgan bits (radius 3, 1024 bits, useChirality) against RDKit 2022.09:
 * tests/parity/gen_chem_chiral.py writes chiral_ref.tsv (molecules with stereo marks plus
 * hand-picked cases: on-bits per molecule) and moleculenet_chiral_r3_1024.txt (a hash of the
 * RDKit bit vector for every MoleculeNet row). LF_CHEM_VERBOSE=1 lists the mismatches. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

static uint32_t fnv1a(const uint8_t *b, int n)
{
    uint32_t h = 0x811C9DC5u;
    for (int i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x01000193u;
    }
    return h;
}

static int fp_chiral(const char *smi, uint8_t *bits)
{
    lf_mol *m = NULL;
    int ok = lf_mol_parse(smi, &m, NULL) == LF_OK && lf_morgan_bits(m, 3, 1024, 1, bits) == LF_OK;
    lf_mol_free(m);
    return ok;
}

TEST(chem_chiral_morgan_rdkit_fixture)
{
    FILE *f = fopen("tests/parity/fixtures/chem/chiral_ref.tsv", "r");
    if (!f) {
        lf_test_skip("tests/parity/fixtures/chem/chiral_ref.tsv missing");
        return;
    }
    int verbose = getenv("LF_CHEM_VERBOSE") != NULL;
    char *line = NULL;
    size_t cap = 0;
    int n = 0, bad = 0, differs_from_plain = 0;
    uint8_t bits[1024], ref[1024], plain[1024];
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        memset(ref, 0, sizeof ref);
        for (char *q = tab + 1; *q;) {
            char *e;
            long b = strtol(q, &e, 10);
            if (e == q) break;
            q = e;
            if (b >= 0 && b < 1024) ref[b] = 1;
        }
        int ok = fp_chiral(line, bits) && !memcmp(bits, ref, sizeof ref);
        /* the references must exercise chirality: count where they differ from plain bits */
        lf_mol *m = NULL;
        if (lf_mol_parse(line, &m, NULL) == LF_OK && lf_morgan_bits(m, 3, 1024, 0, plain) == LF_OK &&
            memcmp(plain, ref, sizeof ref))
            differs_from_plain++;
        lf_mol_free(m);
        if (!ok) {
            bad++;
            if (verbose) printf("    differs: %s\n", line);
        }
        n++;
    }
    free(line);
    fclose(f);
    printf("    %d/%d chiral RDKit references match (%.2f%%); %d differ from the non-chiral bits\n", n - bad, n,
           100.0 * (n - bad) / (n ? n : 1), differs_from_plain);
    CHECK(n > 400);
    CHECK(differs_from_plain > n / 2);
    CHECK_MSG(bad <= n / 200, "%d of %d chiral references differ", bad, n);
}

TEST(chem_chiral_moleculenet_r3_1024)
{
    FILE *fh = fopen("tests/parity/fixtures/chem/moleculenet_chiral_r3_1024.txt", "r");
    if (!fh) {
        lf_test_skip("moleculenet_chiral_r3_1024.txt missing");
        return;
    }
    int verbose = getenv("LF_CHEM_VERBOSE") != NULL;
    char *lh = NULL, *lc = NULL;
    size_t ch = 0, cc = 0;
    int total = 0, bad = 0, n_stereo = 0, bad_stereo = 0, found = 0;
    FILE *fc = NULL;
    char name[64] = "";
    int row = 0;
    uint8_t bits[1024];
    while (getline(&lh, &ch, fh) > 0) {
        lh[strcspn(lh, "\r\n")] = 0;
        if (lh[0] == '#') {
            if (fc) fclose(fc);
            snprintf(name, sizeof name, "%.40s", lh + 1);
            char *sp = strchr(name, ' ');
            if (sp) *sp = 0;
            char path[256];
            snprintf(path, sizeof path, "../shared/data/mol-moleculenet/%s.csv", name);
            fc = fopen(path, "r");
            if (fc) {
                found++;
                if (getline(&lc, &cc, fc) < 0) { fclose(fc); fc = NULL; } /* header */
            }
            row = 0;
            continue;
        }
        if (!fc) continue;
        if (getline(&lc, &cc, fc) < 0) { fclose(fc); fc = NULL; continue; }
        lc[strcspn(lc, ",\r\n")] = 0;
        int has_stereo = strpbrk(lc, "@/\\") != NULL;
        int ok;
        if (lh[0] == '-') {
            lf_mol *m = NULL;
            ok = lf_mol_parse(lc, &m, NULL) != LF_OK;
            lf_mol_free(m);
        } else {
            ok = fp_chiral(lc, bits) && fnv1a(bits, 1024) == (uint32_t)strtoul(lh, NULL, 16);
        }
        total++;
        n_stereo += has_stereo;
        if (!ok) {
            bad++;
            bad_stereo += has_stereo;
            if (verbose) printf("    MISMATCH %s row %d %s\n", name, row, lc);
        }
        row++;
    }
    if (fc) fclose(fc);
    fclose(fh);
    free(lh);
    free(lc);
    if (!found) {
        lf_test_skip("../shared/data/mol-moleculenet not found");
        return;
    }
    printf("    all: %d/%d match (%.3f%%); with stereo marks: %d/%d (%.3f%%)\n", total - bad, total,
           100.0 * (total - bad) / total, n_stereo - bad_stereo, n_stereo,
           100.0 * (n_stereo - bad_stereo) / (n_stereo ? n_stereo : 1));
    CHECK(total == 12476);
    CHECK_MSG(total - bad >= 0.999 * total, "%d of %d molecules differ from RDKit", bad, total);
    CHECK_MSG(n_stereo - bad_stereo >= 0.995 * n_stereo, "%d of %d stereo molecules differ", bad_stereo, n_stereo);
}
