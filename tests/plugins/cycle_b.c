/* cycle_b depends on cycle_a, and cycle_a on cycle_b: a dependency cycle coopd must refuse. */
#include <coop/coop.h>

static int cycle_b_init(coop_plugin *self, const json_t *config)
{
    (void)self, (void)config;
    return 0;
}

static const char *const cycle_b_depends[] = {"cycle_a", NULL};

static const coop_plugin_descriptor cycle_b = {
    COOP_DESCRIPTOR_HEADER,     .name = "cycle_b",    .version = "1.0.0",
    .depends = cycle_b_depends, .init = cycle_b_init,
};

COOP_PLUGIN(cycle_b)
