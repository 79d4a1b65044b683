/*
 * Start-up migrations (migrate.c) against the real test cluster
 * (COOP_TEST_PGHOST/PGPORT/PGUSER): applied in order into the owner's schema,
 * recorded with a SHA-256 that PostgreSQL's own sha256() agrees with, never
 * applied twice, an edited one refused before anything new runs, a failing
 * one leaving nothing behind, and a second node waiting on the lock.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db_internal.h"
#include "pg_test_env.h"
#include "unit.h"

static PGconn *conn;

static const char *value(const char *sql)
{
    return pg_test_value(conn, sql);
}

static const coop_migration first_two[] = {
    {"001_tables.sql", "CREATE TABLE things (id bigserial PRIMARY KEY, name text NOT NULL);\n"
                       "CREATE TABLE other (id int);"},
    {"002_data.sql", "INSERT INTO things (name) VALUES ('one'), ('two');"},
    {NULL, NULL},
};

static void test_apply_and_record(void)
{
    char err[512] = "";
    CHECK_INT(migrations_apply(conn, "alpha", "alpha", first_two, err, sizeof err), 0);
    CHECK_STR(err, "");
    /* Unqualified names went to the owner's schema. */
    CHECK_STR(value("SELECT count(*) FROM alpha.things"), "2");
    CHECK_STR(value("SELECT count(*) FROM alpha.other"), "0");
    CHECK_STR(value("SELECT string_agg(name, ',' ORDER BY name) FROM coop.schema_migrations "
                    "WHERE owner = 'alpha'"),
              "001_tables.sql,002_data.sql");
    /* The recorded checksum is the SHA-256 PostgreSQL computes of the same text. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT sha256 = encode(sha256(convert_to(%s, 'UTF8')), 'hex') FROM "
             "coop.schema_migrations WHERE owner = 'alpha' AND name = '002_data.sql'",
             "'INSERT INTO things (name) VALUES (''one''), (''two'');'");
    CHECK_STR(value(sql), "t");
    /* The known digest of "abc" (FIPS 180-2 example), through the same path. */
    static const coop_migration abc[] = {{"abc", "abc"}, {NULL, NULL}};
    PQclear(PQexec(conn, "INSERT INTO coop.schema_migrations (owner, name, sha256) VALUES "
                         "('fips', 'abc', "
                         "'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')"));
    CHECK_INT(migrations_apply(conn, "fips", "fips", abc, err, sizeof err), 0);

    /* Again: nothing applied twice (the data migration would add rows). */
    char before[64];
    snprintf(before, sizeof before, "%s",
             value("SELECT max(applied_at)::text FROM coop.schema_migrations"));
    CHECK_INT(migrations_apply(conn, "alpha", "alpha", first_two, err, sizeof err), 0);
    CHECK_STR(value("SELECT count(*) FROM alpha.things"), "2");
    CHECK_STR(value("SELECT max(applied_at)::text FROM coop.schema_migrations"), before);

    /* One more: only it runs. */
    static const coop_migration three[] = {
        first_two[0],
        first_two[1],
        {"003_more.sql", "INSERT INTO things (name) VALUES ('three');"},
        {NULL, NULL},
    };
    CHECK_INT(migrations_apply(conn, "alpha", "alpha", three, err, sizeof err), 0);
    CHECK_STR(value("SELECT count(*) FROM alpha.things"), "3");
    /* Owners are separate even with the same migration names. */
    CHECK_INT(migrations_apply(conn, "beta", "beta", first_two, err, sizeof err), 0);
    CHECK_STR(value("SELECT count(*) FROM beta.things"), "2");
    /* No migrations at all is fine. */
    CHECK_INT(migrations_apply(conn, "gamma", "gamma", NULL, err, sizeof err), 0);
}

static void test_changed_refused(void)
{
    char err[512] = "";
    static const coop_migration edited[] = {
        {"001_tables.sql", "CREATE TABLE things (id bigserial PRIMARY KEY, name text);"},
        {"002_data.sql", "INSERT INTO things (name) VALUES ('one'), ('two');"},
        {"004_new.sql", "CREATE TABLE must_not_exist (id int);"},
        {NULL, NULL},
    };
    CHECK_INT(migrations_apply(conn, "alpha", "alpha", edited, err, sizeof err), -1);
    CHECK(strncmp(err, "alpha: 001_tables.sql: applied migration changed (checksum ",
                  strlen("alpha: 001_tables.sql: applied migration changed (checksum ")) == 0);
    CHECK(strchr(err, '\n') == NULL);
    /* Refused before anything new ran. */
    CHECK_STR(value("SELECT count(*) FROM pg_tables WHERE tablename = 'must_not_exist'"), "0");
    CHECK_STR(value("SELECT count(*) FROM coop.schema_migrations WHERE name = '004_new.sql'"), "0");
}

