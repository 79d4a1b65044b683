/*
 * Start-up schema migrations, before the event loop runs, so blocking libpq
 * calls are fine here (and only here).
 *
 * Each owner's migrations (the core's, then each plugin's) are applied in
 * array order, one transaction each, and recorded in coop.schema_migrations
 * with the SHA-256 of their text. A pg_advisory_lock serialises nodes that
 * start together, so two coopd processes never apply the same migration
 * twice or race on the bootstrap DDL. All recorded checksums are compared
 * before anything new is applied: an edited migration refuses start-up
 * without leaving the database half-way, and so do recorded migrations that
 * are not the first ones of the owner's array, in order (a build that lacks
 * one, or would apply a new one before an applied one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db_internal.h"
#include "log_internal.h"

/* Key of the advisory lock all coopd nodes take while migrating ("coop"). */
#define MIGRATION_LOCK_KEY "1668247408"

/* libpq's connect_timeout (seconds) for start-up connections. */
#define DB_STARTUP_CONNECT_TIMEOUT "10"

PGconn *db_connect_blocking(const char *conninfo, char *err, size_t errlen)
{
    db_params params;
    if (db_params_parse(&params, conninfo, err, errlen) < 0)
        return NULL;
    if (db_params_default(&params, "connect_timeout", DB_STARTUP_CONNECT_TIMEOUT) < 0) {
        db_params_free(&params);
        snprintf(err, errlen, "database: out of memory");
        return NULL;
    }
    PGconn *conn = PQconnectdbParams(params.keywords, params.values, 0);
    db_params_free(&params);
    if (!conn) {
        snprintf(err, errlen, "database: out of memory");
        return NULL;
    }
    PQsetNoticeProcessor(conn, db_log_notice, NULL);
    if (PQstatus(conn) != CONNECTION_OK) {
        char line[512];
        db_first_line(PQerrorMessage(conn), line, sizeof line);
        snprintf(err, errlen, "database: cannot connect: %s", line);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

void db_log_notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    db_first_line(message, line, sizeof line);
    log_write(COOP_LOG_DEBUG, "db", "%s", line);
}

/* Runs sql (simple query protocol: may hold several statements). Returns 0,
 * or -1 with PostgreSQL's message in why. */
static int exec_simple(PGconn *conn, const char *sql, char *why, size_t whylen)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(res);
    int ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!ok)
        db_first_line(res ? db_result_message(res) : PQerrorMessage(conn), why, whylen);
    PQclear(res);
    return ok ? 0 : -1;
}

static PGresult *exec_params(PGconn *conn, const char *sql, int n, const char *const *params,
                             char *why, size_t whylen)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return res;
    db_first_line(res ? db_result_message(res) : PQerrorMessage(conn), why, whylen);
    PQclear(res);
    return NULL;
}

/* SHA-256 of text as 64 lower-case hex digits. */
static int sha256_hex(const char *text, char out[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(text, strlen(text), digest, &len, EVP_sha256(), NULL) || len != 32)
        return -1;
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

/* clang-format off */
static const char bootstrap_sql[] =
    "CREATE SCHEMA IF NOT EXISTS coop;\n"
    "CREATE TABLE IF NOT EXISTS coop.schema_migrations (\n"
    "    owner text NOT NULL,\n"
    "    name text NOT NULL,\n"
    "    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),\n"
    "    applied_at timestamptz NOT NULL DEFAULT now(),\n"
    "    PRIMARY KEY (owner, name)\n"
    ");";
/* clang-format on */

/* A migration must not end the transaction it runs in: what it did before a
 * COMMIT would stay while the migration is not recorded. So every migration
 * runs with a guard, a row that breaks a deferred unique constraint: a COMMIT
 * inside the migration fails on it, rolling the whole migration back, and
 * only apply_one's own COMMIT, after deleting the rows, can succeed. */
#define GUARD_SETUP                                                                                \
    "CREATE TEMP TABLE coop_migration_guard (one int UNIQUE DEFERRABLE INITIALLY DEFERRED) "       \
    "ON COMMIT DROP; INSERT INTO pg_temp.coop_migration_guard VALUES (1), (1);"
#define GUARD_RELEASE "DELETE FROM pg_temp.coop_migration_guard"

/* Applies one migration in its own transaction. */
static int apply_one(PGconn *conn, const char *owner, const char *quoted_schema,
                     const coop_migration *m, const char *sha, char *why, size_t whylen)
{
    char prologue[1024];
    snprintf(
        prologue, sizeof prologue,
        "BEGIN; SET LOCAL search_path = %s, public; CREATE SCHEMA IF NOT EXISTS %s; " GUARD_SETUP,
        quoted_schema, quoted_schema);
    if (exec_simple(conn, prologue, why, whylen) != 0)
        goto out_rollback;
    int failed = exec_simple(conn, m->sql, why, whylen) != 0;
    if (PQtransactionStatus(conn) == PQTRANS_IDLE) { /* its COMMIT failed, or it rolled back */
        snprintf(why, whylen,
                 "the migration ended its transaction (COMMIT or ROLLBACK), which is refused: "
                 "coopd runs each migration in a transaction of its own");
        goto out_rollback;
    }
    if (failed || exec_simple(conn, GUARD_RELEASE, why, whylen) != 0)
        goto out_rollback;
    const char *params[] = {owner, m->name, sha};
    PGresult *res = exec_params(conn,
                                "INSERT INTO coop.schema_migrations (owner, name, sha256) "
                                "VALUES ($1, $2, $3)",
                                3, params, why, whylen);
    if (!res)
        goto out_rollback;
    PQclear(res);
    if (exec_simple(conn, "COMMIT", why, whylen) != 0)
        goto out_rollback;
    return 0;

out_rollback:;
    char ignored[8];
    exec_simple(conn, "ROLLBACK", ignored, sizeof ignored);
    return -1;
}

/* The checksum recorded for name, or NULL. Borrowed from res. */
static const char *recorded_sha(PGresult *res, const char *name)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), name) == 0)
            return PQgetvalue(res, i, 1);
    return NULL;
}

