/*
 * The core's built-in routes: /healthz, /readyz, /metrics, /openapi.json and
 * /v1/plugins.
 *
 * /healthz, /readyz and /openapi.json are public (probes and tooling call
 * them without a token). /metrics is public too, as Prometheus targets
 * usually are: operators keep it off the internet with their firewall or
 * proxy. /v1/plugins needs a token of any role.
 *
 * /openapi.json and /v1/plugins do not change after start-up, so both are
 * built once by http_start (once every plugin has registered its routes) and
 * served from memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "db_internal.h"
#include "http_internal.h"
#include "identity_internal.h"
#include "log_internal.h"
#include "metrics_internal.h"
#include "plugin_internal.h"
#include "service_internal.h"

#ifndef COOPD_VERSION
#define COOPD_VERSION "0.1.0"
#endif

static char *openapi_text;
static size_t openapi_len;
static char *plugins_text;
static size_t plugins_len;

/* The core's built-in routes. Identity documents its own routes
 * (identity_openapi.c); both are merged when the document is built, and
 * what a description leaves out (request body, path parameters, roles) is
 * filled in from the registered routes. */
static const char core_openapi_paths[] =
    "{"
    "\"/healthz\": {\"get\": {\"summary\": \"Liveness: 200 while the event loop runs\","
    " \"tags\": [\"operations\"],"
    " \"responses\": {\"200\": {\"description\": \"{\\\"status\\\": \\\"ok\\\"}\"}}}},"
    "\"/readyz\": {\"get\": {\"summary\": \"Readiness: 200 when a database connection is up\","
    " \"tags\": [\"operations\"],"
    " \"responses\": {\"200\": {\"description\": \"{\\\"status\\\": \\\"ready\\\"}\"},"
    " \"503\": {\"$ref\": \"#/components/responses/Unavailable\"}}}},"
    "\"/metrics\": {\"get\": {\"summary\": \"Prometheus metrics (text format 0.0.4)\","
    " \"description\": \"Public: keep it behind your firewall or proxy.\","
    " \"tags\": [\"operations\"],"
    " \"responses\": {\"200\": {\"description\": \"Prometheus text exposition\","
    " \"content\": {\"text/plain\": {}}}}}},"
    "\"/openapi.json\": {\"get\": {\"summary\": \"This document\", \"tags\": [\"operations\"],"
    " \"responses\": {\"200\": {\"description\": \"OpenAPI 3.1 document\"}}}},"
    "\"/v1/plugins\": {\"get\": {\"summary\": \"Loaded plugins: versions, ABI, dependencies,"
    " services and routes\", \"tags\": [\"operations\"],"
    " \"responses\": {\"200\": {\"description\": \"{\\\"plugins\\\": [...]}\"}}}}"
    "}";

/* The rest of the document around the paths. */
static const char openapi_frame[] =
    "{\"openapi\": \"3.1.0\","
    " \"info\": {\"title\": \"coop\", \"version\": \"" COOPD_VERSION "\","
    "  \"description\": \"coopd, the core, and the loaded plugins. Errors are RFC 9457"
    " application/problem+json. Every route but the public ones answers 401 without a valid"
    " bearer token, 403 for a role it does not allow, 503 with Retry-After when the database is"
    " unreachable; routes with a body answer 400 for malformed JSON, 413 above the size limit and"
    " 422 with JSON pointers for invalid fields.\"},"
    " \"security\": [{\"bearer\": []}],"
    " \"components\": {"
    "  \"securitySchemes\": {\"bearer\": {\"type\": \"http\", \"scheme\": \"bearer\"}},"
    "  \"schemas\": {\"Problem\": {\"type\": \"object\", \"properties\": {"
    "   \"type\": {\"type\": \"string\"}, \"title\": {\"type\": \"string\"},"
    "   \"status\": {\"type\": \"integer\"}, \"detail\": {\"type\": \"string\"},"
    "   \"instance\": {\"type\": \"string\", \"description\": \"the request id\"},"
    "   \"errors\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
    "    \"pointer\": {\"type\": \"string\"}, \"message\": {\"type\": \"string\"}}}}}}},"
    "  \"responses\": {"
    "   \"Problem\": {\"description\": \"A problem\", \"content\": {\"application/problem+json\":"
    "    {\"schema\": {\"$ref\": \"#/components/schemas/Problem\"}}}},"
    "   \"Unavailable\": {\"description\": \"The database is unreachable; see Retry-After\","
    "    \"content\": {\"application/problem+json\":"
    "    {\"schema\": {\"$ref\": \"#/components/schemas/Problem\"}}}}}},"
    " \"paths\": {}}";

static const char *const method_keys[] = {"get", "post", "put", "patch", "delete"};

