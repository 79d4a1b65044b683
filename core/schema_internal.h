/* A JSON Schema subset validator (owner: schema.c). Used for plugin settings
 * and route bodies. Supported keywords are listed in docs/sdk.md. */
#ifndef COOP_SCHEMA_INTERNAL_H
#define COOP_SCHEMA_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

/* Checks that schema itself only uses supported keywords correctly. Returns 0,
 * or -1 with a reason (and the pointer into the schema) in err. */
int schema_check(const json_t *schema, char *err, size_t errlen);

/* Validates instance against schema. Returns a new reference to an array of
 * {"pointer": "/a/0", "message": "..."} (empty when valid). */
json_t *schema_validate(const json_t *schema, const json_t *instance);

#endif
