/* The labelfree command line: `labelfree <command> [--flag value ...]`.
 * Every command is one file cli/cmd_<name>.c exposing `int cmd_<name>(int argc, char **argv)`
 * and listed in cli/main.c. Flags are long (--data, --out); parsing goes through cli/args.c. */
#ifndef LF_CLI_H
#define LF_CLI_H

#include "labelfree.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- flag parsing: declare the flags a command takes, then parse argv against them */
typedef enum { ARG_STR, ARG_INT, ARG_REAL, ARG_BOOL } arg_kind;
typedef struct cli_arg {
    const char *name;    /* without the leading -- */
    arg_kind kind;
    void *dest;          /* const char **, int64_t *, double *, bool * */
    const char *help;
    bool required;
    bool seen;
} cli_arg;

/* Parses argv[1..] (argv[0] is the command name). Unknown flags, missing values, bad numbers
 * and missing required flags print a message naming the flag and return non-zero. */
int cli_parse(const char *cmd, int argc, char **argv, cli_arg *args, int n_args);
void cli_usage(const char *cmd, const char *summary, const cli_arg *args, int n_args);
/* Prints "labelfree <cmd>: <lf_last_error()>" to stderr and returns 1. */
int cli_fail(const char *cmd);
/* Creates the folder path and its missing parents (mkdir -p); an existing folder is fine.
 * Returns 0, or prints "labelfree <cmd>: cannot create ..." and returns 1. */
int cli_make_dirs(const char *cmd, const char *path);

/* ---- commands */
int cmd_version(int argc, char **argv);
/* @@COMMANDS@@ */
int cmd_evaluate_retrieval(int argc, char **argv);
/* index build|query and serve (cli/cmd_index.c, cli/cmd_serve.c) */
int cmd_index(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
/* pretrain --method clip|cloob (cli/cmd_pretrain_pairs.c) */
int cmd_pretrain_pairs(int argc, char **argv);
/* "RUN" or "RUN/model.safetensors" -> the model file's path */
void model_path_of(const char *arg, char *out, size_t size);
int cmd_fingerprint(int argc, char **argv);

#endif
