/*
 * For unit tests that need PostgreSQL: the test cluster (COOP_TEST_PGHOST,
 * COOP_TEST_PGPORT, COOP_TEST_PGUSER, as scripts/test.sh exports them) made
 * libpq's environment, a database of the test's own, and a one-value query.
 */
#ifndef COOP_TESTS_PG_TEST_ENV_H
#define COOP_TESTS_PG_TEST_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db_internal.h"

/* Points libpq's environment at the test cluster, or exits naming test. */
static inline void pg_test_env_use(const char *test)
{
    const char *host = getenv("COOP_TEST_PGHOST"), *port = getenv("COOP_TEST_PGPORT");
    const char *user = getenv("COOP_TEST_PGUSER");
    if (!host || !port) {
        fprintf(stderr,
                "%s: COOP_TEST_PGHOST/COOP_TEST_PGPORT are not set: run scripts/test.sh, "
                "or start a cluster with scripts/pg.sh\n",
                test);
        exit(1);
    }
    setenv("PGHOST", host, 1);
    setenv("PGPORT", port, 1);
    if (user)
        setenv("PGUSER", user, 1);
    unsetenv("PGDATABASE");
}

/* Creates database "<prefix>_<pid>" (its name in dbname) and returns a
 * connection to database postgres, to drop it at the end with
 * pg_test_env_drop; NULL (said on stderr) when the cluster is not there. */
static inline PGconn *pg_test_env_create(const char *prefix, char *dbname, size_t len)
{
    char err[512], sql[160];
    snprintf(dbname, len, "%s_%d", prefix, (int)getpid());
    PGconn *postgres = db_connect_blocking("dbname=postgres", err, sizeof err);
    if (!postgres) {
        fprintf(stderr, "%s: %s\n", prefix, err);
        return NULL;
    }
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    PQclear(PQexec(postgres, sql));
    return postgres;
}

static inline void pg_test_env_drop(PGconn *postgres, const char *dbname)
{
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", dbname);
    PQclear(PQexec(postgres, sql));
    PQfinish(postgres);
}

/* The first value sql returns on conn; "" when it returns none, "error: ..."
 * when it fails. Static: valid until the next call. */
static inline const char *pg_test_value(PGconn *conn, const char *sql)
{
    static char out[512];
    PGresult *r = PQexec(conn, sql);
    out[0] = '\0';
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        snprintf(out, sizeof out, "error: %s", PQresultErrorMessage(r));
    PQclear(r);
    return out;
}

#endif
