/* cycle_a depends on cycle_b, and cycle_b on cycle_a: a dependency cycle coopd must refuse. */
#include <coop/coop.h>

static int cycle_a_init(coop_plugin *self, const json_t *config)
{
    (void)self, (void)config;
    return 0;
}

static const char *const cycle_a_depends[] = {"cycle_b", NULL};

static const coop_plugin_descriptor cycle_a = {
    COOP_DESCRIPTOR_HEADER,     .name = "cycle_a",    .version = "1.0.0",
    .depends = cycle_a_depends, .init = cycle_a_init,
};

COOP_PLUGIN(cycle_a)
