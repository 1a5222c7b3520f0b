/* Pieces of the evaluation protocol shared by `probe` and `evaluate`. */
#ifndef LF_PROTOCOL_H
#define LF_PROTOCOL_H

#include "labelfree.h"

/* Split of every dataset item as the probe driver wants it (LF_SPLIT_* as int8). When the
 * data has no validation rows, 20 % of the labelled training rows (stratified, seeded) become
 * validation rows for choosing the logistic regression's C; *carved receives how many. */
int8_t *protocol_splits(const lf_dataset *ds, uint64_t seed, int64_t *carved);
int64_t *protocol_labels(const lf_dataset *ds); /* -1: unlabelled */
/* "0.01,0.1,1" -> values; returns the count or -1 with a message naming the bad value */
int parse_fractions(const char *s, double *out, int max);
/* metrics of predictions from class scores (n, K): accuracy, balanced accuracy, macro-F1,
 * macro AUROC (softmax of logits when logits = 1) into m[4] (LF_PROBE_* order) */
void protocol_metrics(const float *scores, int logits, const int64_t *y, int64_t n, int64_t K,
                      double m[4]);

#endif