/* The names recorded for an owner (in the order they were applied) must be
 * the first ones of its array, in the same order: a build that lacks one, or
 * has them in another order, would apply its own on a schema it does not
 * know. Returns 0, or -1 with the reason in err. */
static int check_recorded_prefix(PGresult *applied, const char *owner,
                                 const coop_migration *migrations, size_t count, char *err,
                                 size_t errlen)
{
    int n = PQntuples(applied);
    for (int i = 0; i < n; i++) {
        const char *name = PQgetvalue(applied, i, 0);
        size_t at = 0;
        while (at < count && strcmp(migrations[at].name, name) != 0)
            at++;
        if (at == count) {
            snprintf(err, errlen,
                     "%s: migration %s is recorded as applied but this build does not have it",
                     owner, name);
            return -1;
        }
        if (at != (size_t)i) { /* names are unique, so at > i: one before it was skipped */
            snprintf(err, errlen,
                     "%s: migration %s is recorded as applied but %s, before it, is not: "
                     "out of order",
                     owner, name, migrations[i].name);
            return -1;
        }
    }
    return 0;
}

int migrations_apply(PGconn *conn, const char *owner, const char *schema,
                     const coop_migration *migrations, char *err, size_t errlen)
{
    char why[512] = "";
    int rc = -1;
    PGresult *applied = NULL;
    char quoted_schema[2 * 64 + 3]; /* PostgreSQL names have at most 63 bytes */
    if (db_quote_identifier(schema, quoted_schema, sizeof quoted_schema) < 0) {
        snprintf(err, errlen, "%s: schema name too long", owner);
        return -1;
    }
    if (exec_simple(conn, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", why, sizeof why)) {
        snprintf(err, errlen, "%s: cannot lock the migrations: %s", owner, why);
        return -1;
    }
    if (exec_simple(conn, bootstrap_sql, why, sizeof why)) {
        snprintf(err, errlen, "%s: cannot create coop.schema_migrations: %s", owner, why);
        goto out_unlock;
    }
    const char *params[] = {owner};
    applied = exec_params(conn,
                          "SELECT name, sha256 FROM coop.schema_migrations WHERE owner = $1 "
                          "ORDER BY applied_at, name",
                          1, params, why, sizeof why);
    if (!applied) {
        snprintf(err, errlen, "%s: cannot read coop.schema_migrations: %s", owner, why);
        goto out_unlock;
    }

    size_t count = 0;
    while (migrations && migrations[count].name)
        count++;
    char(*shas)[65] = calloc(count ? count : 1, sizeof *shas);
    if (!shas) {
        snprintf(err, errlen, "%s: out of memory", owner);
        goto out_clear;
    }
    for (size_t i = 0; i < count; i++) {
        const coop_migration *m = &migrations[i];
        if (!m->sql || sha256_hex(m->sql, shas[i]) != 0) {
            snprintf(err, errlen, "%s: %s: %s", owner, m->name,
                     m->sql ? "cannot compute its SHA-256" : "no SQL");
            goto out_free_shas;
        }
        const char *recorded = recorded_sha(applied, m->name);
        if (recorded && strcmp(recorded, shas[i]) != 0) {
            snprintf(err, errlen,
                     "%s: %s: applied migration changed (checksum %s recorded, %s now); "
                     "never edit an applied migration, add a new one",
                     owner, m->name, recorded, shas[i]);
            goto out_free_shas;
        }
    }
    if (check_recorded_prefix(applied, owner, migrations, count, err, errlen) < 0)
        goto out_free_shas;
    for (size_t i = 0; i < count; i++) {
        const coop_migration *m = &migrations[i];
        if (recorded_sha(applied, m->name))
            continue;
        if (apply_one(conn, owner, quoted_schema, m, shas[i], why, sizeof why) != 0) {
            snprintf(err, errlen, "%s: %s: %s", owner, m->name, why);
            goto out_free_shas;
        }
    }
    rc = 0;

out_free_shas:
    free(shas);
out_clear:
    PQclear(applied);
out_unlock:;
    char ignored[8];
    exec_simple(conn, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", ignored, sizeof ignored);
    return rc;
}
