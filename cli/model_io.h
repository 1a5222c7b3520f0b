/* A trained model as the commands exchange it: RUN/model.safetensors holds the encoder's
 * parameters under torchvision names (plus "projection_head.*" for SimCLR), and metadata:
 * "encoder" (lf_encoder_config JSON), "normalization" (per-channel mean/std), "image_size",
 * "method", "classes" (supervised: class names), "config" (the run's configuration). */
#ifndef LF_MODEL_IO_H
#define LF_MODEL_IO_H

#include "labelfree.h"

typedef struct loaded_model {
    lf_params *P;
    lf_encoder *enc;
    lf_encoder_config ecfg;
    lf_norm_stats norm;
    int image_size;
    char method[32];
} loaded_model;

/* Loads the encoder (and its classifier when it has one); other tensors in the file (the
 * projection head) are ignored. Errors name the file and the missing/mismatched field. */
lf_status model_load(const char *path, loaded_model *m);
void model_free(loaded_model *m);

/* Runs the encoder over the items `idx` (n of them) of ds without augmentation (resize to the
 * model's input size, normalise) in eval mode; out (n, dim) row-major in idx's order, where
 * dim is lf_encoder_feature_dim (logits = 0) or the number of classes (logits = 1). */
lf_status model_infer(loaded_model *m, const lf_dataset *ds, const int64_t *idx, int64_t n,
                      int logits, int batch_size, float *out, int64_t *dim);

#endif
