/* labelfree embed --model RUN --data DATA --out emb.npy: one row of features per item of
 * DATA, in DATA's order, plus emb.ids.csv naming each row (index, path, label, split, site). */
#include "cli.h"
#include "model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "RUN" or "RUN/model.safetensors" */
void model_path_of(const char *arg, char *out, size_t size)
{
    size_t l = strlen(arg);
    if (l > 12 && !strcmp(arg + l - 12, ".safetensors")) snprintf(out, size, "%s", arg);
    else snprintf(out, size, "%s/model.safetensors", arg);
}

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int cmd_embed(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *out = NULL;
    int64_t batch = 256, threads = 0, seed = 0;
    cli_arg args[] = {
        {"model", ARG_STR, &model, "run folder or model.safetensors", true, false},
        {"data", ARG_STR, &data, "image folder or CSV manifest", true, false},
        {"out", ARG_STR, &out, "embeddings .npy to write (float32, rows = items)", true, false},
        {"batch-size", ARG_INT, &batch, "images per forward pass", false, false},
        {"threads", ARG_INT, &threads, "compute threads (0: all cores)", false, false},
        {"seed", ARG_INT, &seed, "seed of the split drawn when DATA has no split column", false, false},
    };
    int n = (int)(sizeof args / sizeof args[0]);
    int r = cli_parse("embed", argc, argv, args, n);
    if (r) {
        if (r == 2) cli_usage("embed", "write the encoder's features of every item", args, n);
        return r == 2 ? 0 : 2;
    }
    if (batch < 1) {
        fprintf(stderr, "labelfree embed: --batch-size must be >= 1\n");
        return 2;
    }
    if (threads > 0) lf_set_threads((int)threads);
    char mp[4096];
    model_path_of(model, mp, sizeof mp);
    loaded_model m;
    if (model_load(mp, &m)) return cli_fail("embed");
    lf_dataset *ds;
    lf_dataset_options o = lf_dataset_options_default();
    o.seed = (uint64_t)seed;
    if (lf_dataset_open(&ds, data, &o)) {
        model_free(&m);
        return cli_fail("embed");
    }
    int64_t cnt = lf_dataset_count(ds), dim = lf_encoder_feature_dim(m.enc);
    int64_t *idx = malloc((size_t)cnt * sizeof *idx);
    float *emb = malloc((size_t)(cnt * dim) * sizeof *emb);
    lf_real *embr = malloc((size_t)(cnt * dim) * sizeof *embr);
    int rc = 1;
    if (!idx || !emb || !embr) {
        fprintf(stderr, "labelfree embed: out of memory for %lld x %lld embeddings\n",
                (long long)cnt, (long long)dim);
        goto done;
    }
    for (int64_t i = 0; i < cnt; i++) idx[i] = i;
    if (model_infer(&m, ds, idx, cnt, 0, (int)batch, emb, &dim)) {
        cli_fail("embed");
        goto done;
    }
    for (int64_t i = 0; i < cnt * dim; i++) embr[i] = (lf_real)emb[i];
    if (lf_npy_write_f32(out, embr, cnt, dim)) {
        cli_fail("embed");
        goto done;
    }
    char ids[4096];
    size_t ol = strlen(out);
    if (ol > 4 && !strcmp(out + ol - 4, ".npy")) snprintf(ids, sizeof ids, "%.*s.ids.csv", (int)(ol - 4), out);
    else snprintf(ids, sizeof ids, "%s.ids.csv", out);
    FILE *f = fopen(ids, "w");
    if (!f) {
        fprintf(stderr, "labelfree embed: cannot write %s\n", ids);
        goto done;
    }
    static const char *split_names[] = {"train", "val", "test"};
    fprintf(f, "row,path,label,split,site\n");
    for (int64_t i = 0; i < cnt; i++) {
        int lab = lf_dataset_label(ds, i);
        lf_split sp = lf_dataset_split(ds, i);
        fprintf(f, "%lld,", (long long)i);
        csv_field(f, lf_dataset_path(ds, i));
        fputc(',', f);
        csv_field(f, lab >= 0 ? lf_dataset_class_name(ds, lab) : "");
        fprintf(f, ",%s,", sp >= 0 && sp <= 2 ? split_names[sp] : "");
        csv_field(f, lf_dataset_site(ds, i));
        fputc('\n', f);
    }
    if (fclose(f)) {
        fprintf(stderr, "labelfree embed: cannot write %s\n", ids);
        goto done;
    }
    fprintf(stderr, "wrote %s (%lld x %lld) and %s\n", out, (long long)cnt, (long long)dim, ids);
    rc = 0;
done:
    free(idx);
    free(emb);
    free(embr);
    lf_dataset_free(ds);
    model_free(&m);
    return rc;
}
