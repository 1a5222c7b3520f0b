#include "train_loop.h"

#include "model_io.h"
#include "progress.h"
#include "protocol.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(const char *cmd) { return cli_fail(cmd); }

static lf_augment_config make_augment(const run_config *c, int channels)
{
    int s = (int)c->image_size;
    lf_augment_config a = !strcmp(c->augment, "none") ? lf_augment_none(s, s)
                        : !strcmp(c->augment, "microscopy") ? lf_augment_microscopy(s, s)
                        : lf_augment_simclr(s, s);
    if (!strcmp(c->augment, "crop")) {
        /* MAE's pretraining augmentation: RandomResizedCrop(scale (0.2, 1)) and flips */
        a.scale_min = 0.2;
        a.p_jitter = 0;
        a.p_gray = 0;
        a.p_blur = 0;
    }
    if (!strcmp(c->method, "supervised") && strcmp(c->augment, "none")) {
        /* the baseline gets the usual supervised augmentation: crops and flips only */
        a.scale_min = 0.25;
        a.p_jitter = 0;
        a.p_gray = 0;
        a.p_blur = 0;
    }
    (void)channels;
    return a;
}

static double default_lr(const run_config *c)
{
    if (c->lr > 0) return c->lr;
    /* MAE: base lr 1.5e-4 scaled by batch / 256 (He et al. 2022, A.1) */
    if (!strcmp(c->method, "mae") && !strcmp(c->optimizer, "adamw"))
        return 1.5e-4 * (double)c->batch_size / 256.0;
    /* SimCLR (Chen et al. 2020, B.1): square-root scaling 0.075 * sqrt(B) suits small batches
     * with LARS; AdamW 1e-3; SGD the linear rule 0.1 * B / 256 (Goyal et al. 2017). */
    if (!strcmp(c->optimizer, "lars")) return 0.075 * sqrt((double)c->batch_size);
    if (!strcmp(c->optimizer, "adamw")) return 1e-3;
    return 0.1 * (double)c->batch_size / 256.0;
}

void drop_metrics_from(const char *path, int64_t step)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *keep = NULL, line[1024];
    size_t len = 0, cap = 0;
    while (fgets(line, sizeof line, f)) {
        long long s;
        if (sscanf(line, "{\"step\": %lld", &s) == 1 && s >= step) continue;
        size_t l = strlen(line);
        if (len + l + 1 > cap) {
            cap = (len + l + 1) * 2;
            char *k = realloc(keep, cap);
            if (!k) {
                free(keep);
                fclose(f);
                return;
            }
            keep = k;
        }
        memcpy(keep + len, line, l);
        len += l;
    }
    fclose(f);
    f = fopen(path, "w");
    if (f) {
        if (len) fwrite(keep, 1, len, f);
        fclose(f);
    }
    free(keep);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Supervised runs on the whole training split end with the test split's metrics, printed and
 * saved as RUN/test_metrics.json (nothing when the data has no labelled test items). */
static int report_test_split(const char *cmd, const run_config *c, const lf_dataset *ds,
                             const char *model_path)
{
    int64_t n = lf_dataset_count(ds), nt = 0, K = lf_dataset_num_classes(ds);
    int64_t *rows = malloc((size_t)(n + 1) * sizeof *rows), *y = malloc((size_t)(n + 1) * sizeof *y);
    for (int64_t i = 0; i < n; i++)
        if (lf_dataset_split(ds, i) == LF_SPLIT_TEST && lf_dataset_label(ds, i) >= 0) {
            y[nt] = lf_dataset_label(ds, i);
            rows[nt++] = i;
        }
    int rc = 0;
    if (nt > 0) {
        loaded_model m;
        float *lg = malloc((size_t)(nt * K) * sizeof *lg);
        int64_t dim;
        if (model_load(model_path, &m) || model_infer(&m, ds, rows, nt, 1, 256, lg, &dim)) {
            rc = cli_fail(cmd);
        } else {
            double met[4];
            protocol_metrics(lg, 1, y, nt, K, met);
            char p[4200];
            snprintf(p, sizeof p, "%s/test_metrics.json", c->out);
            FILE *f = fopen(p, "w");
            if (f) {
                fprintf(f, "{\"test_items\": %lld, \"accuracy\": %.6f, \"balanced_accuracy\": %.6f, "
                           "\"macro_f1\": %.6f, \"macro_auroc\": %.6f}\n",
                        (long long)nt, met[0], met[1], met[2], met[3]);
                fclose(f);
            }
            printf("test split (%lld items): accuracy %.4f, balanced accuracy %.4f, macro-F1 %.4f, "
                   "macro AUROC %.4f\n", (long long)nt, met[0], met[1], met[2], met[3]);
        }
        if (m.P) model_free(&m);
        free(lg);
    }
    free(rows);
    free(y);
    return rc;
}

