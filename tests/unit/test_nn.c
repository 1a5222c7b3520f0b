/* Encoders without PyTorch: torchvision / timm parameter counts, names and order, flags,
 * initialisation statistics, config checks and JSON metadata, MLP naming. */
#include "nn_fixture.h"
#include "test.h"

#include <math.h>
#include <string.h>

static lf_params *build(const lf_encoder_config *c, const char *prefix, lf_encoder **e)
{
    lf_params *P;
    *e = NULL;
    if (lf_params_init(&P) != LF_OK) return NULL;
    lf_status s = lf_encoder_init(P, c, prefix, e);
    CHECK_MSG(s == LF_OK, "lf_encoder_init(%s): %s", c->arch, lf_last_error());
    if (s == LF_OK) CHECK_OK(lf_params_finalize(P));
    return P;
}

/* names of P in order against the "param/" entries of a fixture written from the PyTorch
 * model (same structure at a smaller width, so the same names), then `extra` */
static void check_names(lf_params *P, const char *fixture, const char *const *extra, int n_extra)
{
    nnfx *f = nnfx_load(fixture);
    CHECK(f != NULL);
    if (!f) return;
    int k = 0;
    for (int i = 0; i < f->n; i++) {
        if (strncmp(f->t[i].name, "param/", 6) != 0) continue;
        lf_tensor *t = lf_params_get(P, k++);
        CHECK_MSG(t && strcmp(t->name, f->t[i].name + 6) == 0, "entry %d: '%s' vs torch '%s'",
                  k - 1, t ? t->name : "(none)", f->t[i].name + 6);
    }
    for (int j = 0; j < n_extra; j++) {
        lf_tensor *t = lf_params_get(P, k++);
        CHECK_MSG(t && strcmp(t->name, extra[j]) == 0, "entry %d: '%s' vs '%s'", k - 1,
                  t ? t->name : "(none)", extra[j]);
    }
    CHECK(k == lf_params_count(P));
    nnfx_free(f);
}

TEST(nn_resnet_torchvision_counts_and_names)
{
    static const struct { const char *arch; int classes; int64_t numel; int entries; } cases[] = {
        {"resnet18", 1000, 11689512, 122}, {"resnet18", 0, 11176512, 120},
        {"resnet50", 1000, 25557032, 320}, {"resnet50", 0, 23508032, 318}};
    const char *fc[2] = {"fc.weight", "fc.bias"};
    for (int i = 0; i < 4; i++) {
        lf_encoder_config c = lf_encoder_config_default(cases[i].arch);
        c.num_classes = cases[i].classes;
        lf_encoder *e;
        lf_params *P = build(&c, NULL, &e);
        if (!e) {
            lf_params_free(P);
            continue;
        }
        CHECK_MSG(lf_params_numel(P, 1) == cases[i].numel, "%s/%d: %lld parameters",
                  cases[i].arch, cases[i].classes, (long long)lf_params_numel(P, 1));
        CHECK_MSG(lf_params_count(P) == cases[i].entries, "%s: %d state entries",
                  cases[i].arch, lf_params_count(P));
        CHECK(lf_encoder_feature_dim(e) == (i < 2 ? 512 : 2048));
        check_names(P, i < 2 ? "tests/parity/fixtures/nn/resnet18_cifar_w4.bin"
                             : "tests/parity/fixtures/nn/resnet50_imagenet_w4_c5.bin",
                    fc, cases[i].classes ? 2 : 0);
        /* flags: conv weights decay, BN affine does not, running stats are buffers */
        CHECK(lf_params_find(P, "conv1.weight")->flags == (LF_TENSOR_PARAM |
                                                           LF_TENSOR_REQUIRES_GRAD));
        CHECK(lf_params_find(P, "layer2.0.downsample.1.bias")->flags & LF_TENSOR_NO_DECAY);
        CHECK(lf_params_find(P, "bn1.weight")->flags & LF_TENSOR_NO_DECAY);
        lf_tensor *rv = lf_params_find(P, "layer4.1.bn2.running_var");
        CHECK(rv && (rv->flags & LF_TENSOR_BUFFER) && !(rv->flags & LF_TENSOR_REQUIRES_GRAD));
        lf_tensor *nbt = lf_params_find(P, "bn1.num_batches_tracked");
        CHECK(nbt && nbt->ndim == 0 && (nbt->flags & LF_TENSOR_BUFFER));
        if (cases[i].classes) CHECK(lf_params_find(P, "fc.bias")->flags & LF_TENSOR_NO_DECAY);
        lf_encoder_free(e);
        lf_params_free(P);
    }
}

