#include "run_config.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

run_config run_config_default(const char *method)
{
    run_config c;
    memset(&c, 0, sizeof c);
    c.method = method;
    c.arch = "resnet18";
    c.stem = "cifar";
    c.augment = "simclr";
    c.optimizer = strcmp(method, "supervised") ? "lars" : "sgd";
    c.image_size = 32;
    c.channels = 0; /* 0: what the data has */
    c.width = 64;
    c.epochs = 100;
    c.batch_size = 256;
    c.seed = 0;
    c.threads = 0;
    c.loader_threads = 1;
    c.warmup_epochs = 10;
    c.proj_hidden = 0; /* 0: the encoder's feature dim */
    c.proj_dim = 128;
    c.checkpoint_every = 0; /* 0: every epoch */
    /* SimCLR: LARS, lr = 0.075 * sqrt(batch) (see default_lr in train_loop.c), wd 1e-6, T 0.5
     * for small images (Chen et al. B.9);
     * supervised: SGD 0.1 * batch / 256, momentum 0.9, wd 5e-4 */
    c.lr = -1; /* -1: the rule above */
    c.weight_decay = strcmp(method, "supervised") ? 1e-6 : 5e-4;
    c.momentum = 0.9;
    c.temperature = 0.5;
    /* ViT (any method): a ViT-Tiny (width 192, 12 blocks of 3 heads) on 4x4 patches */
    c.patch = 4;
    c.depth = 12;
    c.heads = 3;
    /* MAE (He et al. 2022): 75 % of the patches hidden, per-patch normalised targets, AdamW
     * (betas .9/.95, wd .05, lr 1.5e-4 * batch / 256), crops of 20-100 % of the image and
     * flips; a light decoder (128 wide, 4 blocks) for small images and laptops */
    c.decoder_width = 128;
    c.decoder_depth = 4;
    c.decoder_heads = 4;
    c.mask_ratio = 0.75;
    c.norm_pix_loss = 1;
    if (!strcmp(method, "mae")) {
        c.arch = "vit";
        c.width = 192;
        c.optimizer = "adamw";
        c.weight_decay = 0.05;
        c.augment = "crop";
    }
    return c;
}

const char *run_config_method(int argc, char **argv, const char *dflt)
{
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--method=", 9)) return argv[i] + 9;
        if (!strcmp(argv[i], "--method") && i + 1 < argc) return argv[i + 1];
    }
    return dflt;
}

int run_config_args(run_config *c, cli_arg *a, int max)
{
    cli_arg all[] = {
        {"data", ARG_STR, &c->data, "image folder (one subfolder per class) or CSV manifest", true, false},
        {"out", ARG_STR, &c->out, "run folder to write", true, false},
        {"arch", ARG_STR, &c->arch, "resnet18 | resnet50 | vit (default resnet18; vit for mae)", false, false},
        {"stem", ARG_STR, &c->stem, "cifar (3x3, no pool) | imagenet (7x7/2 + pool)", false, false},
        {"width", ARG_INT, &c->width, "base width of the ResNet (64 = torchvision); the ViT's embedding size (192 = ViT-Tiny)", false, false},
        {"patch", ARG_INT, &c->patch, "vit: patch side in pixels (default 4)", false, false},
        {"depth", ARG_INT, &c->depth, "vit: transformer blocks (default 12)", false, false},
        {"heads", ARG_INT, &c->heads, "vit: attention heads (default 3)", false, false},
        {"mask-ratio", ARG_REAL, &c->mask_ratio, "mae: fraction of the patches hidden from the encoder (default 0.75)", false, false},
        {"norm-pix-loss", ARG_INT, &c->norm_pix_loss, "mae: 1 = targets normalised per patch (default), 0 = raw pixels", false, false},
        {"decoder-width", ARG_INT, &c->decoder_width, "mae: decoder width (default 128)", false, false},
        {"decoder-depth", ARG_INT, &c->decoder_depth, "mae: decoder blocks (default 4)", false, false},
        {"decoder-heads", ARG_INT, &c->decoder_heads, "mae: decoder attention heads (default 4)", false, false},
        {"image-size", ARG_INT, &c->image_size, "side of the (square) network input", false, false},
        {"channels", ARG_INT, &c->channels, "input channels (default: what the images have)", false, false},
        {"augment", ARG_STR, &c->augment, "simclr | microscopy (+ vertical flips, 90-degree rotations) | crop (crops of 20-100 %, flips: mae's default) | none", false, false},
        {"epochs", ARG_INT, &c->epochs, "passes over the training split", false, false},
        {"batch-size", ARG_INT, &c->batch_size, "images per step", false, false},
        {"optimizer", ARG_STR, &c->optimizer, "lars | adamw | sgd", false, false},
        {"lr", ARG_REAL, &c->lr, "peak learning rate (default: 0.075*sqrt(batch) lars, 1e-3 adamw (mae: 1.5e-4*batch/256), 0.1*batch/256 sgd)", false, false},
        {"weight-decay", ARG_REAL, &c->weight_decay, "weight decay", false, false},
        {"momentum", ARG_REAL, &c->momentum, "momentum (sgd, lars)", false, false},
        {"warmup-epochs", ARG_INT, &c->warmup_epochs, "linear warm-up, then cosine decay", false, false},
        {"temperature", ARG_REAL, &c->temperature, "NT-Xent temperature (simclr)", false, false},
        {"proj-hidden", ARG_INT, &c->proj_hidden, "projection head hidden size (0: feature dim)", false, false},
        {"proj-dim", ARG_INT, &c->proj_dim, "projection head output size", false, false},
        {"seed", ARG_INT, &c->seed, "seed of every random choice", false, false},
        {"threads", ARG_INT, &c->threads, "compute threads (0: all cores)", false, false},
        {"loader-threads", ARG_INT, &c->loader_threads, "data loader worker threads", false, false},
        {"checkpoint-every", ARG_INT, &c->checkpoint_every, "steps between checkpoints (0: each epoch)", false, false},
        {"resume", ARG_BOOL, &c->resume, "continue from RUN/checkpoint.safetensors", false, false},
        {"quiet", ARG_BOOL, &c->quiet, "no progress output", false, false},
        {"recompute", ARG_BOOL, &c->recompute, "keep only block outputs, recompute the rest in backward: less memory, one more forward", false, false},
    };
    int n = (int)(sizeof all / sizeof all[0]);
    if (n > max) n = max;
    memcpy(a, all, (size_t)n * sizeof all[0]);
    return n;
}

