/*
 * coopd: the command line and the start-up order.
 *
 *   coopd CONFIG                                        run
 *   coopd --check CONFIG                                validate the config and every plugin's
 *                                                       settings (plugins are loaded; no database)
 *   coopd --create-operator-token CONFIG [--label TEXT] print a new operator token
 *   coopd --help | --version
 *
 * Every start-up failure is one line on stderr, "coopd: <culprit>: <reason>",
 * and exit status 2, so that an operator (or systemd's journal) shows exactly
 * what to fix. After start-up, SIGTERM and SIGINT stop coopd gracefully:
 * in-flight requests finish, plugins stop in reverse order, exit status 0.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "config_internal.h"
#include "db_internal.h"
#include "http_internal.h"
#include "identity_internal.h"
#include "log_internal.h"
#include "loop_internal.h"
#include "plugin_internal.h"
#include "schema_internal.h"
#include "service_internal.h"
#include "timer_internal.h"

#ifndef COOP_VERSION
#define COOP_VERSION "0.1.0"
#endif

#define EXIT_STARTUP_FAILED 2

/* After stopping, how long the loop may still run to write the replies that
 * stopping produced (503 for requests whose statements were cancelled). How
 * long a stop waits for in-flight requests before that is http_drain's. */
#define LINGER_LIMIT_MS 2000
#define LINGER_POLL_MS 20

static const char usage_text[] =
    "usage: coopd CONFIG                          run the server\n"
    "       coopd --check CONFIG                  validate CONFIG and every plugin's settings\n"
    "       coopd --create-operator-token CONFIG [--label TEXT]\n"
    "                                             print a new operator token on stdout\n"
    "       coopd --help | --version\n"
    "\n"
    "Database secrets come from libpq's environment (PGPASSWORD, PGHOST, ...) or ~/.pgpass.\n"
    "COOP_LOG_LEVEL=debug|info|warn|error sets the lowest level logged (default info).\n";

/* Prints "coopd: <what>" as one line: newlines in what (libpq and dlerror
 * messages have them) become spaces, trailing ones are dropped. */
static void print_failure(const char *what)
{
    char line[2048];
    snprintf(line, sizeof(line), "%s", what);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\r'))
        line[--n] = '\0';
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    fprintf(stderr, "coopd: %s\n", line);
    fflush(stderr);
}

/* ---------------------------------------------------------------------------------------- */
/* The command line */

enum command { RUN, CHECK, CREATE_OPERATOR_TOKEN };

typedef struct options {
    enum command command;
    const char *config;
    const char *label;
} options;

