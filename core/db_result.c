/*
 * Statement results as plugins read them: thin accessors over a PGresult that
 * is owned by the pool and borrowed by one callback (see db.c).
 *
 * Every accessor accepts NULL and out-of-range arguments, answering as for an
 * empty result, so that a plugin's mistake costs it a NULL, not coopd a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

void db_result_init(struct coop_db_result *res, PGresult *pg, int status, const char *message)
{
    res->pg = pg;
    res->status = status;
    res->sqlstate = "";
    res->message = message ? message : "";
    if (!pg)
        return;
    switch (PQresultStatus(pg)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
        res->status = 0;
        res->message = "";
        return;
    case PGRES_EMPTY_QUERY: /* "", or only spaces and comments: nothing ran */
        res->status = -COOP_EDB;
        res->message = "statement is empty";
        return;
    default:
        break;
    }
    const char *state = PQresultErrorField(pg, PG_DIAG_SQLSTATE);
    res->sqlstate = state ? state : "";
    res->message = db_result_message(pg);
    if (status == 0)
        res->status = db_result_connection_lost(pg) ? -COOP_EUNAVAILABLE : -COOP_EDB;
}

const char *db_result_message(const PGresult *pg)
{
    const char *primary = PQresultErrorField(pg, PG_DIAG_MESSAGE_PRIMARY);
    return primary ? primary : PQresultErrorMessage(pg);
}

int db_result_connection_lost(const PGresult *pg)
{
    const char *state = pg ? PQresultErrorField(pg, PG_DIAG_SQLSTATE) : NULL;
    if (!state) /* libpq's own errors: the pool asks PQstatus() about the link */
        return 0;
    if (strncmp(state, "08", 2) == 0)
        return 1;
    /* admin_shutdown, crash_shutdown, cannot_connect_now */
    return strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
           strcmp(state, "57P03") == 0;
}

int host_db_status(const coop_db_result *res)
{
    return res ? res->status : -COOP_EINVAL;
}

const char *host_db_sqlstate(const coop_db_result *res)
{
    return res ? res->sqlstate : "";
}

const char *host_db_error(const coop_db_result *res)
{
    return res ? res->message : "";
}

/* Rows and values only of a successful result: a failed one has none. */
static const PGresult *rows_of(const coop_db_result *res)
{
    return res && res->status == 0 ? res->pg : NULL;
}

int host_db_nrows(const coop_db_result *res)
{
    const PGresult *pg = rows_of(res);
    return pg ? PQntuples(pg) : 0;
}

int host_db_ncols(const coop_db_result *res)
{
    const PGresult *pg = rows_of(res);
    return pg ? PQnfields(pg) : 0;
}

int host_db_column(const coop_db_result *res, const char *name)
{
    const PGresult *pg = rows_of(res);
    if (!pg || !name)
        return -1;
    /* Not PQfnumber: it folds unquoted names to lower case and strips quotes,
     * which would surprise callers passing a column's name as returned. */
    int n = PQnfields(pg);
    for (int i = 0; i < n; i++)
        if (strcmp(PQfname(pg, i), name) == 0)
            return i;
    return -1;
}

static int in_range(const PGresult *pg, int row, int col)
{
    return pg && row >= 0 && col >= 0 && row < PQntuples(pg) && col < PQnfields(pg);
}

const char *host_db_value(const coop_db_result *res, int row, int col)
{
    const PGresult *pg = rows_of(res);
    if (!in_range(pg, row, col) || PQgetisnull(pg, row, col))
        return NULL;
    return PQgetvalue(pg, row, col);
}

int host_db_is_null(const coop_db_result *res, int row, int col)
{
    const PGresult *pg = rows_of(res);
    return in_range(pg, row, col) && PQgetisnull(pg, row, col) ? 1 : 0;
}

int64_t host_db_affected(const coop_db_result *res)
{
    PGresult *pg = (PGresult *)rows_of(res);
    if (!pg)
        return 0;
    /* PQcmdTuples also counts the rows of a SELECT; the SDK promises a count
     * of changed rows only, so look at the command first. */
    const char *command = PQcmdStatus(pg);
    static const char *const writes[] = {"INSERT ", "UPDATE ", "DELETE ", "MERGE "};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        if (strncmp(command, writes[i], strlen(writes[i])) == 0) {
            const char *tuples = PQcmdTuples(pg);
            return tuples[0] ? strtoll(tuples, NULL, 10) : 0;
        }
    }
    return 0;
}
