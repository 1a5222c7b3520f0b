/* Thread-local error slot: the library's failures leave a message here (never exit/abort). */
#include "labelfree.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char err_msg[1024];
static _Thread_local lf_status err_status = LF_OK;

const char *lf_last_error(void) { return err_msg[0] ? err_msg : "no error"; }
lf_status lf_last_status(void) { return err_status; }

void lf_clear_error(void)
{
    err_msg[0] = 0;
    err_status = LF_OK;
}

const char *lf_status_name(lf_status s)
{
    switch (s) {
    case LF_OK: return "ok";
    case LF_ERR_ARG: return "invalid argument";
    case LF_ERR_SHAPE: return "shape mismatch";
    case LF_ERR_IO: return "i/o error";
    case LF_ERR_FORMAT: return "format error";
    case LF_ERR_NOMEM: return "out of memory";
    case LF_ERR_NUMERIC: return "numeric error";
    case LF_ERR_UNSUPPORTED: return "unsupported";
    case LF_ERR_STATE: return "invalid state";
    }
    return "unknown status";
}

lf_status lf_error(lf_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    err_status = s;
    return s;
}
