/*
 * The HTTP server: libevent's evhttp bound to the configured address, one
 * generic callback that takes every request through the same steps
 *
 *     request id -> route (404 / 405 + Allow) -> token (401 / 403 / 503)
 *       -> JSON body (400 says where) -> schema (422 with pointers) -> handler
 *
 * and the access log. The router runs before authentication, so an unknown
 * path is 404 even without a token.
 *
 * The hot path is kept lean for the benchmark: requests come from a pool, the
 * id from a PRNG, the token from identity's cache (answered synchronously),
 * no JSON is parsed for routes without a body schema, the access log goes to
 * a memory buffer flushed by a one-second timer, and metrics are counters.
 *
 * Bodies above http.max_body_bytes are refused by libevent's reader itself,
 * before coopd sees the request: libevent 2.1 has no hook there, so the
 * client gets 413 with libevent's small HTML body (and Connection: close),
 * not problem+json and without X-Request-Id. Buffering the body ourselves
 * instead would mean reading any size into memory first.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>

#include "http_internal.h"
#include "identity_internal.h"
#include "log_internal.h"
#include "metrics_internal.h"
#include "plugin_internal.h"
#include "schema_internal.h"

#define ACCESS_LOG_FLUSH_BYTES (256 * 1024) /* flush early past this, so memory stays bounded */
#define DRAIN_LIMIT_SECONDS 10
#define MAX_HEADERS_BYTES (64 * 1024)
#define MAX_ROUTE_PATH 512
#define ACCESS_PATH_MAX 256 /* bytes of the escaped path in the log; longer ones are cut */
#define ACCESS_LINE_MAX 640 /* fits every field at its maximum length */

static router *routes;
static struct event_base *http_base;
static struct evhttp *server;
static struct evhttp_bound_socket *listener;
static struct evbuffer *access_log;
static struct event *access_log_timer;
static int started;

static int draining;
static struct event *drain_timer;
static uint64_t drain_deadline_ns;
static void (*drain_done)(void *arg);
static void *drain_done_arg;

/* xoshiro256** seeded from OpenSSL: request ids need to be unique, not secret. */
static uint64_t prng_state[4];

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t prng_next(void)
{
    uint64_t *s = prng_state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

router *http_router(void)
{
    return routes;
}

int http_draining(void)
{
    return draining;
}

/* ---- route registration ---- */

int host_route_add(coop_plugin *p, const coop_route *route)
{
    char err[256];
    char full[MAX_ROUTE_PATH];
    json_t *schema = NULL;

    if (!p || !route || !route->path)
        return -COOP_EINVAL;
    const char *who = p->name[0] ? p->name : "core";
    if (p->state != PLUGIN_INITIALISING || started) {
        log_write(COOP_LOG_ERROR, who, "route %s %s refused: routes are added in init only",
                  router_method_name(route->method), route->path);
        return -COOP_ESTATE;
    }
    /* types.h: "" for the mount point itself, else it starts with '/'. Without
     * this check "ping" would silently become /v1/helloping. */
    if (route->path[0] != '\0' && route->path[0] != '/') {
        log_write(COOP_LOG_ERROR, who, "route \"%s\" refused: a path is \"\" or starts with '/'",
                  route->path);
        return -COOP_EINVAL;
    }
    int n = snprintf(full, sizeof(full), "%s%s", p->mount, route->path);
    if (n < 0 || (size_t)n >= sizeof(full) || full[0] == '\0') {
        log_write(COOP_LOG_ERROR, who, "route \"%s\" refused: path empty or too long", route->path);
        return -COOP_EINVAL;
    }
    if (route->body_schema) {
        json_error_t jerr;
        schema = json_loads(route->body_schema, JSON_DECODE_ANY, &jerr);
        if (!schema) {
            log_write(COOP_LOG_ERROR, who,
                      "route %s %s refused: body schema is not JSON (line %d, column %d): %s",
                      router_method_name(route->method), full, jerr.line, jerr.column, jerr.text);
            return -COOP_EINVAL;
        }
        if (schema_check(schema, err, sizeof(err)) != 0) {
            log_write(COOP_LOG_ERROR, who, "route %s %s refused: body schema: %s",
                      router_method_name(route->method), full, err);
            json_decref(schema);
            return -COOP_EINVAL;
        }
    }
    if (!routes && !(routes = router_new())) {
        json_decref(schema);
        return -COOP_ENOMEM;
    }
    int rc = router_add(routes, route->method, full, route->roles, schema, route->handler,
                        route->arg, p, err, sizeof(err));
    if (rc != 0)
        log_write(COOP_LOG_ERROR, who, "route %s %s refused: %s", router_method_name(route->method),
                  full, err);
    return rc;
}

/* ---- access log ---- */

static void access_log_flush(void)
{
    if (!access_log)
        return;
    while (evbuffer_get_length(access_log) > 0) {
        int n = evbuffer_write(access_log, STDERR_FILENO);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return; /* try again at the next tick */
            evbuffer_drain(access_log, evbuffer_get_length(access_log));
            return;
        }
    }
}

