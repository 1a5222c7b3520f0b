/* labelfree pretrain --method clip|cloob --data pairs.csv --out RUN (CLOOME): contrastive
 * pretraining of a sample encoder (ResNet on images, or MLP on feature vectors) and a molecule
 * encoder (MLP on Morgan fingerprints) into one embedding space. Writes RUN/config.json,
 * RUN/metrics.jsonl (one line per step), RUN/checkpoint.safetensors (every epoch, for
 * --resume) and RUN/model.safetensors (metadata "cloome": both encoders, fingerprint settings,
 * normalisation; see cli/pairs_model.h). */
#include "cli.h"
#include "pairs_model.h"
#include "progress.h"
#include "train_loop.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct pp_opts {
    const char *method, *data, *out, *arch, *stem, *optimizer, *augment;
    int64_t channels, width, image_size, embed_dim, profile_hidden, profile_layers;
    int64_t mol_hidden, mol_layers, fp_radius, fp_bits, epochs, batch_size, seed, threads;
    int64_t warmup_epochs;
    double lr, weight_decay, temperature, hopfield_beta;
    bool learnable, no_chirality, resume, quiet, recompute;
} pp_opts;

static char *opts_json(const pp_opts *o, const pm_config *pc)
{
    json_t *j = json_object();
    json_object_set_new(j, "method", json_string(o->method));
    json_object_set_new(j, "data", json_string(o->data));
    json_object_set_new(j, "out", json_string(o->out));
    json_object_set_new(j, "modality", json_string(pc->modality));
    if (!strcmp(pc->modality, "image")) {
        json_object_set_new(j, "arch", json_string(o->arch));
        json_object_set_new(j, "stem", json_string(o->stem));
        json_object_set_new(j, "width", json_integer(o->width));
        json_object_set_new(j, "channels", json_integer(pc->enc.in_channels));
        json_object_set_new(j, "image_size", json_integer(o->image_size));
        json_object_set_new(j, "augment", json_string(o->augment));
    } else {
        json_object_set_new(j, "feature_dim", json_integer(pc->feature_dim));
        json_object_set_new(j, "profile_hidden", json_integer(o->profile_hidden));
        json_object_set_new(j, "profile_layers", json_integer(o->profile_layers));
    }
    json_object_set_new(j, "embed_dim", json_integer(o->embed_dim));
    json_object_set_new(j, "molecule_hidden", json_integer(o->mol_hidden));
    json_object_set_new(j, "molecule_layers", json_integer(o->mol_layers));
    json_object_set_new(j, "fp_radius", json_integer(o->fp_radius));
    json_object_set_new(j, "fp_bits", json_integer(o->fp_bits));
    json_object_set_new(j, "fp_chirality", json_boolean(!o->no_chirality));
    json_object_set_new(j, "fp_chirality_fallbacks", json_integer(pc->fp_fallbacks));
    json_object_set_new(j, "loss_temperature", json_real(o->temperature));
    json_object_set_new(j, "learnable_temperature", json_boolean(o->learnable));
    if (!strcmp(o->method, "cloob")) json_object_set_new(j, "hopfield_beta", json_real(o->hopfield_beta));
    json_object_set_new(j, "optimizer", json_string(o->optimizer));
    json_object_set_new(j, "lr", json_real(o->lr));
    json_object_set_new(j, "weight_decay", json_real(o->weight_decay));
    json_object_set_new(j, "warmup_epochs", json_integer(o->warmup_epochs));
    json_object_set_new(j, "epochs", json_integer(o->epochs));
    json_object_set_new(j, "batch_size", json_integer(o->batch_size));
    json_object_set_new(j, "seed", json_integer(o->seed));
    json_object_set_new(j, "labelfree_version", json_string(LF_VERSION));
    json_object_set_new(j, "precision", json_string(sizeof(lf_real) == 8 ? "float64" : "float32"));
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) return NULL;
    char *r = lf_malloc(strlen(s) + 1);
    if (r) strcpy(r, s);
    free(s);
    return r;
}

