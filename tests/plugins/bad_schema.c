/* Declares a settings schema with a misspelt keyword ("maxLenght"): coopd must
 * refuse it at load rather than validate nothing. */
#include <coop/coop.h>

static int bad_schema_init(coop_plugin *self, const json_t *config)
{
    (void)self, (void)config;
    return 0;
}

static const coop_plugin_descriptor bad_schema = {
    COOP_DESCRIPTOR_HEADER,
    .name = "bad_schema",
    .version = "1.0.0",
    .config_schema = "{\"type\": \"object\", \"properties\": {\"title\": {\"type\": \"string\","
                     " \"maxLenght\": 10}}}",
    .init = bad_schema_init,
};

COOP_PLUGIN(bad_schema)
