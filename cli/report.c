#include "report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void cell(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, " %.3f |", v);
    else fprintf(f, " – |");
}

static void mean_sd(FILE *f, json_t *row, const char *k)
{
    json_t *m = json_object_get(row, k);
    double mu = num(m, "mean"), sd = num(m, "sd");
    if (!isfinite(mu)) fprintf(f, " – |");
    else if (isfinite(sd) && sd > 0) fprintf(f, " %.3f ± %.3f |", mu, sd);
    else fprintf(f, " %.3f |", mu);
}

int report_markdown(const char *dir, json_t *rep)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "labelfree evaluate: cannot write %s\n", path);
        return 1;
    }
    json_t *cfg = json_object_get(rep, "pretrain_config"), *pre = json_object_get(rep, "pretrain");
    fprintf(f, "# labelfree evaluation: %s\n\n", json_string_value(json_object_get(rep, "data")));
    fprintf(f, "%lld items, %lld classes; %lld training items (%lld of them set aside for choosing the "
               "probe's regularisation), %lld test items.\n\n",
            (long long)json_integer_value(json_object_get(rep, "items")),
            (long long)json_integer_value(json_object_get(rep, "classes")),
            (long long)json_integer_value(json_object_get(rep, "train_items")),
            (long long)json_integer_value(json_object_get(rep, "validation_carved_from_train")),
            (long long)json_integer_value(json_object_get(rep, "test_items")));
    const char *method = json_string_value(json_object_get(cfg, "method"));
    int is_mae = method && !strcmp(method, "mae");
    const char *M = is_mae ? "MAE" : "SimCLR";
    char arch_s[160], loss_s[64];
    const char *arch = json_string_value(json_object_get(cfg, "arch"));
    char mr[48] = "";
    if (is_mae) snprintf(mr, sizeof mr, ", mask ratio %.2f", num(cfg, "mask_ratio"));
    if (arch && !strcmp(arch, "vit"))
        snprintf(arch_s, sizeof arch_s, "vit (patch %lld, %lld blocks, %lld heads%s",
                 (long long)json_integer_value(json_object_get(cfg, "patch")),
                 (long long)json_integer_value(json_object_get(cfg, "depth")),
                 (long long)json_integer_value(json_object_get(cfg, "heads")), mr);
    else
        snprintf(arch_s, sizeof arch_s, "%s (%s stem", json_string_value(json_object_get(cfg, "arch")),
                 json_string_value(json_object_get(cfg, "stem")));
    if (is_mae) snprintf(loss_s, sizeof loss_s, "masked-patch loss");
    else snprintf(loss_s, sizeof loss_s, "temperature %.2f", num(cfg, "temperature"));
    fprintf(f, "Pretraining: %s, %s, width %lld), %lld×%lld input, %lld epochs, batch %lld, "
               "%s lr %.3g, %s, seed %lld: %lld steps in %.0f s (%.1f images/s), final "
               "loss %.3f.\n\n", M, arch_s,
            (long long)json_integer_value(json_object_get(cfg, "width")),
            (long long)json_integer_value(json_object_get(cfg, "image_size")),
            (long long)json_integer_value(json_object_get(cfg, "image_size")),
            (long long)json_integer_value(json_object_get(cfg, "epochs")),
            (long long)json_integer_value(json_object_get(cfg, "batch_size")),
            json_string_value(json_object_get(cfg, "optimizer")), num(cfg, "lr"), loss_s,
            (long long)json_integer_value(json_object_get(cfg, "seed")),
            (long long)json_integer_value(json_object_get(pre, "steps")), num(pre, "seconds"),
            num(pre, "images_per_s"), num(pre, "final_loss"));

    fprintf(f, "## Label efficiency (test split)\n\n");
    fprintf(f, "Mean ± sd over random stratified label subsets; the supervised baseline is one run per "
               "fraction on the first of those subsets.\n\n");
    fprintf(f, "| labels | method | accuracy | balanced accuracy | macro-F1 | macro AUROC |\n|---|---|---|---|---|---|\n");
    json_t *lin = json_object_get(rep, "probe_linear"), *knn = json_object_get(rep, "probe_knn");
    json_t *sup = json_object_get(rep, "supervised");
    size_t nf = json_array_size(lin);
    double sup100 = NAN;
    for (size_t i = 0; i < json_array_size(sup); i++)
        if (num(json_array_get(sup, i), "fraction") >= 1) sup100 = num(json_array_get(sup, i), "balanced_accuracy");
    for (size_t i = 0; i < nf; i++) {
        json_t *rl = json_array_get(lin, i), *rk = json_array_get(knn, i);
        double fr = num(rl, "fraction");
        const char *keys[4] = {"accuracy", "balanced_accuracy", "macro_f1", "macro_auroc"};
        fprintf(f, "| %g %% (%.0f) | %s + linear |", fr * 100, num(rl, "labels"), M);
        for (int k = 0; k < 4; k++) mean_sd(f, rl, keys[k]);
        fprintf(f, "\n| | %s + k-NN |", M);
        for (int k = 0; k < 4; k++) mean_sd(f, rk, keys[k]);
        fprintf(f, "\n");
        for (size_t j = 0; j < json_array_size(sup); j++) {
            json_t *rs = json_array_get(sup, j);
            if (fabs(num(rs, "fraction") - fr) > 1e-12) continue;
            fprintf(f, "| | supervised |");
            for (int k = 0; k < 4; k++) cell(f, num(rs, keys[k]));
            fprintf(f, "\n");
        }
    }
    if (isfinite(sup100)) {
        fprintf(f, "\nShare of the supervised 100 %%-label balanced accuracy (%.3f) reached by the linear probe:", sup100);
        for (size_t i = 0; i < nf; i++) {
            json_t *rl = json_array_get(lin, i);
            fprintf(f, " %g %% labels → %.0f %%;", num(rl, "fraction") * 100,
                    100 * num(json_object_get(rl, "balanced_accuracy"), "mean") / sup100);
        }
        fprintf(f, "\n");
    }
    json_t *cs = json_object_get(rep, "cross_site");
    if (json_array_size(cs)) {
        fprintf(f, "\n## Cross-site (balanced accuracy on the held-out site's test items)\n\n");
        fprintf(f, "\"all sites\": trained on every site's training items; \"without\": the held-out site's "
                   "items were not used for training the classifier (the self-supervised encoder saw its "
                   "unlabelled training images).\n\n");
        fprintf(f, "| held-out site | test items | probe, all sites | probe, without | drop | supervised, all sites | supervised, without | drop |\n|---|---|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < json_array_size(cs); i++) {
            json_t *o = json_array_get(cs, i);
            double a = num(json_object_get(o, "probe_all_sites"), "balanced_accuracy");
            double b = num(json_object_get(o, "probe_without_site"), "balanced_accuracy");
            double c = num(json_object_get(o, "supervised_all_sites"), "balanced_accuracy");
            double d = num(json_object_get(o, "supervised_without_site"), "balanced_accuracy");
            fprintf(f, "| %s | %lld |", json_string_value(json_object_get(o, "held_out_site")),
                    (long long)json_integer_value(json_object_get(o, "test_items")));
            cell(f, a);
            cell(f, b);
            cell(f, a - b);
            cell(f, c);
            cell(f, d);
            cell(f, c - d);
            fprintf(f, "\n");
        }
    }
    fprintf(f, "\n## Plots\n\n![label efficiency](label_efficiency.svg)\n![loss](loss.svg)\n"
               "![embeddings by label](embeddings_by_label.svg)\n");
    if (json_array_size(cs)) fprintf(f, "![embeddings by site](embeddings_by_site.svg)\n");
    json_t *proto = json_object_get(rep, "protocol");
    json_t *kn = json_object_get(proto, "knn");
    fprintf(f, "\n## Protocol\n\n- linear: %s\n- k-NN: k = %lld, temperature %.3g, cosine similarity, "
               "exp(sim/T) weighted vote\n- %lld repeats per fraction below 1, seed %lld\n- supervised "
               "baseline: same encoder from scratch, SGD, crops and flips, at least %lld steps\n\n"
               "Total time %.0f s.\n",
            json_string_value(json_object_get(proto, "linear")),
            (long long)json_integer_value(json_object_get(kn, "k")), num(kn, "temperature"),
            (long long)json_integer_value(json_object_get(proto, "repeats")),
            (long long)json_integer_value(json_object_get(proto, "seed")),
            (long long)json_integer_value(json_object_get(proto, "supervised_min_steps")),
            num(rep, "seconds"));
    if (fclose(f)) {
        fprintf(stderr, "labelfree evaluate: cannot write %s\n", path);
        return 1;
    }
    return 0;
}
