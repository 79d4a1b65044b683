/* The asynchronous PostgreSQL pool on the loop, transactions, results, and
 * the blocking start-up helpers (owner: db.c, db_tx.c, db_result.c, migrate.c). */
#ifndef COOP_DB_INTERNAL_H
#define COOP_DB_INTERNAL_H

#include <stddef.h>

#include <coop/types.h>
#include <libpq-fe.h>

struct event_base;

/* The outcome of one statement as callbacks see it (coop_db_result is opaque
 * to plugins). pg is NULL when the statement never reached PostgreSQL
 * (unavailable, cancelled). sqlstate and message are never NULL. */
struct coop_db_result {
    PGresult *pg;
    int status;           /* 0, -COOP_EDB, -COOP_EUNAVAILABLE or -COOP_ECANCELLED */
    const char *sqlstate; /* borrowed from pg, or "" */
    const char *message;  /* borrowed from pg or a static string, or "" */
};

/* Classifies pg (borrowed, may be NULL) into res; res borrows from pg. When pg
 * is NULL, status (a negative COOP_E*) and message (static) describe why. */
void db_result_init(struct coop_db_result *res, PGresult *pg, int status, const char *message);
/* PostgreSQL's own message for a failed pg (PG_DIAG_MESSAGE_PRIMARY, without
 * the "ERROR:  " prefix, detail or hint), else libpq's. Borrowed from pg. */
const char *db_result_message(const PGresult *pg);
/* True when a failed result means the connection itself is gone or going
 * (SQLSTATE class 08, or 57P01-57P03: the server is shutting down). */
int db_result_connection_lost(const PGresult *pg);

/* Opens `size` non-blocking connections on base. Connections that fail or drop
 * are retried with backoff; statements meanwhile fail fast with
 * -COOP_EUNAVAILABLE. Returns 0 or -1 with a reason in err. */
int db_pool_start(struct event_base *base, const char *conninfo, int size, char *err,
                  size_t errlen);
/* The first half of stopping: every statement queued or running fails now,
 * its callback called before this returns, with -COOP_ECANCELLED (failures
 * already deferred run too, with their own status); connections close. From
 * then on the pool refuses new statements with -COOP_ESTATE, so no callback
 * of the pool runs after this returns: plugins may free their state. */
void db_pool_cancel(void);
/* Frees the pool (cancelling first if that has not happened). */
void db_pool_close(void);
/* 1 when at least one connection is up and idle or busy, else 0 (/readyz). */
int db_pool_ready(void);
typedef struct db_pool_stats {
    int size, connected, busy, queued;
    /* Statements completed (each callback), and those of them that failed
     * (refused, unavailable, cancelled): failures <= queries. */
    unsigned long long queries, failures;
} db_pool_stats;
void db_pool_get_stats(db_pool_stats *out);

/* Host functions (coop_host_api members). */
int host_db_query(coop_plugin *p, const char *sql, int nparams, const char *const *params,
                  coop_db_fn cb, void *arg);
int host_tx_begin(coop_plugin *p, coop_tx_fn cb, void *arg);
int host_tx_query(coop_tx *tx, const char *sql, int nparams, const char *const *params,
                  coop_tx_fn cb, void *arg);
int host_tx_commit(coop_tx *tx, coop_tx_fn cb, void *arg);
int host_tx_rollback(coop_tx *tx, coop_tx_fn cb, void *arg);
int host_db_status(const coop_db_result *res);
const char *host_db_sqlstate(const coop_db_result *res);
const char *host_db_error(const coop_db_result *res);
int host_db_nrows(const coop_db_result *res);
int host_db_ncols(const coop_db_result *res);
int host_db_column(const coop_db_result *res, const char *name);
const char *host_db_value(const coop_db_result *res, int row, int col);
int host_db_is_null(const coop_db_result *res, int row, int col);
int64_t host_db_affected(const coop_db_result *res);

/* libpq notice processor: server notices go to the log (debug level), not
 * straight to stderr where they would break the one-line-per-event log. */
void db_log_notice(void *arg, const char *message);

/* db_text.c: the first line of a libpq message (no trailing newline), for
 * one-line logs and start-up errors; msg may be NULL. */
void db_first_line(const char *msg, char *out, size_t outlen);
/* name as a double-quoted SQL identifier (quotes doubled) in out: 0, or -1
 * when it does not fit. */
int db_quote_identifier(const char *name, char *out, size_t outlen);

/* Connection parameters (db_params.c): the operator's conninfo as keyword and
 * value arrays for PQconnect*Params, plus what coopd adds. */
#define DB_PARAMS_OWNED 16
typedef struct db_params {
    PQconninfoOption *options;       /* the parsed conninfo; owns the operator's strings */
    const char **keywords, **values; /* NULL-terminated */
    size_t count;
    char *owned[DB_PARAMS_OWNED]; /* the values set here */
    size_t nowned;
} db_params;
/* 0, or -1 with "database: conninfo: <libpq's reason>" in err. */
int db_params_parse(db_params *p, const char *conninfo, char *err, size_t errlen);
/* The value libpq would use for keyword: the conninfo's, else its environment
 * variable's (PGHOST, PGOPTIONS, ...); NULL when neither sets it. Borrowed. */
const char *db_params_get(const db_params *p, const char *keyword);
/* Sets keyword (a libpq keyword) to a copy of value. 0, or -1. */
int db_params_set(db_params *p, const char *keyword, const char *value);
/* Sets keyword to value unless the conninfo or the environment sets it. */
int db_params_default(db_params *p, const char *keyword, const char *value);
/* Start-up only (blocking getaddrinfo): adds a hostaddr for every host that is
 * a name, so that connecting later never waits for DNS on the loop. Leaves
 * socket paths and addresses alone, and does nothing when hostaddr is set.
 * 0, or -1 when out of memory. */
int db_params_resolve_hosts(db_params *p);
void db_params_free(db_params *p);

/* Start-up only (blocking): a connection, or NULL with the reason in err.
 * connect_timeout defaults to 10 s unless the conninfo or PGCONNECT_TIMEOUT
 * sets it, so that an unreachable server fails start-up instead of hanging. */
PGconn *db_connect_blocking(const char *conninfo, char *err, size_t errlen);
/* Applies the migrations of owner (a plugin name, or "core") into schema,
 * creating it, in one transaction each, recording name and SHA-256 in
 * coop.schema_migrations. Returns -1 with "<owner>: <reason>" in err (the
 * plugin loader prefixes "plugin ", so the culprit reads "core" or "plugin
 * voting") when an applied migration's checksum changed, when the names
 * recorded for owner are not the first ones of migrations in the same order
 * (one this build lacks, or out of order), or when one fails: then
 * "<owner>: <migration>: <PostgreSQL's message>". A migration may not end
 * its transaction (COMMIT or ROLLBACK): that is refused, and a COMMIT in it
 * fails, so nothing of the migration stays. */
int migrations_apply(PGconn *conn, const char *owner, const char *schema,
                     const coop_migration *migrations, char *err, size_t errlen);

/* The core's own migrations (core/sql/NNN_*.sql, schema coop), generated. */
extern const coop_migration core_migrations[];

#endif