TEST(nn_vit_tiny_timm_count_and_names)
{
    lf_encoder_config c = lf_encoder_config_default("vit");
    c.num_classes = 1000;
    lf_encoder *e;
    lf_params *P = build(&c, NULL, &e);
    /* timm vit_tiny_patch16_224: 5,717,416 parameters, 152 state_dict entries */
    CHECK_MSG(lf_params_numel(P, 1) == 5717416, "%lld", (long long)lf_params_numel(P, 1));
    CHECK(lf_params_count(P) == 152);
    CHECK(strcmp(lf_params_get(P, 0)->name, "cls_token") == 0);
    CHECK(strcmp(lf_params_get(P, 1)->name, "pos_embed") == 0);
    CHECK(lf_params_get(P, 1)->shape[1] == 197);
    CHECK(strcmp(lf_params_get(P, 2)->name, "patch_embed.proj.weight") == 0);
    CHECK(lf_params_find(P, "blocks.11.mlp.fc2.bias") != NULL);
    CHECK(lf_params_get(P, 151) && strcmp(lf_params_get(P, 151)->name, "head.bias") == 0);
    CHECK(lf_encoder_feature_dim(e) == 192);
    lf_encoder_free(e);
    lf_params_free(P);
    /* the small ViT of the parity fixture: names in timm's state_dict order */
    c = lf_encoder_config_default("vit");
    c.image_size = 16, c.patch = 4, c.depth = 2, c.width = 32, c.heads = 4, c.num_classes = 10;
    P = build(&c, NULL, &e);
    check_names(P, "tests/parity/fixtures/nn/vit_tiny.bin", NULL, 0);
    lf_encoder_free(e);
    lf_params_free(P);
}

TEST(nn_prefix_and_channels)
{
    lf_encoder_config c = lf_encoder_config_default("resnet50");
    c.in_channels = 5;
    snprintf(c.stem, sizeof c.stem, "cifar");
    lf_encoder *e;
    lf_params *P = build(&c, "backbone.", &e);
    lf_tensor *w = lf_params_find(P, "backbone.conv1.weight");
    CHECK(w && w->shape[0] == 64 && w->shape[1] == 5 && w->shape[2] == 3 && w->shape[3] == 3);
    CHECK(lf_params_find(P, "conv1.weight") == NULL);
    CHECK(lf_params_find(P, "backbone.layer3.5.bn3.num_batches_tracked") != NULL);
    /* a wrong input is refused with the expected shape in the message */
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = lf_tensor_zeros(g, 4, (int64_t[]){2, 3, 32, 32});
    CHECK(lf_encoder_forward(g, e, x) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE && strstr(lf_last_error(), "(N, 5, H, W)"));
    CHECK(lf_encoder_tokens(g, e, x) == NULL && lf_last_status() == LF_ERR_UNSUPPORTED);
    lf_graph_free(g);
    lf_encoder_free(e);
    lf_params_free(P);
}

static void moments(const lf_tensor *t, double *mean, double *std)
{
    double s = 0, s2 = 0;
    int64_t n = lf_numel(t);
    for (int64_t i = 0; i < n; i++) {
        s += t->data[i];
        s2 += (double)t->data[i] * t->data[i];
    }
    *mean = s / n;
    *std = sqrt(s2 / n - *mean * *mean);
}

