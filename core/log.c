/*
 * coopd's log: one line per event on stderr,
 *
 *     ts=2026-12-03T16:28:12.123Z level=info component=voting msg="proposal 3 closed"
 *
 * key=value so that both people and grep read it. The message is quoted and
 * escaped (quotes, backslashes, newlines, control bytes) so that an event is
 * always exactly one line, whatever a plugin passes in. Each line leaves in one
 * write(2), so lines of concurrent writers (a worker and its master) never mix.
 *
 * COOP_LOG_LEVEL=debug|info|warn|error in the environment sets the lowest level
 * written (default info; any other value is warned about once, then info).
 */
#include "log_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "plugin_internal.h"

/* Messages longer than this are cut (and say so); a log line is not a dump. */
#define LOG_MESSAGE_MAX 4096

static int log_min_level = -1; /* -1: not read from the environment yet */

/* Read on the first line logged, which comes at start-up. A value that names
 * no level is not an error worth refusing start-up for, but it must not pass
 * unnoticed either: the first line logged says so, and info applies. Set but
 * empty counts as unset. */
static int log_threshold(void)
{
    if (log_min_level >= 0)
        return log_min_level;
    const char *env = getenv("COOP_LOG_LEVEL");
    log_min_level = COOP_LOG_INFO; /* before the warning below, which logs */
    if (!env || !*env || strcasecmp(env, "info") == 0)
        return log_min_level;
    if (strcasecmp(env, "debug") == 0)
        log_min_level = COOP_LOG_DEBUG;
    else if (strcasecmp(env, "warn") == 0)
        log_min_level = COOP_LOG_WARN;
    else if (strcasecmp(env, "error") == 0)
        log_min_level = COOP_LOG_ERROR;
    else
        log_write(COOP_LOG_WARN, "core",
                  "COOP_LOG_LEVEL=%.64s names no level (debug, info, warn, error); logging "
                  "info and above",
                  env);
    return log_min_level;
}

static const char *level_name(int level)
{
    switch (level) {
    case COOP_LOG_DEBUG:
        return "debug";
    case COOP_LOG_INFO:
        return "info";
    case COOP_LOG_WARN:
        return "warn";
    default:
        return "error";
    }
}

/* Appends src to dst[*len..cap), escaped for a double-quoted value; stops
 * before overflowing and returns 0 then. */
static int append_escaped(char *dst, size_t *len, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *s = (const unsigned char *)src; *s; s++) {
        char esc[5];
        size_t n = 0;
        switch (*s) {
        case '"':
            esc[n++] = '\\', esc[n++] = '"';
            break;
        case '\\':
            esc[n++] = '\\', esc[n++] = '\\';
            break;
        case '\n':
            esc[n++] = '\\', esc[n++] = 'n';
            break;
        case '\r':
            esc[n++] = '\\', esc[n++] = 'r';
            break;
        case '\t':
            esc[n++] = '\\', esc[n++] = 't';
            break;
        default:
            if (*s < 0x20 || *s == 0x7f) {
                esc[n++] = '\\', esc[n++] = 'x', esc[n++] = hex[*s >> 4], esc[n++] = hex[*s & 0xf];
            } else {
                esc[n++] = (char)*s;
            }
        }
        if (*len + n >= cap)
            return 0;
        memcpy(dst + *len, esc, n);
        *len += n;
    }
    return 1;
}

void log_writev(int level, const char *component, const char *fmt, va_list ap)
{
    if (level < log_threshold())
        return;

    char message[LOG_MESSAGE_MAX];
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    int truncated = n >= (int)sizeof(message);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    time_t secs = tv.tv_sec;
    gmtime_r(&secs, &tm);

    /* Room for the escaped message (up to 4 bytes per byte) and the keys. */
    char line[LOG_MESSAGE_MAX * 4 + 256];
    size_t len = (size_t)snprintf(
        line, sizeof(line),
        "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s component=", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
        level_name(level));
    /* Component names are plugin names or core module names ([a-z0-9_.]); a
     * space or quote in one would break the key=value form, so escape it too. */
    const char *c = component && *component ? component : "core";
    for (; *c && len < 64 + 64; c++)
        line[len++] = (*c == ' ' || *c == '"' || *c == '=' || (unsigned char)*c < 0x20) ? '_' : *c;
    memcpy(line + len, " msg=\"", 6);
    len += 6;
    append_escaped(line, &len, sizeof(line) - 32, message);
    if (truncated) {
        memcpy(line + len, "...(cut)", 8);
        len += 8;
    }
    line[len++] = '"';
    line[len++] = '\n';

    /* One write per line; retry on a partial write (a pipe may take it in parts). */
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
}

void log_write(int level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_writev(level, component, fmt, ap);
    va_end(ap);
}

void host_logv(const coop_plugin *p, int level, const char *fmt, va_list ap)
{
    if (level < COOP_LOG_DEBUG || level > COOP_LOG_ERROR)
        level = COOP_LOG_ERROR;
    log_writev(level, p ? p->name : "core", fmt ? fmt : "", ap);
}
