/* Progress reporting for long commands: a redrawn bar (items/s, loss, ETA) on a terminal,
 * plain periodic lines when stderr is not a terminal (logs, CI). */
#ifndef LF_PROGRESS_H
#define LF_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct progress {
    const char *label;
    int64_t total, done;
    double t_start, t_last_print;
    bool tty;
    double plain_interval_s; /* seconds between plain lines */
} progress;

double now_seconds(void);
void progress_start(progress *p, const char *label, int64_t total);
/* done: items finished so far; loss may be NaN (not shown); extra may be NULL */
void progress_update(progress *p, int64_t done, double loss, const char *extra);
void progress_finish(progress *p, double loss, const char *extra);

#endif
