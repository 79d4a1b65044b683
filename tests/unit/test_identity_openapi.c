/*
 * The OpenAPI description of the identity routes (core/identity_openapi.c):
 * valid JSON, every route of members.c and tokens.c described with the roles
 * it registers, and every "$ref" resolvable.
 */
#include <string.h>

#include <jansson.h>

#include "identity_internal.h"
#include "unit.h"

static int refs_resolve(const json_t *node, const json_t *schemas, int *refs)
{
    int ok = 1;
    if (json_is_object(node)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)node, key, v)
        {
            if (strcmp(key, "$ref") == 0) {
                const char *prefix = "#/components/schemas/";
                const char *ref = json_string_value(v);
                (*refs)++;
                if (!ref || strncmp(ref, prefix, strlen(prefix)) != 0 ||
                    !json_object_get(schemas, ref + strlen(prefix))) {
                    fprintf(stderr, "unresolved $ref %s\n", ref ? ref : "(not a string)");
                    ok = 0;
                }
            } else {
                ok &= refs_resolve(v, schemas, refs);
            }
        }
    } else if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++)
            ok &= refs_resolve(json_array_get(node, i), schemas, refs);
    }
    return ok;
}

/* The roles of path/method as the description lists them, joined by ",". */
static void roles_of(const json_t *paths, const char *path, const char *method, char *out,
                     size_t outlen)
{
    const json_t *op = json_object_get(json_object_get(paths, path), method);
    const json_t *roles = json_object_get(op, "x-coop-roles");
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(roles); i++) {
        if (i)
            strncat(out, ",", outlen - strlen(out) - 1);
        strncat(out, json_string_value(json_array_get(roles, i)), outlen - strlen(out) - 1);
    }
    if (!op)
        snprintf(out, outlen, "(missing)");
}

int main(void)
{
    json_error_t error;
    json_t *paths = json_loads(identity_openapi_paths(), 0, &error);
    if (!paths)
        fprintf(stderr, "paths: line %d: %s\n", error.line, error.text);
    json_t *schemas = json_loads(identity_openapi_schemas(), 0, &error);
    if (!schemas)
        fprintf(stderr, "schemas: line %d: %s\n", error.line, error.text);
    CHECK(json_is_object(paths));
    CHECK(json_is_object(schemas));

    /* The routes members.c and tokens.c register, with their roles. */
    static const char *const routes[][3] = {
        {"/v1/members", "post", "operator"},
        {"/v1/members", "get", "operator,member"},
        {"/v1/members/{id}", "get", "operator,member"},
        {"/v1/members/{id}/status", "post", "operator"},
        {"/v1/tokens", "post", "operator"},
        {"/v1/tokens", "get", "operator"},
        {"/v1/tokens/{id}", "delete", "operator"},
        {"/v1/me", "get", "operator,member,partner,customer"},
    };
    size_t operations = 0;
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) operations += json_object_size(item);
    CHECK_INT(operations, sizeof(routes) / sizeof(routes[0]));
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        char roles[128];
        roles_of(paths, routes[i][0], routes[i][1], roles, sizeof(roles));
        CHECK_STR(roles, routes[i][2]);
    }

    /* Request bodies come from the routes' body_schema when /openapi.json is built:
     * a copy here could drift from what the route validates. */
    int bodies = 0;
    json_object_foreach(paths, path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) bodies += json_object_get(op, "requestBody") != NULL;
    }
    CHECK_INT(bodies, 0);

    int refs = 0;
    CHECK(refs_resolve(paths, schemas, &refs));
    CHECK(refs_resolve(schemas, schemas, &refs));
    CHECK(refs >= 5);

    json_decref(paths);
    json_decref(schemas);
    return unit_finish();
}
