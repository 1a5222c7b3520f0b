/* labelfree evaluate-retrieval --model RUN --data pairs.csv --out DIR: CLOOME's evaluation on
 * the held-out (test split) pairs, written to DIR/report.json and DIR/report.md.
 *
 * Identity is the compound: rows of one compound are the same molecule. So
 *  - sample -> molecule: each test row ranks the distinct test molecules (N_c candidates);
 *  - molecule -> sample: each test row's molecule ranks the test samples, the other samples of
 *    the same compound removed (filtered ranking, as in knowledge-graph link prediction);
 *  rank = 1 + (candidates scoring higher) + (ties) / 2; R@k = fraction with rank <= k; random
 *  baseline analytic: R@k = min(k, N) / N and mean rank (N + 1) / 2 per query, averaged.
 *  The 100-candidate protocol (CLOOME): each query against its partner + min(99, available)
 *  random others of other compounds (seeded), averaged.
 * Zero-shot: molecule identification = sample -> molecule top-1/5; MoA = the MoAs of the test
 * molecules ordered by their best similarity to the sample, top-1/5. Nearest-neighbour MoA
 * against the training split: from the input profiles alone (the non-contrastive baseline,
 * feature manifests only), from the sample embeddings, and from the training molecules'
 * embeddings. Random baselines of MoA rankings: Monte Carlo over random orders (seeded).
 * Linear probe: one logistic regression per MoA / label class (one-vs-rest) on the training
 * sample embeddings, AUROC on the test rows (and the same on the input profiles). */
#include "cli.h"
#include "pairs_model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static double dot(const float *a, const float *b, int64_t d)
{
    double s = 0;
    for (int64_t k = 0; k < d; k++) s += (double)a[k] * b[k];
    return s;
}

/* rank of score `t` among others (1 + higher + ties / 2) */
static double rank_of(double t, const double *others, int64_t n)
{
    double r = 1;
    for (int64_t j = 0; j < n; j++) r += others[j] > t ? 1.0 : others[j] == t ? 0.5 : 0.0;
    return r;
}

typedef struct rstats {
    double r1, r5, r10, mean_rank, rr1, rr5, rr10, rmean_rank, n_queries, mean_candidates;
} rstats;

static void rs_add(rstats *s, double rank, double ncand)
{
    s->r1 += rank <= 1;
    s->r5 += rank <= 5;
    s->r10 += rank <= 10;
    s->mean_rank += rank;
    s->rr1 += fmin(1, ncand) / ncand;
    s->rr5 += fmin(5, ncand) / ncand;
    s->rr10 += fmin(10, ncand) / ncand;
    s->rmean_rank += (ncand + 1) / 2;
    s->mean_candidates += ncand;
    s->n_queries += 1;
}

static json_t *rs_json(const rstats *s)
{
    double n = s->n_queries > 0 ? s->n_queries : NAN;
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:{s:f, s:f, s:f, s:f}}", "R@1", s->r1 / n, "R@5", s->r5 / n,
                     "R@10", s->r10 / n, "mean_rank", s->mean_rank / n, "candidates", s->mean_candidates / n,
                     "random", "R@1", s->rr1 / n, "R@5", s->rr5 / n, "R@10", s->rr10 / n, "mean_rank",
                     s->rmean_rank / n);
}

/* MoA ranking: classes ordered by their best reference score; returns the 1-based rank of
 * `truth` (ties counted half), or 0 when truth has no reference. */
static double moa_rank(const double *score, const int *cls, int64_t n_ref, int n_cls, int truth, double *best)
{
    for (int c = 0; c < n_cls; c++) best[c] = -INFINITY;
    for (int64_t j = 0; j < n_ref; j++)
        if (cls[j] >= 0 && score[j] > best[cls[j]]) best[cls[j]] = score[j];
    if (truth < 0 || best[truth] == -INFINITY) return 0;
    double r = 1;
    for (int c = 0; c < n_cls; c++)
        if (c != truth && best[c] != -INFINITY) r += best[c] > best[truth] ? 1.0 : best[c] == best[truth] ? 0.5 : 0.0;
    return r;
}

typedef struct moa_eval {
    double top1, top5, rtop1, rtop5, n;
} moa_eval;

/* queries q (nq, d) against references r (nr, d) with classes rc; query classes qc.
 * Random baseline: the same with reference scores drawn at random (200 draws per query). */
