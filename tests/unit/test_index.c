/* Embedding index: exact top-k against brute force, IVF recall on clustered data, save/load,
 * SQLite metadata, error cases. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clustered unit-norm data: nc centres, points = centre + noise */
static float *clustered(int64_t n, int64_t d, int nc, double noise, uint64_t seed)
{
    lf_rng r = lf_rng_make(seed, 1);
    float *c = malloc(sizeof(float) * (size_t)(nc * d));
    float *x = malloc(sizeof(float) * (size_t)(n * d));
    for (int64_t i = 0; i < nc * d; i++) c[i] = (float)lf_rng_normal(&r);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = lf_rng_below(&r, (uint32_t)nc);
        for (int64_t j = 0; j < d; j++) x[i * d + j] = c[k * d + j] + (float)(noise * lf_rng_normal(&r));
    }
    free(c);
    return x;
}

/* brute force in double: ids sorted by (score desc, id asc) */
static void brute(const float *x, int64_t n, int64_t d, const float *q, int k, int64_t *ids, double *sc)
{
    double qn = 0;
    for (int64_t j = 0; j < d; j++) qn += (double)q[j] * q[j];
    for (int t = 0; t < k; t++) { ids[t] = -1; sc[t] = -1e30; }
    for (int64_t i = 0; i < n; i++) {
        double s = 0, xn = 0;
        for (int64_t j = 0; j < d; j++) { s += (double)x[i * d + j] * q[j]; xn += (double)x[i * d + j] * x[i * d + j]; }
        s /= sqrt(xn * qn);
        int p = k;
        while (p > 0 && s > sc[p - 1]) p--;
        if (p >= k) continue;
        for (int t = k - 1; t > p; t--) { ids[t] = ids[t - 1]; sc[t] = sc[t - 1]; }
        ids[p] = i;
        sc[p] = s;
    }
}

TEST(index_exact_matches_brute_force)
{
    int64_t n = 5000, d = 37, nq = 300; /* n > one 4096 block, nq > one 256 block */
    int k = 10;
    float *x = clustered(n, d, 20, 0.5, 7), *q = clustered(nq, d, 20, 0.5, 8);
    lf_index *ix = NULL;
    CHECK_OK(lf_index_create(&ix, x, n, d));
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)(nq * k));
    float *sc = malloc(sizeof(float) * (size_t)(nq * k));
    CHECK_OK(lf_index_search(ix, q, nq, k, 1, ids, sc));
    int64_t bid[10];
    double bsc[10], maxd = 0;
    int mism = 0;
    for (int64_t i = 0; i < nq; i++) {
        brute(x, n, d, q + i * d, k, bid, bsc);
        for (int t = 0; t < k; t++) {
            if (fabs(bsc[t] - sc[i * k + t]) > maxd) maxd = fabs(bsc[t] - sc[i * k + t]);
            /* ids must agree unless two scores tie within float rounding */
            if (bid[t] != ids[i * k + t] && fabs(bsc[t] - (t + 1 < k ? bsc[t + 1] : bsc[t])) > 1e-5 &&
                (t == 0 || fabs(bsc[t] - bsc[t - 1]) > 1e-5))
                mism++;
        }
    }
    CHECK_MSG(maxd < 1e-5, "max |score - brute| = %g", maxd);
    CHECK_MSG(mism == 0, "%d ids differ from brute force", mism);
    /* fewer vectors than k: padded */
    lf_index *small = NULL;
    CHECK_OK(lf_index_create(&small, x, 3, d));
    CHECK_OK(lf_index_search(small, q, 1, 5, 0, ids, sc));
    CHECK(ids[2] >= 0 && ids[3] == -1 && ids[4] == -1 && isinf(sc[4]));
    lf_index_free(small);
    lf_index_free(ix);
    free(x); free(q); free(ids); free(sc);
}

static double recall_at(lf_index *ix, const float *q, int64_t nq, int k)
{
    int64_t *e = malloc(sizeof(int64_t) * (size_t)(nq * k)), *a = malloc(sizeof(int64_t) * (size_t)(nq * k));
    float *s = malloc(sizeof(float) * (size_t)(nq * k));
    CHECK_OK(lf_index_search(ix, q, nq, k, 1, e, s));
    CHECK_OK(lf_index_search(ix, q, nq, k, 0, a, s));
    int64_t hit = 0;
    for (int64_t i = 0; i < nq; i++)
        for (int t = 0; t < k; t++)
            for (int u = 0; u < k; u++)
                if (a[i * k + t] == e[i * k + u]) { hit++; break; }
    free(e); free(a); free(s);
    return (double)hit / (double)(nq * k);
}

