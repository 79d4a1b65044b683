/*
 * coop SDK: the table of host functions coopd hands every plugin.
 *
 * Plugins reach coopd only through this table (as Redis modules and SQLite
 * extensions do), so a plugin links against nothing of coopd's and is built
 * with -Wl,--no-undefined. Do not call the members directly: the static inline
 * wrappers in http.h, db.h, log.h, timer.h, service.h and plugin.h give them
 * readable names and document each one's ownership.
 *
 * Minor ABI versions only append members; coopd refuses a plugin built for a
 * newer minor than its own, so every member a plugin can name is present.
 */
#ifndef COOP_HOST_H
#define COOP_HOST_H

#include <stdarg.h>

#include <jansson.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coop_host_api {
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t size; /* sizeof(coop_host_api) of the running coopd */

    /* plugin.h */
    const char *(*plugin_name)(const coop_plugin *p);
    const json_t *(*plugin_config)(const coop_plugin *p);
    const char *(*strerror)(int err);

    /* log.h */
    void (*logv)(const coop_plugin *p, int level, const char *fmt, va_list ap);

    /* http.h: routes and requests */
    int (*route_add)(coop_plugin *p, const coop_route *route);
    unsigned (*request_method)(const coop_request *req);
    const char *(*request_path)(const coop_request *req);
    const char *(*request_param)(const coop_request *req, const char *name);
    const char *(*request_query)(const coop_request *req, const char *name);
    const char *(*request_header)(const coop_request *req, const char *name);
    const void *(*request_body)(const coop_request *req, size_t *len);
    const json_t *(*request_json)(const coop_request *req);
    const coop_caller *(*request_caller)(const coop_request *req);
    const char *(*request_id)(const coop_request *req);

    /* http.h: replies */
    int (*reply_header)(coop_request *req, const char *name, const char *value);
    void (*reply_json)(coop_request *req, int status, json_t *body);
    void (*reply_problem)(coop_request *req, int status, json_t *problem);
    void (*reply_db_error)(coop_request *req, const coop_db_result *res);

    /* db.h */
    int (*db_query)(coop_plugin *p, const char *sql, int nparams, const char *const *params,
                    coop_db_fn cb, void *arg);
    int (*tx_begin)(coop_plugin *p, coop_tx_fn cb, void *arg);
    int (*tx_query)(coop_tx *tx, const char *sql, int nparams, const char *const *params,
                    coop_tx_fn cb, void *arg);
    int (*tx_commit)(coop_tx *tx, coop_tx_fn cb, void *arg);
    int (*tx_rollback)(coop_tx *tx, coop_tx_fn cb, void *arg);
    int (*db_status)(const coop_db_result *res);
    const char *(*db_sqlstate)(const coop_db_result *res);
    const char *(*db_error)(const coop_db_result *res);
    int (*db_nrows)(const coop_db_result *res);
    int (*db_ncols)(const coop_db_result *res);
    int (*db_column)(const coop_db_result *res, const char *name);
    const char *(*db_value)(const coop_db_result *res, int row, int col);
    int (*db_is_null)(const coop_db_result *res, int row, int col);
    int64_t (*db_affected)(const coop_db_result *res);

    /* timer.h */
    coop_timer *(*timer_start)(coop_plugin *p, uint64_t delay_ms, coop_timer_fn cb, void *arg);
    void (*timer_cancel)(coop_timer *t);

    /* service.h */
    int (*service_provide)(coop_plugin *p, const char *name, const void *vtable);
    const void *(*service_get)(coop_plugin *p, const char *name);
} coop_host_api;

/* The plugin's pointer to the table, defined by COOP_PLUGIN() and set by
 * coop_plugin_entry. Hidden so that it never leaves the plugin's .so. */
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
extern const coop_host_api *coop_host;

#ifdef __cplusplus
}
#endif
#endif /* COOP_HOST_H */