static moa_eval moa_nn(const float *q, const int *qc, int64_t nq, const float *r, const int *rc, int64_t nr,
                       int64_t d, int n_cls, uint64_t seed)
{
    moa_eval e = {0};
    double *sc = malloc((size_t)(nr ? nr : 1) * sizeof(double)), *best = malloc((size_t)(n_cls + 1) * sizeof(double));
    lf_rng rng = lf_rng_make(seed, 0x30a);
    for (int64_t i = 0; i < nq && sc && best; i++) {
        if (qc[i] < 0) continue;
        for (int64_t j = 0; j < nr; j++) sc[j] = dot(q + i * d, r + j * d, d);
        double rk = moa_rank(sc, rc, nr, n_cls, qc[i], best);
        if (rk == 0) continue; /* no reference of its class: no chance, skipped (counted in n) */
        e.top1 += rk <= 1;
        e.top5 += rk <= 5;
        for (int t = 0; t < 200; t++) {
            for (int64_t j = 0; j < nr; j++) sc[j] = lf_rng_uniform(&rng);
            double rr = moa_rank(sc, rc, nr, n_cls, qc[i], best);
            e.rtop1 += (rr <= 1) / 200.0;
            e.rtop5 += (rr <= 5) / 200.0;
        }
        e.n += 1;
    }
    free(sc);
    free(best);
    if (e.n > 0) {
        e.top1 /= e.n;
        e.top5 /= e.n;
        e.rtop1 /= e.n;
        e.rtop5 /= e.n;
    }
    return e;
}

static json_t *moa_json(const moa_eval *e, const char *what)
{
    return json_pack("{s:s, s:f, s:f, s:i, s:{s:f, s:f}}", "reference", what, "top1", e->top1, "top5", e->top5,
                     "queries", (json_int_t)e->n, "random", "top1", e->rtop1, "top5", e->rtop5);
}

/* one logistic model per class (one-vs-rest); mean AUROC over the classes that have positives
 * and negatives in both splits; per-class values into obj */
static double probe_auroc(const float *Xtr, const int *ytr, int64_t ntr, const float *Xte, const int *yte, int64_t nte,
                          int64_t d, int set, const lf_pairs *P, json_t *obj)
{
    int n_cls = lf_pairs_num_classes(P, set);
    int64_t *y = malloc((size_t)(ntr + nte + 1) * sizeof(int64_t));
    double *proba = malloc((size_t)(nte + 1) * 2 * sizeof(double)), *score = malloc((size_t)(nte + 1) * sizeof(double));
    double sum = 0;
    int cnt = 0;
    for (int c = 0; c < n_cls && y && proba && score; c++) {
        int64_t ptr = 0, pte = 0;
        for (int64_t i = 0; i < ntr; i++) ptr += ytr[i] == c;
        for (int64_t i = 0; i < nte; i++) pte += yte[i] == c;
        if (ptr == 0 || ptr == ntr || pte == 0 || pte == nte) continue;
        for (int64_t i = 0; i < ntr; i++) y[i] = ytr[i] == c;
        lf_logreg *m = NULL;
        lf_logreg_opts lo = lf_logreg_opts_default();
        lo.max_iter = 300;
        if (lf_logreg_fit(&m, Xtr, y, ntr, d, 2, &lo)) continue;
        if (!lf_logreg_predict(m, Xte, nte, proba, NULL)) {
            for (int64_t i = 0; i < nte; i++) {
                score[i] = proba[i * 2 + 1];
                y[i] = yte[i] == c;
            }
            double a = lf_auroc_binary(y, score, nte);
            if (isfinite(a)) {
                json_object_set_new(obj, lf_pairs_class_name(P, set, c), json_real(a));
                sum += a;
                cnt++;
            }
        }
        lf_logreg_free(m);
    }
    free(y);
    free(proba);
    free(score);
    return cnt ? sum / cnt : NAN;
}

