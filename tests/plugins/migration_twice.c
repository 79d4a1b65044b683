/* Lists two migrations under one name: coopd would record only the first as
 * applied (and take the second for an edit of it), so it must refuse the plugin
 * at load, naming both positions. */
#include <coop/coop.h>

static const coop_migration migration_twice_migrations[] = {
    {.name = "001_a.sql", .sql = "CREATE TABLE a (id bigint);"},
    {.name = "001_a.sql", .sql = "CREATE TABLE b (id bigint);"},
    {.name = NULL, .sql = NULL},
};

static int migration_twice_init(coop_plugin *self, const json_t *config)
{
    (void)self;
    (void)config;
    return 0;
}

static const coop_plugin_descriptor migration_twice = {
    COOP_DESCRIPTOR_HEADER,       .name = "migration_twice",
    .version = "1.0.0",           .migrations = migration_twice_migrations,
    .init = migration_twice_init,
};

COOP_PLUGIN(migration_twice)