static int bad(const char *cmd, const char *flag, const char *why)
{
    fprintf(stderr, "labelfree %s: --%s %s\n", cmd, flag, why);
    return 1;
}

int run_config_check(const char *cmd, const run_config *c)
{
    if (strcmp(c->arch, "resnet18") && strcmp(c->arch, "resnet50") && strcmp(c->arch, "vit"))
        return bad(cmd, "arch", "must be resnet18, resnet50 or vit");
    if (!strcmp(c->method, "mae") && strcmp(c->arch, "vit"))
        return bad(cmd, "arch", "must be vit for --method mae");
    if (!strcmp(c->arch, "vit")) {
        if (c->patch < 1 || c->image_size % c->patch)
            return bad(cmd, "patch", "must be >= 1 and divide --image-size");
        if (c->depth < 1 || c->depth > 64) return bad(cmd, "depth", "must be in [1, 64]");
        if (c->heads < 1 || c->width % c->heads) return bad(cmd, "heads", "must be >= 1 and divide --width");
    }
    if (!strcmp(c->method, "mae")) {
        int64_t side = c->image_size / c->patch, keep = (int64_t)((double)(side * side) * (1.0 - c->mask_ratio));
        if (!(c->mask_ratio > 0 && c->mask_ratio < 1) || keep < 1 || keep >= side * side)
            return bad(cmd, "mask-ratio", "must leave at least one patch visible and one hidden");
        if (c->width % 4) return bad(cmd, "width", "must be a multiple of 4 for mae (sin-cos positions)");
        if (c->decoder_width < 4 || c->decoder_width % 4 || c->decoder_heads < 1 || c->decoder_width % c->decoder_heads)
            return bad(cmd, "decoder-width", "must be a multiple of 4 and of --decoder-heads");
        if (c->decoder_depth < 1 || c->decoder_depth > 64) return bad(cmd, "decoder-depth", "must be in [1, 64]");
        if (c->norm_pix_loss != 0 && c->norm_pix_loss != 1) return bad(cmd, "norm-pix-loss", "must be 0 or 1");
    }
    if (strcmp(c->stem, "cifar") && strcmp(c->stem, "imagenet"))
        return bad(cmd, "stem", "must be cifar or imagenet");
    if (strcmp(c->augment, "simclr") && strcmp(c->augment, "microscopy") && strcmp(c->augment, "crop") &&
        strcmp(c->augment, "none"))
        return bad(cmd, "augment", "must be simclr, microscopy, crop or none");
    if (strcmp(c->optimizer, "lars") && strcmp(c->optimizer, "adamw") && strcmp(c->optimizer, "sgd"))
        return bad(cmd, "optimizer", "must be lars, adamw or sgd");
    if (c->image_size < 8 || c->image_size > 4096) return bad(cmd, "image-size", "must be in [8, 4096]");
    if (c->channels < 0 || c->channels > 64) return bad(cmd, "channels", "must be in [1, 64]");
    if (c->width < 1 || c->width > 1024) return bad(cmd, "width", "must be in [1, 1024]");
    if (c->epochs < 1) return bad(cmd, "epochs", "must be >= 1");
    if (c->batch_size < 2) return bad(cmd, "batch-size", "must be >= 2");
    if (c->lr != -1 && !(c->lr > 0)) return bad(cmd, "lr", "must be > 0");
    if (c->weight_decay < 0) return bad(cmd, "weight-decay", "must be >= 0");
    if (!(c->temperature > 0)) return bad(cmd, "temperature", "must be > 0");
    if (c->warmup_epochs < 0) return bad(cmd, "warmup-epochs", "must be >= 0");
    if (c->proj_dim < 1 || c->proj_hidden < 0) return bad(cmd, "proj-dim", "and --proj-hidden must be positive");
    if (c->loader_threads < 1 || c->loader_threads > 64) return bad(cmd, "loader-threads", "must be in [1, 64]");
    if (c->threads < 0) return bad(cmd, "threads", "must be >= 0");
    if (c->checkpoint_every < 0) return bad(cmd, "checkpoint-every", "must be >= 0");
    return 0;
}

