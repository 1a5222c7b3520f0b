/* labelfree pretrain --method clip|cloob --data pairs.csv --out RUN (CLOOME). */
#include "cli.h"

#include <stdio.h>

int cmd_pretrain_pairs(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "labelfree pretrain: --method clip/cloob is not available in this build yet\n");
    return 2;
}