static int bad(const char *flag, const char *why)
{
    fprintf(stderr, "labelfree pretrain: --%s %s\n", flag, why);
    return 2;
}

/* per-channel mean / std of the decoded training images (resized to the input size) */
static lf_status image_stats(const lf_pairs *p, const int64_t *idx, int64_t n, int S, lf_norm_stats *st)
{
    lf_image img = {0}, out = {0};
    lf_augment_config none = lf_augment_none(S, S);
    double sum[LF_IMAGE_MAX_CHANNELS] = {0}, sq[LF_IMAGE_MAX_CHANNELS] = {0};
    int64_t cnt = 0;
    lf_status s = LF_OK;
    memset(st, 0, sizeof *st);
    for (int64_t r = 0; r < n && !s; r++) {
        lf_rng rng = lf_rng_make(0, 0);
        if ((s = lf_pairs_read_image(p, idx[r], &img)) || (s = lf_augment_apply(&none, &img, &out, NULL, &rng))) break;
        if (r == 0) st->channels = out.c;
        else if (out.c != st->channels) {
            s = lf_error(LF_ERR_SHAPE, "row %lld has %d channels, the first training row %d", (long long)idx[r], out.c, st->channels);
            break;
        }
        for (int c = 0; c < out.c; c++)
            for (int k = 0; k < S * S; k++) {
                double v = out.data[(size_t)c * S * S + k];
                sum[c] += v;
                sq[c] += v * v;
            }
        cnt += S * S;
    }
    for (int c = 0; c < st->channels && !s; c++) {
        st->mean[c] = sum[c] / (double)cnt;
        double var = sq[c] / (double)cnt - st->mean[c] * st->mean[c];
        st->std[c] = fmax(sqrt(fmax(var, 0)), 1e-6);
    }
    lf_image_free(&img);
    lf_image_free(&out);
    return s;
}