static json_t *roles_json(unsigned roles)
{
    json_t *a = json_array();
    if (roles & COOP_PUBLIC) {
        json_array_append_new(a, json_string("public"));
        return a;
    }
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{COOP_ROLE_OPERATOR, "operator"},
                 {COOP_ROLE_MEMBER, "member"},
                 {COOP_ROLE_PARTNER, "partner"},
                 {COOP_ROLE_CUSTOMER, "customer"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (roles & names[i].bit)
            json_array_append_new(a, json_string(names[i].name));
    return a;
}

/* Adds what the route table knows to the operation of e: roles, security,
 * path parameters and the request body schema; creates a minimal operation
 * for a route its plugin did not document. */
static void openapi_complete_operation(json_t *paths, const route_entry *e)
{
    json_t *item = json_object_get(paths, e->template_path);
    if (!json_is_object(item)) {
        item = json_object();
        json_object_set_new(paths, e->template_path, item);
    }
    const char *key = method_keys[router_method_index(e->method)];
    json_t *op = json_object_get(item, key);
    if (!json_is_object(op)) {
        op = json_pack("{s:s, s:{s:{s:s}}}", "summary", "(not documented by its plugin)",
                       "responses", "default", "description", "See the plugin's documentation");
        json_object_set_new(item, key, op);
    }
    json_object_set_new(op, "x-coop-roles", roles_json(e->roles));
    if (e->roles & COOP_PUBLIC)
        json_object_set_new(op, "security", json_array());
    if (e->plugin && e->plugin->name[0] && !json_object_get(op, "tags"))
        json_object_set_new(op, "tags", json_pack("[s]", e->plugin->name));

    if (e->nparams > 0) {
        json_t *params = json_object_get(op, "parameters");
        if (!json_is_array(params)) {
            params = json_array();
            json_object_set_new(op, "parameters", params);
        }
        for (int i = 0; i < e->nparams; i++) {
            int declared = 0;
            size_t j;
            json_t *p;
            json_array_foreach(params, j, p)
            {
                const char *in = json_string_value(json_object_get(p, "in"));
                const char *name = json_string_value(json_object_get(p, "name"));
                if (in && name && strcmp(in, "path") == 0 && strcmp(name, e->param_names[i]) == 0)
                    declared = 1;
            }
            if (!declared)
                json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s}}", "name",
                                                        e->param_names[i], "in", "path", "required",
                                                        1, "schema", "type", "string"));
        }
    }
    if (e->body_schema && !json_object_get(op, "requestBody"))
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:O}}}", "required", 1, "content",
                                      "application/json", "schema", e->body_schema));
}

/* Merges a plugin's "paths" (keys relative to its mount) into paths. */
static int openapi_merge_plugin(json_t *paths, const coop_plugin *p, char *err, size_t errlen)
{
    if (!p->desc || !p->desc->openapi)
        return 0;
    json_error_t jerr;
    json_t *doc = json_loads(p->desc->openapi, 0, &jerr);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "plugin %s: openapi is not a JSON object (line %d, column %d): %s",
                 p->name, jerr.line, jerr.column, doc ? "not an object" : jerr.text);
        json_decref(doc);
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value)
    {
        /* Sized to fit: a fixed buffer would cut a long path and file the
         * description under a path nobody serves. */
        size_t mount_len = strlen(p->mount), key_len = strlen(key);
        char *full = malloc(mount_len + key_len + 1);
        if (!full) {
            snprintf(err, errlen, "plugin %s: out of memory for its openapi paths", p->name);
            json_decref(doc);
            return -1;
        }
        memcpy(full, p->mount, mount_len);
        memcpy(full + mount_len, key, key_len + 1);
        json_object_set(paths, full, value);
        free(full);
    }
    json_decref(doc);
    return 0;
}

/* Adds identity's paths (tagged "identity") and the schemas they refer to. */
static int openapi_merge_identity(json_t *doc, json_t *paths, char *err, size_t errlen)
{
    json_t *ipaths = json_loads(identity_openapi_paths(), 0, NULL);
    json_t *ischemas = json_loads(identity_openapi_schemas(), 0, NULL);
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    if (!json_is_object(ipaths) || !json_is_object(ischemas) || !json_is_object(schemas)) {
        snprintf(err, errlen, "core: identity's OpenAPI text is not a JSON object");
        json_decref(ipaths);
        json_decref(ischemas);
        return -1;
    }
    const char *path, *method;
    json_t *item, *op;
    json_object_foreach(ipaths, path, item)
    {
        json_object_foreach(item, method, op)
        {
            if (json_is_object(op) && !json_object_get(op, "tags"))
                json_object_set_new(op, "tags", json_pack("[s]", "identity"));
        }
    }
    json_object_update(paths, ipaths);
    json_object_update(schemas, ischemas);
    json_decref(ipaths);
    json_decref(ischemas);
    return 0;
}

static char *dump_document(json_t *doc, size_t *len)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    *len = text ? strlen(text) : 0;
    return text;
}

