/* Chemistry: parser errors with positions, implicit Hs, aromaticity, and Morgan bits/counts
 * against RDKit references (tests/parity/gen_chem.py -> fixtures/chem/morgan_ref.tsv). */
#include "test.h"

#include <stdlib.h>
#include <string.h>

static int bad_at(const char *smi)
{
    lf_mol *m = NULL;
    int pos = -2;
    lf_status st = lf_mol_parse(smi, &m, &pos);
    lf_mol_free(m);
    return st == LF_OK ? -100 : pos;
}

TEST(chem_parse_errors_name_position)
{
    CHECK(bad_at("C1CC") == 1);          /* unclosed ring: the opening digit */
    CHECK(bad_at("CC[Xx]C") == 3);       /* unknown element */
    CHECK(bad_at("CCQ") == 2);
    CHECK(bad_at("CC(C") == 2);          /* unclosed branch */
    CHECK(bad_at("CC)C") == 2);
    CHECK(bad_at("C[CH2") == 5);         /* unclosed bracket: where "]" is missing */
    CHECK(bad_at("CC(C)(C)(C)(C)C") == 1); /* five bonds on carbon: bad valence at the atom */
    CHECK(bad_at("c1cccc1") >= 0);       /* cannot be kekulized */
    CHECK(bad_at("") == 0);
    CHECK(bad_at("C==C") == 2);
    CHECK(strstr(lf_last_error(), "position") != NULL);
    CHECK(bad_at("CCO") == -100);
}

TEST(chem_implicit_h_and_aromaticity)
{
    lf_mol *m;
    CHECK_OK(lf_mol_parse("C1=CC=CC=C1", &m, NULL));
    for (int i = 0; i < 6; i++) CHECK(lf_mol_atom_is_aromatic(m, i) && lf_mol_atom_total_h(m, i) == 1);
    lf_mol_free(m);
    CHECK_OK(lf_mol_parse("CN(=O)=O", &m, NULL)); /* nitro is charge-separated */
    CHECK(lf_mol_atom_charge(m, 1) == 1 && lf_mol_atom_total_h(m, 0) == 3);
    lf_mol_free(m);
    CHECK_OK(lf_mol_parse("O=C1C=CC(=O)C=C1", &m, NULL)); /* quinone: not aromatic */
    for (int i = 0; i < lf_mol_num_atoms(m); i++) CHECK(!lf_mol_atom_is_aromatic(m, i));
    lf_mol_free(m);
    CHECK_OK(lf_mol_parse("c1cc[nH]c1", &m, NULL));
    CHECK(lf_mol_atom_is_aromatic(m, 3) && lf_mol_atom_total_h(m, 3) == 1);
    lf_mol_free(m);
    CHECK_OK(lf_mol_parse("C12C3C4C1C5C2C3C45", &m, NULL)); /* cubane: 6 rings, as RDKit */
    CHECK(lf_mol_num_rings(m) == 6);
    lf_mol_free(m);
}

TEST(chem_morgan_rdkit_fixtures)
{
    FILE *f = fopen("tests/parity/fixtures/chem/morgan_ref.tsv", "r");
    if (!f) {
        lf_test_skip("tests/parity/fixtures/chem/morgan_ref.tsv missing");
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    int n = 0, bad = 0;
    uint8_t *bits = malloc(2048), *ref = malloc(2048);
    uint32_t *cnt = malloc(4 * 2048), *rcnt = malloc(4 * 2048);
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        char *tok[6] = {0};
        char *p = line;
        for (int i = 0; i < 6; i++) {
            tok[i] = p;
            char *t = strchr(p, '\t');
            if (!t) break;
            *t = 0;
            p = t + 1;
        }
        if (!tok[5]) continue;
        int radius = atoi(tok[1]), nbits = atoi(tok[2]), chir = atoi(tok[3]);
        int counts = !strcmp(tok[0], "counts");
        memset(ref, 0, 2048);
        memset(rcnt, 0, 4 * 2048);
        for (char *q = tok[5]; *q;) {
            char *e;
            long b = strtol(q, &e, 10);
            if (e == q) break;
            q = e;
            long c = 1;
            if (*q == ':') c = strtol(q + 1, &q, 10);
            if (b >= 0 && b < nbits) { ref[b] = 1; rcnt[b] = (uint32_t)c; }
        }
        lf_mol *m = NULL;
        lf_status st = lf_mol_parse(tok[4], &m, NULL);
        int ok = st == LF_OK;
        if (ok && counts) ok = lf_morgan_counts(m, radius, nbits, chir, cnt) == LF_OK &&
                               !memcmp(cnt, rcnt, 4 * (size_t)nbits);
        else if (ok) ok = lf_morgan_bits(m, radius, nbits, chir, bits) == LF_OK && !memcmp(bits, ref, (size_t)nbits);
        if (!ok) {
            bad++;
            printf("    differs: %s r%d %d chir=%d %s\n", tok[0], radius, nbits, chir, tok[4]);
        }
        lf_mol_free(m);
        n++;
    }
    free(line);
    free(bits); free(ref); free(cnt); free(rcnt);
    fclose(f);
    printf("    %d/%d RDKit references match\n", n - bad, n);
    CHECK(n > 500);
    /* a porphyrin-like molecule may be sampled; allow 0.5 % */
    CHECK_MSG(bad <= n / 200, "%d of %d references differ", bad, n);
}
