/*
 * Unit tests of core/plugin.c's checks that need no shared object: a plugin's
 * migration list. (Loading, ordering and the lifecycle run against real
 * fixture plugins in tests/integration/test_startup_errors.py.)
 */
#include <string.h>

#include "plugin_internal.h"
#include "unit.h"

/* "ok", or the error plugin_check_migrations gives for list. */
static const char *migrations_error(const coop_migration *list)
{
    static char err[512];
    if (plugin_check_migrations("p", list, err, sizeof(err)) == 0)
        return "ok";
    return err;
}

static void test_migration_names(void)
{
    CHECK_STR(migrations_error(NULL), "ok");
    const coop_migration none[] = {{NULL, NULL}};
    CHECK_STR(migrations_error(none), "ok");
    const coop_migration good[] = {{"001_a.sql", "SELECT 1"},
                                   {"002_b.sql", "SELECT 2"},
                                   {"002_b .sql", "SELECT 3"},
                                   {NULL, NULL}};
    CHECK_STR(migrations_error(good), "ok");

    const coop_migration twice[] = {{"001_a.sql", "SELECT 1"},
                                    {"002_b.sql", "SELECT 2"},
                                    {"001_a.sql", "SELECT 3"},
                                    {NULL, NULL}};
    CHECK_STR(migrations_error(twice), "plugin p: migration #3 has the same name as #1: 001_a.sql");
    const coop_migration empty[] = {{"001_a.sql", "SELECT 1"}, {"", "SELECT 2"}, {NULL, NULL}};
    CHECK_STR(migrations_error(empty), "plugin p: migration #2 has an empty name");
    const coop_migration slash[] = {{"sql/001_a.sql", "SELECT 1"}, {NULL, NULL}};
    CHECK_STR(migrations_error(slash),
              "plugin p: migration #1 has a '/' in its name: sql/001_a.sql");
    /* Control characters are named by their code, never echoed into the one-line error. */
    const coop_migration newline[] = {{"001_a\n.sql", "SELECT 1"}, {NULL, NULL}};
    CHECK_STR(migrations_error(newline),
              "plugin p: migration #1 has a control character (0x0a) in its name");
    const coop_migration tab[] = {{"001\ta.sql", "SELECT 1"}, {NULL, NULL}};
    CHECK_STR(migrations_error(tab),
              "plugin p: migration #1 has a control character (0x09) in its name");
    const coop_migration del[] = {{"001_a.sql\x7f", "SELECT 1"}, {NULL, NULL}};
    CHECK_STR(migrations_error(del),
              "plugin p: migration #1 has a control character (0x7f) in its name");
    /* UTF-8 is not a control character. */
    const coop_migration utf8[] = {{"001_\xc3\xa9t\xc3\xa9.sql", "SELECT 1"}, {NULL, NULL}};
    CHECK_STR(migrations_error(utf8), "ok");
    const coop_migration no_sql[] = {{"001_a.sql", NULL}, {NULL, NULL}};
    CHECK_STR(migrations_error(no_sql), "plugin p: migration 001_a.sql has no SQL");
}

int main(void)
{
    test_migration_names();
    return unit_finish();
}
