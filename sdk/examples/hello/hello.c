/*
 * hello: the smallest real coopd plugin.
 *
 * It serves GET /v1/hello/ping to every signed-in role and answers with a
 * greeting taken from its settings, so it shows the whole path a request
 * takes: router, token check, plugin handler, JSON reply.
 */
#include <coop/coop.h>

/* The settings coopd validates before init: {"greeting": "..."} or {}. */
static const char hello_config_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"properties\": {\"greeting\": {\"type\": \"string\", \"minLength\": 1,"
    " \"maxLength\": 200}}}";

static const char hello_openapi[] =
    "{\"/ping\": {\"get\": {\"summary\": \"Answers with the configured greeting\","
    " \"security\": [{\"bearer\": []}],"
    " \"responses\": {\"200\": {\"description\": \"The greeting\"}}}}}";

/* Read once at init; the config object outlives every request. */
static const char *greeting = "pong";

static void hello_ping(coop_request *req, void *arg)
{
    (void)arg;
    coop_reply_json(req, 200, json_pack("{s:s}", "message", greeting));
}

static int hello_init(coop_plugin *self, const json_t *config)
{
    const json_t *g = json_object_get(config, "greeting");
    if (g)
        greeting = json_string_value(g);

    static const coop_route ping = {
        .method = COOP_GET,
        .path = "/ping",
        .roles = COOP_ROLES_ALL,
        .handler = hello_ping,
    };
    return coop_route_add(self, &ping);
}

static const coop_plugin_descriptor hello_descriptor = {
    COOP_DESCRIPTOR_HEADER,
    .name = "hello",
    .version = "1.0.0",
    .config_schema = hello_config_schema,
    .openapi = hello_openapi,
    .init = hello_init,
};

COOP_PLUGIN(hello_descriptor)
