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

/* The answer never changes, so it is built once at init and shared: each
 * reply takes a new reference (coop_reply_json steals one) instead of building
 * the object again. coopd runs one loop thread, so the reference count needs
 * no lock. */
static json_t *answer;

static void hello_ping(coop_request *req, void *arg)
{
    (void)arg;
    coop_reply_json(req, 200, json_incref(answer));
}

static int hello_init(coop_plugin *self, const json_t *config)
{
    const json_t *g = json_object_get(config, "greeting");
    answer = json_pack("{s:s}", "message", g ? json_string_value(g) : "pong");
    if (!answer)
        return -COOP_ENOMEM;

    static const coop_route ping = {
        .method = COOP_GET,
        .path = "/ping",
        .roles = COOP_ROLES_ALL,
        .handler = hello_ping,
    };
    int rc = coop_route_add(self, &ping);
    if (rc < 0) {
        /* coopd calls stop only for plugins whose init succeeded. */
        json_decref(answer);
        answer = NULL;
    }
    return rc;
}

static void hello_stop(coop_plugin *self)
{
    (void)self;
    json_decref(answer);
    answer = NULL;
}

static const coop_plugin_descriptor hello_descriptor = {
    COOP_DESCRIPTOR_HEADER,   .name = "hello",
    .version = "1.0.0",       .config_schema = hello_config_schema,
    .openapi = hello_openapi, .init = hello_init,
    .stop = hello_stop,
};

COOP_PLUGIN(hello_descriptor)
