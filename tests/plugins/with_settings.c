/*
 * A plugin with a settings schema. coopd validates its settings before init,
 * so init can read them without checking; GET /v1/with_settings/settings
 * answers with what it received, which shows the settings arrived intact.
 */
#include <coop/coop.h>

static const char with_settings_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"threshold\"],"
    " \"properties\": {"
    "  \"threshold\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10},"
    "  \"mode\": {\"enum\": [\"strict\", \"lenient\"]},"
    "  \"greeting\": {\"type\": \"string\", \"minLength\": 1},"
    "  \"opens\": {\"type\": \"string\", \"format\": \"date-time\"}}}";

static const json_t *settings;

static void with_settings_get(coop_request *req, void *arg)
{
    (void)arg;
    coop_reply_json(req, 200, json_deep_copy(settings));
}

static int with_settings_init(coop_plugin *self, const json_t *config)
{
    settings = config;
    static const coop_route route = {
        .method = COOP_GET,
        .path = "/settings",
        .roles = COOP_ROLE_OPERATOR,
        .handler = with_settings_get,
    };
    return coop_route_add(self, &route);
}

static const coop_plugin_descriptor with_settings = {
    COOP_DESCRIPTOR_HEADER,     .name = "with_settings",
    .version = "1.0.0",         .config_schema = with_settings_schema,
    .init = with_settings_init,
};

COOP_PLUGIN(with_settings)
