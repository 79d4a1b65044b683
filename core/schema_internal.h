/* A JSON Schema subset validator (owner: schema.c). Used for plugin settings
 * and route bodies. Supported keywords are listed in docs/sdk.md. */
#ifndef COOP_SCHEMA_INTERNAL_H
#define COOP_SCHEMA_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include "rfc3339_internal.h"

/* Checks that schema itself only uses supported keywords correctly. Returns 0,
 * or -1 with a reason (and the pointer into the schema) in err. */
int schema_check(const json_t *schema, char *err, size_t errlen);

/* Validates instance against schema. Returns a new reference to an array of
 * {"pointer": "/a/0", "message": "..."} (empty when valid). */
json_t *schema_validate(const json_t *schema, const json_t *instance);

/* Parses schema text and checks it: a new reference, or NULL with a reason in
 * err ("line L, column C: ..." for bad JSON, "<pointer>: <reason>" for a bad
 * schema). For plugins' config_schema and routes' body_schema. */
json_t *schema_parse(const char *text, char *err, size_t errlen);

/* The old names of rfc3339_is_date() and rfc3339_is_date_time(), kept until
 * members.c (another owner's) includes rfc3339_internal.h itself; new code calls
 * those directly. */
static inline int schema_is_rfc3339_date(const char *s)
{
    return rfc3339_is_date(s);
}

static inline int schema_is_rfc3339_date_time(const char *s)
{
    return rfc3339_is_date_time(s);
}

/* Frees the compiled patterns cached across validations (at exit). */
void schema_free_cache(void);

#endif