int cmd_evaluate_retrieval(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *outdir = NULL;
    int64_t seed = 0, split_seed = -1;
    cli_arg args[] = {
        {"model", ARG_STR, &model, "RUN folder or its model.safetensors (from pretrain --method clip|cloob)", true, false},
        {"data", ARG_STR, &data, "pairs manifest (the test split is evaluated)", true, false},
        {"out", ARG_STR, &outdir, "folder for report.json and report.md", true, false},
        {"seed", ARG_INT, &seed, "seed of the 100-candidate draws and the random baselines", false, false},
        {"split-seed", ARG_INT, &split_seed, "split seed when the manifest has no split column (default: the model's training seed)", false, false},
    };
    int na = (int)(sizeof args / sizeof args[0]);
    int r = cli_parse("evaluate-retrieval", argc, argv, args, na);
    if (r) {
        if (r == 2) cli_usage("evaluate-retrieval", "retrieval, zero-shot and probe evaluation of a CLOOME model", args, na);
        return r == 2 ? 0 : 2;
    }
    if (cli_make_dirs("evaluate-retrieval", outdir)) return 1;
    char mpath[4096];
    model_path_of(model, mpath, sizeof mpath);
    pairs_model m;
    if (pm_load(mpath, &m)) return cli_fail("evaluate-retrieval");
    char method[32] = "?";
    {
        lf_safetensors *f;
        if (!lf_st_open(&f, mpath)) {
            const char *mt = lf_st_meta(f, "method"), *cj = lf_st_meta(f, "config");
            if (mt) snprintf(method, sizeof method, "%s", mt);
            json_t *c = cj ? json_loads(cj, 0, NULL) : NULL;
            if (split_seed < 0 && c && json_is_integer(json_object_get(c, "seed")))
                split_seed = json_integer_value(json_object_get(c, "seed"));
            json_decref(c);
            lf_st_close(f);
        }
    }
    if (split_seed < 0) split_seed = 0;
    lf_pairs *P = NULL;
    int rc = 1;
    float *fp = NULL, *zs = NULL, *zm = NULL, *tzs = NULL, *tzm = NULL, *cand = NULL;
    int64_t *te = NULL, *tr = NULL;
    json_t *rep = NULL;
    if (lf_pairs_open(&P, data, (uint64_t)split_seed)) goto fail;
    if ((strcmp(m.c.modality, "features") == 0) != (lf_pairs_has_features(P) != 0) ||
        (lf_pairs_has_features(P) && lf_pairs_feature_dim(P) != m.c.feature_dim)) {
        lf_error(LF_ERR_ARG, "%s does not fit the model (%s, %lld features)", data, m.c.modality, (long long)m.c.feature_dim);
        goto fail;
    }
    int64_t n = lf_pairs_count(P), E = m.c.embed_dim, nb = m.c.fp_bits;
    int64_t nte = lf_pairs_indices(P, LF_SPLIT_TEST, NULL), ntr = lf_pairs_indices(P, LF_SPLIT_TRAIN, NULL);
    if (nte < 2) {
        lf_error(LF_ERR_ARG, "%s: %lld test pair(s); need at least 2 (a 'split' column with test rows)", data, (long long)nte);
        goto fail;
    }
    te = malloc((size_t)nte * sizeof(int64_t));
    tr = malloc((size_t)(ntr + 1) * sizeof(int64_t));
    fp = malloc((size_t)(n * nb) * sizeof(float));
    zs = malloc((size_t)(nte * E) * sizeof(float));
    zm = malloc((size_t)(nte * E) * sizeof(float));
    tzs = malloc((size_t)((ntr + 1) * E) * sizeof(float));
    tzm = malloc((size_t)((ntr + 1) * E) * sizeof(float));
    cand = malloc((size_t)(nte + ntr + 1) * sizeof(float) * 2);
    if (!te || !tr || !fp || !zs || !zm || !tzs || !tzm || !cand) goto fail;
    lf_pairs_indices(P, LF_SPLIT_TEST, te);
    lf_pairs_indices(P, LF_SPLIT_TRAIN, tr);
    int64_t fallbacks = 0;
    if (lf_pairs_fingerprints(P, m.c.fp_radius, (int)nb, m.c.fp_chirality, fp, &fallbacks)) goto fail;
    if (pm_embed_rows(&m, P, fp, te, nte, zs, zm)) goto fail;
    if (ntr && pm_embed_rows(&m, P, fp, tr, ntr, tzs, tzm)) goto fail;

    /* distinct test molecules: the first test row of each compound */
    int64_t *mol_row = malloc((size_t)nte * sizeof(int64_t)), n_mol = 0;
    int *mol_moa = malloc((size_t)nte * sizeof(int));
    double *sc = malloc((size_t)(nte + ntr + 1) * sizeof(double));
    if (!mol_row || !mol_moa || !sc) goto fail;
    for (int64_t i = 0; i < nte; i++) {
        int64_t c = lf_pairs_compound(P, te[i]), k;
        for (k = 0; k < n_mol; k++)
            if (lf_pairs_compound(P, te[mol_row[k]]) == c) break;
        if (k == n_mol) {
            mol_moa[n_mol] = lf_pairs_class(P, LF_PAIRS_MOA, te[i]);
            mol_row[n_mol++] = i;
        }
    }
    rstats s2m = {0}, m2s = {0}, s2m100 = {0}, m2s100 = {0};
    lf_rng rng = lf_rng_make((uint64_t)seed, 0x100c);
    int64_t *pool = malloc((size_t)(nte + 1) * sizeof(int64_t));
    if (!pool) goto fail;
    for (int64_t i = 0; i < nte; i++) {
        int64_t ci = lf_pairs_compound(P, te[i]);
        /* sample -> molecule over the distinct test molecules */
        double t = 0;
        int64_t no = 0;
        for (int64_t k = 0; k < n_mol; k++) {
            double v = dot(zs + i * E, zm + mol_row[k] * E, E);
            if (lf_pairs_compound(P, te[mol_row[k]]) == ci) t = v;
            else sc[no++] = v;
        }
        rs_add(&s2m, rank_of(t, sc, no), (double)no + 1);
        int64_t take = no < 99 ? no : 99; /* 100-candidate protocol */
        for (int64_t k = 0; k < no; k++) pool[k] = k;
        lf_rng_shuffle(&rng, pool, no);
        for (int64_t k = 0; k < take; k++) cand[k] = (float)sc[pool[k]];
        for (int64_t k = 0; k < take; k++) sc[k] = cand[k];
        rs_add(&s2m100, rank_of(t, sc, take), (double)take + 1);
        /* molecule -> sample, filtered: other samples of the same compound removed */
        t = dot(zm + i * E, zs + i * E, E);
        no = 0;
        for (int64_t j = 0; j < nte; j++)
            if (lf_pairs_compound(P, te[j]) != ci) sc[no++] = dot(zm + i * E, zs + j * E, E);
        rs_add(&m2s, rank_of(t, sc, no), (double)no + 1);
        take = no < 99 ? no : 99;
        for (int64_t k = 0; k < no; k++) pool[k] = k;
        lf_rng_shuffle(&rng, pool, no);
        for (int64_t k = 0; k < take; k++) cand[k] = (float)sc[pool[k]];
        for (int64_t k = 0; k < take; k++) sc[k] = cand[k];
        rs_add(&m2s100, rank_of(t, sc, take), (double)take + 1);
    }
    free(pool);

    /* MoA: zero-shot over held-out molecules, and nearest neighbours in the training split */
    int n_moa = lf_pairs_num_classes(P, LF_PAIRS_MOA);
    int *te_moa = malloc((size_t)nte * sizeof(int)), *tr_moa = malloc((size_t)(ntr + 1) * sizeof(int));
    float *mol_z = malloc((size_t)(n_mol * E) * sizeof(float));
    if (!te_moa || !tr_moa || !mol_z) goto fail;
    for (int64_t i = 0; i < nte; i++) te_moa[i] = lf_pairs_class(P, LF_PAIRS_MOA, te[i]);
    for (int64_t i = 0; i < ntr; i++) tr_moa[i] = lf_pairs_class(P, LF_PAIRS_MOA, tr[i]);
    for (int64_t k = 0; k < n_mol; k++) memcpy(mol_z + k * E, zm + mol_row[k] * E, (size_t)E * sizeof(float));
    rep = json_object();
    json_object_set_new(rep, "model", json_string(mpath));
    json_object_set_new(rep, "method", json_string(method));
    json_object_set_new(rep, "data", json_string(data));
    json_object_set_new(rep, "modality", json_string(m.c.modality));
    json_object_set_new(rep, "test_pairs", json_integer(nte));
    json_object_set_new(rep, "test_compounds", json_integer(n_mol));
    json_object_set_new(rep, "train_pairs", json_integer(ntr));
    json_object_set_new(rep, "seed", json_integer(seed));
    json_object_set_new(rep, "fingerprint_chirality_fallbacks", json_integer(fallbacks));
    json_t *ret = json_object();
    json_object_set_new(ret, "sample_to_molecule", rs_json(&s2m));
    json_object_set_new(ret, "molecule_to_sample", rs_json(&m2s));
    json_object_set_new(rep, "retrieval_whole_test_set", ret);
    ret = json_object();
    json_object_set_new(ret, "sample_to_molecule", rs_json(&s2m100));
    json_object_set_new(ret, "molecule_to_sample", rs_json(&m2s100));
    json_object_set_new(rep, "retrieval_100_candidates", ret);
    json_t *zsj = json_object();
    json_object_set_new(zsj, "molecule_identification",
                        json_pack("{s:f, s:f, s:i, s:{s:f, s:f}}", "top1", s2m.r1 / s2m.n_queries, "top5",
                                  s2m.r5 / s2m.n_queries, "candidates", (json_int_t)n_mol, "random", "top1",
                                  s2m.rr1 / s2m.n_queries, "top5", s2m.rr5 / s2m.n_queries));
    moa_eval mz = {0}, mtp = {0}, mte = {0}, mtm = {0};
    int have_moa = n_moa > 0;
    if (have_moa) {
        mz = moa_nn(zs, te_moa, nte, mol_z, mol_moa, n_mol, E, n_moa, (uint64_t)seed);
        json_object_set_new(zsj, "moa_from_heldout_molecules", moa_json(&mz, "nearest held-out molecule"));
        if (ntr) {
            mte = moa_nn(zs, te_moa, nte, tzs, tr_moa, ntr, E, n_moa, (uint64_t)seed);
            mtm = moa_nn(zs, te_moa, nte, tzm, tr_moa, ntr, E, n_moa, (uint64_t)seed);
            json_object_set_new(zsj, "moa_nn_train_sample_embeddings", moa_json(&mte, "nearest training sample embedding"));
            json_object_set_new(zsj, "moa_nn_train_molecules", moa_json(&mtm, "nearest training molecule embedding"));
        }
    }
    json_object_set_new(rep, "zero_shot", zsj);

    /* baselines and probes on the input profiles (feature manifests) */
    float *fte = NULL, *ftr = NULL;
    int64_t F = m.c.feature_dim;
    if (lf_pairs_has_features(P) && ntr) {
        fte = malloc((size_t)(nte * F) * sizeof(float));
        ftr = malloc((size_t)(ntr * F) * sizeof(float));
        if (!fte || !ftr) goto fail;
        /* standardised as the model's input, then L2-normalised (cosine) */
        for (int pass = 0; pass < 2; pass++) {
            int64_t nn = pass ? ntr : nte, *ix = pass ? tr : te;
            float *dst = pass ? ftr : fte;
            for (int64_t i = 0; i < nn; i++) {
                const float *f = lf_pairs_features(P, ix[i]);
                double ss = 0;
                for (int64_t k = 0; k < F; k++) {
                    double v = ((double)f[k] - m.feat_mean->data[k]) / m.feat_std->data[k];
                    dst[i * F + k] = (float)v;
                    ss += v * v;
                }
                double inv = 1 / fmax(sqrt(ss), 1e-12);
                for (int64_t k = 0; k < F; k++) dst[i * F + k] = (float)(dst[i * F + k] * inv);
            }
        }
        if (have_moa) {
            mtp = moa_nn(fte, te_moa, nte, ftr, tr_moa, ntr, F, n_moa, (uint64_t)seed);
            json_object_set_new(rep, "baseline_moa_nn_train_profiles", moa_json(&mtp, "nearest training profile (no contrastive training)"));
        }
    }
    json_t *probe = json_object();
    double probe_mean[2][2] = {{NAN, NAN}, {NAN, NAN}};
    for (int set = 0; set < 2 && ntr; set++) {
        if (!lf_pairs_num_classes(P, set)) continue;
        int *ytr = malloc((size_t)ntr * sizeof(int)), *yte = malloc((size_t)nte * sizeof(int));
        if (!ytr || !yte) { free(ytr); free(yte); goto fail; }
        for (int64_t i = 0; i < ntr; i++) ytr[i] = lf_pairs_class(P, set, tr[i]);
        for (int64_t i = 0; i < nte; i++) yte[i] = lf_pairs_class(P, set, te[i]);
        json_t *o1 = json_object(), *o2 = json_object();
        probe_mean[set][0] = probe_auroc(tzs, ytr, ntr, zs, yte, nte, E, set, P, o1);
        json_t *entry = json_pack("{s:f, s:o}", "mean_auroc", probe_mean[set][0], "per_class", o1);
        if (fte) {
            probe_mean[set][1] = probe_auroc(ftr, ytr, ntr, fte, yte, nte, F, set, P, o2);
            json_object_set_new(entry, "baseline_profiles", json_pack("{s:f, s:o}", "mean_auroc", probe_mean[set][1], "per_class", o2));
        } else {
            json_decref(o2);
        }
        json_object_set_new(probe, set == LF_PAIRS_MOA ? "moa" : "label", entry);
        free(ytr);
        free(yte);
    }
    json_object_set_new(rep, "linear_probe_auroc", probe);
    free(fte);
    free(ftr);

    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", outdir);
    if (json_dump_file(rep, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
        lf_error(LF_ERR_IO, "cannot write %s", path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/report.md", outdir);
    FILE *md = fopen(path, "w");
    if (!md) {
        lf_error(LF_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    fprintf(md, "# Retrieval evaluation (%s)\n\nmodel `%s`, data `%s`: %lld test pairs of %lld held-out compounds "
            "(%lld training pairs). Ranks are filtered by compound (see `labelfree evaluate-retrieval --help`).\n\n",
            method, mpath, data, (long long)nte, (long long)n_mol, (long long)ntr);
    fprintf(md, "| protocol | direction | candidates | R@1 | R@5 | R@10 | mean rank | random R@1 | random R@5 | random R@10 | random mean rank |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|\n");
    const rstats *all[4] = {&s2m, &m2s, &s2m100, &m2s100};
    for (int k = 0; k < 4; k++) {
        const rstats *s = all[k];
        double q = s->n_queries;
        fprintf(md, "| %s | %s | %.1f | %.3f | %.3f | %.3f | %.2f | %.3f | %.3f | %.3f | %.2f |\n",
                k < 2 ? "whole test set" : "100 candidates", k % 2 ? "molecule→sample" : "sample→molecule",
                s->mean_candidates / q, s->r1 / q, s->r5 / q, s->r10 / q, s->mean_rank / q, s->rr1 / q, s->rr5 / q,
                s->rr10 / q, s->rmean_rank / q);
    }
    fprintf(md, "\n| zero-shot / nearest neighbour | top-1 | top-5 | random top-1 | random top-5 |\n|---|---|---|---|---|\n");
    fprintf(md, "| molecule identification (%lld held-out molecules) | %.3f | %.3f | %.3f | %.3f |\n", (long long)n_mol,
            s2m.r1 / s2m.n_queries, s2m.r5 / s2m.n_queries, s2m.rr1 / s2m.n_queries, s2m.rr5 / s2m.n_queries);
    if (have_moa) {
        const moa_eval *mv[4] = {&mz, &mte, &mtm, &mtp};
        const char *names[4] = {"MoA, nearest held-out molecule (zero-shot)", "MoA, nearest training sample embedding",
                                "MoA, nearest training molecule embedding", "MoA, nearest training profile (baseline, no training)"};
        for (int k = 0; k < 4; k++)
            if (mv[k]->n > 0)
                fprintf(md, "| %s | %.3f | %.3f | %.3f | %.3f |\n", names[k], mv[k]->top1, mv[k]->top5, mv[k]->rtop1, mv[k]->rtop5);
    }
    fprintf(md, "\n| linear probe (one-vs-rest logistic regression per class), mean AUROC on test | embeddings | input profiles |\n|---|---|---|\n");
    for (int set = 0; set < 2; set++)
        if (lf_pairs_num_classes(P, set))
            fprintf(md, "| %s | %.3f | %.3f |\n", set ? "label" : "moa", probe_mean[set][0], probe_mean[set][1]);
    fclose(md);
    printf("sample->molecule R@1 %.3f (random %.3f), molecule->sample R@1 %.3f (random %.3f); wrote %s/report.json, report.md\n",
           s2m.r1 / s2m.n_queries, s2m.rr1 / s2m.n_queries, m2s.r1 / m2s.n_queries, m2s.rr1 / m2s.n_queries, outdir);
    free(mol_row);
    free(mol_moa);
    free(sc);
    free(te_moa);
    free(tr_moa);
    free(mol_z);
    rc = 0;
    goto done;
fail:
    cli_fail("evaluate-retrieval");
done:
    json_decref(rep);
    free(fp);
    free(zs);
    free(zm);
    free(tzs);
    free(tzm);
    free(cand);
    free(te);
    free(tr);
    lf_pairs_free(P);
    pm_free(&m);
    return rc;
}