TEST(nn_init_statistics_and_seed)
{
    lf_encoder_config c = lf_encoder_config_default("resnet18");
    c.num_classes = 1000;
    lf_encoder *e;
    lf_params *P = build(&c, NULL, &e);
    CHECK_OK(lf_encoder_reset_parameters(e, 7, 0));
    double m, s;
    /* kaiming_normal_ fan_out: std sqrt(2 / (512 * 9)) = 0.02083 over 2.36 M draws */
    moments(lf_params_find(P, "layer4.1.conv2.weight"), &m, &s);
    CHECK_NEAR(m, 0.0, 1e-4);
    CHECK_NEAR(s, sqrt(2.0 / (512 * 9)), 1e-4);
    moments(lf_params_find(P, "conv1.weight"), &m, &s); /* 9408 draws, std 0.0221 */
    CHECK_NEAR(s, sqrt(2.0 / (64 * 49)), 0.03 * sqrt(2.0 / (64 * 49)));
    lf_tensor *fw = lf_params_find(P, "fc.weight"); /* U(+-1/sqrt(512)) */
    double lo = 1, hi = -1;
    for (int64_t i = 0; i < lf_numel(fw); i++) {
        lo = fmin(lo, fw->data[i]);
        hi = fmax(hi, fw->data[i]);
    }
    CHECK(lo >= -1 / sqrt(512.0) && hi <= 1 / sqrt(512.0) && hi > 0.99 / sqrt(512.0));
    CHECK(lf_params_find(P, "layer3.0.bn1.weight")->data[5] == 1);
    CHECK(lf_params_find(P, "layer3.0.bn1.running_var")->data[5] == 1);
    CHECK(lf_params_find(P, "layer3.0.bn1.running_mean")->data[5] == 0);
    /* same seed, same weights; another seed, others */
    lf_real v = lf_params_find(P, "layer1.0.conv1.weight")->data[3];
    CHECK_OK(lf_encoder_reset_parameters(e, 7, 0));
    CHECK(lf_params_find(P, "layer1.0.conv1.weight")->data[3] == v);
    CHECK_OK(lf_encoder_reset_parameters(e, 8, 0));
    CHECK(lf_params_find(P, "layer1.0.conv1.weight")->data[3] != v);
    lf_encoder_free(e);
    lf_params_free(P);

    c = lf_encoder_config_default("vit");
    P = build(&c, NULL, &e);
    CHECK_OK(lf_encoder_reset_parameters(e, 7, 0));
    moments(lf_params_find(P, "pos_embed"), &m, &s);
    CHECK_NEAR(s, 0.02, 0.001);
    moments(lf_params_find(P, "blocks.3.attn.qkv.weight"), &m, &s);
    CHECK_NEAR(s, 0.02, 0.0005);
    moments(lf_params_find(P, "cls_token"), &m, &s);
    CHECK(s < 1e-5 && s > 0);
    CHECK(lf_params_find(P, "blocks.3.mlp.fc1.bias")->data[0] == 0);
    CHECK(lf_params_find(P, "norm.weight")->data[0] == 1);
    lf_encoder_free(e);
    lf_params_free(P);
}

TEST(nn_config_checks_and_json)
{
    lf_encoder_config c = lf_encoder_config_default("resnet18");
    snprintf(c.stem, sizeof c.stem, "tiny");
    CHECK(lf_encoder_config_check(&c) == LF_ERR_ARG && strstr(lf_last_error(), "stem"));
    c = lf_encoder_config_default("vit");
    c.heads = 5;
    CHECK(lf_encoder_config_check(&c) == LF_ERR_ARG && strstr(lf_last_error(), "heads"));
    c = lf_encoder_config_default("vit");
    c.patch = 15;
    CHECK(lf_encoder_config_check(&c) == LF_ERR_ARG && strstr(lf_last_error(), "patch"));
    c = lf_encoder_config_default("convnext");
    CHECK(c.arch[0] == 0 && lf_encoder_config_check(&c) == LF_ERR_ARG);

    c = lf_encoder_config_default("resnet50");
    c.in_channels = 5;
    c.num_classes = 7;
    c.width = 32;
    snprintf(c.stem, sizeof c.stem, "cifar");
    c.bn_eps = 1e-3;
    char *js = lf_encoder_config_to_json(&c);
    CHECK(js && strstr(js, "\"arch\": \"resnet50\""));
    lf_encoder_config d = lf_encoder_config_default("vit");
    CHECK_OK(lf_encoder_config_from_json(js, &d));
    char *js2 = lf_encoder_config_to_json(&d);
    CHECK(js2 && strcmp(js, js2) == 0 && d.in_channels == 5 && d.num_classes == 7 &&
          d.width == 32 && strcmp(d.stem, "cifar") == 0 && d.bn_eps == 1e-3);
    lf_free(js);
    lf_free(js2);
    /* missing keys take the arch's defaults */
    CHECK_OK(lf_encoder_config_from_json("{\"arch\": \"vit\", \"depth\": 4}", &d));
    CHECK(d.depth == 4 && d.width == 192 && d.patch == 16);
    CHECK(lf_encoder_config_from_json("{\"arch\": \"vit\", \"depth\": \"4\"}", &d) ==
          LF_ERR_FORMAT && strstr(lf_last_error(), "depth"));
    CHECK(lf_encoder_config_from_json("{\"arch\": \"vgg\"}", &d) == LF_ERR_FORMAT);
    CHECK(lf_encoder_config_from_json("{\"arch\": ", &d) == LF_ERR_FORMAT);
    CHECK(lf_encoder_config_from_json("{\"arch\": \"vit\", \"heads\": 7}", &d) == LF_ERR_ARG);
}

