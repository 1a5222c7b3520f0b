/* labelfree: one command line for every method. `labelfree help` lists the commands. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"pretrain", cmd_pretrain, "self-supervised pretraining (--method simclr; clip|cloob for image-molecule pairs)"},
    {"train", cmd_train, "supervised baseline training (--supervised)"},
    {"embed", cmd_embed, "write embeddings (.npy) of every item with a trained model"},
    {"probe", cmd_probe, "few-label linear / k-NN probe of embeddings (label fractions)"},
    {"evaluate", cmd_evaluate, "the whole protocol: pretrain, embed, probe, supervised baseline, cross-site"},
    {"fingerprint", cmd_fingerprint, "Morgan fingerprints of SMILES in a CSV (RDKit-identical bits)"},
    {"evaluate-retrieval", cmd_evaluate_retrieval, "CLOOME retrieval / zero-shot / probe report of a clip|cloob model"},
    {"index", cmd_index, "embedding index: build (vectors + SQLite metadata), query (--smiles/--image/--id)"},
    {"serve", cmd_serve, "HTTP server: JSON API + web page over an index (libmicrohttpd)"},
    {"version", cmd_version, "print the version"},
    /* @@COMMAND_TABLE@@ */
};

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("labelfree %s (format %d, %s; OpenBLAS kernels %s, convolution gemm %s, %d threads)\n",
           LF_VERSION, LF_FORMAT_VERSION, sizeof(lf_real) == 8 ? "float64" : "float32",
           lf_blas_corename(), lf_conv_gemm_name(), lf_get_threads());
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: labelfree <command> [--flag value ...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(stderr, "  %-18s %s\n", commands[i].name, commands[i].summary);
    fprintf(stderr, "\n`labelfree <command> --help` lists a command's flags.\n");
}

int main(int argc, char **argv)
{
    /* OpenMP threads that spin while waiting fight the loader's threads and other processes
     * for the cores (bench/NOTES.md: on a loaded machine, embedding 2-7x faster with passive
     * waiting). libgomp reads the policy when it loads, before main, so the process
     * re-executes itself once with it set (unless the user chose a policy). */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("LF_NO_REEXEC")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        setenv("LF_NO_REEXEC", "1", 1);
        execv("/proc/self/exe", argv);
        /* if exec fails, carry on with the default policy */
    }
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "labelfree: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
}
