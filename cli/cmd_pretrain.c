/* labelfree pretrain --method simclr --data DATA --out RUN: self-supervised pretraining. */
#include "train_loop.h"

#include <stdio.h>
#include <string.h>

int cmd_pretrain(int argc, char **argv)
{
    /* paired image-molecule methods (CLOOME) take a manifest of pairs and their own flags */
    for (int i = 1; i < argc; i++) {
        const char *m = !strncmp(argv[i], "--method=", 9) ? argv[i] + 9
                        : !strcmp(argv[i], "--method") && i + 1 < argc ? argv[i + 1] : NULL;
        if (m && (!strcmp(m, "clip") || !strcmp(m, "cloob"))) return cmd_pretrain_pairs(argc, argv);
    }
    run_config c = run_config_default("simclr");
    const char *method = "simclr";
    cli_arg args[40];
    int n = run_config_args(&c, args, 39);
    args[n++] = (cli_arg){"method", ARG_STR, &method, "simclr (images) | clip | cloob (image-molecule pairs)", false, false};
    int r = cli_parse("pretrain", argc, argv, args, n);
    if (r) {
        if (r == 2) cli_usage("pretrain", "pretrain an encoder without labels (writes RUN/model.safetensors)", args, n);
        return r == 2 ? 0 : 2;
    }
    if (strcmp(method, "simclr") != 0) {
        fprintf(stderr, "labelfree pretrain: --method %s is not available (simclr)\n", method);
        return 2;
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
