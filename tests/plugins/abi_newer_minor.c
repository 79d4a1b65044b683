/* A plugin built for SDK ABI 1.9, newer than coopd's 1.0: it may call host
 * functions this coopd lacks, so coopd must refuse it. */
#include <coop/coop.h>

static int abi_newer_minor_init(coop_plugin *self, const json_t *config)
{
    (void)self, (void)config;
    return 0;
}

static const coop_plugin_descriptor abi_newer_minor = {
    .abi_major = COOP_ABI_MAJOR,
    .abi_minor = 9,
    .size = (uint32_t)sizeof(coop_plugin_descriptor),
    .name = "abi_newer_minor",
    .version = "1.9.0",
    .init = abi_newer_minor_init,
};

COOP_PLUGIN(abi_newer_minor)