static void test_failure_leaves_nothing(void)
{
    char err[512] = "";
    static const coop_migration failing[] = {
        {"001_ok.sql", "CREATE TABLE fine (id int);"},
        {"002_bad.sql", "CREATE TABLE half (id int);\nSELECT no_such_column FROM half;"},
        {"003_after.sql", "CREATE TABLE after_bad (id int);"},
        {NULL, NULL},
    };
    CHECK_INT(migrations_apply(conn, "delta", "delta", failing, err, sizeof err), -1);
    /* PostgreSQL's message as plugins see it too: no "ERROR:  ", one line. */
    CHECK_STR(err, "delta: 002_bad.sql: column \"no_such_column\" does not exist");
    CHECK(strchr(err, '\n') == NULL);
    CHECK_STR(value("SELECT count(*) FROM pg_tables WHERE schemaname = 'delta'"), "1");
    CHECK_STR(value("SELECT string_agg(name, ',') FROM coop.schema_migrations WHERE "
                    "owner = 'delta'"),
              "001_ok.sql");
    /* Transaction control inside a migration is refused: a COMMIT in it
     * fails (what came before it is rolled back with it, and what follows
     * it does not run), and so does a ROLLBACK. Nothing is recorded. */
    static const char *const ending[] = {
        "CREATE TABLE c (id int); COMMIT; CREATE TABLE after_commit (id int);",
        "CREATE TABLE c (id int); ROLLBACK;",
        "CREATE TABLE c (id int); END;",
    };
    for (size_t i = 0; i < sizeof ending / sizeof ending[0]; i++) {
        const coop_migration committing[] = {{"001_ends.sql", ending[i]}, {NULL, NULL}};
        CHECK_INT(migrations_apply(conn, "epsilon", "epsilon", committing, err, sizeof err), -1);
        CHECK_STR(err, "epsilon: 001_ends.sql: the migration ended its transaction (COMMIT or "
                       "ROLLBACK), which is refused: coopd runs each migration in a transaction "
                       "of its own");
        CHECK_STR(value("SELECT count(*) FROM pg_tables WHERE schemaname = 'epsilon'"), "0");
        CHECK_STR(value("SELECT count(*) FROM coop.schema_migrations WHERE owner = 'epsilon'"),
                  "0");
    }
    /* The guard does not get in the way of a migration that commits normally. */
    static const coop_migration fine[] = {{"001_fine.sql", "CREATE TABLE c (id int);"}, {0, 0}};
    CHECK_INT(migrations_apply(conn, "epsilon", "epsilon", fine, err, sizeof err), 0);
    CHECK_STR(value("SELECT count(*) FROM epsilon.c"), "0");
    CHECK_STR(value("SELECT count(*) FROM pg_class WHERE relname = 'coop_migration_guard'"), "0");
    /* The connection is usable afterwards (no transaction left open). */
    CHECK_INT(PQtransactionStatus(conn), PQTRANS_IDLE);
}

/* What is recorded for an owner must be the start of its migrations, in
 * order: a build that lacks a recorded one, or that would put a new one
 * before a recorded one, is refused before anything runs. */
static void test_recorded_prefix(void)
{
    char err[512] = "";
    static const coop_migration two[] = {
        {"001_a.sql", "CREATE TABLE a (id int);"},
        {"002_b.sql", "CREATE TABLE b (id int);"},
        {NULL, NULL},
    };
    CHECK_INT(migrations_apply(conn, "theta", "theta", two, err, sizeof err), 0);
    static const coop_migration older[] = {two[0], {NULL, NULL}};
    CHECK_INT(migrations_apply(conn, "theta", "theta", older, err, sizeof err), -1);
    CHECK_STR(err, "theta: migration 002_b.sql is recorded as applied but this build does not "
                   "have it");
    static const coop_migration inserted[] = {
        two[0],
        {"001_z.sql", "CREATE TABLE z (id int);"},
        two[1],
        {NULL, NULL},
    };
    CHECK_INT(migrations_apply(conn, "theta", "theta", inserted, err, sizeof err), -1);
    CHECK_STR(err, "theta: migration 002_b.sql is recorded as applied but 001_z.sql, before it, "
                   "is not: out of order");
    CHECK_STR(value("SELECT count(*) FROM pg_tables WHERE tablename = 'z'"), "0");
    /* Appending stays fine. */
    static const coop_migration three[] = {
        two[0],
        two[1],
        {"003_c.sql", "CREATE TABLE c (id int);"},
        {NULL, NULL},
    };
    CHECK_INT(migrations_apply(conn, "theta", "theta", three, err, sizeof err), 0);
    CHECK_STR(value("SELECT count(*) FROM theta.c"), "0");
}

/* A second node starting at the same time waits for the first. */
static void test_lock(const char *conninfo)
{
    char err[512];
    PQclear(PQexec(conn, "SELECT pg_advisory_lock(1668247408)"));
    pid_t child = fork();
    if (child == 0) {
        PGconn *other = db_connect_blocking(conninfo, err, sizeof err);
        static const coop_migration m[] = {{"001.sql", "CREATE TABLE t (id int);"}, {0, 0}};
        int rc = other ? migrations_apply(other, "zeta", "zeta", m, err, sizeof err) : -1;
        PQfinish(other);
        _exit(rc == 0 ? 0 : 1);
    }
    usleep(500 * 1000);
    CHECK_STR(value("SELECT count(*) FROM coop.schema_migrations WHERE owner = 'zeta'"), "0");
    CHECK_STR(value("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' "
                    "AND datname = current_database()"),
              "1");
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(1668247408)"));
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_STR(value("SELECT count(*) FROM coop.schema_migrations WHERE owner = 'zeta'"), "1");
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    pg_test_env_use("test_migrate");
    char err[512], conninfo[96], dbname[64];
    PGconn *postgres = pg_test_env_create("unit_migrate", dbname, sizeof dbname);
    if (!postgres)
        return 1;
    /* An unreachable server: NULL and one line naming the cause. */
    PGconn *none = db_connect_blocking("host=127.0.0.1 port=1", err, sizeof err);
    CHECK(none == NULL);
    CHECK(strncmp(err, "database: cannot connect: ", 26) == 0);
    CHECK(strchr(err, '\n') == NULL);

    snprintf(conninfo, sizeof conninfo, "dbname=%s", dbname);
    conn = db_connect_blocking(conninfo, err, sizeof err);
    CHECK(conn != NULL);
    if (conn) {
        test_apply_and_record();
        test_changed_refused();
        test_failure_leaves_nothing();
        test_recorded_prefix();
        test_lock(conninfo);
        PQfinish(conn);
    }
    pg_test_env_drop(postgres, dbname);
    return unit_finish();
}
