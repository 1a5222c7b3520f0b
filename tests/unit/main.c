/* Test runner: runs every registered test (or those whose name contains argv[1]). */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TESTS 1024

static struct {
    const char *name, *file;
    lf_test_fn fn;
} tests[MAX_TESTS];
static int n_tests;
static int cur_failures, cur_skipped;

void lf_test_register(const char *name, const char *file, lf_test_fn fn)
{
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].file = file;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void lf_test_fail(const char *file, int line, const char *fmt, ...)
{
    if (cur_failures < 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stdout, "    %s:%d: ", file, line);
        vfprintf(stdout, fmt, ap);
        fprintf(stdout, "\n");
        va_end(ap);
    }
    cur_failures++;
}

void lf_test_skip(const char *why)
{
    cur_skipped = 1;
    printf("    skipped: %s\n", why);
}

const char *lf_test_data_dir(void)
{
    const char *d = getenv("LF_TEST_DATA");
    return d ? d : "tests/data";
}

static int by_name(const void *a, const void *b)
{
    const char *fa = ((const __typeof__(tests[0]) *)a)->file, *fb = ((const __typeof__(tests[0]) *)b)->file;
    int c = strcmp(fa, fb);
    return c ? c : strcmp(((const __typeof__(tests[0]) *)a)->name, ((const __typeof__(tests[0]) *)b)->name);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    qsort(tests, (size_t)n_tests, sizeof tests[0], by_name);
    lf_set_threads(getenv("LF_THREADS") ? atoi(getenv("LF_THREADS")) : 2);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        cur_failures = 0;
        cur_skipped = 0;
        lf_clear_error();
        tests[i].fn();
        if (cur_failures) {
            printf("FAIL %s (%s)\n", tests[i].name, tests[i].file);
            failed++;
        } else if (cur_skipped) {
            printf("SKIP %s\n", tests[i].name);
            skipped++;
        } else {
            printf("ok   %s\n", tests[i].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