TEST(index_ivf_recall_and_roundtrip)
{
    int64_t n = 20000, d = 32, nq = 200;
    float *x = clustered(n, d, 50, 0.6, 11), *q = clustered(nq, d, 50, 0.6, 12);
    lf_index *ix = NULL;
    CHECK_OK(lf_index_create(&ix, x, n, d));
    lf_ivf_config cfg = {0};
    cfg.seed = 3;
    CHECK_OK(lf_index_train_ivf(ix, &cfg));
    CHECK(lf_index_has_ivf(ix) && lf_index_nlist(ix) == (int64_t)(4 * sqrt(20000.0)));
    double rec = recall_at(ix, q, nq, 10);
    printf("  IVF nlist %lld nprobe %d: recall@10 = %.4f\n", (long long)lf_index_nlist(ix), lf_index_nprobe(ix), rec);
    CHECK_MSG(rec >= 0.9, "recall@10 = %.4f at default settings", rec);
    /* more probes never hurt; all lists = exact */
    lf_index_set_nprobe(ix, (int)lf_index_nlist(ix));
    CHECK_NEAR(recall_at(ix, q, nq, 10), 1.0, 1e-12);
    lf_index_set_nprobe(ix, 8);
    /* stored vectors are the normalised inputs, found by their original id */
    const float *v = lf_index_vector(ix, 1234);
    double nx = 0, dot = 0;
    for (int j = 0; j < d; j++) { nx += (double)x[1234 * d + j] * x[1234 * d + j]; dot += (double)v[j] * x[1234 * d + j]; }
    CHECK_NEAR(dot / sqrt(nx), 1.0, 1e-5);
    char path[] = "/tmp/lf_test_index_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(lf_index_save(ix, path));
    lf_index *b = NULL;
    CHECK_OK(lf_index_load(&b, path));
    CHECK(b && lf_index_nprobe(b) == 8 && lf_index_count(b) == n);
    int64_t i1[10], i2[10];
    float s1[10], s2[10];
    for (int t = 0; t < 20; t++) {
        CHECK_OK(lf_index_search(ix, q + t * d, 1, 10, 0, i1, s1));
        CHECK_OK(lf_index_search(b, q + t * d, 1, 10, 0, i2, s2));
        CHECK(!memcmp(i1, i2, sizeof i1) && !memcmp(s1, s2, sizeof s1));
    }
    /* a truncated file is an error, not a crash */
    CHECK(truncate(path, 1000) == 0);
    lf_index *c = NULL;
    CHECK(lf_index_load(&c, path) == LF_ERR_FORMAT && c == NULL);
    CHECK(strstr(lf_last_error(), "file size") != NULL);
    unlink(path);
    lf_index_free(b);
    lf_index_free(ix);
    free(x); free(q);
}

TEST(index_errors)
{
    float x[6] = {1, 0, 0, 0, 0, 0};
    lf_index *ix = NULL;
    CHECK(lf_index_create(&ix, x, 2, 3) == LF_ERR_NUMERIC && !ix);
    CHECK(strstr(lf_last_error(), "row 1") != NULL);
    x[4] = 2;
    CHECK_OK(lf_index_create(&ix, x, 2, 3));
    int64_t id[2];
    float s[2];
    CHECK(lf_index_search(ix, x, 1, 0, 1, id, s) == LF_ERR_ARG);
    float bad[3] = {NAN, 1, 0};
    CHECK(lf_index_search(ix, bad, 1, 1, 1, id, s) == LF_ERR_NUMERIC);
    CHECK_OK(lf_index_search(ix, x + 3, 1, 2, 1, id, s));
    CHECK(id[0] == 1 && id[1] == 0);
    CHECK_NEAR(s[0], 1.0, 1e-6);
    lf_index *none = NULL;
    CHECK(lf_index_load(&none, "/nonexistent/x.lfidx") == LF_ERR_IO && !none);
    lf_index_free(ix);
}

TEST(index_meta_sqlite)
{
    char path[] = "/tmp/lf_test_meta_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    lf_index_meta *m = NULL;
    CHECK_OK(lf_index_meta_open(&m, path, 1));
    lf_index_item a = {.id = 0, .kind = LF_ITEM_IMAGE, .row = 0, .path = "files/a.png", .compound = "taxol",
                       .moa = "Microtubule stabilizers", .extra = "{\"well\":\"B02\"}"};
    lf_index_item b = {.id = 1, .kind = LF_ITEM_MOLECULE, .row = 0, .smiles = "CCO", .compound = "ethanol"};
    CHECK_OK(lf_index_meta_add(m, &a));
    CHECK_OK(lf_index_meta_add(m, &b));
    CHECK(lf_index_meta_add(m, &b) != LF_OK); /* duplicate id */
    CHECK_OK(lf_index_meta_commit(m));
    lf_index_meta_close(m);
    CHECK_OK(lf_index_meta_open(&m, path, 0));
    lf_index_item it;
    CHECK_OK(lf_index_meta_get(m, 1, &it));
    CHECK(it.kind == LF_ITEM_MOLECULE && it.smiles && !strcmp(it.smiles, "CCO") && it.path == NULL);
    lf_index_item_clear(&it);
    CHECK_OK(lf_index_meta_find(m, LF_ITEM_IMAGE, 0, &it));
    CHECK(it.id == 0 && !strcmp(it.moa, "Microtubule stabilizers") && !strcmp(it.extra, "{\"well\":\"B02\"}"));
    lf_index_item_clear(&it);
    CHECK(lf_index_meta_get(m, 99, &it) == LF_ERR_ARG);
    CHECK(lf_index_meta_count(m, LF_ITEM_IMAGE) == 1);
    CHECK(lf_index_meta_add(m, &a) == LF_ERR_STATE);
    lf_index_meta_close(m);
    unlink(path);
}

TEST(index_fingerprint_encoder)
{
    lf_query_encoder e;
    CHECK_OK(lf_query_encoder_fingerprint(&e, 2, 1024));
    float *a = malloc(4096), *b = malloc(4096);
    CHECK_OK(e.encode_smiles(e.ctx, "c1ccccc1O", a));
    CHECK_OK(e.encode_smiles(e.ctx, "Oc1ccccc1", b));
    double dot = 0, na = 0;
    for (int i = 0; i < 1024; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; }
    CHECK_NEAR(na, 1.0, 1e-5);
    CHECK_NEAR(dot, 1.0, 1e-5); /* same molecule, two SMILES */
    CHECK(e.encode_smiles(e.ctx, "C1CC(", a) == LF_ERR_FORMAT);
    CHECK(e.encode_smiles(e.ctx, "", a) == LF_ERR_FORMAT);
    CHECK(e.encode_image == NULL);
    lf_query_encoder_release(&e);
    free(a); free(b);
}