static void access_log_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    access_log_flush();
}

static const char *role_name(unsigned role)
{
    switch (role) {
    case COOP_ROLE_OPERATOR:
        return "operator";
    case COOP_ROLE_MEMBER:
        return "member";
    case COOP_ROLE_PARTNER:
        return "partner";
    case COOP_ROLE_CUSTOMER:
        return "customer";
    default:
        return "-";
    }
}

/* Copies the string s, cut at max bytes, to p; returns the end. */
static char *put_str(char *p, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    memcpy(p, s, n);
    return p + n;
}

/* The request path comes from the client as it sent it (libevent keeps bytes
 * outside RFC 3986 too): written raw, a CR or LF would start a forged log line,
 * a space or '"' a forged key=value field, and ESC a terminal escape sequence
 * for whoever tails the log. So controls, space, DEL, bytes >= 0x80, '"' and
 * '\\' are percent-encoded; everything else, '%' included, stays as sent.
 * Writes at most max bytes, never cutting an escape in two; returns the end. */
static char *put_path(char *p, const char *s, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    char *end = p + max;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c > 0x20 && *c < 0x7f && *c != '"' && *c != '\\') {
            if (p == end)
                break;
            *p++ = (char)*c;
        } else {
            if (end - p < 3)
                break;
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    return p;
}

#define PUT_LITERAL(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

/* The wall-clock seconds change once a second: format them then, for the log
 * ("2026-12-03T16:28:12") and for the Date header (RFC 9110 IMF-fixdate). */
static time_t cached_sec = -1;
static char cached_log_ts[32];
static char cached_http_date[40];

static void clock_cache_update(time_t sec)
{
    if (sec == cached_sec)
        return;
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(cached_log_ts, sizeof(cached_log_ts), "%Y-%m-%dT%H:%M:%S", &tm);
    /* strftime's %a and %b follow the locale; coopd never calls setlocale, so
     * they are the C locale's English names HTTP requires. */
    strftime(cached_http_date, sizeof(cached_http_date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_sec = sec;
}

const char *http_date(void)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME_COARSE, &wall);
    clock_cache_update(wall.tv_sec);
    return cached_http_date;
}

static const char *method_label(const coop_request *req)
{
    switch (req->command) {
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    default:
        return req->method ? router_method_name(req->method) : "OTHER";
    }
}

void http_request_finished(coop_request *req, int status, size_t bytes)
{
    uint64_t duration_ns = now_ns() - req->start_ns;
    route_counters *counters =
        req->route ? &((route_entry *)req->route)->counters : metrics_unmatched(req->method);
    metrics_count(counters, status, duration_ns);

    if (!access_log)
        return;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    /* Formatted by hand straight into the buffer's free space: printf was the
     * largest user-space cost of a request in the benchmark's profile. */
    struct evbuffer_iovec space;
    if (evbuffer_reserve_space(access_log, ACCESS_LINE_MAX, &space, 1) < 1)
        return;
    char *p = space.iov_base;
    unsigned ms = (unsigned)(wall.tv_nsec / 1000000);
    clock_cache_update(wall.tv_sec);
    p = PUT_LITERAL(p, "ts=");
    p = put_str(p, cached_log_ts, 19);
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    p = PUT_LITERAL(p, "Z level=info component=access request_id=");
    p = put_str(p, req->id, REQUEST_ID_MAX);
    p = PUT_LITERAL(p, " method=");
    p = put_str(p, method_label(req), 8);
    p = PUT_LITERAL(p, " path=");
    p = put_path(p, req->raw_path ? req->raw_path : "-", ACCESS_PATH_MAX);
    p = PUT_LITERAL(p, " status=");
    p = put_u64(p, (uint64_t)status);
    p = PUT_LITERAL(p, " bytes=");
    p = put_u64(p, bytes);
    p = PUT_LITERAL(p, " duration_us=");
    p = put_u64(p, duration_ns / 1000);
    p = PUT_LITERAL(p, " role=");
    p = put_str(p, role_name(req->caller.role), 8);
    *p++ = '\n';
    space.iov_len = (size_t)(p - (char *)space.iov_base);
    evbuffer_commit_space(access_log, &space, 1);
    if (evbuffer_get_length(access_log) > ACCESS_LOG_FLUSH_BYTES)
        access_log_flush();
}

