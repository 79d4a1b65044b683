/*
 * coop SDK: the plugin descriptor and its lifecycle.
 *
 * A plugin is a shared object exporting exactly one symbol,
 * coop_plugin_entry, which the COOP_PLUGIN() macro defines:
 *
 *     static const coop_plugin_descriptor hello = {
 *         COOP_DESCRIPTOR_HEADER, .name = "hello", .version = "1.0.0",
 *         .init = hello_init,
 *     };
 *     COOP_PLUGIN(hello)
 *
 * coopd then: validates the plugin's settings against config_schema, applies
 * its migrations in schema <name>, calls init (register routes and services),
 * calls start (in dependency order, once every plugin is initialised), serves,
 * and at shutdown calls stop (in reverse order).
 */
#ifndef COOP_PLUGIN_H
#define COOP_PLUGIN_H

#include <jansson.h>

#include "host.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a plugin declares about itself. Lives in the plugin's read-only data;
 *  coopd only reads it. Later minor versions append fields before reserved. */
typedef struct coop_plugin_descriptor {
    uint16_t abi_major; /**< COOP_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor; /**< COOP_ABI_MINOR the plugin was built with */
    uint32_t size;      /**< sizeof(coop_plugin_descriptor) it was built with */

    /** [a-z][a-z0-9_]{0,30}: the plugin's file (<name>.so), its database
     *  schema, its route prefix /v1/<name> and its settings key. */
    const char *name;
    /** The plugin's own version, e.g. "1.2.0". */
    const char *version;
    /** NULL-terminated names of plugins that must start before this one, or
     *  NULL. A missing dependency or a cycle refuses start-up. */
    const char *const *depends;
    /** JSON Schema text (subset, docs/sdk.md) the plugin's settings must
     *  satisfy, or NULL when it takes none (then only {} is accepted). */
    const char *config_schema;
    /** Migrations terminated by an entry whose name is NULL, or NULL. */
    const coop_migration *migrations;
    /** OpenAPI 3.1 "paths" object as JSON text, keys relative to /v1/<name>,
     *  merged into /openapi.json; or NULL. */
    const char *openapi;

    /** Called once after migrations. config is borrowed, valid until stop,
     *  already validated against config_schema. Register routes and services
     *  here. Return 0, or a negative COOP_E* to refuse start-up. */
    int (*init)(coop_plugin *self, const json_t *config);
    /** Called once every plugin is initialised, dependencies first. Services
     *  of dependencies can be looked up; timers and queries may start. May be
     *  NULL. Return 0, or a negative COOP_E* to refuse start-up. */
    int (*start)(coop_plugin *self);
    /** Called at shutdown, dependents first, after the HTTP server stopped
     *  accepting requests. By the time stop runs, every statement of yours
     *  has had its callback, with -COOP_ECANCELLED if it was still pending,
     *  and database calls return -COOP_ESTATE. No callback of coopd's runs
     *  during or after stop: timers still pending may be cancelled in stop
     *  (their handles stay valid until then), and those left are cancelled
     *  after it without their callbacks running. So stop may free everything
     *  the plugin owns. May be NULL. */
    void (*stop)(coop_plugin *self);

    /** Room for later minor versions; leave zeroed. */
    void *reserved[8];
} coop_plugin_descriptor;

/** The first fields of every descriptor: designated initialisers for the ABI
 *  version and size this plugin is compiled against. */
#define COOP_DESCRIPTOR_HEADER                                                                     \
    .abi_major = COOP_ABI_MAJOR, .abi_minor = COOP_ABI_MINOR,                                      \
    .size = (uint32_t)sizeof(coop_plugin_descriptor)

#if defined(__GNUC__)
#define COOP_EXPORT __attribute__((visibility("default")))
#else
#define COOP_EXPORT
#endif

/** Signature of the one exported symbol. coopd passes its host table (borrowed
 *  for the life of the process) and gets the plugin's descriptor (owned by the
 *  plugin, never freed). */
typedef const coop_plugin_descriptor *(*coop_plugin_entry_fn)(const coop_host_api *host);

/** Defines coop_plugin_entry for the descriptor variable desc and the
 *  plugin-private pointer to the host table the SDK's wrappers use. Use once
 *  per plugin, in one source file. */
#define COOP_PLUGIN(desc)                                                                          \
    const coop_host_api *coop_host;                                                                \
    COOP_EXPORT const coop_plugin_descriptor *coop_plugin_entry(const coop_host_api *host);        \
    COOP_EXPORT const coop_plugin_descriptor *coop_plugin_entry(const coop_host_api *host)         \
    {                                                                                              \
        coop_host = host;                                                                          \
        return &(desc);                                                                            \
    }

/** The plugin's name as declared. Borrowed; valid while the plugin is loaded. */
static inline const char *coop_plugin_name(const coop_plugin *self)
{
    return coop_host->plugin_name(self);
}

/** The plugin's validated settings. Borrowed; valid until stop returns. */
static inline const json_t *coop_plugin_config(const coop_plugin *self)
{
    return coop_host->plugin_config(self);
}

/** A short English text for a COOP_E* code (negative or positive). Static. */
static inline const char *coop_strerror(int err)
{
    return coop_host->strerror(err);
}

#ifdef __cplusplus
}
#endif
#endif /* COOP_PLUGIN_H */
