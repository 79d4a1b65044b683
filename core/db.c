/*
 * The asynchronous PostgreSQL pool on the event loop.
 *
 * Each connection is a non-blocking libpq connection whose socket is watched
 * by one libevent event: connecting (PQconnectPoll), sending (PQflush) and
 * reading (PQconsumeInput / PQisBusy / PQgetResult) all happen in on_conn_io,
 * so nothing here ever waits for the server. Statements wait in one FIFO queue
 * while every connection is busy.
 *
 * Failure is a normal state: a connection that drops fails its statement with
 * -COOP_EUNAVAILABLE and reconnects with a doubling backoff; while no
 * connection is up, new statements fail at once (their callback deferred to
 * the loop) instead of piling up, and so do those queued when the last one
 * went; queued ones otherwise give up after a bound. When the
 * server comes back the reconnect timers find it, without anyone's help.
 *
 * search_path: a plugin's unqualified names resolve in its own schema. Every
 * connection remembers the schema its search_path names and only sends
 * `SET search_path` when a statement of another owner comes along (a session
 * setting made outside any transaction, so a later ROLLBACK cannot undo it).
 * A plugin that changes search_path itself defeats this, so it must not.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "db_pool_internal.h"
#include "log_internal.h"
#include "plugin_internal.h"

/* How long a statement may wait for a free connection before it fails. */
#define DB_QUEUE_TIMEOUT_MS 5000
/* Reconnect backoff: the first retry after a drop comes quickly, later ones
 * double up to the cap, which bounds how long recovery takes once the server
 * is back. */
#define DB_BACKOFF_MIN_MS 100
#define DB_BACKOFF_MAX_MS 5000
/* At most one line per this about connections failing to connect. */
#define DB_CONNECT_LOG_MS 5000
/* libpq's connect_timeout is not enforced for PQconnectPoll: our own. */
#define DB_CONNECT_TIMEOUT_MS 10000

/* TCP settings added to the operator's conninfo unless it sets them: without
 * them a server that vanishes from the network (host down, partition) leaves
 * connections "up" for the kernel's default of hours, and their statements
 * hanging. With them a dead peer is noticed within about half a minute. */
/* clang-format off */
static const char *const db_tcp_defaults[][2] = {
    {"keepalives", "1"},
    {"keepalives_idle", "10"},
    {"keepalives_interval", "5"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "30000"},
};
/* clang-format on */
#define DB_TCP_DEFAULTS (sizeof db_tcp_defaults / sizeof db_tcp_defaults[0])

/* How long a statement may run on a pool connection before PostgreSQL
 * cancels it (-COOP_EDB, SQLSTATE 57014): a stuck statement must not hold a
 * connection, and the requests waiting on it, for ever. Added to the
 * connection's options unless the operator's options (conninfo or PGOPTIONS)
 * name statement_timeout; as a connection option it also wins over ALTER ROLE
 * or DATABASE settings, so operators set theirs in the conninfo. Start-up
 * connections (migrations) do not get it: a long migration is legitimate. */
#define DB_STATEMENT_TIMEOUT_OPTION "-c statement_timeout=30s"

#define DB_SCHEMA_MAX 64

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_READY };
enum conn_phase { PHASE_SET_SEARCH_PATH, PHASE_RUN };

struct db_conn {
    int index;
    enum conn_state state;
    PGconn *pg;
    struct event *io;    /* the socket; re-assigned whenever fd or interest changes */
    struct event *timer; /* reconnect backoff, or the connect timeout */
    evutil_socket_t fd;
    short watching;
    int backoff_ms;
    int broken;              /* a send failed: on_conn_io tears the connection down */
    const char *reset_why;   /* ... or rather resets it on purpose, saying this */
    int reset_level;         /* ... at this log level */
    int copy_refused;        /* the statement started a COPY: it fails once its results are in */
    int copy_out;            /* ... a COPY TO STDOUT whose rows are still being read and dropped */
    struct db_stmt *current; /* the statement running, if any */
    enum conn_phase phase;
    PGresult *result;                   /* the running statement's result, collected */
    coop_tx *tx;                        /* the transaction holding the connection, if any */
    char schema[DB_SCHEMA_MAX];         /* what search_path names now ("" unknown) */
    char pending_schema[DB_SCHEMA_MAX]; /* what the SET under way will name */
};