/* ---- the request pipeline ---- */

/* An incoming X-Request-Id is kept when it is short and plain, so a caller can
 * follow its request through our log; anything else is replaced. */
static int request_id_acceptable(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        if (n >= REQUEST_ID_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return n > 0;
}

static void request_id_assign(coop_request *req, const char *incoming)
{
    if (incoming && request_id_acceptable(incoming)) {
        strcpy(req->id, incoming);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    uint64_t v = prng_next();
    for (int i = 15; i >= 0; i--, v >>= 4)
        req->id[i] = hex[v & 0xf];
    req->id[16] = '\0';
}

static unsigned method_of(struct evhttp_request *ev)
{
    switch (evhttp_request_get_command(ev)) {
    case EVHTTP_REQ_GET:
        return COOP_GET;
    case EVHTTP_REQ_HEAD:
        return COOP_GET; /* libevent sends the headers only */
    case EVHTTP_REQ_POST:
        return COOP_POST;
    case EVHTTP_REQ_PUT:
        return COOP_PUT;
    case EVHTTP_REQ_PATCH:
        return COOP_PATCH;
    case EVHTTP_REQ_DELETE:
        return COOP_DELETE;
    default:
        return 0;
    }
}

/* 400 for a body that is not JSON: says where, from jansson's error. */
static void reply_malformed_json(coop_request *req, const json_error_t *jerr)
{
    char detail[300];
    snprintf(detail, sizeof(detail), "The body is not valid JSON: line %d, column %d (byte %d): %s",
             jerr->line, jerr->column, jerr->position, jerr->text);
    json_t *problem =
        json_pack("{s:s, s:s, s:i, s:i, s:i, s:[{s:s, s:s}]}", "title", "Malformed JSON", "detail",
                  detail, "line", jerr->line, "column", jerr->column, "position", jerr->position,
                  "errors", "pointer", "", "message", jerr->text);
    if (!problem) {
        /* jansson quotes the offending bytes, which may not be UTF-8 themselves. */
        problem = json_pack("{s:s, s:s, s:i, s:i, s:i}", "title", "Malformed JSON", "detail",
                            "The body is not valid JSON (it is not valid UTF-8 there).", "line",
                            jerr->line, "column", jerr->column, "position", jerr->position);
    }
    host_reply_problem(req, 400, problem);
}

static void reply_invalid_body(coop_request *req, json_t *errors)
{
    size_t n = json_array_size(errors);
    const json_t *first = json_array_get(errors, 0);
    const char *pointer = json_string_value(json_object_get(first, "pointer"));
    const char *message = json_string_value(json_object_get(first, "message"));
    char detail[400];
    snprintf(detail, sizeof(detail), "%zu field%s of the body %s invalid; first: %s: %s", n,
             n == 1 ? "" : "s", n == 1 ? "is" : "are", pointer && *pointer ? pointer : "(the body)",
             message ? message : "invalid");
    json_t *problem = json_pack("{s:s, s:s, s:O}", "title", "Invalid request", "detail", detail,
                                "errors", errors);
    host_reply_problem(req, 422, problem);
}

/* After authorisation: the body, then the handler. */
static void request_run_handler(coop_request *req)
{
    const route_entry *route = req->route;
    if (route->body_schema) {
        size_t len = 0;
        const void *body = host_request_body(req, &len);
        if (!body) {
            reply_problem_detail(req, 400, "This request needs a JSON body.");
            return;
        }
        json_error_t jerr;
        json_t *doc = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
            reply_malformed_json(req, &jerr);
            return;
        }
        json_t *errors = schema_validate(route->body_schema, doc);
        if (!errors || json_array_size(errors) > 0) {
            json_decref(doc);
            if (!errors) {
                reply_problem_detail(req, 500, "The body could not be checked.");
                return;
            }
            reply_invalid_body(req, errors);
            json_decref(errors);
            return;
        }
        json_decref(errors);
        req->json = doc;
    }
    route->handler(req, route->arg);
}

static void reply_unauthorised(coop_request *req, const char *error, const char *detail)
{
    char challenge[80];
    if (error)
        snprintf(challenge, sizeof(challenge), "Bearer error=\"%s\"", error);
    else
        snprintf(challenge, sizeof(challenge), "Bearer");
    host_reply_header(req, "WWW-Authenticate", challenge);
    reply_problem_detail(req, 401, "%s", detail);
}

static void on_authenticated(int status, const coop_caller *caller, void *arg)
{
    coop_request *req = arg;
    int nested = req->in_dispatch; /* identity answered from its cache, inside our call */
    if (!nested)
        request_dispatch_enter(req);

    if (req->client_gone) {
        /* libevent closed the connection under us (rare: it does not read
         * while a request awaits its reply). Nobody waits: only log and
         * release. The usual case of a client that left is caught in
         * reply_buffer. */
        reply_buffer(req, 499, NULL, NULL);
    } else if (status == -COOP_EUNAVAILABLE) {
        host_reply_header(req, "Retry-After", "5");
        reply_problem_detail(req, 503, "The token cannot be checked now; retry later.");
    } else if (status != 0 || !caller) {
        reply_unauthorised(req, "invalid_token", "The bearer token is unknown or revoked.");
    } else {
        req->caller = *caller;
        if (!(req->route->roles & caller->role))
            reply_problem_detail(req, 403, "The role %s may not call %s %s.",
                                 role_name(caller->role), router_method_name(req->method),
                                 req->route->template_path);
        else
            request_run_handler(req);
    }

    if (!nested)
        request_dispatch_leave(req);
}

/* Finds the token in "Authorization: Bearer <token>" (scheme case-insensitive,
 * RFC 7235); NULL when absent or malformed. */
static const char *bearer_token(const char *h)
{
    if (!h)
        return NULL;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    if (!*h)
        return NULL;
    for (const char *c = h; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == ',')
            return NULL;
    return h;
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    (void)arg;
    coop_request *req = request_acquire(ev);
    if (!req) {
        evhttp_send_error(ev, 503, "Out of memory");
        return;
    }
    req->start_ns = now_ns();
    request_dispatch_enter(req);

    /* One pass over the headers for the two coopd reads (evhttp_find_header
     * would walk them once per name). */
    const char *authorization = NULL, *incoming_id = NULL;
    for (struct evkeyval *kv = evhttp_request_get_input_headers(ev)->tqh_first; kv;
         kv = kv->next.tqe_next) {
        char c = (char)(kv->key[0] | 0x20);
        if (c == 'a' && !authorization && strcasecmp(kv->key, "Authorization") == 0)
            authorization = kv->value;
        else if (c == 'x' && !incoming_id && strcasecmp(kv->key, "X-Request-Id") == 0)
            incoming_id = kv->value;
    }
    request_id_assign(req, incoming_id);
    req->command = (int)evhttp_request_get_command(ev);
    req->method = method_of(ev);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path)
        path = "/";
    req->raw_path = path;

    size_t need = strlen(path) + 1;
    if (need > sizeof(req->scratch_inline) && !(req->scratch = malloc(need))) {
        req->scratch = req->scratch_inline;
        reply_problem_detail(req, 503, "Out of memory.");
        goto out;
    }
    char allow[64];
    switch (router_lookup(routes, req->method, path, req->scratch, need, &req->match)) {
    case ROUTER_FOUND:
        req->route = req->match.route;
        break;
    case ROUTER_METHOD_NOT_ALLOWED:
        router_allow_header(req->match.allowed, allow, sizeof(allow));
        host_reply_header(req, "Allow", allow);
        reply_problem_detail(req, 405, "%s is not allowed on %s; allowed: %s.", method_label(req),
                             path, allow);
        goto out;
    case ROUTER_BAD_PATH:
        reply_problem_detail(req, 400, "The path has a broken percent-encoding.");
        goto out;
    case ROUTER_NOT_FOUND:
    default:
        reply_problem_detail(req, 404, "Nothing is served at %s.", path);
        goto out;
    }

    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    if (conn)
        evhttp_connection_set_closecb(conn, request_on_connection_close, req);

    if (req->route->roles & COOP_PUBLIC) {
        request_run_handler(req);
        goto out;
    }
    const char *token = bearer_token(authorization);
    if (!token) {
        reply_unauthorised(req, authorization ? "invalid_request" : NULL,
                           authorization ? "The Authorization header is not \"Bearer <token>\"."
                                         : "This route needs \"Authorization: Bearer <token>\".");
        goto out;
    }
    identity_authenticate(token, on_authenticated, req);
out:
    if (!req->replied)
        req->deferred = 1;
    request_dispatch_leave(req);
}