char *run_config_to_json(const run_config *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "method", json_string(c->method));
    json_object_set_new(o, "data", json_string(c->data ? c->data : ""));
    json_object_set_new(o, "out", json_string(c->out ? c->out : ""));
    json_object_set_new(o, "arch", json_string(c->arch));
    json_object_set_new(o, "stem", json_string(c->stem));
    json_object_set_new(o, "width", json_integer(c->width));
    if (!strcmp(c->arch, "vit")) {
        json_object_set_new(o, "patch", json_integer(c->patch));
        json_object_set_new(o, "depth", json_integer(c->depth));
        json_object_set_new(o, "heads", json_integer(c->heads));
    }
    json_object_set_new(o, "image_size", json_integer(c->image_size));
    json_object_set_new(o, "channels", json_integer(c->channels));
    json_object_set_new(o, "augment", json_string(c->augment));
    json_object_set_new(o, "epochs", json_integer(c->epochs));
    json_object_set_new(o, "batch_size", json_integer(c->batch_size));
    json_object_set_new(o, "optimizer", json_string(c->optimizer));
    json_object_set_new(o, "lr", json_real(c->lr));
    json_object_set_new(o, "weight_decay", json_real(c->weight_decay));
    json_object_set_new(o, "recompute", json_boolean(c->recompute));
    json_object_set_new(o, "momentum", json_real(c->momentum));
    json_object_set_new(o, "warmup_epochs", json_integer(c->warmup_epochs));
    if (!strcmp(c->method, "simclr")) {
        json_object_set_new(o, "temperature", json_real(c->temperature));
        json_object_set_new(o, "proj_hidden", json_integer(c->proj_hidden));
        json_object_set_new(o, "proj_dim", json_integer(c->proj_dim));
    } else if (!strcmp(c->method, "mae")) {
        json_object_set_new(o, "mask_ratio", json_real(c->mask_ratio));
        json_object_set_new(o, "norm_pix_loss", json_integer(c->norm_pix_loss));
        json_object_set_new(o, "decoder_width", json_integer(c->decoder_width));
        json_object_set_new(o, "decoder_depth", json_integer(c->decoder_depth));
        json_object_set_new(o, "decoder_heads", json_integer(c->decoder_heads));
    } else if (c->subset) {
        json_object_set_new(o, "labelled_items", json_integer(c->n_subset));
    }
    json_object_set_new(o, "seed", json_integer(c->seed));
    json_object_set_new(o, "threads", json_integer(c->threads));
    json_object_set_new(o, "loader_threads", json_integer(c->loader_threads));
    json_object_set_new(o, "checkpoint_every", json_integer(c->checkpoint_every));
    json_object_set_new(o, "labelfree_version", json_string(LF_VERSION));
    json_object_set_new(o, "precision", json_string(sizeof(lf_real) == 8 ? "float64" : "float32"));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) return NULL;
    char *r = lf_malloc(strlen(s) + 1);
    if (r) strcpy(r, s);
    free(s);
    return r;
}
