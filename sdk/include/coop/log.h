/*
 * coop SDK: logging. One line per event on coopd's log, tagged with the
 * plugin's name.
 */
#ifndef COOP_LOG_H
#define COOP_LOG_H

#include <stdarg.h>

#include "host.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Logs a printf-style message (copied) at level (enum coop_log_level).
 *  Newlines in it are escaped so that an event stays one line. */
static inline void coop_log(const coop_plugin *self, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline void coop_log(const coop_plugin *self, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    coop_host->logv(self, level, fmt, ap);
    va_end(ap);
}

#ifdef __cplusplus
}
#endif
#endif /* COOP_LOG_H */