/* ---- start, drain, free ---- */

int http_start(struct event_base *base, const coop_config *cfg, char *err, size_t errlen)
{
    /* A client that closes early must not kill coopd with SIGPIPE on our write. */
    signal(SIGPIPE, SIG_IGN);

    if (RAND_bytes((unsigned char *)prng_state, sizeof(prng_state)) != 1) {
        snprintf(err, errlen, "listen: no random seed for request ids (OpenSSL RAND_bytes)");
        return -1;
    }
    if (!routes && !(routes = router_new())) {
        snprintf(err, errlen, "listen: out of memory");
        return -1;
    }
    started = 1; /* no route may be added from here on */
    if (builtin_documents_build(err, errlen) != 0)
        return -1;

    http_base = base;
    server = evhttp_new(base);
    if (!server) {
        snprintf(err, errlen, "listen: evhttp_new failed");
        return -1;
    }
    /* PATCH is not among libevent's default methods; accept every method so
     * that coopd, not libevent, answers 405 with its Allow header. */
    evhttp_set_allowed_methods(server, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                           EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
                                           EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(server, (ev_ssize_t)cfg->max_body_bytes);
    evhttp_set_max_headers_size(server, MAX_HEADERS_BYTES);
    evhttp_set_gencb(server, on_request, NULL);

    const char *host = cfg->listen_host && *cfg->listen_host ? cfg->listen_host : "127.0.0.1";
    listener = evhttp_bind_socket_with_handle(server, host, (ev_uint16_t)cfg->listen_port);
    if (!listener) {
        snprintf(err, errlen, "listen: cannot bind %s:%d: %s", host, cfg->listen_port,
                 errno ? strerror(errno) : "unknown error");
        evhttp_free(server);
        server = NULL;
        return -1;
    }
    int port = cfg->listen_port;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(listener), (struct sockaddr *)&ss, &sslen) == 0) {
        if (ss.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }

    access_log = evbuffer_new();
    access_log_timer = event_new(base, -1, EV_PERSIST, access_log_tick, NULL);
    struct timeval second = {1, 0};
    if (!access_log || !access_log_timer || event_add(access_log_timer, &second) != 0) {
        snprintf(err, errlen, "listen: cannot set up the access log");
        return -1;
    }
    if (strchr(host, ':'))
        log_write(COOP_LOG_INFO, "http", "listening on [%s]:%d", host, port);
    else
        log_write(COOP_LOG_INFO, "http", "listening on %s:%d", host, port);
    return 0;
}

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    size_t left = requests_in_flight();
    if (left > 0 && now_ns() < drain_deadline_ns)
        return;
    if (left > 0)
        log_write(COOP_LOG_WARN, "http",
                  "%zu request(s) still in flight after %d s; stopping "
                  "anyway",
                  left, DRAIN_LIMIT_SECONDS);
    else
        log_write(COOP_LOG_INFO, "http", "drained: no request in flight");
    event_free(drain_timer);
    drain_timer = NULL;
    access_log_flush();
    void (*done)(void *) = drain_done;
    drain_done = NULL;
    if (done)
        done(drain_done_arg);
}

