/* One line per event on stderr: time, level, component, message (owner: log.c). */
#ifndef COOP_LOG_INTERNAL_H
#define COOP_LOG_INTERNAL_H

#include <stdarg.h>

#include <coop/types.h>

void log_write(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_writev(int level, const char *component, const char *fmt, va_list ap);
/* The host function: component is the plugin's name. */
void host_logv(const coop_plugin *p, int level, const char *fmt, va_list ap);

#endif