int cmd_pretrain_pairs(int argc, char **argv)
{
    pp_opts o = {.method = "clip", .arch = "resnet50", .stem = "imagenet", .optimizer = "adamw",
                 .augment = "microscopy", .width = 64, .image_size = 96, .embed_dim = 512,
                 .profile_hidden = 512, .profile_layers = 2, .mol_hidden = 1024, .mol_layers = 4,
                 .fp_radius = 3, .fp_bits = 1024, .epochs = 50, .batch_size = 256,
                 .lr = 1e-3, .weight_decay = 0.1, .temperature = 1 / 14.3, .hopfield_beta = 14.3};
    cli_arg args[] = {
        {"method", ARG_STR, &o.method, "clip (InfoNCE) | cloob (CLOOME: Hopfield retrieval + InfoLOOB)", true, false},
        {"data", ARG_STR, &o.data, "pairs manifest (CSV: smiles + image or features; see docs/cloome.md)", true, false},
        {"out", ARG_STR, &o.out, "run folder to write", true, false},
        {"arch", ARG_STR, &o.arch, "image encoder: resnet18 | resnet50 (default, CLOOME)", false, false},
        {"stem", ARG_STR, &o.stem, "imagenet (7x7/2 + pool, default) | cifar", false, false},
        {"width", ARG_INT, &o.width, "ResNet base width (64 = torchvision)", false, false},
        {"channels", ARG_INT, &o.channels, "image channels (0: what the images have)", false, false},
        {"image-size", ARG_INT, &o.image_size, "side of the network input (default 96)", false, false},
        {"augment", ARG_STR, &o.augment, "microscopy (crops, flips, rotations, intensity) | none", false, false},
        {"embed-dim", ARG_INT, &o.embed_dim, "embedding size (default 512, CLOOME)", false, false},
        {"profile-hidden", ARG_INT, &o.profile_hidden, "feature-vector MLP hidden width (default 512)", false, false},
        {"profile-layers", ARG_INT, &o.profile_layers, "feature-vector MLP hidden layers (default 2)", false, false},
        {"mol-hidden", ARG_INT, &o.mol_hidden, "molecule MLP hidden width (default 1024, CLOOME)", false, false},
        {"mol-layers", ARG_INT, &o.mol_layers, "molecule MLP hidden layers (default 4, CLOOME)", false, false},
        {"fp-radius", ARG_INT, &o.fp_radius, "Morgan radius (default 3, CLOOME)", false, false},
        {"fp-bits", ARG_INT, &o.fp_bits, "Morgan bits (default 1024, CLOOME)", false, false},
        {"no-chirality", ARG_BOOL, &o.no_chirality, "plain Morgan bits (default: with chirality, as CLOOME)", false, false},
        {"loss-temperature", ARG_REAL, &o.temperature, "tau (default 1/14.3, CLOOME); the initial value if learnable", false, false},
        {"learnable-temperature", ARG_BOOL, &o.learnable, "learn log(1/tau), clamped to [0, ln 100] as CLOOME", false, false},
        {"hopfield-beta", ARG_REAL, &o.hopfield_beta, "cloob: inverse temperature of the Hopfield retrieval (14.3)", false, false},
        {"optimizer", ARG_STR, &o.optimizer, "adamw (default) | sgd", false, false},
        {"lr", ARG_REAL, &o.lr, "peak learning rate (default 1e-3)", false, false},
        {"weight-decay", ARG_REAL, &o.weight_decay, "weight decay (default 0.1)", false, false},
        {"warmup-epochs", ARG_INT, &o.warmup_epochs, "linear warm-up, then cosine decay (default 0)", false, false},
        {"epochs", ARG_INT, &o.epochs, "passes over the training pairs (default 50)", false, false},
        {"batch-size", ARG_INT, &o.batch_size, "pairs per step (default 256; the whole split if smaller)", false, false},
        {"seed", ARG_INT, &o.seed, "seed of every random choice", false, false},
        {"threads", ARG_INT, &o.threads, "compute threads (0: all cores)", false, false},
        {"resume", ARG_BOOL, &o.resume, "continue from RUN/checkpoint.safetensors", false, false},
        {"quiet", ARG_BOOL, &o.quiet, "no progress output", false, false},
        {"recompute", ARG_BOOL, &o.recompute, "keep only block outputs, recompute the rest in backward: less memory, one more forward", false, false},
    };
    int na = (int)(sizeof args / sizeof args[0]);
    int r = cli_parse("pretrain", argc, argv, args, na);
    if (r) {
        if (r == 2) cli_usage("pretrain", "contrastive image/profile-molecule pretraining (CLOOME)", args, na);
        return r == 2 ? 0 : 2;
    }
    if (strcmp(o.method, "clip") && strcmp(o.method, "cloob")) return bad("method", "must be clip or cloob here");
    if (strcmp(o.arch, "resnet18") && strcmp(o.arch, "resnet50")) return bad("arch", "must be resnet18 or resnet50");
    if (strcmp(o.stem, "imagenet") && strcmp(o.stem, "cifar")) return bad("stem", "must be imagenet or cifar");
    if (strcmp(o.augment, "microscopy") && strcmp(o.augment, "none")) return bad("augment", "must be microscopy or none");
    if (strcmp(o.optimizer, "adamw") && strcmp(o.optimizer, "sgd")) return bad("optimizer", "must be adamw or sgd");
    if (o.embed_dim < 1 || o.profile_hidden < 1 || o.mol_hidden < 1) return bad("embed-dim", "and hidden widths must be >= 1");
    if (o.mol_layers < 0 || o.mol_layers > 7 || o.profile_layers < 0 || o.profile_layers > 7)
        return bad("mol-layers", "and --profile-layers must be in [0, 7]");
    if (o.fp_radius < 0 || o.fp_radius > 8 || o.fp_bits < 8 || o.fp_bits > 65536) return bad("fp-bits", "must be in [8, 65536], --fp-radius in [0, 8]");
    if (!(o.temperature > 0)) return bad("loss-temperature", "must be > 0");
    if (!(o.hopfield_beta > 0)) return bad("hopfield-beta", "must be > 0");
    if (!(o.lr > 0) || o.weight_decay < 0) return bad("lr", "must be > 0 (and --weight-decay >= 0)");
    if (o.epochs < 1 || o.batch_size < 2) return bad("epochs", "must be >= 1 and --batch-size >= 2");
    if (o.image_size < 8 || o.image_size > 4096) return bad("image-size", "must be in [8, 4096]");
    if (o.threads > 0) lf_set_threads((int)o.threads);
    if (cli_make_dirs("pretrain", o.out)) return 1;

    lf_pairs *P = NULL;
    pairs_model m = {0};
    lf_optim *opt = NULL;
    lf_graph *g = NULL;
    float *fp = NULL;
    int64_t *train = NULL;
    char *cfg = NULL, *mcfg = NULL;
    FILE *metrics = NULL;
    int rc = 1;
    if (lf_pairs_open(&P, o.data, (uint64_t)o.seed)) goto fail;
    int64_t n = lf_pairs_count(P), n_train = lf_pairs_indices(P, LF_SPLIT_TRAIN, NULL);
    if (n_train < 2) {
        fprintf(stderr, "labelfree pretrain: %lld training pair(s) in %s; need at least 2\n", (long long)n_train, o.data);
        goto quiet;
    }
    train = lf_malloc((size_t)n_train * sizeof(int64_t));
    fp = lf_malloc((size_t)(n * o.fp_bits) * sizeof(float));
    if (!train || !fp) goto fail;
    lf_pairs_indices(P, LF_SPLIT_TRAIN, train);

    /* model configuration */
    pm_config pc;
    memset(&pc, 0, sizeof pc);
    pc.embed_dim = (int)o.embed_dim;
    pc.mol_hidden = (int)o.mol_hidden;
    pc.mol_layers = (int)o.mol_layers;
    pc.fp_radius = (int)o.fp_radius;
    pc.fp_bits = (int)o.fp_bits;
    pc.fp_chirality = !o.no_chirality;
    if (lf_pairs_fingerprints(P, pc.fp_radius, pc.fp_bits, pc.fp_chirality, fp, &pc.fp_fallbacks)) goto fail;
    if (pc.fp_fallbacks && !o.quiet)
        fprintf(stderr, "labelfree pretrain: note: %lld molecule(s) with stereo marks fingerprinted without "
                "chirality (not supported by this build)\n", (long long)pc.fp_fallbacks);
    if (lf_pairs_has_features(P)) {
        snprintf(pc.modality, sizeof pc.modality, "features");
        pc.feature_dim = lf_pairs_feature_dim(P);
        pc.profile_hidden = (int)o.profile_hidden;
        pc.profile_layers = (int)o.profile_layers;
    } else {
        snprintf(pc.modality, sizeof pc.modality, "image");
        pc.image_size = (int)o.image_size;
        if (image_stats(P, train, n_train, pc.image_size, &pc.norm)) goto fail;
        if (o.channels && o.channels != pc.norm.channels) {
            fprintf(stderr, "labelfree pretrain: --channels %lld but the images of %s have %d\n",
                    (long long)o.channels, o.data, pc.norm.channels);
            goto quiet;
        }
        pc.enc = lf_encoder_config_default(o.arch);
        snprintf(pc.enc.stem, sizeof pc.enc.stem, "%s", o.stem);
        pc.enc.in_channels = pc.norm.channels;
        pc.enc.width = (int)o.width;
    }
    if (pm_build(&m, &pc, o.learnable)) goto fail;
    if (m.enc && lf_encoder_reset_parameters(m.enc, (uint64_t)o.seed, 1)) goto fail;
    if (m.prof && lf_mlp_reset_parameters(m.prof, (uint64_t)o.seed, 1)) goto fail;
    if (lf_mlp_reset_parameters(m.mol, (uint64_t)o.seed, 2)) goto fail;
    m.logit_inv_tau->data[0] = (lf_real)log(1.0 / o.temperature);
    if (m.feat_mean) { /* standardisation of the training rows (population sd, floored) */
        int64_t F = pc.feature_dim;
        for (int64_t k = 0; k < F; k++) {
            double s = 0, q = 0;
            for (int64_t r2 = 0; r2 < n_train; r2++) {
                double v = lf_pairs_features(P, train[r2])[k];
                s += v;
                q += v * v;
            }
            double mu = s / (double)n_train, var = q / (double)n_train - mu * mu;
            m.feat_mean->data[k] = (lf_real)mu;
            m.feat_std->data[k] = (lf_real)fmax(sqrt(fmax(var, 0)), 1e-6);
        }
    }
    lf_optim_config oc = lf_optim_defaults(strcmp(o.optimizer, "sgd") ? LF_OPTIM_ADAMW : LF_OPTIM_SGD);
    oc.lr = o.lr;
    oc.weight_decay = o.weight_decay;
    if (!strcmp(o.optimizer, "sgd")) oc.momentum = 0.9;
    if (lf_optim_init(&opt, m.P, &oc)) goto fail;

    /* the config, printed and saved */
    cfg = opts_json(&o, &pc);
    mcfg = pm_config_to_json(&pc);
    if (!cfg || !mcfg) goto fail;
    char path[4096], ckpt[4096];
    snprintf(path, sizeof path, "%s/config.json", o.out);
    FILE *cf = fopen(path, "w");
    if (!cf || fprintf(cf, "%s\n", cfg) < 0 || fclose(cf)) {
        fprintf(stderr, "labelfree pretrain: cannot write %s\n", path);
        goto quiet;
    }
    if (!o.quiet) fprintf(stderr, "labelfree pretrain: configuration\n%s\n", cfg);

    int64_t bs = o.batch_size < n_train ? o.batch_size : n_train;
    int64_t spe = n_train / bs, total = o.epochs * spe, step = 0;
    lf_lr_schedule sched = {o.lr, 0, 0, o.warmup_epochs * spe, total};
    if (sched.warmup_steps > total / 2) sched.warmup_steps = total / 2;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o.out);
    struct stat sb;
    if (o.resume && stat(ckpt, &sb) == 0) {
        if (lf_checkpoint_load(ckpt, m.P, opt, &step, NULL, NULL)) goto fail;
        if (!o.quiet) fprintf(stderr, "resuming %s at step %lld\n", ckpt, (long long)step);
    } else if (o.resume) {
        fprintf(stderr, "labelfree pretrain: --resume given but %s does not exist; starting afresh\n", ckpt);
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", o.out);
    if (step) drop_metrics_from(path, step);
    metrics = fopen(path, step ? "a" : "w");
    if (!metrics) {
        fprintf(stderr, "labelfree pretrain: cannot write %s: %s\n", path, strerror(errno));
        goto quiet;
    }
    lf_augment_config aug = lf_augment_microscopy((int)o.image_size, (int)o.image_size);
    aug.scale_min = 0.5; /* cells fill the field; keep at least half of it */
    lf_augment_config *augp = strcmp(o.augment, "none") ? &aug : NULL;
    if (lf_graph_init(&g, 0)) goto fail;
    lf_graph_set_training(g, 1);
    lf_graph_set_recompute(g, o.recompute);
    lf_graph_set_retain_grads(g, 0); /* only parameter gradients are read: recycle the rest */
    progress pr;
    progress_start(&pr, o.method, total - step);
    int64_t step0 = step, *perm = lf_malloc((size_t)n_train * sizeof(int64_t));
    if (!perm) goto fail;
    double t0 = now_seconds(), loss_v = NAN;
    int64_t cur_epoch = -1;
    for (; step < total; step++) {
        int64_t epoch = step / spe, b = step % spe;
        if (epoch != cur_epoch) { /* the order of an epoch is a function of (seed, epoch) */
            memcpy(perm, train, (size_t)n_train * sizeof(int64_t));
            lf_rng er = lf_rng_make((uint64_t)o.seed, 0xe90c0000ull + (uint64_t)epoch);
            lf_rng_shuffle(&er, perm, n_train);
            cur_epoch = epoch;
        }
        const int64_t *idx = perm + b * bs;
        lf_graph_reset(g);
        lf_tensor *x = pm_input(g, &m, P, idx, bs, augp, (uint64_t)o.seed, epoch);
        lf_tensor *f = lf_tensor_new(g, 2, (int64_t[]){bs, o.fp_bits});
        if (!x || !f) { lf_free(perm); goto fail; }
        for (int64_t q = 0; q < bs; q++)
            for (int64_t k = 0; k < o.fp_bits; k++) f->data[q * o.fp_bits + k] = (lf_real)fp[idx[q] * o.fp_bits + k];
        lf_contrastive_stats cs;
        lf_tensor *za = pm_embed_sample(g, &m, x), *zb = pm_embed_molecule(g, &m, f);
        lf_tensor *lt = o.learnable ? m.logit_inv_tau : NULL;
        double t_fixed = 1.0 / o.temperature;
        lf_tensor *loss = !strcmp(o.method, "cloob") ? lf_cloob_loss(g, za, zb, lt, t_fixed, o.hopfield_beta, &cs)
                                                     : lf_clip_loss(g, za, zb, lt, t_fixed, &cs);
        if (!loss) { lf_free(perm); goto fail; }
        loss_v = (double)loss->data[0];
        if (!isfinite(loss_v)) {
            lf_error(LF_ERR_NUMERIC, "loss is %g at step %lld; lower --lr or check the data", loss_v, (long long)step);
            lf_free(perm);
            goto fail;
        }
        double lr = lf_lr_at(&sched, step);
        lf_optim_set_lr(opt, lr);
        lf_params_zero_grad(m.P);
        if (lf_backward(g, loss) || lf_optim_step(opt)) { lf_free(perm); goto fail; }
        if (o.learnable) { /* CLOOME clamps logit_inv_tau to [0, ln 100] after each step */
            lf_real *s = m.logit_inv_tau->data;
            if (*s < 0) *s = 0;
            if (*s > (lf_real)log(100.0)) *s = (lf_real)log(100.0);
        }
        double el = now_seconds() - t0;
        fprintf(metrics, "{\"step\": %lld, \"epoch\": %lld, \"loss\": %.6f, \"top1_sample_to_molecule\": %.4f, "
                "\"top1_molecule_to_sample\": %.4f, \"inv_tau\": %.4f, \"lr\": %.6g, \"pairs_per_s\": %.2f}\n",
                (long long)step, (long long)epoch, loss_v, cs.top1_ab, cs.top1_ba, cs.inv_tau, lr,
                el > 0 ? (double)(step + 1 - step0) * bs / el : 0);
        if (!o.quiet) {
            char extra[96];
            snprintf(extra, sizeof extra, " epoch %lld/%lld top1 %.2f", (long long)epoch + 1, (long long)o.epochs, cs.top1_ab);
            progress_update(&pr, step + 1 - step0, loss_v, extra);
        }
        if ((step + 1) % spe == 0 || step + 1 == total) {
            fflush(metrics);
            if (lf_checkpoint_save(ckpt, m.P, opt, step + 1, NULL, cfg)) { lf_free(perm); goto fail; }
        }
    }
    lf_free(perm);
    if (!o.quiet) progress_finish(&pr, loss_v, NULL);
    double secs = now_seconds() - t0;
    snprintf(path, sizeof path, "%s/model.safetensors", o.out);
    const char *meta[] = {"method", o.method, "cloome", mcfg, "config", cfg};
    if (lf_safetensors_save(path, m.P, meta, 3)) goto fail;
    if (!o.quiet)
        fprintf(stderr, "wrote %s (%lld steps, %.1f s, final loss %.4f)\n", path, (long long)total, secs, loss_v);
    rc = 0;
    goto quiet;
fail:
    cli_fail("pretrain");
quiet:
    if (metrics) fclose(metrics);
    lf_free(cfg);
    lf_free(mcfg);
    lf_graph_free(g);
    if (opt) lf_optim_free(opt);
    pm_free(&m);
    lf_free(fp);
    lf_free(train);
    lf_pairs_free(P);
    return rc;
}
