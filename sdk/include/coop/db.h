/*
 * coop SDK: asynchronous database access.
 *
 * Statements run on coopd's pool of non-blocking PostgreSQL connections on the
 * event loop: a call queues the statement and returns at once; its callback
 * runs later, exactly once, never from inside the call itself. Parameters are
 * text ($1, $2, ... in the SQL), NULL for SQL NULL; coopd copies them. Values
 * come back as PostgreSQL's text form.
 *
 * A plugin's unqualified names resolve in its own schema (search_path is
 * "<plugin>, public"); the core's public views live in schema coop (see
 * docs/sdk.md).
 */
#ifndef COOP_DB_H
#define COOP_DB_H

#include "host.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Runs one statement outside a transaction. sql and params are copied.
 *  Returns 0 when queued (cb will run exactly once). Otherwise cb will not
 *  run: -COOP_EINVAL (bad arguments), -COOP_ENOMEM, or -COOP_ESTATE (the pool
 *  is not running: before start-up finished or after coopd began to stop). */
static inline int coop_db_query(coop_plugin *self, const char *sql, int nparams,
                                const char *const *params, coop_db_fn cb, void *arg)
{
    return coop_host->db_query(self, sql, nparams, params, cb, arg);
}

/** Starts a transaction on a connection of its own. cb gets the open tx, or
 *  tx NULL and a failed res. Returns 0 when queued (cb will run), or, with cb
 *  not run, -COOP_EINVAL, -COOP_ENOMEM or -COOP_ESTATE as coop_db_query(). */
static inline int coop_tx_begin(coop_plugin *self, coop_tx_fn cb, void *arg)
{
    return coop_host->tx_begin(self, cb, arg);
}

/** Runs one statement in tx (borrowed). sql and params are copied. After a
 *  failed statement the transaction can only be rolled back. Returns 0 when
 *  queued; otherwise cb will not run and tx stays as it was: -COOP_EINVAL,
 *  -COOP_ENOMEM, or -COOP_ESTATE (a statement of tx is still running, or tx is
 *  already ending). */
static inline int coop_tx_query(coop_tx *tx, const char *sql, int nparams,
                                const char *const *params, coop_tx_fn cb, void *arg)
{
    return coop_host->tx_query(tx, sql, nparams, params, cb, arg);
}

/** Commits tx. On 0, tx is gone when this returns, and cb (may be NULL) gets
 *  tx NULL and the COMMIT's result: status 0 means it committed; -COOP_EDB
 *  means nothing was written (SQLSTATE 25P02 when an earlier statement had
 *  failed); -COOP_EUNAVAILABLE means the outcome is unknown (the link broke
 *  while the server may have committed), so retried writes need a key of their
 *  own. On -COOP_EINVAL, -COOP_ENOMEM or -COOP_ESTATE (a statement of tx is
 *  still running) tx is still open and cb will not run. */
static inline int coop_tx_commit(coop_tx *tx, coop_tx_fn cb, void *arg)
{
    return coop_host->tx_commit(tx, cb, arg);
}

/** Rolls tx back. On 0, tx is gone when this returns and cb (may be NULL)
 *  runs later with tx NULL. On -COOP_EINVAL, -COOP_ENOMEM or -COOP_ESTATE (a
 *  statement of tx is still running) tx is still open and cb will not run. */
static inline int coop_tx_rollback(coop_tx *tx, coop_tx_fn cb, void *arg)
{
    return coop_host->tx_rollback(tx, cb, arg);
}

/** 0 when the statement succeeded; -COOP_EUNAVAILABLE when the database could
 *  not be reached; -COOP_EDB when PostgreSQL refused it; -COOP_ECANCELLED when
 *  coopd is stopping. -COOP_EDB also covers a statement that ran past the
 *  pool's statement_timeout (30 s unless the operator's conninfo options set
 *  one): SQLSTATE 57014; a COPY ("COPY is not supported"); BEGIN, COMMIT and
 *  the like through coop_db_query (use coop_tx_*); and an empty statement
 *  ("statement is empty"). */
static inline int coop_db_status(const coop_db_result *res)
{
    return coop_host->db_status(res);
}

/** The five-character SQLSTATE of a failed statement, "" otherwise. Borrowed. */
static inline const char *coop_db_sqlstate(const coop_db_result *res)
{
    return coop_host->db_sqlstate(res);
}

/** PostgreSQL's message for a failed statement, "" otherwise. Borrowed. */
static inline const char *coop_db_error(const coop_db_result *res)
{
    return coop_host->db_error(res);
}

/** Number of rows returned (0 for a failed statement). */
static inline int coop_db_nrows(const coop_db_result *res)
{
    return coop_host->db_nrows(res);
}

/** Number of columns returned. */
static inline int coop_db_ncols(const coop_db_result *res)
{
    return coop_host->db_ncols(res);
}

/** Index of column name, or -1. */
static inline int coop_db_column(const coop_db_result *res, const char *name)
{
    return coop_host->db_column(res, name);
}

/** The text of a value; NULL for SQL NULL or out-of-range. Borrowed from res. */
static inline const char *coop_db_value(const coop_db_result *res, int row, int col)
{
    return coop_host->db_value(res, row, col);
}

/** 1 when the value is SQL NULL, else 0. */
static inline int coop_db_is_null(const coop_db_result *res, int row, int col)
{
    return coop_host->db_is_null(res, row, col);
}

/** Rows affected by INSERT/UPDATE/DELETE, 0 otherwise. */
static inline int64_t coop_db_affected(const coop_db_result *res)
{
    return coop_host->db_affected(res);
}

#ifdef __cplusplus
}
#endif
#endif /* COOP_DB_H */
