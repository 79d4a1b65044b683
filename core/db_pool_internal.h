/* What the pool (db.c) and transactions (db_tx.c) share; nothing else includes
 * this. The module's contract with the rest of coopd is db_internal.h. */
#ifndef COOP_DB_POOL_INTERNAL_H
#define COOP_DB_POOL_INTERNAL_H

#include <stdint.h>

#include "db_internal.h"

struct db_conn;

enum db_stmt_kind {
    DB_STMT_QUERY,      /* host_db_query: any free connection */
    DB_STMT_TX_BEGIN,   /* reserves the connection it runs on for the transaction */
    DB_STMT_TX_STEP,    /* runs on the transaction's connection */
    DB_STMT_TX_COMMIT,  /* ends the transaction and releases its connection */
    DB_STMT_TX_ROLLBACK /* likewise */
};

/* One statement, from queueing to its callback; one allocation holding the
 * copies of sql and params. */
struct db_stmt {
    struct db_stmt *next;
    enum db_stmt_kind kind;
    coop_plugin *owner; /* decides the search_path */
    coop_tx *tx;        /* DB_STMT_TX_*: the transaction; else NULL */
    coop_db_fn cb;      /* DB_STMT_QUERY */
    coop_tx_fn tx_cb;   /* DB_STMT_TX_*; may be NULL for commit and rollback */
    void *arg;
    uint64_t deadline_ms; /* queued statements fail when still queued then */
    int fail_status;      /* for a deferred failure: the negative COOP_E* */
    const char *fail_message;
    const char *sql;
    int nparams;
    const char *const *params;
};

struct coop_tx {
    struct db_conn *conn; /* the reserved connection; NULL before BEGIN runs or once it is lost */
    coop_plugin *owner;
    unsigned busy : 1;        /* a statement of the transaction is running */
    unsigned in_callback : 1; /* the plugin's callback is on the stack */
    unsigned next_issued : 1; /* ... and has issued the next step */
    unsigned ending : 1;      /* commit or rollback issued: only its result is still due */
};

/* A statement with copies of sql and params (NULL params are SQL NULL), or
 * NULL when out of memory. Free with free(). */
struct db_stmt *db_stmt_new(enum db_stmt_kind kind, coop_plugin *owner, const char *sql,
                            int nparams, const char *const *params);
/* 1 while the pool takes statements: started and not cancelled. */
int db_pool_open(void);
/* Queues a DB_STMT_QUERY or DB_STMT_TX_BEGIN statement, runs it at once on a
 * free connection, or fails it (deferred) when the pool is down: 0, its
 * callback will run. -COOP_ESTATE when the pool is not open (before
 * db_pool_start, after db_pool_cancel): the caller keeps st. */
int db_submit(struct db_stmt *st);
/* Runs a statement on the transaction's reserved connection; when the
 * connection is gone, fails it with -COOP_EUNAVAILABLE (deferred). Only while
 * the pool is open. */
void db_run_on(struct db_conn *conn, struct db_stmt *st);
/* Ends the statement's life later from the loop with status (negative COOP_E*).
 * Only while the pool is open. */
void db_fail_later(struct db_stmt *st, int status, const char *message);
/* The transaction on conn ended: the connection serves the queue again. */
void db_conn_release(struct db_conn *conn);

/* db_tx.c: the pool reports the outcome of a DB_STMT_TX_* statement here.
 * res may be adjusted (a COMMIT that rolled back). Frees st. */
void db_tx_complete(struct db_stmt *st, struct coop_db_result *res);

#endif