static struct {
    struct event_base *base;
    db_params params; /* the operator's conninfo plus db_tcp_defaults, hosts resolved */
    struct db_conn *conns;
    int size;
    int connected;
    int down;      /* none is up or connecting, and an attempt failed: fail fast */
    int cancelled; /* db_pool_cancel ran: nothing is taken any more (-COOP_ESTATE) */
    struct db_stmt *queue_head, *queue_tail;
    int queued;
    struct event *queue_timer;
    struct db_stmt *deferred_head, *deferred_tail;
    struct event *deferred_ev;
    unsigned long long queries, failures;
    uint64_t connect_log_after_ms; /* connect failures are logged from then on */
    unsigned connect_log_skipped;  /* ... and were not since the last line */
} pool;

static void on_conn_io(evutil_socket_t fd, short what, void *arg);
static void conn_connect(struct db_conn *c);
static void pool_pump(void);

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval ms_to_tv(uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* ------------------------------------------------------------------------- */
/* Statements */

struct db_stmt *db_stmt_new(enum db_stmt_kind kind, coop_plugin *owner, const char *sql,
                            int nparams, const char *const *params)
{
    size_t sql_len = strlen(sql) + 1;
    size_t size = sizeof(struct db_stmt) + (size_t)nparams * sizeof(char *) + sql_len;
    for (int i = 0; i < nparams; i++)
        if (params[i])
            size += strlen(params[i]) + 1;
    struct db_stmt *st = calloc(1, size);
    if (!st)
        return NULL;
    const char **copies = (const char **)(st + 1);
    char *text = (char *)(copies + nparams);
    memcpy(text, sql, sql_len);
    st->sql = text;
    text += sql_len;
    for (int i = 0; i < nparams; i++) {
        if (!params[i]) {
            copies[i] = NULL;
            continue;
        }
        size_t len = strlen(params[i]) + 1;
        memcpy(text, params[i], len);
        copies[i] = text;
        text += len;
    }
    st->kind = kind;
    st->owner = owner;
    st->nparams = nparams;
    st->params = copies;
    return st;
}

/* Hands the outcome to whoever asked; frees st. Callers have put the pool in
 * a consistent state first: the callback may queue more statements. */
static void stmt_complete(struct db_stmt *st, struct coop_db_result *res)
{
    if (st->kind != DB_STMT_QUERY) {
        db_tx_complete(st, res);
        return;
    }
    if (st->cb)
        st->cb(res, st->arg);
    free(st);
}

static void stmt_fail_now(struct db_stmt *st, int status, const char *message)
{
    struct coop_db_result res;
    db_result_init(&res, NULL, status, message);
    pool.queries++;
    pool.failures++;
    stmt_complete(st, &res);
}

void db_fail_later(struct db_stmt *st, int status, const char *message)
{
    /* Callers refuse statements (-COOP_ESTATE) before the pool starts and once
     * it is cancelled, so a deferred callback always has a loop to run on and
     * never runs after db_pool_cancel. */
    assert(pool.deferred_ev && !pool.cancelled);
    st->fail_status = status;
    st->fail_message = message;
    st->next = NULL;
    if (pool.deferred_tail)
        pool.deferred_tail->next = st;
    else
        pool.deferred_head = st;
    pool.deferred_tail = st;
    event_active(pool.deferred_ev, EV_TIMEOUT, 0);
}

/* Runs the deferred failures queued so far; those their callbacks queue run
 * at the next activation, so the loop stays fair. */
static void run_deferred(void)
{
    struct db_stmt *st = pool.deferred_head;
    pool.deferred_head = pool.deferred_tail = NULL;
    while (st) {
        struct db_stmt *next = st->next;
        stmt_fail_now(st, st->fail_status, st->fail_message);
        st = next;
    }
}

static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    run_deferred();
}

/* ------------------------------------------------------------------------- */
/* The queue */