int train_run(const char *cmd, run_config *c, const lf_dataset *ds, train_summary *sum)
{
    bool ssl = strcmp(c->method, "supervised") != 0;
    bool mae_run = !strcmp(c->method, "mae"), simclr = !strcmp(c->method, "simclr");
    if (c->threads > 0) lf_set_threads((int)c->threads);
    if (cli_make_dirs(cmd, c->out)) return 1;
    /* data: normalisation statistics of the training split; also checks every image */
    lf_norm_stats st;
    if (lf_dataset_channel_stats(ds, LF_SPLIT_TRAIN, &st)) return fail(cmd);
    if (c->channels == 0) c->channels = st.channels;
    if (c->channels != st.channels) {
        fprintf(stderr, "labelfree %s: --channels %lld but the images of %s have %d\n", cmd,
                (long long)c->channels, c->data, st.channels);
        return 1;
    }
    int n_classes = lf_dataset_num_classes(ds);
    if (!ssl && n_classes < 2) {
        fprintf(stderr, "labelfree %s: supervised training needs labels of at least 2 classes in %s\n",
                cmd, c->data);
        return 1;
    }
    c->lr = default_lr(c);

    /* model */
    lf_params *P = NULL;
    lf_encoder *enc = NULL; /* owned by mae when there is one */
    lf_mae *mae = NULL;
    lf_mlp *head = NULL;
    lf_optim *opt = NULL;
    lf_loader *L = NULL;
    lf_graph *g = NULL;
    char *cfg_json = NULL;
    FILE *metrics = NULL;
    int rc = 1;
    lf_encoder_config ec = lf_encoder_config_default(c->arch);
    snprintf(ec.stem, sizeof ec.stem, "%s", c->stem);
    ec.in_channels = (int)c->channels;
    ec.width = (int)c->width;
    ec.num_classes = ssl ? 0 : n_classes;
    if (!strcmp(c->arch, "vit")) {
        ec.image_size = (int)c->image_size;
        ec.patch = (int)c->patch;
        ec.depth = (int)c->depth;
        ec.heads = (int)c->heads;
    }
    if (lf_params_init(&P)) goto out;
    if (mae_run) {
        lf_mae_config mc = lf_mae_config_default();
        snprintf(ec.pos_embed, sizeof ec.pos_embed, "sincos");
        mc.encoder = ec;
        mc.decoder_width = (int)c->decoder_width;
        mc.decoder_depth = (int)c->decoder_depth;
        mc.decoder_heads = (int)c->decoder_heads;
        mc.mask_ratio = c->mask_ratio;
        mc.norm_pix_loss = (int)c->norm_pix_loss;
        if (lf_mae_init(P, &mc, NULL, &mae)) goto out;
        enc = lf_mae_encoder(mae);
    } else if (lf_encoder_init(P, &ec, NULL, &enc)) {
        goto out;
    }
    if (simclr) {
        int f = (int)lf_encoder_feature_dim(enc);
        int dims[3] = {f, c->proj_hidden ? (int)c->proj_hidden : f, (int)c->proj_dim};
        lf_mlp_config mc = lf_mlp_config_make(2, dims, 1);
        if (lf_mlp_init(P, &mc, "projection_head.", &head)) goto out;
    }
    if (lf_params_finalize(P) ||
        (mae ? lf_mae_reset_parameters(mae, (uint64_t)c->seed, 1)
             : lf_encoder_reset_parameters(enc, (uint64_t)c->seed, 1)) ||
        (head && lf_mlp_reset_parameters(head, (uint64_t)c->seed, 2)))
        goto out;

    /* optimizer */
    lf_optim_kind kind = !strcmp(c->optimizer, "lars") ? LF_OPTIM_LARS
                       : !strcmp(c->optimizer, "adamw") ? LF_OPTIM_ADAMW : LF_OPTIM_SGD;
    lf_optim_config oc = lf_optim_defaults(kind);
    oc.lr = c->lr;
    oc.weight_decay = c->weight_decay;
    if (kind != LF_OPTIM_ADAMW) oc.momentum = c->momentum;
    if (kind == LF_OPTIM_ADAMW && mae_run) oc.beta2 = 0.95; /* MAE's betas (0.9, 0.95) */
    if (lf_optim_init(&opt, P, &oc)) goto out;

    /* resume point (before the loader, which starts at that batch) */
    char ckpt[4096], path[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", c->out);
    int64_t step = 0;
    if (c->resume && file_exists(ckpt)) {
        if (lf_checkpoint_load(ckpt, P, opt, &step, NULL, NULL)) goto out;
        fprintf(stderr, "resuming %s at step %lld\n", ckpt, (long long)step);
    } else if (c->resume) {
        fprintf(stderr, "labelfree %s: --resume given but %s does not exist; starting afresh\n", cmd, ckpt);
    }

    /* loader */
    lf_loader_config lc = lf_loader_config_default();
    int64_t n_items = c->subset ? c->n_subset : lf_dataset_indices(ds, LF_SPLIT_TRAIN, NULL);
    if (n_items < 2) {
        fprintf(stderr, "labelfree %s: %lld training item(s) in %s; need at least 2\n", cmd,
                (long long)n_items, c->data);
        goto out_quiet;
    }
    lc.batch_size = (int)(c->batch_size < n_items ? c->batch_size : n_items);
    lc.views = simclr ? 2 : 1;
    lc.threads = (int)c->loader_threads;
    lc.seed = (uint64_t)c->seed;
    lc.split = LF_SPLIT_TRAIN;
    lc.indices = c->subset;
    lc.n_indices = c->subset ? c->n_subset : 0;
    lc.aug = make_augment(c, st.channels);
    lc.norm = &st;
    lc.start_batch = step;
    if (lf_loader_create(&L, ds, &lc)) goto out;
    int64_t spe = lf_loader_batches_per_epoch(L), total = c->epochs * spe;
    lf_lr_schedule sched = {c->lr, 0, 0, c->warmup_epochs * spe, total};
    if (sched.warmup_steps > total / 2) sched.warmup_steps = total / 2;
    int64_t ckpt_every = c->checkpoint_every > 0 ? c->checkpoint_every : spe;

    /* configuration: printed, saved */
    cfg_json = run_config_to_json(c);
    if (!cfg_json) goto out;
    if (!c->quiet) fprintf(stderr, "labelfree %s: configuration\n%s\n", cmd, cfg_json);
    snprintf(path, sizeof path, "%s/config.json", c->out);
    FILE *cf = fopen(path, "w");
    if (!cf || fprintf(cf, "%s\n", cfg_json) < 0 || fclose(cf)) {
        fprintf(stderr, "labelfree %s: cannot write %s\n", cmd, path);
        goto out_quiet;
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", c->out);
    if (step) drop_metrics_from(path, step);
    metrics = fopen(path, step ? "a" : "w");
    if (!metrics) {
        fprintf(stderr, "labelfree %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        goto out_quiet;
    }

    if (lf_graph_init(&g, 0)) goto out;
    lf_graph_set_training(g, 1);
    lf_graph_set_retain_grads(g, 0); /* only parameter gradients are read: recycle the rest */
    lf_graph_set_recompute(g, c->recompute);
    progress pr;
    progress_start(&pr, ssl ? "pretrain" : "train", total - step);
    int64_t step0 = step;
    double t0 = now_seconds(), loss_v = NAN;
    /* allocations inside the step (loader hand-off to optimizer update) after two warm-up
     * steps: the arena must have settled, so this stays 0 (checked by tests/e2e/main_job.sh) */
    uint64_t step_allocs = 0;
    for (; step < total; step++) {
        uint64_t a0 = lf_alloc_count();
        const lf_batch *b;
        if (lf_loader_next(L, &b)) goto out;
        lf_graph_reset(g);
        lf_graph_set_rng(g, lf_rng_make((uint64_t)c->seed, 1000 + (uint64_t)step));
        int64_t nv = lc.views, per = (int64_t)b->c * b->h * b->w;
        int64_t xs[4] = {nv * b->n, b->c, b->h, b->w};
        lf_tensor *x = lf_tensor_new(g, 4, xs);
        if (!x) goto out;
        for (int v = 0; v < nv; v++)
            memcpy(x->data + v * b->n * per, b->view[v], (size_t)(b->n * per) * sizeof(lf_real));
        double top1 = NAN;
        lf_tensor *loss;
        if (mae) {
            loss = lf_mae_loss(g, mae, x, NULL, NULL); /* masks from the step's stream */
        } else if (ssl) {
            lf_tensor *z = lf_mlp_forward(g, head, lf_encoder_forward(g, enc, x));
            loss = lf_nt_xent(g, z, c->temperature, &top1);
        } else {
            loss = lf_cross_entropy(g, lf_encoder_forward(g, enc, x), b->label, -100, 0);
        }
        if (!loss) goto out;
        loss_v = (double)loss->data[0];
        if (!isfinite(loss_v)) {
            lf_error(LF_ERR_NUMERIC, "loss is %g at step %lld (epoch %lld); lower --lr or check the data",
                     loss_v, (long long)step, (long long)b->epoch);
            goto out;
        }
        double lr = lf_lr_at(&sched, step);
        lf_optim_set_lr(opt, lr);
        lf_params_zero_grad(P);
        if (lf_backward(g, loss) || lf_optim_step(opt)) goto out;
        if (step >= step0 + 2) step_allocs += lf_alloc_count() - a0;
        double el = now_seconds() - t0;
        char top1_s[32] = "null";
        if (!isnan(top1)) snprintf(top1_s, sizeof top1_s, "%.4f", top1);
        fprintf(metrics,
                "{\"step\": %lld, \"epoch\": %lld, \"loss\": %.6f, \"top1\": %s, \"lr\": %.6g, "
                "\"images_per_s\": %.2f}\n",
                (long long)step, (long long)b->epoch, loss_v, top1_s, lr,
                el > 0 ? (double)(step + 1 - step0) * lc.batch_size / el : 0);
        if (!c->quiet) {
            char extra[64];
            snprintf(extra, sizeof extra, " epoch %lld/%lld", (long long)b->epoch + 1, (long long)c->epochs);
            progress_update(&pr, step + 1 - step0, loss_v, extra);
        }
        if ((step + 1) % ckpt_every == 0 || step + 1 == total) {
            fflush(metrics);
            if (lf_checkpoint_save(ckpt, P, opt, step + 1, NULL, cfg_json)) goto out;
        }
    }
    if (!c->quiet) progress_finish(&pr, loss_v, NULL);
    fprintf(stderr, "allocations in steady-state training steps: %llu\n", (unsigned long long)step_allocs);
    double secs = now_seconds() - t0;

    /* the model file */
    char norm_json[4096], size_s[32], classes[8192] = "[";
    if (lf_norm_stats_to_json(&st, norm_json, sizeof norm_json)) goto out;
    snprintf(size_s, sizeof size_s, "%lld", (long long)c->image_size);
    for (int k = 0; k < n_classes; k++) {
        size_t l = strlen(classes);
        snprintf(classes + l, sizeof classes - l, "%s\"%s\"", k ? ", " : "", lf_dataset_class_name(ds, k));
    }
    strncat(classes, "]", sizeof classes - strlen(classes) - 1);
    char *enc_json = lf_encoder_config_to_json(lf_encoder_get_config(enc));
    if (!enc_json) goto out;
    const char *meta[] = {"method", c->method, "encoder", enc_json, "normalization", norm_json,
                          "image_size", size_s, "classes", classes, "config", cfg_json};
    snprintf(path, sizeof path, "%s/model.safetensors", c->out);
    lf_status s = lf_safetensors_save(path, P, meta, 6);
    lf_free(enc_json);
    if (s) goto out;
    double ips = secs > 0 ? (double)(total - step0) * lc.batch_size / secs : 0;
    if (sum) {
        sum->steps = total;
        sum->seconds = secs;
        sum->images_per_s = ips;
        sum->final_loss = loss_v;
    }
    if (!c->quiet)
        fprintf(stderr, "wrote %s (%lld steps, %.1f s, %.1f images/s)\n", path, (long long)total,
                secs, ips);
    rc = ssl || c->subset ? 0 : report_test_split(cmd, c, ds, path);
    goto out_quiet;
out:
    fail(cmd);
out_quiet:
    if (metrics) fclose(metrics);
    lf_free(cfg_json);
    lf_graph_free(g);
    if (L) lf_loader_free(L);
    if (opt) lf_optim_free(opt);
    if (head) lf_mlp_free(head);
    if (mae) lf_mae_free(mae);
    else if (enc) lf_encoder_free(enc);
    lf_params_free(P);
    return rc;
}
