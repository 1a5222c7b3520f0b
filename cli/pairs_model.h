/* The CLOOME model as `pretrain --method clip|cloob` writes it and `evaluate-retrieval` reads
 * it: a sample encoder ("visual.": a ResNet whose fc gives the embedding, or an MLP on feature
 * vectors), a molecule encoder ("molecule.": MLP on Morgan bits, CLOOME's 4 x [Linear 1024 +
 * BatchNorm + ReLU] -> 512 by default), "logit_inv_tau", and for feature vectors the
 * training-split standardisation ("feature_norm.mean" / ".std"). Its configuration is stored
 * as JSON in the model file's metadata under "cloome". */
#ifndef LF_PAIRS_MODEL_H
#define LF_PAIRS_MODEL_H

#include "labelfree.h"

typedef struct pm_config {
    char modality[16];      /* "features" | "image" */
    int64_t feature_dim;    /* features: input size */
    int profile_hidden, profile_layers; /* features: hidden width, hidden layers */
    lf_encoder_config enc;  /* image: ResNet (num_classes = embed_dim: fc is the projection) */
    int image_size;         /* image: network input side */
    lf_norm_stats norm;     /* image: per-channel statistics of the training split */
    int mol_hidden, mol_layers;
    int fp_radius, fp_bits, fp_chirality;
    int64_t fp_fallbacks;   /* molecules fingerprinted without chirality (unsupported marks) */
    int embed_dim;
} pm_config;

typedef struct pairs_model {
    pm_config c;
    lf_params *P;
    lf_encoder *enc;
    lf_mlp *prof, *mol;
    lf_tensor *logit_inv_tau, *feat_mean, *feat_std;
    lf_image *cache;        /* decoded images, per row (images only), or NULL */
    int64_t n_cache;
} pairs_model;

/* Declares the parameters and finalizes P. learnable: logit_inv_tau gets a gradient. */
lf_status pm_build(pairs_model *m, const pm_config *c, int learnable);
void pm_free(pairs_model *m);
char *pm_config_to_json(const pm_config *c); /* lf_free it */
lf_status pm_config_from_json(const char *json, pm_config *c);
/* Loads RUN/model.safetensors (or the file itself). */
lf_status pm_load(const char *path, pairs_model *m);

/* Input batch of rows idx (n) into x: images (n, C, S, S) resized, augmented when aug is not
 * NULL (rng from seed/epoch), normalised; or features (n, F) standardised. */
lf_tensor *pm_input(lf_graph *g, pairs_model *m, const lf_pairs *p, const int64_t *idx, int64_t n,
                    const lf_augment_config *aug, uint64_t seed, int64_t epoch);
/* Writes a resized (S x S, C channels) image into dst (C, S, S), normalised with the model's
 * per-channel statistics. */
void pm_normalize_into(const pairs_model *m, const lf_image *img, lf_real *dst);
lf_tensor *pm_embed_sample(lf_graph *g, pairs_model *m, lf_tensor *x);
lf_tensor *pm_embed_molecule(lf_graph *g, pairs_model *m, lf_tensor *fp);
/* Eval-mode embeddings, L2-normalised, of rows idx: samples (n, E) and molecules (n, E). */
lf_status pm_embed_rows(pairs_model *m, const lf_pairs *p, const float *fp, const int64_t *idx,
                        int64_t n, float *zs, float *zm);

/* A query encoder (include/labelfree.h, lf_query_encoder) backed by a CLIP/CLOOB model file:
 * encode_smiles = Morgan bits with the model's settings -> molecule MLP -> L2 normalise;
 * encode_image = the sample encoder on an image file (image models) or on a feature vector
 * "FILE.npy#ROW" / a one-row FILE.npy (profile models). Thread safe (one mutex). Signature of
 * lf_model_encoder_loader, registered by `index` and `serve` (cli/pairs_encoder.c). */
lf_status pm_query_encoder_load(lf_query_encoder *e, const char *model_path);

#endif
