/* labelfree train --supervised --data DATA --out RUN: the supervised baseline (same encoder,
 * from scratch, cross-entropy on the labels of the training split). */
#include "train_loop.h"

#include <stdio.h>

int cmd_train(int argc, char **argv)
{
    run_config c = run_config_default("supervised");
    bool supervised = false;
    cli_arg args[40];
    int n = run_config_args(&c, args, 39);
    args[n++] = (cli_arg){"supervised", ARG_BOOL, &supervised, "train with the labels (required)", false, false};
    int r = cli_parse("train", argc, argv, args, n);
    if (r) {
        if (r == 2) cli_usage("train", "train the encoder with labels from scratch (the baseline)", args, n);
        return r == 2 ? 0 : 2;
    }
    if (!supervised) {
        fprintf(stderr, "labelfree train: say --supervised (self-supervised runs are `labelfree pretrain`)\n");
        return 2;
    }
    if (run_config_check("train", &c)) return 2;
    lf_dataset *ds;
    lf_dataset_options o = lf_dataset_options_default();
    o.seed = (uint64_t)c.seed;
    if (lf_dataset_open(&ds, c.data, &o)) return cli_fail("train");
    int rc = train_run("train", &c, ds, NULL);
    lf_dataset_free(ds);
    return rc;
}