TEST(nn_mlp_sequential_names)
{
    lf_params *P;
    CHECK_OK(lf_params_init(&P));
    lf_mlp_config c = lf_mlp_config_make(3, (int[]){2048, 2048, 2048, 128}, 1);
    c.hidden_bias = 0;
    c.last_batch_norm = 1;
    lf_mlp *m = NULL;
    CHECK_OK(lf_mlp_init(P, &c, "projector.", &m));
    /* Linear(no bias) BN ReLU Linear(no bias) BN ReLU Linear BN */
    static const char *names[] = {
        "projector.0.weight", "projector.1.weight", "projector.1.bias",
        "projector.1.running_mean", "projector.1.running_var", "projector.1.num_batches_tracked",
        "projector.3.weight", "projector.4.weight", "projector.4.bias",
        "projector.4.running_mean", "projector.4.running_var", "projector.4.num_batches_tracked",
        "projector.6.weight", "projector.6.bias", "projector.7.weight", "projector.7.bias",
        "projector.7.running_mean", "projector.7.running_var", "projector.7.num_batches_tracked"};
    int n = (int)(sizeof names / sizeof *names);
    CHECK(lf_params_count(P) == n);
    for (int i = 0; i < n && i < lf_params_count(P); i++)
        CHECK_MSG(strcmp(lf_params_get(P, i)->name, names[i]) == 0, "%d: %s vs %s", i,
                  lf_params_get(P, i)->name, names[i]);
    CHECK(lf_mlp_reset_parameters(m, 1, 0) == LF_ERR_STATE);
    CHECK_OK(lf_params_finalize(P));
    CHECK_OK(lf_mlp_reset_parameters(m, 1, 0));
    lf_tensor *w = lf_params_find(P, "projector.6.weight");
    CHECK(w->shape[0] == 128 && w->shape[1] == 2048 && fabs(w->data[0]) <= 1 / sqrt(2048.0));
    lf_mlp_free(m);
    lf_params_free(P);
    CHECK_OK(lf_params_init(&P));
    c.n_layers = 0;
    CHECK(lf_mlp_init(P, &c, NULL, &m) == LF_ERR_ARG);
    lf_params_free(P);

    /* the "mlp" encoder: Linear BN ReLU Linear under layers., then fc */
    lf_encoder_config ec = lf_encoder_config_default("mlp");
    ec.in_channels = 100, ec.width = 64, ec.num_classes = 3;
    lf_encoder *e;
    P = build(&ec, NULL, &e);
    CHECK(lf_params_find(P, "layers.0.weight") && lf_params_find(P, "layers.1.running_var") &&
          lf_params_find(P, "layers.3.weight") && lf_params_find(P, "fc.weight"));
    CHECK(lf_encoder_feature_dim(e) == 64);
    lf_encoder_free(e);
    lf_params_free(P);
}
