/*
 * Transactions: BEGIN reserves a pooled connection, each step runs on it, and
 * COMMIT or ROLLBACK gives it back (db.c does the I/O).
 *
 * The lifetime rules a plugin sees (types.h, db.h), made precise:
 *  - After BEGIN or a statement succeeded, the callback gets the open tx and
 *    must issue the next step (coop_tx_query, coop_tx_commit or
 *    coop_tx_rollback) before it returns; otherwise coopd rolls back and logs
 *    a warning naming the plugin, because a forgotten transaction would hold
 *    a connection and its locks for ever.
 *  - After a statement PostgreSQL refused (-COOP_EDB) the callback still gets
 *    the tx so that it can roll back; if it returns without doing so, coopd
 *    rolls back quietly: that is the only thing left to do.
 *  - When the connection is lost or coopd stops (-COOP_EUNAVAILABLE,
 *    -COOP_ECANCELLED) the transaction is gone: the callback gets tx NULL and
 *    PostgreSQL has rolled it back (or will, once it sees the connection
 *    closed).
 *  - After commit or rollback the callback (if any) gets tx NULL. A COMMIT of a
 *    transaction an earlier error aborted is reported as -COOP_EDB, SQLSTATE
 *    25P02, because nothing was written. A COMMIT whose connection was lost
 *    (-COOP_EUNAVAILABLE) has an unknown outcome, as with any database: the
 *    server may have committed before the link broke. Writes that must not
 *    happen twice carry their own key (e.g. an Idempotency-Key) to retry safely.
 */
#include <stdlib.h>
#include <string.h>

#include "db_pool_internal.h"
#include "log_internal.h"
#include "plugin_internal.h"

int host_tx_begin(coop_plugin *p, coop_tx_fn cb, void *arg)
{
    if (!cb)
        return -COOP_EINVAL;
    coop_tx *tx = calloc(1, sizeof *tx);
    struct db_stmt *st = db_stmt_new(DB_STMT_TX_BEGIN, p, "BEGIN", 0, NULL);
    if (!tx || !st) {
        free(tx);
        free(st);
        return -COOP_ENOMEM;
    }
    tx->owner = p;
    tx->busy = 1;
    st->tx = tx;
    st->tx_cb = cb;
    st->arg = arg;
    int rc = db_submit(st);
    if (rc != 0) {
        free(tx);
        free(st);
    }
    return rc;
}

static int tx_issue(coop_tx *tx, enum db_stmt_kind kind, const char *sql, int nparams,
                    const char *const *params, coop_tx_fn cb, void *arg)
{
    if (!tx)
        return -COOP_EINVAL;
    if (tx->busy || tx->ending || !db_pool_open())
        return -COOP_ESTATE;
    struct db_stmt *st = db_stmt_new(kind, tx->owner, sql, nparams, params);
    if (!st)
        return -COOP_ENOMEM;
    st->tx = tx;
    st->tx_cb = cb;
    st->arg = arg;
    tx->busy = 1;
    if (kind != DB_STMT_TX_STEP)
        tx->ending = 1;
    if (tx->in_callback)
        tx->next_issued = 1;
    db_run_on(tx->conn, st);
    return 0;
}

int host_tx_query(coop_tx *tx, const char *sql, int nparams, const char *const *params,
                  coop_tx_fn cb, void *arg)
{
    if (!sql || !cb || nparams < 0 || nparams > 65535 || (nparams > 0 && !params))
        return -COOP_EINVAL;
    return tx_issue(tx, DB_STMT_TX_STEP, sql, nparams, params, cb, arg);
}

int host_tx_commit(coop_tx *tx, coop_tx_fn cb, void *arg)
{
    return tx_issue(tx, DB_STMT_TX_COMMIT, "COMMIT", 0, NULL, cb, arg);
}

int host_tx_rollback(coop_tx *tx, coop_tx_fn cb, void *arg)
{
    return tx_issue(tx, DB_STMT_TX_ROLLBACK, "ROLLBACK", 0, NULL, cb, arg);
}

/* The transaction is over: its connection serves others again (before the
 * callback, which may want it), then the plugin hears the outcome. */
static void tx_end(coop_tx *tx, coop_tx_fn cb, void *arg, struct coop_db_result *res)
{
    struct db_conn *conn = tx->conn;
    db_conn_release(conn);
    free(tx);
    if (cb)
        cb(NULL, res, arg);
}

/* The callback let the transaction fall: roll it back ourselves. */
static void tx_abandon(coop_tx *tx, int after_success)
{
    if (after_success)
        log_write(COOP_LOG_WARN, "db",
                  "plugin %s: a transaction callback returned without a next query, commit or "
                  "rollback; rolled back",
                  tx->owner ? tx->owner->name : "core");
    if (tx_issue(tx, DB_STMT_TX_ROLLBACK, "ROLLBACK", 0, NULL, NULL, NULL) != 0) {
        /* Out of memory: drop the connection instead; the server rolls back. */
        struct coop_db_result res;
        db_result_init(&res, NULL, -COOP_ENOMEM, "out of memory");
        tx_end(tx, NULL, NULL, &res);
    }
}

void db_tx_complete(struct db_stmt *st, struct coop_db_result *res)
{
    coop_tx *tx = st->tx;
    coop_tx_fn cb = st->tx_cb;
    void *arg = st->arg;
    enum db_stmt_kind kind = st->kind;
    free(st);
    tx->busy = 0;

    int gone = !tx->conn || res->status == -COOP_EUNAVAILABLE || res->status == -COOP_ECANCELLED;
    if (kind == DB_STMT_TX_COMMIT && res->status == 0 && res->pg &&
        strcmp(PQcmdStatus(res->pg), "ROLLBACK") == 0) {
        res->status = -COOP_EDB;
        res->sqlstate = "25P02";
        res->message = "the transaction was rolled back because a statement in it failed";
    }
    if (gone || kind == DB_STMT_TX_COMMIT || kind == DB_STMT_TX_ROLLBACK ||
        (kind == DB_STMT_TX_BEGIN && res->status != 0)) {
        tx_end(tx, cb, arg, res);
        return;
    }
    tx->in_callback = 1;
    tx->next_issued = 0;
    cb(tx, res, arg);
    tx->in_callback = 0;
    if (!tx->next_issued)
        tx_abandon(tx, res->status == 0);
}