static void queue_push(struct db_stmt *st)
{
    st->next = NULL;
    st->deadline_ms = now_ms() + DB_QUEUE_TIMEOUT_MS;
    if (pool.queue_tail)
        pool.queue_tail->next = st;
    else
        pool.queue_head = st;
    pool.queue_tail = st;
    pool.queued++;
    if (!evtimer_pending(pool.queue_timer, NULL)) {
        struct timeval tv = ms_to_tv(DB_QUEUE_TIMEOUT_MS);
        evtimer_add(pool.queue_timer, &tv);
    }
}

static struct db_stmt *queue_pop(void)
{
    struct db_stmt *st = pool.queue_head;
    if (!st)
        return NULL;
    pool.queue_head = st->next;
    if (!pool.queue_head)
        pool.queue_tail = NULL;
    pool.queued--;
    st->next = NULL;
    return st;
}

/* Statements are queued in deadline order, so the head is always the next to
 * expire: one timer serves the whole queue. */
static void on_queue_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    uint64_t now = now_ms();
    while (pool.queue_head && pool.queue_head->deadline_ms <= now)
        stmt_fail_now(queue_pop(), -COOP_EUNAVAILABLE,
                      "no database connection became free in time");
    /* Callbacks above may have armed the timer for a later deadline. */
    evtimer_del(pool.queue_timer);
    if (pool.queue_head) {
        struct timeval tv = ms_to_tv(pool.queue_head->deadline_ms - now);
        evtimer_add(pool.queue_timer, &tv);
    }
}

/* ------------------------------------------------------------------------- */
/* Connections */

/* (Re)arms the socket event. While connecting the socket may change under
 * PQconnectPoll (another host, SSL retry), so then force re-registration. */
static void conn_watch(struct db_conn *c, evutil_socket_t fd, short what, int force)
{
    if (!force && c->fd == fd && c->watching == what && event_pending(c->io, what, NULL))
        return;
    event_del(c->io);
    event_assign(c->io, pool.base, fd, what | EV_PERSIST, on_conn_io, c);
    event_add(c->io, NULL);
    c->fd = fd;
    c->watching = what;
}

