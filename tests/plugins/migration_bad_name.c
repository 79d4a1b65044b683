/* A migration whose name holds a newline: printed as is, it would split
 * coopd's one-line refusal in two, so coopd must refuse it without echoing it. */
#include <coop/coop.h>

static const coop_migration migration_bad_name_migrations[] = {
    {.name = "001_a.sql", .sql = "CREATE TABLE a (id bigint);"},
    {.name = "002_b\n.sql", .sql = "CREATE TABLE b (id bigint);"},
    {.name = NULL, .sql = NULL},
};

static int migration_bad_name_init(coop_plugin *self, const json_t *config)
{
    (void)self;
    (void)config;
    return 0;
}

static const coop_plugin_descriptor migration_bad_name = {
    COOP_DESCRIPTOR_HEADER,
    .name = "migration_bad_name",
    .version = "1.0.0",
    .migrations = migration_bad_name_migrations,
    .init = migration_bad_name_init,
};

COOP_PLUGIN(migration_bad_name)