static int build_openapi(char *err, size_t errlen)
{
    json_t *doc = json_loads(openapi_frame, 0, NULL);
    json_t *paths = json_loads(core_openapi_paths, 0, NULL);
    if (!doc || !paths) {
        /* Both are constants of this file: a failure here is a bug caught by any test run. */
        snprintf(err, errlen, "core: the embedded OpenAPI text is not valid JSON");
        json_decref(doc);
        json_decref(paths);
        return -1;
    }
    if (openapi_merge_identity(doc, paths, err, errlen) != 0) {
        json_decref(doc);
        json_decref(paths);
        return -1;
    }
    for (size_t i = 0; i < plugins_count(); i++) {
        if (openapi_merge_plugin(paths, plugins_at(i), err, errlen) != 0) {
            json_decref(doc);
            json_decref(paths);
            return -1;
        }
    }
    const router *r = http_router();
    for (size_t i = 0; i < router_count(r); i++)
        openapi_complete_operation(paths, router_at(r, i));
    json_object_set_new(doc, "paths", paths);
    openapi_text = dump_document(doc, &openapi_len);
    json_decref(doc);
    if (!openapi_text) {
        snprintf(err, errlen, "core: out of memory building /openapi.json");
        return -1;
    }
    return 0;
}

static json_t *plugin_json(const coop_plugin *p)
{
    const coop_plugin_descriptor *d = p->desc;
    char abi[16];
    json_t *depends = json_array();
    if (d) {
        snprintf(abi, sizeof(abi), "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
        for (const char *const *dep = d->depends; dep && *dep; dep++)
            json_array_append_new(depends, json_string(*dep));
    } else {
        snprintf(abi, sizeof(abi), "%d.%d", COOP_ABI_MAJOR, COOP_ABI_MINOR);
    }
    json_t *routes = json_array();
    const router *r = http_router();
    for (size_t i = 0; i < router_count(r); i++) {
        const route_entry *e = router_at(r, i);
        if (e->plugin != p)
            continue;
        json_array_append_new(routes,
                              json_pack("{s:s, s:s, s:o}", "method", router_method_name(e->method),
                                        "path", e->template_path, "roles", roles_json(e->roles)));
    }
    json_t *services = services_of(p);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name", p->name, "version",
                     d && d->version ? d->version : COOPD_VERSION, "abi", abi, "depends", depends,
                     "services", services ? services : json_array(), "routes", routes);
}

static int build_plugins(char *err, size_t errlen)
{
    json_t *list = json_array();
    json_array_append_new(list, plugin_json(core_plugin()));
    for (size_t i = 0; i < plugins_count(); i++)
        json_array_append_new(list, plugin_json(plugins_at(i)));
    json_t *doc = json_pack("{s:o}", "plugins", list);
    plugins_text = dump_document(doc, &plugins_len);
    json_decref(doc);
    if (!plugins_text) {
        snprintf(err, errlen, "core: out of memory building /v1/plugins");
        return -1;
    }
    return 0;
}

int builtin_documents_build(char *err, size_t errlen)
{
    builtin_documents_free();
    if (build_openapi(err, errlen) != 0 || build_plugins(err, errlen) != 0) {
        builtin_documents_free();
        return -1;
    }
    return 0;
}

void builtin_documents_free(void)
{
    free(openapi_text);
    openapi_text = NULL;
    free(plugins_text);
    plugins_text = NULL;
}

/* ---- handlers ---- */

static void healthz(coop_request *req, void *arg)
{
    (void)arg;
    static const char body[] = "{\"status\":\"ok\"}";
    reply_bytes(req, 200, "application/json", body, sizeof(body) - 1);
}

static void readyz(coop_request *req, void *arg)
{
    (void)arg;
    if (db_pool_ready()) {
        static const char body[] = "{\"status\":\"ready\"}";
        reply_bytes(req, 200, "application/json", body, sizeof(body) - 1);
        return;
    }
    host_reply_header(req, "Retry-After", "5");
    reply_problem_detail(req, 503, "No database connection is up; retry later.");
}

static void metrics(coop_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        reply_problem_detail(req, 503, "Out of memory.");
        return;
    }
    metrics_render(out, http_router());
    reply_buffer(req, 200, "text/plain; version=0.0.4; charset=utf-8", out);
    evbuffer_free(out);
}

static void openapi(coop_request *req, void *arg)
{
    (void)arg;
    reply_bytes(req, 200, "application/json", openapi_text, openapi_len);
}

static void plugins(coop_request *req, void *arg)
{
    (void)arg;
    reply_bytes(req, 200, "application/json", plugins_text, plugins_len);
}

int builtin_routes_register(void)
{
    static const coop_route routes[] = {
        {.method = COOP_GET, .path = "/healthz", .roles = COOP_PUBLIC, .handler = healthz},
        {.method = COOP_GET, .path = "/readyz", .roles = COOP_PUBLIC, .handler = readyz},
        {.method = COOP_GET, .path = "/metrics", .roles = COOP_PUBLIC, .handler = metrics},
        {.method = COOP_GET, .path = "/openapi.json", .roles = COOP_PUBLIC, .handler = openapi},
        {.method = COOP_GET, .path = "/v1/plugins", .roles = COOP_ROLES_ALL, .handler = plugins},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = host_route_add(core_plugin(), &routes[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}