static void conn_schedule_reconnect(struct db_conn *c)
{
    struct timeval tv = ms_to_tv((uint64_t)c->backoff_ms);
    evtimer_del(c->timer);
    evtimer_add(c->timer, &tv);
    c->backoff_ms = c->backoff_ms * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void conn_close(struct db_conn *c)
{
    event_del(c->io);
    evtimer_del(c->timer);
    if (c->result) {
        PQclear(c->result);
        c->result = NULL;
    }
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->fd = -1;
    c->watching = 0;
    c->broken = 0;
    c->reset_why = NULL;
    c->copy_refused = 0;
    c->copy_out = 0;
    c->schema[0] = '\0';
    if (c->state == CONN_READY)
        pool.connected--;
    c->state = CONN_DOWN;
}

/* After a connection closed: when none is up or still on its way, the pool is
 * down and statements fail fast until one is back. Not before: at start-up one
 * refused connection must not fail the statements that its siblings, a moment
 * from ready, would have served. What waits in the queue fails then too (from
 * the loop), at once rather than at its deadline, as nothing can serve it. */
static void pool_note_down(void)
{
    if (pool.down || pool.cancelled || pool.connected > 0)
        return;
    for (int i = 0; i < pool.size; i++)
        if (pool.conns[i].state == CONN_CONNECTING)
            return;
    pool.down = 1;
    for (struct db_stmt *st; (st = queue_pop()) != NULL;)
        db_fail_later(st, -COOP_EUNAVAILABLE, "the database is unavailable");
}

static void conn_connect_failed(struct db_conn *c, const char *why)
{
    char line[256];
    db_first_line(why, line, sizeof line);
    /* Every connection's failure may be the one that explains an outage (one
     * refused for a reason its siblings were not), but a line per connection
     * and attempt would flood the log: at most one per DB_CONNECT_LOG_MS,
     * saying how many were left out. */
    uint64_t now = now_ms();
    if (now >= pool.connect_log_after_ms) {
        char skipped[64] = "";
        if (pool.connect_log_skipped)
            snprintf(skipped, sizeof skipped, "; %u similar line(s) left out",
                     pool.connect_log_skipped);
        log_write(COOP_LOG_WARN, "db",
                  "database connection %d cannot connect: %s (retry in %d ms%s)", c->index,
                  line[0] ? line : "unknown reason", c->backoff_ms, skipped);
        pool.connect_log_after_ms = now + DB_CONNECT_LOG_MS;
        pool.connect_log_skipped = 0;
    } else {
        pool.connect_log_skipped++;
    }
    conn_close(c);
    conn_schedule_reconnect(c);
    pool_note_down();
}

/* Ends the connection and starts it again: now (a reset on purpose, so the
 * pool does not count as down meanwhile) or after the shortest backoff (it
 * was lost). Its statement fails with -COOP_EUNAVAILABLE, its transaction
 * with it, once the pool is consistent again. */
static void conn_restart(struct db_conn *c, int now)
{
    struct db_stmt *st = c->current;
    c->current = NULL;
    if (c->tx) {
        c->tx->conn = NULL;
        c->tx = NULL;
    }
    conn_close(c);
    c->backoff_ms = DB_BACKOFF_MIN_MS;
    if (now) {
        conn_connect(c);
    } else {
        conn_schedule_reconnect(c);
        pool_note_down();
    }
    if (st)
        stmt_fail_now(st, -COOP_EUNAVAILABLE, "the database connection was lost");
}

/* The connection is gone: it reconnects soon. */
static void conn_lost(struct db_conn *c)
{
    char line[256];
    db_first_line(c->pg ? PQerrorMessage(c->pg) : "", line, sizeof line);
    log_write(COOP_LOG_WARN, "db", "database connection %d lost: %s", c->index,
              line[0] ? line : "connection closed");
    conn_restart(c, 0);
}

/* Starts the connection afresh on purpose (it is not known to be clean). */
static void conn_reset(struct db_conn *c, int level, const char *why)
{
    log_write(level, "db", "database connection %d reset: %s", c->index, why);
    conn_restart(c, 1);
}

/* Has on_conn_io reset the connection, from the loop (callers may be inside
 * a callback that still uses it). */
static void conn_reset_later(struct db_conn *c, int level, const char *why)
{
    c->broken = 1;
    c->reset_level = level;
    c->reset_why = why;
    event_active(c->io, EV_READ, 0);
}

static void conn_ready(struct db_conn *c)
{
    evtimer_del(c->timer);
    if (PQsetnonblocking(c->pg, 1) != 0) {
        conn_connect_failed(c, PQerrorMessage(c->pg));
        return;
    }
    int was_down = pool.down;
    c->state = CONN_READY;
    c->backoff_ms = DB_BACKOFF_MIN_MS;
    c->schema[0] = '\0';
    pool.connected++;
    pool.down = 0;
    conn_watch(c, PQsocket(c->pg), EV_READ, 1);
    if (was_down)
        log_write(COOP_LOG_INFO, "db", "database reachable again");
    pool_pump();
}

static void conn_poll_connect(struct db_conn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        conn_watch(c, PQsocket(c->pg), EV_READ, 1);
        break;
    case PGRES_POLLING_WRITING:
        conn_watch(c, PQsocket(c->pg), EV_WRITE, 1);
        break;
    case PGRES_POLLING_OK:
        conn_ready(c);
        break;
    default:
        conn_connect_failed(c, PQerrorMessage(c->pg));
        break;
    }
}

