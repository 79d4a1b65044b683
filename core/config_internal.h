/* The configuration file: parsing and validation (owner: config.c). */
#ifndef COOP_CONFIG_INTERNAL_H
#define COOP_CONFIG_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

typedef struct coop_config {
    char *path;              /* the file as given */
    char *dir;               /* its folder, absolute; relative paths resolve against it */
    char *listen_host;       /* "127.0.0.1" */
    int listen_port;         /* 0..65535; 0 picks a free port */
    char *conninfo;          /* libpq connection string; secrets come from libpq's env */
    int pool_size;           /* database connections on the loop, >= 1 */
    size_t max_body_bytes;   /* larger request bodies get 413 */
    int token_cache_seconds; /* how long a checked token is trusted without the database */
    char *plugin_dir;        /* absolute */
    json_t *plugins;         /* object: plugin name -> its settings (owned reference) */
} coop_config;

/* Reads and validates path into *cfg. On failure returns -1 and writes
 * "<culprit>: <reason>" to err (the culprit is the file, with a JSON pointer
 * when a field is wrong); *cfg is then empty. */
int config_load(const char *path, coop_config *cfg, char *err, size_t errlen);

/* Frees what config_load allocated; safe on a zeroed or failed config. */
void config_free(coop_config *cfg);

/* 1 when name is a valid plugin name: [a-z][a-z0-9_]{0,30}. */
int config_is_plugin_name(const char *name);

#endif
