/* labelfree pretrain --method simclr|mae --data DATA --out RUN: self-supervised pretraining. */
#include "train_loop.h"

#include <stdio.h>
#include <string.h>

int cmd_pretrain(int argc, char **argv)
{
    /* paired image-molecule methods (CLOOME) take a manifest of pairs and their own flags */
    const char *method = run_config_method(argc, argv, "simclr");
    if (!strcmp(method, "clip") || !strcmp(method, "cloob")) return cmd_pretrain_pairs(argc, argv);
    if (strcmp(method, "simclr") != 0 && strcmp(method, "mae") != 0) {
        fprintf(stderr, "labelfree pretrain: --method %s is not available (simclr, mae, clip, cloob)\n", method);
        return 2;
    }
    /* the method's defaults (mae: a ViT, AdamW, ...) before the flags */
    run_config c = run_config_default(method);
    cli_arg args[40];
    int n = run_config_args(&c, args, 39);
    args[n++] = (cli_arg){"method", ARG_STR, &method, "simclr | mae (images) | clip | cloob (image-molecule pairs)", false, false};
    int r = cli_parse("pretrain", argc, argv, args, n);
    if (r) {
        if (r == 2) cli_usage("pretrain", "pretrain an encoder without labels (writes RUN/model.safetensors)", args, n);
        return r == 2 ? 0 : 2;
    }
    if (run_config_check("pretrain", &c)) return 2;
    lf_dataset *ds;
    lf_dataset_options o = lf_dataset_options_default();
    o.seed = (uint64_t)c.seed;
    if (lf_dataset_open(&ds, c.data, &o)) return cli_fail("pretrain");
    int rc = train_run("pretrain", &c, ds, NULL);
    lf_dataset_free(ds);
    return rc;
}