static void conn_connect(struct db_conn *c)
{
    c->pg = PQconnectStartParams(pool.params.keywords, pool.params.values, 0);
    if (!c->pg) {
        conn_connect_failed(c, "out of memory");
        return;
    }
    PQsetNoticeProcessor(c->pg, db_log_notice, NULL);
    if (PQstatus(c->pg) == CONNECTION_BAD || PQsocket(c->pg) < 0) {
        conn_connect_failed(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = CONN_CONNECTING;
    struct timeval tv = ms_to_tv(DB_CONNECT_TIMEOUT_MS);
    evtimer_add(c->timer, &tv);
    /* libpq: after PQconnectStart, act as if PQconnectPoll said WRITING. */
    conn_watch(c, PQsocket(c->pg), EV_WRITE, 1);
}

static void on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct db_conn *c = arg;
    if (c->state == CONN_CONNECTING)
        conn_connect_failed(c, "timed out connecting");
    else if (c->state == CONN_DOWN)
        conn_connect(c);
}

/* Sends what c->current needs next; a failure to send is handled by
 * on_conn_io (activated here) so that no callback runs inside the caller. */
static void conn_send(struct db_conn *c, const char *sql, int nparams, const char *const *params)
{
    if (!PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0)) {
        c->broken = 1;
        event_active(c->io, EV_READ, 0);
        return;
    }
    int flushed = PQflush(c->pg);
    if (flushed < 0) {
        c->broken = 1;
        event_active(c->io, EV_READ, 0);
        return;
    }
    conn_watch(c, c->fd, flushed ? EV_READ | EV_WRITE : EV_READ, 0);
}

static const char *owner_schema(const coop_plugin *owner)
{
    /* The core (no descriptor) keeps its tables in schema coop. */
    return !owner || !owner->desc ? "coop" : owner->name;
}

static void conn_start(struct db_conn *c, struct db_stmt *st)
{
    c->current = st;
    if (st->kind == DB_STMT_TX_BEGIN) {
        c->tx = st->tx;
        st->tx->conn = c;
    }
    const char *schema = owner_schema(st->owner);
    int needs_path = (st->kind == DB_STMT_QUERY || st->kind == DB_STMT_TX_BEGIN) &&
                     strcmp(c->schema, schema) != 0;
    if (!needs_path) {
        c->phase = PHASE_RUN;
        conn_send(c, st->sql, st->nparams, st->params);
        return;
    }
    /* Plugin names are [a-z][a-z0-9_]*, but quote as an identifier anyway
     * (a name too long for the buffer would be too long for PostgreSQL). */
    char quoted[2 * DB_SCHEMA_MAX + 3], sql[sizeof quoted + 32];
    if (db_quote_identifier(schema, quoted, sizeof quoted) < 0)
        snprintf(quoted, sizeof quoted, "\"\"");
    snprintf(sql, sizeof sql, "SET search_path TO %s, public", quoted);
    snprintf(c->pending_schema, sizeof c->pending_schema, "%s", schema);
    c->phase = PHASE_SET_SEARCH_PATH;
    conn_send(c, sql, 0, NULL);
}

static int conn_idle(const struct db_conn *c)
{
    return c->state == CONN_READY && !c->current && !c->tx && !c->broken;
}

/* An idle connection for st, preferring one whose search_path already names
 * st's schema: with several plugins busy at once, connections then keep to
 * an owner and the extra SET round trip (half the rate of short statements)
 * is rarely paid. */
static struct db_conn *pool_idle_conn_for(const struct db_stmt *st)
{
    const char *schema = owner_schema(st->owner);
    struct db_conn *fresh = NULL, *any = NULL;
    for (int i = 0; i < pool.size; i++) {
        struct db_conn *c = &pool.conns[i];
        if (!conn_idle(c))
            continue;
        if (strcmp(c->schema, schema) == 0)
            return c;
        /* Next best, one that serves no owner yet, so others keep theirs. */
        if (!c->schema[0] && !fresh)
            fresh = c;
        if (!any)
            any = c;
    }
    return fresh ? fresh : any;
}

static void pool_pump(void)
{
    struct db_conn *c;
    while (pool.queue_head && (c = pool_idle_conn_for(pool.queue_head)) != NULL)
        conn_start(c, queue_pop());
}

/* Did a statement run with coop_db_query begin or end a transaction? Each
 * statement there is one transaction of its own; BEGIN ... COMMIT across
 * statements would need the same connection, which only coop_tx_* keeps. */
static int is_transaction_control(PGconn *pg, const PGresult *res)
{
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        return 1; /* BEGIN, START TRANSACTION */
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        return 0;
    /* COMMIT, ROLLBACK and the like with no transaction open: PostgreSQL only
     * warns, but the plugin is not doing what it thinks. */
    static const char *const tags[] = {"COMMIT",    "ROLLBACK", "BEGIN", "START TRANSACTION",
                                       "SAVEPOINT", "RELEASE"};
    const char *tag = PQcmdStatus((PGresult *)res);
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (strcmp(tag, tags[i]) == 0)
            return 1;
    return 0;
}

