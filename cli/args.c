#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_usage(const char *cmd, const char *summary, const cli_arg *args, int n_args)
{
    fprintf(stderr, "usage: labelfree %s [flags]\n  %s\n", cmd, summary);
    for (int i = 0; i < n_args; i++) {
        const char *k = args[i].kind == ARG_STR ? "TEXT" : args[i].kind == ARG_INT ? "N"
                      : args[i].kind == ARG_REAL ? "X" : "";
        fprintf(stderr, "  --%-18s %-5s %s%s\n", args[i].name, k, args[i].help,
                args[i].required ? " (required)" : "");
    }
}

int cli_parse(const char *cmd, int argc, char **argv, cli_arg *args, int n_args)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 2;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "labelfree %s: unexpected argument '%s' (flags start with --)\n", cmd, a);
            return 1;
        }
        const char *name = a + 2, *val = NULL;
        char buf[128];
        const char *eq = strchr(name, '=');
        if (eq) {
            size_t len = (size_t)(eq - name);
            if (len >= sizeof buf) len = sizeof buf - 1;
            memcpy(buf, name, len);
            buf[len] = 0;
            name = buf;
            val = eq + 1;
        }
        cli_arg *arg = NULL;
        for (int k = 0; k < n_args; k++)
            if (!strcmp(args[k].name, name)) arg = &args[k];
        if (!arg) {
            fprintf(stderr, "labelfree %s: unknown flag --%s (see labelfree %s --help)\n", cmd, name, cmd);
            return 1;
        }
        arg->seen = true;
        if (arg->kind == ARG_BOOL) {
            *(bool *)arg->dest = val ? (strcmp(val, "0") && strcmp(val, "false")) : true;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "labelfree %s: --%s needs a value\n", cmd, name);
                return 1;
            }
            val = argv[++i];
        }
        char *end;
        errno = 0;
        switch (arg->kind) {
        case ARG_STR: *(const char **)arg->dest = val; break;
        case ARG_INT: {
            long long v = strtoll(val, &end, 10);
            if (errno || *end || end == val) {
                fprintf(stderr, "labelfree %s: --%s expects an integer, got '%s'\n", cmd, name, val);
                return 1;
            }
            *(int64_t *)arg->dest = v;
            break;
        }
        case ARG_REAL: {
            double v = strtod(val, &end);
            if (errno || *end || end == val) {
                fprintf(stderr, "labelfree %s: --%s expects a number, got '%s'\n", cmd, name, val);
                return 1;
            }
            *(double *)arg->dest = v;
            break;
        }
        case ARG_BOOL: break;
        }
    }
    for (int k = 0; k < n_args; k++)
        if (args[k].required && !args[k].seen) {
            fprintf(stderr, "labelfree %s: missing required flag --%s\n", cmd, args[k].name);
            return 1;
        }
    return 0;
}

int cli_fail(const char *cmd)
{
    fprintf(stderr, "labelfree %s: %s\n", cmd, lf_last_error());
    return 1;
}
