/* A plugin built for SDK ABI 2.0, as a plugin from a future coop would be:
 * coopd 1.x must refuse it at load, naming both versions. */
#include <coop/coop.h>

static int abi_two_init(coop_plugin *self, const json_t *config)
{
    (void)self, (void)config;
    return 0;
}

static const coop_plugin_descriptor abi_two = {
    .abi_major = 2,
    .abi_minor = 0,
    .size = (uint32_t)sizeof(coop_plugin_descriptor),
    .name = "abi_two",
    .version = "2.0.0",
    .init = abi_two_init,
};

COOP_PLUGIN(abi_two)
