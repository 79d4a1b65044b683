/*
 * Unit tests of core/log.c: each event is one line of key=value pairs, the
 * message quoted with quotes, backslashes, newlines and control bytes escaped,
 * whatever a plugin passes in.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_internal.h"
#include "plugin_internal.h"
#include "unit.h"

static char captured[8192];

/* Runs the logging calls of which with stderr redirected into captured. */
static void capture(void (*which)(void))
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    which();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof(captured) - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
}

static void log_plain(void)
{
    log_write(COOP_LOG_INFO, "core", "listening on %s:%d", "127.0.0.1", 8080);
}

static void log_hostile(void)
{
    log_write(COOP_LOG_WARN, "voting", "a \"quoted\" word,\na second line\\ and a tab\there\x01");
}

static void call_host_logv(const coop_plugin *p, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_logv(p, level, fmt, ap);
    va_end(ap);
}

static void log_from_plugin(void)
{
    coop_plugin p = {.name = "hello"};
    call_host_logv(&p, COOP_LOG_ERROR, "n=%d", 3);
    call_host_logv(&p, 99, "odd level");
    call_host_logv(NULL, COOP_LOG_DEBUG, "not shown at the default level");
}

static void log_long(void)
{
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    log_write(COOP_LOG_INFO, "core", "%s", big);
    free(big);
}

static int matches(const char *text, const char *pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

int main(void)
{
    unsetenv("COOP_LOG_LEVEL");

    capture(log_plain);
    CHECK(matches(captured,
                  "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                  "level=info component=core msg=\"listening on 127\\.0\\.0\\.1:8080\"\n$"));

    capture(log_hostile);
    const char *msg = strstr(captured, " level=");
    CHECK_STR(msg, " level=warn component=voting msg=\"a \\\"quoted\\\" word,\\na second line\\\\ "
                   "and a tab\\there\\x01\"\n");

    capture(log_from_plugin);
    CHECK(matches(captured, "^ts=[^ ]+ level=error component=hello msg=\"n=3\"\n"
                            "ts=[^ ]+ level=error component=hello msg=\"odd level\"\n$"));

    capture(log_long);
    CHECK_INT(strchr(captured, '\n') - captured + 1, (long long)strlen(captured));
    CHECK(strstr(captured, "...(cut)\"\n") != NULL);
    return unit_finish();
}
