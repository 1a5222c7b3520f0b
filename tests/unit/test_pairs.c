/* The CLOOME pairs manifest (src/ssl/pairs.c): columns, feature rows from .npy files,
 * compounds (named, or by their SMILES), class sets, splits given or held out by compound
 * (seeded), plates and origins, stacked image channels, and errors that name the manifest
 * and line. */
#include "data_util.h"
#include "test.h"

/* dir/feats.npy: 4 rows of 3 floats, value 10 row + column */
static void write_features(const char *dir)
{
    char p[200];
    snprintf(p, sizeof p, "%s/feats.npy", dir);
    lf_real v[12];
    for (int i = 0; i < 12; i++) v[i] = (lf_real)(10 * (i / 3) + i % 3);
    CHECK_OK(lf_npy_write_f32(p, v, 4, 3));
}

/* lf_pairs_open on dir/m.csv holding text; NULL (and the error kept) when it fails */
static lf_pairs *open_text(const char *dir, const char *text, uint64_t seed)
{
    char p[200];
    snprintf(p, sizeof p, "%s/m.csv", dir);
    CHECK(tdu_write_text(p, text) == 0);
    lf_pairs *pr = NULL;
    return lf_pairs_open(&pr, p, seed) == LF_OK ? pr : NULL;
}

TEST(pairs_manifest_columns_and_features)
{
    char dir[64];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    write_features(dir);
    lf_pairs *p = open_text(dir,
                            "plate,smiles,features,compound,moa,label,split\n"
                            "P1,CCO,feats.npy#0,ethanol,b_moa,,train\n"
                            "P1,CCO,feats.npy#2,ethanol,b_moa,x,test\n"
                            "P2,c1ccccc1,feats.npy#1,,a_moa,y,val\n"
                            "P2,CCN,feats.npy#3,,,,train\n",
                            1);
    CHECK_MSG(p != NULL, "%s", lf_last_error());
    if (!p) return;
    CHECK(lf_pairs_count(p) == 4 && lf_pairs_has_features(p) == 1);
    CHECK(lf_pairs_feature_dim(p) == 3);
    CHECK(lf_pairs_features(p, 1)[0] == 20 && lf_pairs_features(p, 2)[2] == 12);
    /* compounds: a name where given, else the SMILES; ids in order of appearance */
    CHECK(lf_pairs_num_compounds(p) == 3);
    CHECK(lf_pairs_compound(p, 0) == 0 && lf_pairs_compound(p, 1) == 0);
    CHECK(lf_pairs_compound(p, 2) == 1 && lf_pairs_compound(p, 3) == 2);
    CHECK(!strcmp(lf_pairs_compound_name(p, 0), "ethanol"));
    CHECK(!strcmp(lf_pairs_compound_name(p, 1), "c1ccccc1"));
    CHECK(!strcmp(lf_pairs_smiles(p, 3), "CCN"));
    /* classes: sorted names, -1 where empty */
    CHECK(lf_pairs_num_classes(p, LF_PAIRS_MOA) == 2);
    CHECK(!strcmp(lf_pairs_class_name(p, LF_PAIRS_MOA, 0), "a_moa"));
    CHECK(lf_pairs_class(p, LF_PAIRS_MOA, 0) == 1 && lf_pairs_class(p, LF_PAIRS_MOA, 2) == 0);
    CHECK(lf_pairs_class(p, LF_PAIRS_MOA, 3) == -1);
    CHECK(lf_pairs_num_classes(p, LF_PAIRS_LABEL) == 2);
    CHECK(lf_pairs_class(p, LF_PAIRS_LABEL, 0) == -1 && lf_pairs_class(p, LF_PAIRS_LABEL, 2) == 1);
    /* splits as given; plates; origins count the header as line 1 */
    CHECK(lf_pairs_split(p, 1) == LF_SPLIT_TEST && lf_pairs_split(p, 2) == LF_SPLIT_VAL);
    int64_t idx[4];
    CHECK(lf_pairs_indices(p, LF_SPLIT_TRAIN, idx) == 2 && idx[0] == 0 && idx[1] == 3);
    CHECK(lf_pairs_indices(p, LF_SPLIT_ALL, NULL) == 4);
    CHECK(!strcmp(lf_pairs_plate(p, 2), "P2"));
    CHECK_MSG(!strcmp(lf_pairs_origin(p, 1), "m.csv line 3"), "origin '%s'", lf_pairs_origin(p, 1));
    lf_pairs_free(p);
    tdu_rm_rf(dir);
}

