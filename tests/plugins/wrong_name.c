/* Built as wrong_name.so but declares the name "other_name": the file name,
 * schema and route prefix would disagree, so coopd refuses it. */
#include <coop/coop.h>

static int wrong_name_init(coop_plugin *self, const json_t *config)
{
    (void)self, (void)config;
    return 0;
}

static const coop_plugin_descriptor wrong_name = {
    COOP_DESCRIPTOR_HEADER,
    .name = "other_name",
    .version = "1.0.0",
    .init = wrong_name_init,
};

COOP_PLUGIN(wrong_name)
