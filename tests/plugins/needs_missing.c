/* Depends on a plugin named "absent", which no test configures. */
#include <coop/coop.h>

static int needs_missing_init(coop_plugin *self, const json_t *config)
{
    (void)self, (void)config;
    return 0;
}

static const char *const needs_missing_depends[] = {"absent", NULL};

static const coop_plugin_descriptor needs_missing = {
    COOP_DESCRIPTOR_HEADER,           .name = "needs_missing",    .version = "1.0.0",
    .depends = needs_missing_depends, .init = needs_missing_init,
};

COOP_PLUGIN(needs_missing)
