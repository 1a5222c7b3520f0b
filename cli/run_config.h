/* The configuration of a training run (pretrain / train --supervised / evaluate): parsed from
 * flags, printed at start, saved as RUN/config.json and into the model's metadata. */
#ifndef LF_RUN_CONFIG_H
#define LF_RUN_CONFIG_H

#include "cli.h"

typedef struct run_config {
    const char *method;      /* simclr | mae | supervised */
    const char *data, *out;
    const char *arch, *stem, *augment, *optimizer;
    int64_t image_size, channels, width, epochs, batch_size, seed, threads, loader_threads;
    int64_t warmup_epochs, proj_hidden, proj_dim, checkpoint_every;
    int64_t patch, depth, heads;                         /* vit */
    int64_t decoder_width, decoder_depth, decoder_heads; /* mae */
    int64_t norm_pix_loss;                               /* mae: 1 / 0 */
    double lr, weight_decay, momentum, temperature;
    double mask_ratio;                                   /* mae */
    bool resume, quiet;
    bool recompute;          /* blocks recomputed in backward (lf_graph_set_recompute) */
    /* supervised only: a subset of the training items (NULL: the whole training split) */
    const int64_t *subset;
    int64_t n_subset;
} run_config;

/* Defaults for method ("simclr", "mae" or "supervised"): small enough for a laptop. */
run_config run_config_default(const char *method);
/* The value of --method (or --method=) in argv, else dflt: the defaults depend on it, so
 * commands read it before parsing the other flags. */
const char *run_config_method(int argc, char **argv, const char *dflt);
/* The flags shared by pretrain / train / evaluate, bound to c's fields. Returns the count. */
int run_config_args(run_config *c, cli_arg *args, int max);
/* Checks values; prints a message naming the flag and returns non-zero when one is bad. */
int run_config_check(const char *cmd, const run_config *c);
/* JSON object text (lf_free it). */
char *run_config_to_json(const run_config *c);

#endif
