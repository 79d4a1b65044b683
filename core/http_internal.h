/* The HTTP server, router, requests and replies (owner: http.c, router.c,
 * request.c, reply.c, metrics.c, builtin_routes.c). */
#ifndef COOP_HTTP_INTERNAL_H
#define COOP_HTTP_INTERNAL_H

#include <stddef.h>

#include <coop/types.h>
#include <jansson.h>

#include "config_internal.h"

struct event_base;

/* Binds cfg->listen_host:listen_port and serves. Logs "listening on H:P".
 * Returns 0 or -1 with "listen: <reason>" in err. */
int http_start(struct event_base *base, const coop_config *cfg, char *err, size_t errlen);
/* Stops accepting; calls done(arg) once no request is in flight. */
void http_drain(void (*done)(void *arg), void *arg);
void http_free(void);
/* Registers /healthz, /readyz, /metrics, /openapi.json, /v1/plugins. */
int builtin_routes_register(void);

/* Host functions (coop_host_api members). */
int host_route_add(coop_plugin *p, const coop_route *route);
unsigned host_request_method(const coop_request *req);
const char *host_request_path(const coop_request *req);
const char *host_request_param(const coop_request *req, const char *name);
const char *host_request_query(const coop_request *req, const char *name);
const char *host_request_header(const coop_request *req, const char *name);
const void *host_request_body(const coop_request *req, size_t *len);
const json_t *host_request_json(const coop_request *req);
const coop_caller *host_request_caller(const coop_request *req);
const char *host_request_id(const coop_request *req);
int host_reply_header(coop_request *req, const char *name, const char *value);
void host_reply_json(coop_request *req, int status, json_t *body);
void host_reply_problem(coop_request *req, int status, json_t *problem);
void host_reply_db_error(coop_request *req, const coop_db_result *res);

#endif