/* A statement's results are all in (PQgetResult said NULL). */
static void conn_statement_done(struct db_conn *c)
{
    PGresult *pg = c->result;
    c->result = NULL;
    if (PQstatus(c->pg) == CONNECTION_BAD || (pg && db_result_connection_lost(pg))) {
        PQclear(pg);
        conn_lost(c);
        return;
    }
    struct db_stmt *st = c->current;
    if (c->phase == PHASE_SET_SEARCH_PATH && pg && PQresultStatus(pg) == PGRES_COMMAND_OK) {
        PQclear(pg);
        memcpy(c->schema, c->pending_schema, sizeof c->schema);
        c->phase = PHASE_RUN;
        conn_send(c, st->sql, st->nparams, st->params);
        return;
    }
    c->current = NULL;
    if (c->phase == PHASE_SET_SEARCH_PATH)
        c->schema[0] = '\0';
    int copy_refused = c->copy_refused;
    c->copy_refused = 0;
    int tx_control = st->kind == DB_STMT_QUERY && is_transaction_control(c->pg, pg);
    if (tx_control) {
        /* Refused below. A transaction it opened must not stay with a pooled
         * connection: start afresh (an expected outcome: the plugin hears
         * of it, the log only at debug level). */
        if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            conn_reset_later(c, COOP_LOG_DEBUG, "coop_db_query left a transaction open (refused)");
        PQclear(pg);
        pg = NULL;
    }
    struct coop_db_result res;
    if (copy_refused) {
        /* Whatever the server said about the COPY, the statement failed. */
        PQclear(pg);
        pg = NULL;
    }
    db_result_init(&res, pg, 0,
                   copy_refused ? "COPY is not supported"
                   : tx_control ? "transaction control is not allowed through coop_db_query; "
                                  "use coop_tx_*"
                                : "no result");
    if (!pg)
        res.status = -COOP_EDB;
    pool.queries++;
    if (res.status != 0)
        pool.failures++;
    stmt_complete(st, &res);
    PQclear(pg);
    pool_pump();
}

/* Reads and drops the rows of a refused COPY TO STDOUT. Returns 1 once they
 * are all read (the statement's final result follows), 0 while more are to
 * come or when the connection was lost. */
static int conn_drain_copy_out(struct db_conn *c)
{
    for (;;) {
        char *row = NULL;
        int n = PQgetCopyData(c->pg, &row, 1);
        if (row)
            PQfreemem(row);
        if (n > 0)
            continue;
        if (n == 0)
            return 0;
        if (n == -1) {
            c->copy_out = 0;
            return 1;
        }
        conn_lost(c);
        return 0;
    }
}

/* The statement started a COPY: the pool has no way to feed or hand out its
 * data, so the statement fails with "COPY is not supported" (see
 * conn_statement_done). COPY FROM STDIN is ended with an error, which the
 * server answers with an error (aborting the transaction, if any); the rows of
 * COPY TO STDOUT are read and dropped. Either way the connection stays in step
 * and in service. Returns 1 to go on reading results, 0 to stop (waiting for
 * input, or the connection was lost). */
static int conn_refuse_copy(struct db_conn *c, ExecStatusType status)
{
    c->copy_refused = 1;
    if (status == PGRES_COPY_OUT) {
        c->copy_out = 1;
        return conn_drain_copy_out(c);
    }
    if (status == PGRES_COPY_IN && PQputCopyEnd(c->pg, "COPY is not supported") == 1) {
        int flushed = PQflush(c->pg);
        if (flushed >= 0) {
            conn_watch(c, c->fd, flushed ? EV_READ | EV_WRITE : EV_READ, 0);
            return 1;
        }
    }
    /* COPY BOTH (replication connections only) or a failed send: start afresh. */
    conn_lost(c);
    return 0;
}