void http_drain(void (*done)(void *arg), void *arg)
{
    if (draining) {
        return; /* a second SIGTERM while draining changes nothing */
    }
    draining = 1;
    drain_done = done;
    drain_done_arg = arg;
    if (server && listener) {
        evhttp_del_accept_socket(server, listener); /* closes the listening socket */
        listener = NULL;
    }
    log_write(COOP_LOG_INFO, "http", "draining: not accepting; %zu request(s) in flight",
              requests_in_flight());
    drain_deadline_ns = now_ns() + (uint64_t)DRAIN_LIMIT_SECONDS * 1000000000u;
    struct event_base *base = http_base ? http_base : NULL;
    if (base) {
        /* Polled: shutdown is rare, and this keeps the reply path free of drain logic. */
        drain_timer = event_new(base, -1, EV_PERSIST, drain_check, NULL);
        struct timeval tick = {0, 20 * 1000};
        if (drain_timer && event_add(drain_timer, &tick) == 0) {
            event_active(drain_timer, EV_TIMEOUT, 0);
            return;
        }
        if (drain_timer)
            event_free(drain_timer);
        drain_timer = NULL;
    }
    drain_done = NULL;
    if (done)
        done(arg);
}

void http_free(void)
{
    if (drain_timer) {
        event_free(drain_timer);
        drain_timer = NULL;
    }
    /* Requests nobody replied to: libevent frees those still on a connection
     * with it; ours go now (no reply may come after this). */
    requests_abandon_all();
    if (server) {
        evhttp_free(server);
        server = NULL;
        listener = NULL;
    }
    requests_pool_free();
    access_log_flush();
    if (access_log_timer) {
        event_free(access_log_timer);
        access_log_timer = NULL;
    }
    if (access_log) {
        evbuffer_free(access_log);
        access_log = NULL;
    }
    builtin_documents_free();
    router_free(routes);
    routes = NULL;
    started = 0;
    draining = 0;
    http_base = NULL;
}
