/* Loaded plugins and their lifecycle (owner: plugin.c). */
#ifndef COOP_PLUGIN_INTERNAL_H
#define COOP_PLUGIN_INTERNAL_H

#include <stddef.h>

#include <coop/coop.h>
#include <libpq-fe.h>

#include "config_internal.h"

enum plugin_state {
    PLUGIN_LOADED,       /* dlopen'd, descriptor checked, settings validated */
    PLUGIN_INITIALISING, /* inside init: routes and services may be registered */
    PLUGIN_INITIALISED,
    PLUGIN_STARTED,
    PLUGIN_STOPPED
};

struct coop_plugin {
    char name[32];
    char mount[48];                     /* "/v1/<name>", or "" for the core itself */
    const coop_plugin_descriptor *desc; /* NULL for the core */
    void *dl_handle;                    /* NULL for the core */
    char *path;                         /* the .so, NULL for the core */
    json_t *config;                     /* validated settings, owned */
    enum plugin_state state;
};

/* The core's own pseudo-plugin ("core", mounted at ""), through which the
 * built-in modules (identity, health, metrics) register routes and reach the
 * database with the same host functions plugins use. */
coop_plugin *core_plugin(void);

/* Loads every plugin cfg names from cfg->plugin_dir: dlopen, ABI check,
 * settings validated against each schema, dependency order (missing ones and
 * cycles refused). Returns 0, or -1 with "<plugin>: <reason>" in err. */
int plugins_load(const coop_config *cfg, char *err, size_t errlen);
/* Checks a plugin's migration list (part of the load checks): every name
 * non-empty, free of control characters and '/', and unique within the list;
 * every migration with SQL. Returns 0, or -1 with "plugin <plugin>: <reason>"
 * in err (migrations numbered from 1: "migration #2 has the same name as #1:
 * 001_a.sql"). migrations may be NULL (none). */
int plugin_check_migrations(const char *plugin, const coop_migration *migrations, char *err,
                            size_t errlen);
/* Applies each plugin's migrations in its schema, in dependency order. */
int plugins_migrate(PGconn *conn, char *err, size_t errlen);
int plugins_init(char *err, size_t errlen);
int plugins_start(char *err, size_t errlen);
void plugins_stop(void);   /* reverse order */
void plugins_unload(void); /* dlclose and free */
/* Loaded plugins in dependency order; for /v1/plugins and /openapi.json. */
size_t plugins_count(void);
coop_plugin *plugins_at(size_t i);

/* Host functions (coop_host_api members) implemented by plugin.c. */
const char *host_plugin_name(const coop_plugin *p);
const json_t *host_plugin_config(const coop_plugin *p);
const char *host_strerror(int err);

#endif
