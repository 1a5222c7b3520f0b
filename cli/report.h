/* report.md of `labelfree evaluate`, rendered from report.json's content. */
#ifndef LF_REPORT_H
#define LF_REPORT_H

#include <jansson.h>

/* Writes DIR/report.md; returns 0, or prints an error and returns 1. */
int report_markdown(const char *dir, json_t *rep);

#endif