static void conn_read(struct db_conn *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_lost(c);
        return;
    }
    for (PGnotify *n; (n = PQnotifies(c->pg)) != NULL;)
        PQfreemem(n);
    if (c->copy_out && !conn_drain_copy_out(c))
        return;
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (c->current)
                conn_statement_done(c);
            return;
        }
        ExecStatusType status = PQresultStatus(r);
        if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
            /* PQgetResult would answer this same COPY state for ever. */
            PQclear(r);
            if (!conn_refuse_copy(c, status))
                return;
            continue;
        }
        if (!c->current) { /* nothing asked for it */
            PQclear(r);
            continue;
        }
        /* One statement gives one result; should there be more, the first
         * error (else the last result) is what the caller needs. */
        if (c->result && PQresultStatus(c->result) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(c->result);
            c->result = r;
        }
    }
    if (PQstatus(c->pg) == CONNECTION_BAD)
        conn_lost(c);
}

static void on_conn_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct db_conn *c = arg;
    if (c->state == CONN_CONNECTING) {
        conn_poll_connect(c);
        return;
    }
    if (c->state != CONN_READY)
        return;
    if (c->broken) {
        if (c->reset_why)
            conn_reset(c, c->reset_level, c->reset_why);
        else
            conn_lost(c);
        return;
    }
    if (what & EV_WRITE) {
        int flushed = PQflush(c->pg);
        if (flushed < 0) {
            conn_lost(c);
            return;
        }
        if (flushed == 0)
            conn_watch(c, c->fd, EV_READ, 0);
    }
    if (what & EV_READ)
        conn_read(c);
}

/* ------------------------------------------------------------------------- */
/* Submitting */

int db_pool_open(void)
{
    return pool.base && !pool.cancelled;
}

int db_submit(struct db_stmt *st)
{
    if (!db_pool_open())
        return -COOP_ESTATE;
    if (pool.down)
        db_fail_later(st, -COOP_EUNAVAILABLE, "the database is unavailable");
    else {
        struct db_conn *c = pool.queue_head ? NULL : pool_idle_conn_for(st);
        if (c)
            conn_start(c, st);
        else
            queue_push(st);
    }
    return 0;
}

void db_run_on(struct db_conn *c, struct db_stmt *st)
{
    /* tx_issue asks db_pool_open first; a transaction whose connection was
     * taken by db_pool_cancel has had its last callback. */
    assert(db_pool_open());
    if (!c || c->state != CONN_READY || c->current) {
        db_fail_later(st, -COOP_EUNAVAILABLE, "the database connection was lost");
        return;
    }
    c->current = st;
    c->phase = PHASE_RUN;
    conn_send(c, st->sql, st->nparams, st->params);
}