/* Returns 0, 1 when it answered --help or --version, or -1 with err set. */
static int parse_args(int argc, char **argv, options *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    int commands = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("coopd %s (plugin SDK ABI %d.%d)\n", COOP_VERSION, COOP_ABI_MAJOR,
                   COOP_ABI_MINOR);
            return 1;
        }
        if (strcmp(a, "--check") == 0) {
            o->command = CHECK, commands++;
        } else if (strcmp(a, "--create-operator-token") == 0) {
            o->command = CREATE_OPERATOR_TOKEN, commands++;
        } else if (strcmp(a, "--label") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--label: needs a TEXT (see coopd --help)");
                return -1;
            }
            o->label = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            snprintf(err, errlen, "%s: unknown option (see coopd --help)", a);
            return -1;
        } else if (o->config) {
            snprintf(err, errlen, "%s: only one CONFIG may be given (see coopd --help)", a);
            return -1;
        } else {
            o->config = a;
        }
    }
    if (commands > 1) {
        snprintf(err, errlen, "usage: --check and --create-operator-token exclude each other");
        return -1;
    }
    if (o->label && o->command != CREATE_OPERATOR_TOKEN) {
        snprintf(err, errlen, "--label: only with --create-operator-token (see coopd --help)");
        return -1;
    }
    if (!o->config) {
        snprintf(err, errlen,
                 "usage: coopd [--check | --create-operator-token] CONFIG "
                 "(see coopd --help)");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Running */

/* What has been started, so that a failure half-way stops exactly that. */
typedef struct server {
    coop_config cfg;
    struct event_base *base;
    struct event *sigterm, *sigint, *sighup, *linger;
    uint64_t linger_until_ms;
    int plugins_loaded, pool_started, identity_started, http_started, stopping, stopped;
} server;

static server the_server;

/* Stops what runs. Idempotent. First the database goes quiet: statements
 * still queued or running get their callback now, with -COOP_ECANCELLED, and
 * new ones are refused. Then plugins stop (dependents first) and free their
 * state, which no callback of coopd's touches any more: timers cannot fire
 * while this runs (it is one turn of the loop), a plugin's stop may still
 * cancel its own (their handles stay valid until then), and those left are
 * cancelled right after, without their callbacks. The pool's memory goes
 * last. */
static void server_stop_services(server *s)
{
    if (s->stopped)
        return;
    s->stopped = 1;
    if (s->pool_started)
        db_pool_cancel();
    plugins_stop();
    core_plugin()->state = PLUGIN_STOPPED;
    timers_cancel_all();
    if (s->identity_started)
        identity_stop();
    if (s->pool_started)
        db_pool_close();
}

static void server_free(server *s)
{
    server_stop_services(s);
    if (s->http_started)
        http_free();
    if (s->sigterm)
        event_free(s->sigterm);
    if (s->sigint)
        event_free(s->sigint);
    if (s->sighup)
        event_free(s->sighup);
    if (s->linger)
        event_free(s->linger);
    services_clear();
    if (s->plugins_loaded)
        plugins_unload();
    loop_set(NULL);
    if (s->base)
        event_base_free(s->base);
    schema_free_cache();
    config_free(&s->cfg);
    memset(s, 0, sizeof(*s));
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Leaves the loop once every reply is written (or the connection gone), or
 * at the linger limit: a client must not lose the 503 that stopping gave it,
 * nor a client that does not read keep coopd from exiting. */
static void linger_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    server *s = arg;
    size_t left = requests_in_flight();
    if (left > 0 && monotonic_ms() < s->linger_until_ms)
        return;
    if (left > 0)
        log_write(COOP_LOG_WARN, "core", "%zu reply(s) not written within %d ms of stopping", left,
                  LINGER_LIMIT_MS);
    event_del(s->linger);
    event_base_loopexit(s->base, NULL);
}

/* Stops everything, then leaves the loop once the replies that stopping
 * produced are written (bounded by LINGER_LIMIT_MS). */
static void stop_and_exit(server *s)
{
    if (s->stopped)
        return;
    server_stop_services(s);
    s->linger_until_ms = monotonic_ms() + LINGER_LIMIT_MS;
    struct timeval poll = {.tv_sec = 0, .tv_usec = LINGER_POLL_MS * 1000};
    s->linger = event_new(s->base, -1, EV_PERSIST, linger_check, s);
    if (!s->linger || event_add(s->linger, &poll) != 0) {
        event_base_loopexit(s->base, NULL);
        return;
    }
    event_active(s->linger, EV_TIMEOUT, 0);
}

/* http_drain is done: no request in flight, or its deadline passed. */
static void drained(void *arg)
{
    stop_and_exit(arg);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    server *s = arg;
    if (s->stopping) {
        log_write(COOP_LOG_WARN, "core", "%s again: stopping now",
                  sig == SIGINT ? "SIGINT" : "SIGTERM");
        stop_and_exit(s);
        return;
    }
    s->stopping = 1;
    log_write(COOP_LOG_INFO, "core", "%s: stopping (draining in-flight requests)",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
    http_drain(drained, s);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what, (void)arg;
    log_write(COOP_LOG_WARN, "core",
              "SIGHUP: reloading the configuration is not supported yet; "
              "restart coopd to apply changes");
}

static int add_signal(server *s, struct event **ev, int sig, event_callback_fn cb)
{
    *ev = evsignal_new(s->base, sig, cb, s);
    return *ev && evsignal_add(*ev, NULL) == 0 ? 0 : -1;
}

/* Connects (blocking: before the loop runs) and applies the core's migrations. */
static PGconn *connect_and_migrate_core(const coop_config *cfg, char *err, size_t errlen)
{
    PGconn *conn = db_connect_blocking(cfg->conninfo, err, errlen);
    if (!conn)
        return NULL;
    if (migrations_apply(conn, "core", "coop", core_migrations, err, errlen) < 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static void log_plugins(void)
{
    for (size_t i = 0; i < plugins_count(); i++) {
        const coop_plugin *p = plugins_at(i);
        log_write(COOP_LOG_INFO, "core", "plugin %s %s loaded from %s", p->name, p->desc->version,
                  p->path);
    }
}

static int run(server *s, char *err, size_t errlen)
{
    if (plugins_load(&s->cfg, err, errlen) < 0)
        return -1;
    log_write(COOP_LOG_INFO, "core", "coopd %s starting with %s", COOP_VERSION, s->cfg.path);
    log_plugins();

    PGconn *conn = connect_and_migrate_core(&s->cfg, err, errlen);
    if (!conn)
        return -1;
    int rc = plugins_migrate(conn, err, errlen);
    PQfinish(conn);
    if (rc < 0)
        return -1;

    s->base = event_base_new();
    if (!s->base) {
        snprintf(err, errlen, "event loop: cannot create it");
        return -1;
    }
    loop_set(s->base);
    if (db_pool_start(s->base, s->cfg.conninfo, s->cfg.pool_size, err, errlen) < 0)
        return -1;
    s->pool_started = 1;

    coop_plugin *core = core_plugin();
    core->state = PLUGIN_INITIALISING;
    s->identity_started = 1;
    if (identity_init(&s->cfg) < 0) {
        snprintf(err, errlen, "identity: cannot register its routes");
        return -1;
    }
    if (builtin_routes_register() < 0) {
        snprintf(err, errlen, "http: cannot register the built-in routes");
        return -1;
    }
    core->state = PLUGIN_INITIALISED;

    if (plugins_init(err, errlen) < 0)
        return -1;
    if (add_signal(s, &s->sigterm, SIGTERM, on_stop_signal) < 0 ||
        add_signal(s, &s->sigint, SIGINT, on_stop_signal) < 0 ||
        add_signal(s, &s->sighup, SIGHUP, on_sighup) < 0) {
        snprintf(err, errlen, "signals: cannot watch SIGTERM, SIGINT and SIGHUP");
        return -1;
    }
    if (http_start(s->base, &s->cfg, err, errlen) < 0)
        return -1;
    s->http_started = 1;
    if (plugins_start(err, errlen) < 0)
        return -1;
    core->state = PLUGIN_STARTED;

    if (event_base_dispatch(s->base) < 0) {
        snprintf(err, errlen, "event loop: failed");
        return -1;
    }
    log_write(COOP_LOG_INFO, "core", "stopped");
    return 0;
}

static int check(server *s, char *err, size_t errlen)
{
    if (plugins_load(&s->cfg, err, errlen) < 0)
        return -1;
    printf("%s: ok", s->cfg.path);
    for (size_t i = 0; i < plugins_count(); i++)
        printf("%s%s %s", i == 0 ? "; plugins in start order: " : ", ", plugins_at(i)->name,
               plugins_at(i)->desc->version);
    printf("\n");
    return 0;
}

static int create_operator_token(server *s, const char *label, char *err, size_t errlen)
{
    PGconn *conn = connect_and_migrate_core(&s->cfg, err, errlen);
    if (!conn)
        return -1;
    char token[256];
    int rc = identity_create_operator_token(conn, label ? label : "operator", token, sizeof(token),
                                            err, errlen);
    PQfinish(conn);
    if (rc < 0)
        return -1;
    printf("%s\n", token);
    return fflush(stdout) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    /* A client that goes away must cost a failed write, not the process. */
    signal(SIGPIPE, SIG_IGN);

    char err[2048] = "";
    options o;
    int parsed = parse_args(argc, argv, &o, err, sizeof(err));
    if (parsed != 0) {
        if (parsed < 0)
            print_failure(err);
        return parsed < 0 ? EXIT_STARTUP_FAILED : 0;
    }

    server *s = &the_server;
    if (config_load(o.config, &s->cfg, err, sizeof(err)) < 0) {
        print_failure(err);
        return EXIT_STARTUP_FAILED;
    }

    int rc;
    switch (o.command) {
    case CHECK:
        s->plugins_loaded = 1;
        rc = check(s, err, sizeof(err));
        break;
    case CREATE_OPERATOR_TOKEN:
        rc = create_operator_token(s, o.label, err, sizeof(err));
        break;
    default:
        s->plugins_loaded = 1;
        rc = run(s, err, sizeof(err));
        break;
    }
    if (rc < 0) {
        /* Say why first: stopping what started may log lines of its own. */
        print_failure(err[0] ? err : "start-up failed");
    }
    server_free(s);
    return rc < 0 ? EXIT_STARTUP_FAILED : 0;
}