/* Without a split column a seeded ~20 % of the compounds is test, whole compounds at a
 * time; the same seed gives the same split */
TEST(pairs_default_split_holds_out_compounds)
{
    char dir[64];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    write_features(dir);
    char text[2048] = "smiles,features,compound\n";
    for (int k = 0; k < 10; k++)
        for (int rep = 0; rep < 2; rep++) {
            char row[64];
            snprintf(row, sizeof row, "C%s,feats.npy#%d,cpd%d\n", rep ? "O" : "N", rep, k);
            strcat(text, row);
        }
    lf_pairs *a = open_text(dir, text, 42), *b = open_text(dir, text, 42);
    CHECK_MSG(a && b, "%s", lf_last_error());
    if (a && b) {
        CHECK(lf_pairs_num_compounds(a) == 10);
        int64_t test_rows = 0;
        for (int64_t i = 0; i < lf_pairs_count(a); i++) {
            test_rows += lf_pairs_split(a, i) == LF_SPLIT_TEST;
            CHECK(lf_pairs_split(a, i) == lf_pairs_split(b, i));
            CHECK(lf_pairs_split(a, i) == lf_pairs_split(a, i - i % 2)); /* one compound */
        }
        CHECK_MSG(test_rows == 4, "%lld test rows, expected 2 compounds' 4",
                  (long long)test_rows);
    }
    lf_pairs_free(a);
    lf_pairs_free(b);
    tdu_rm_rf(dir);
}

/* Image paths: ';' stacks channel files, resolved against the manifest's folder */
TEST(pairs_image_channels_stack)
{
    char dir[64], p[200];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    uint8_t px[4 * 4];
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < 16; i++) px[i] = (uint8_t)(i + 100 * c);
        snprintf(p, sizeof p, "%s/s%d.png", dir, c);
        CHECK(tdu_write_png(p, 4, 4, 1, 8, px) == 0);
    }
    lf_pairs *pr = open_text(dir, "smiles,image,split\nCCO,s0.png;s1.png,train\n", 1);
    CHECK_MSG(pr != NULL, "%s", lf_last_error());
    if (!pr) return;
    CHECK(lf_pairs_has_features(pr) == 0 && lf_pairs_features(pr, 0) == NULL);
    lf_image im = {0};
    CHECK_OK(lf_pairs_read_image(pr, 0, &im));
    CHECK(im.c == 2 && im.h == 4 && im.w == 4);
    lf_image_free(&im);
    lf_pairs_free(pr);
    tdu_rm_rf(dir);
}

TEST(pairs_errors_name_manifest_and_line)
{
    char dir[64];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    write_features(dir);
    const struct {
        const char *text, *expect;
    } cases[] = {
        {"smiles,features,split\nCCO,feats.npy#0,train\nCCN,feats.npy#9,train\n",
         "m.csv line 3: row 9"},
        {"smiles,features,split\nCCO,feats.npy,train\n", "m.csv line 2: features 'feats.npy'"},
        {"smiles,features,split\nCCO,feats.npy#0,holdout\n", "m.csv line 2: split 'holdout'"},
        {"smiles,features,split\n,feats.npy#0,train\n", "m.csv line 2: empty smiles"},
        {"smiles,image,split\nCCO,nowhere.png,train\n", "line 2"},
        {"image,split\na.png,train\n", "line 1: no 'smiles' column"},
        {"smiles,image,features\nCCO,a.png,feats.npy#0\n", "exactly one of 'image'"},
        {"smiles,features\nCCO,feats.npy#0\nCCO,feats.npy#1\n", "one compound only"},
        {"smiles,features\n", "no pairs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lf_pairs *p = open_text(dir, cases[i].text, 1);
        CHECK_MSG(p == NULL, "case %zu opened", i);
        lf_pairs_free(p);
        CHECK_MSG(strstr(lf_last_error(), cases[i].expect) != NULL, "case %zu: '%s' lacks '%s'",
                  i, lf_last_error(), cases[i].expect);
    }
    tdu_rm_rf(dir);
}
