/* Training runs shared by `pretrain` (self-supervised, SimCLR), `train --supervised` and
 * `evaluate`: data, model, optimizer, schedule, checkpoints (resume), metrics, model file. */
#ifndef LF_TRAIN_LOOP_H
#define LF_TRAIN_LOOP_H

#include "run_config.h"

typedef struct train_summary {
    int64_t steps;
    double seconds, images_per_s, final_loss;
} train_summary;

/* Trains as c says on ds's training split (or c->subset), writing into c->out:
 * config.json, metrics.jsonl, checkpoint.safetensors (every epoch / --checkpoint-every
 * steps, atomic), model.safetensors at the end. Returns 0 or prints the error and returns 1. */
int train_run(const char *cmd, run_config *c, const lf_dataset *ds, train_summary *sum);

/* A resumed run repeats the steps after its last checkpoint: drops the lines of steps >= step
 * from the metrics file at path, so that each step appears once. */
void drop_metrics_from(const char *path, int64_t step);

#endif
