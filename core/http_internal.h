/* The HTTP server, router, requests and replies (owner: http.c, router.c,
 * request.c, reply.c, metrics.c, builtin_routes.c). */
#ifndef COOP_HTTP_INTERNAL_H
#define COOP_HTTP_INTERNAL_H

#include <stddef.h>

#include <coop/types.h>
#include <jansson.h>

#include "config_internal.h"
#include "router_internal.h"

struct event_base;
struct evhttp_request;
struct evbuffer;

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

/* ---- Shared by http.c, request.c, reply.c, metrics.c, builtin_routes.c ---- */

#define REQUEST_ID_MAX 64    /* an incoming X-Request-Id longer than this is replaced */
#define REQUEST_MAX_QUERY 32 /* query parameters read; later ones are ignored */
#define REQUEST_INLINE_SCRATCH 256

/* One request being served. Pooled (see request.c) so that the hot path does
 * not allocate; everything hanging off it is released with it. */
struct coop_request {
    /* libevent's request; NULL once libevent freed it (the connection closed
     * under us, or shutdown). Then a reply only releases this struct. */
    struct evhttp_request *ev;
    const route_entry *route; /* NULL while unrouted or for 404/405 */
    unsigned method;          /* one coop_method bit; 0 for methods no route can have */
    int command;              /* libevent's enum evhttp_cmd_type, for the access log */
    unsigned char replied;
    unsigned char client_gone;
    /* Set while coopd itself is inside a call that may reply (routing, the
     * auth callback, the handler): a reply then defers the release to the
     * end of that call, so a handler that replies twice in a row hits a
     * request marked replied (logged and ignored), not a recycled one. */
    unsigned char in_dispatch;
    /* The reply is with libevent, not yet written to the socket: the request
     * stays in flight (so a drain waits for it) until libevent reports it
     * sent or the connection closed. */
    unsigned char writing;
    /* on_request returned without a reply: the answer comes later (from the
     * database, a timer...), so the client may have left meanwhile. libevent
     * 2.1 does not read from a connection whose request awaits its reply, so
     * it does not notice that itself; reply.c looks then (see there). */
    unsigned char deferred;
    struct evhttp_request *writing_ev;
    char id[REQUEST_ID_MAX + 1];
    uint64_t start_ns;    /* CLOCK_MONOTONIC */
    const char *raw_path; /* borrowed from ev's parsed URI; for the access log */
    router_match match;   /* values point into scratch */
    char *scratch;        /* scratch_inline, or malloc'ed for long paths */
    char scratch_inline[REQUEST_INLINE_SCRATCH];
    char *path_decoded; /* lazily built by host_request_path, owned */
    char *query_buf;    /* decoded query names and values, owned; lazily */
    int query_parsed;
    int nquery;
    struct {
        const char *name, *value;
    } query[REQUEST_MAX_QUERY];
    json_t *json; /* the parsed body of a route with a schema, owned */
    coop_caller caller;
    struct coop_request *prev, *next; /* in-flight list, or the free list */
};

/* request.c: the pool and the in-flight list. */
coop_request *request_acquire(struct evhttp_request *ev);
/* Returns req to the pool; frees what it owns. Pooled requests keep
 * replied = 1 until reused. */
void request_release(coop_request *req);
/* Brackets coopd's own calls that may reply; leaving releases a request
 * replied meanwhile. */
void request_dispatch_enter(coop_request *req);
void request_dispatch_leave(coop_request *req);
size_t requests_in_flight(void);
/* At shutdown, after libevent freed the connections: forget every evhttp
 * request still held (libevent owns and frees them) and free the pool. A
 * reply arriving later would touch freed memory, so http_free runs only once
 * nothing can reply any more (after db_pool_stop and timers_cancel_all). */
void requests_abandon_all(void);
void requests_pool_free(void);
/* Connection close callback (arg: the request): before the reply the
 * client is gone; while the reply is written, the request is finished. */
struct evhttp_connection;
void request_on_connection_close(struct evhttp_connection *conn, void *arg);
/* libevent's "reply sent" callback (arg: the request): releases it. */
void request_on_reply_sent(struct evhttp_request *ev, void *arg);

/* reply.c */
/* The RFC 9457 title of status ("Not Found"), or "Error". */
const char *http_status_title(int status);
/* Fills in "type", "status", "title" and "instance" of problem when absent.
 * Returns problem (or a new object when problem is NULL). */
json_t *problem_complete(json_t *problem, int status, const char *instance);
/* Sends status with body (may be NULL) of content_type, drained from body.
 * The single exit of every reply: headers, access log, metrics, release. */
void reply_buffer(coop_request *req, int status, const char *content_type, struct evbuffer *body);
/* Appends value serialised exactly as json_dumps(JSON_COMPACT |
 * JSON_ENCODE_ANY) would, but several times faster. Returns 0 or -1. */
int json_write_compact(struct evbuffer *out, const json_t *value);
/* Sends status with len bytes of body (copied) of content_type. */
void reply_bytes(coop_request *req, int status, const char *content_type, const void *body,
                 size_t len);
/* A problem with a printf-style detail; used by the core itself. */
void reply_problem_detail(coop_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* http.c */
/* The route table (created by the first route_add); NULL before. */
router *http_router(void);
/* Called exactly once per request by reply_buffer: access log and metrics. */
void http_request_finished(coop_request *req, int status, size_t bytes);
/* The current time as an HTTP Date header value; formatted once a second. */
const char *http_date(void);
/* 1 once http_drain started: replies then carry Connection: close. */
int http_draining(void);

/* builtin_routes.c: builds /openapi.json and /v1/plugins once every plugin
 * has registered its routes (called by http_start); frees them. */
int builtin_documents_build(char *err, size_t errlen);
void builtin_documents_free(void);

#endif
