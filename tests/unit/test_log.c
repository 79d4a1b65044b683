/*
 * Unit tests of core/log.c: each event is one line of key=value pairs, the
 * message quoted with quotes, backslashes, newlines and control bytes escaped,
 * whatever a plugin passes in; an unknown COOP_LOG_LEVEL is warned about once.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log_internal.h"
#include "plugin_internal.h"
#include "stderr_capture.h"
#include "unit.h"

static char captured[8192];

/* Runs the logging calls of which with stderr redirected into captured. */
static void capture(void (*which)(void))
{
    stderr_capture c;
    stderr_capture_begin(&c);
    which();
    stderr_capture_end(&c, captured, sizeof(captured));
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

/* The level is read once per process, on the first line logged; so a child
 * with COOP_LOG_LEVEL=level logs info, info and debug lines and the parent
 * returns what the child wrote to stderr, in out. Returns 0, or -1 when the
 * child could not run. */
static int log_in_child_with_level(const char *level, char *out, size_t outlen)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        setenv("COOP_LOG_LEVEL", level, 1);
        log_write(COOP_LOG_INFO, "core", "first");
        log_write(COOP_LOG_INFO, "core", "second");
        log_write(COOP_LOG_DEBUG, "core", "detail");
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < outlen && (n = read(fds[0], out + len, outlen - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

static void test_unknown_level(void)
{
    char out[4096];
    /* An unknown level: one warning line, once, then info and above. */
    CHECK_INT(log_in_child_with_level("verbose\n", out, sizeof(out)), 0);
    CHECK(matches(out, "^ts=[^ ]+ level=warn component=core "
                       "msg=\"COOP_LOG_LEVEL=verbose\\\\n names no level "
                       "\\(debug, info, warn, error\\); logging info and above\"\n"
                       "ts=[^ ]+ level=info component=core msg=\"first\"\n"
                       "ts=[^ ]+ level=info component=core msg=\"second\"\n$"));
    /* Known levels, in any case, and an empty value: no warning. */
    CHECK_INT(log_in_child_with_level("DEBUG", out, sizeof(out)), 0);
    CHECK(matches(out, "^ts=[^ ]+ level=info component=core msg=\"first\"\n"
                       "ts=[^ ]+ level=info component=core msg=\"second\"\n"
                       "ts=[^ ]+ level=debug component=core msg=\"detail\"\n$"));
    CHECK_INT(log_in_child_with_level("warn", out, sizeof(out)), 0);
    CHECK_STR(out, "");
    CHECK_INT(log_in_child_with_level("", out, sizeof(out)), 0);
    CHECK(matches(out, "^ts=[^ ]+ level=info component=core msg=\"first\"\n"
                       "ts=[^ ]+ level=info component=core msg=\"second\"\n$"));
}

int main(void)
{
    unsetenv("COOP_LOG_LEVEL");
    /* First: the children must inherit a level not yet read. */
    test_unknown_level();

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
