/* A minimal test framework: TEST(name) { ... } registers itself (constructor attribute);
 * CHECK* macros record failures with file:line and continue. The runner (main.c) prints one
 * line per test and ends with 'N passed, N failed'. */
#ifndef LF_TEST_H
#define LF_TEST_H

#include "labelfree.h"

#include <math.h>
#include <stdio.h>

typedef void (*lf_test_fn)(void);
void lf_test_register(const char *name, const char *file, lf_test_fn fn);
void lf_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lf_test_skip(const char *why);
/* Directory of the repository's test data (tests/data), overridable by LF_TEST_DATA. */
const char *lf_test_data_dir(void);

#define TEST(name)                                                                         \
    static void test_##name(void);                                                         \
    __attribute__((constructor)) static void register_##name(void)                        \
    {                                                                                      \
        lf_test_register(#name, __FILE__, test_##name);                                    \
    }                                                                                      \
    static void test_##name(void)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) lf_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                 \
    } while (0)

#define CHECK_MSG(cond, ...)                                                               \
    do {                                                                                   \
        if (!(cond)) lf_test_fail(__FILE__, __LINE__, __VA_ARGS__);                        \
    } while (0)

/* library call that must succeed; prints lf_last_error() otherwise */
#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        lf_status s_ = (expr);                                                             \
        if (s_ != LF_OK) lf_test_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr,           \
                                      lf_status_name(s_), lf_last_error());                \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double a_ = (double)(a), b_ = (double)(b);                                         \
        if (!(fabs(a_ - b_) <= (tol)))                                                     \
            lf_test_fail(__FILE__, __LINE__, "%s = %.9g vs %s = %.9g (tol %g)", #a, a_, #b,  \
                         b_, (double)(tol));                                               \
    } while (0)

#endif