void db_conn_release(struct db_conn *c)
{
    if (!c)
        return;
    if (c->tx) {
        c->tx->conn = NULL;
        c->tx = NULL;
    }
    /* Should not happen; but never hand out a connection mid-transaction. */
    if (c->state == CONN_READY && !c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        conn_reset_later(c, COOP_LOG_WARN, "a transaction was still open when it was released");
    pool_pump();
}

int host_db_query(coop_plugin *p, const char *sql, int nparams, const char *const *params,
                  coop_db_fn cb, void *arg)
{
    if (!sql || nparams < 0 || nparams > 65535 || (nparams > 0 && !params))
        return -COOP_EINVAL;
    struct db_stmt *st = db_stmt_new(DB_STMT_QUERY, p, sql, nparams, params);
    if (!st)
        return -COOP_ENOMEM;
    st->cb = cb;
    st->arg = arg;
    int rc = db_submit(st);
    if (rc != 0)
        free(st);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* The pool */

/* The operator's settings plus db_tcp_defaults for those they left out and a
 * statement_timeout, with host names resolved now (start-up may block; the
 * loop may not). */
static int db_build_params(void)
{
    for (size_t d = 0; d < DB_TCP_DEFAULTS; d++)
        if (db_params_default(&pool.params, db_tcp_defaults[d][0], db_tcp_defaults[d][1]) < 0)
            return 0;
    const char *options = db_params_get(&pool.params, "options");
    if (!options || !strstr(options, "statement_timeout")) {
        size_t len = (options ? strlen(options) : 0) + sizeof DB_STATEMENT_TIMEOUT_OPTION + 1;
        char *with = malloc(len);
        if (!with)
            return 0;
        snprintf(with, len, "%s%s%s", options ? options : "", options && *options ? " " : "",
                 DB_STATEMENT_TIMEOUT_OPTION);
        int rc = db_params_set(&pool.params, "options", with);
        free(with);
        if (rc < 0)
            return 0;
    }
    return db_params_resolve_hosts(&pool.params) == 0;
}

int db_pool_start(struct event_base *base, const char *conninfo, int size, char *err, size_t errlen)
{
    if (pool.base) {
        snprintf(err, errlen, "database pool: already started");
        return -1;
    }
    if (!base || !conninfo || size < 1) {
        snprintf(err, errlen, "database pool: invalid arguments");
        return -1;
    }
    memset(&pool, 0, sizeof pool);
    if (db_params_parse(&pool.params, conninfo, err, errlen) < 0)
        return -1;
    pool.base = base;
    pool.size = size;
    int ok = db_build_params();
    pool.conns = calloc((size_t)size, sizeof *pool.conns);
    pool.queue_timer = evtimer_new(base, on_queue_timer, NULL);
    pool.deferred_ev = event_new(base, -1, 0, on_deferred, NULL);
    ok = ok && pool.conns && pool.queue_timer && pool.deferred_ev;
    for (int i = 0; ok && i < size; i++) {
        struct db_conn *c = &pool.conns[i];
        c->index = i;
        c->fd = -1;
        c->backoff_ms = DB_BACKOFF_MIN_MS;
        c->io = event_new(base, -1, 0, on_conn_io, c);
        c->timer = evtimer_new(base, on_conn_timer, c);
        ok = c->io && c->timer;
    }
    if (!ok) {
        db_pool_close();
        snprintf(err, errlen, "database pool: out of memory");
        return -1;
    }
    for (int i = 0; i < size; i++)
        conn_connect(&pool.conns[i]);
    return 0;
}

void db_pool_cancel(void)
{
    if (!pool.base || pool.cancelled)
        return;
    pool.cancelled = 1; /* from here on callbacks that try again get -COOP_ESTATE */
    for (struct db_stmt *st; (st = queue_pop()) != NULL;)
        stmt_fail_now(st, -COOP_ECANCELLED, "coopd is stopping");
    for (int i = 0; pool.conns && i < pool.size; i++) {
        struct db_conn *c = &pool.conns[i];
        struct db_stmt *st = c->current;
        c->current = NULL;
        if (c->tx) {
            c->tx->conn = NULL;
            c->tx = NULL;
        }
        if (c->io && c->timer)
            conn_close(c);
        if (st)
            stmt_fail_now(st, -COOP_ECANCELLED, "coopd is stopping");
    }
    if (pool.queue_timer)
        evtimer_del(pool.queue_timer);
    /* Failures deferred before the cancel run now, with their own status: no
     * callback of the pool may come later. Their callbacks cannot defer more
     * (the pool refuses), so one round empties the list. */
    run_deferred();
    assert(!pool.deferred_head);
    if (pool.deferred_ev)
        event_del(pool.deferred_ev);
}

void db_pool_close(void)
{
    if (!pool.base)
        return;
    db_pool_cancel();
    for (int i = 0; pool.conns && i < pool.size; i++) {
        if (pool.conns[i].io)
            event_free(pool.conns[i].io);
        if (pool.conns[i].timer)
            event_free(pool.conns[i].timer);
    }
    if (pool.queue_timer)
        event_free(pool.queue_timer);
    if (pool.deferred_ev)
        event_free(pool.deferred_ev);
    free(pool.conns);
    db_params_free(&pool.params);
    memset(&pool, 0, sizeof pool);
}

int db_pool_ready(void)
{
    return pool.connected > 0;
}

void db_pool_get_stats(db_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    out->size = pool.size;
    out->connected = pool.connected;
    out->queued = pool.queued;
    out->queries = pool.queries;
    out->failures = pool.failures;
    for (int i = 0; i < pool.size; i++)
        if (pool.conns[i].current || pool.conns[i].tx)
            out->busy++;
}
