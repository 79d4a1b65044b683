/*
 * Requests: the pooled coop_request objects and the host_request_* accessors
 * plugins read them with.
 *
 * A coop_request lives from the moment libevent hands us a request until the
 * one reply (reply.c) releases it. Finished requests go back to a free list,
 * so a steady load allocates nothing per request; what a request allocates
 * lazily (decoded path, query, long-path scratch) is freed on release.
 *
 * Every string the accessors return is borrowed from the request and lives
 * until the reply.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http_internal.h"

/* Finished requests kept for reuse; beyond this they are freed, so a burst
 * does not pin its peak memory forever. */
#define REQUEST_POOL_MAX 1024

static coop_request *free_list;
static size_t free_count;
static coop_request *in_flight_head;
static size_t in_flight_count;

coop_request *request_acquire(struct evhttp_request *ev)
{
    coop_request *req = free_list;
    if (req) {
        free_list = req->next;
        free_count--;
    } else {
        req = malloc(sizeof(*req));
        if (!req)
            return NULL;
    }
    /* Only the header fields need resetting; the inline buffers are
     * overwritten before being read. */
    memset(req, 0, offsetof(coop_request, scratch_inline));
    req->path_decoded = NULL;
    req->query_buf = NULL;
    req->query_parsed = 0;
    req->nquery = 0;
    req->json = NULL;
    memset(&req->caller, 0, sizeof(req->caller));
    req->ev = ev;
    req->scratch = req->scratch_inline;

    req->prev = NULL;
    req->next = in_flight_head;
    if (in_flight_head)
        in_flight_head->prev = req;
    in_flight_head = req;
    in_flight_count++;
    return req;
}

static void request_free_owned(coop_request *req)
{
    if (req->scratch != req->scratch_inline)
        free(req->scratch);
    req->scratch = NULL;
    free(req->path_decoded);
    req->path_decoded = NULL;
    free(req->query_buf);
    req->query_buf = NULL;
    json_decref(req->json);
    req->json = NULL;
}

void request_release(coop_request *req)
{
    request_free_owned(req);
    if (req->prev)
        req->prev->next = req->next;
    else
        in_flight_head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    in_flight_count--;

    if (free_count < REQUEST_POOL_MAX) {
        req->next = free_list;
        free_list = req;
        free_count++;
    } else {
        free(req);
    }
}

void request_dispatch_enter(coop_request *req)
{
    req->in_dispatch = 1;
}

void request_dispatch_leave(coop_request *req)
{
    req->in_dispatch = 0;
    if (req->replied && !req->writing)
        request_release(req);
}

size_t requests_in_flight(void)
{
    return in_flight_count;
}

static void request_client_gone(coop_request *req)
{
    /* libevent calls the close callback while the connection is going down.
     * Before the reply that happens only when libevent tears the connection
     * down itself: libevent 2.1 does not read from a connection whose request
     * awaits its reply, so a client that closes then is not seen here
     * (reply_buffer peeks at the socket for that and logs 499). A request
     * still attached to the connection is freed by libevent right after; one
     * already detached (evcon NULL) is ours, and evhttp_send_reply on it
     * frees it, so keep the pointer for the reply. */
    if (req->ev && evhttp_request_get_connection(req->ev) != NULL) {
        req->ev = NULL;
        req->raw_path = NULL; /* it lived in libevent's request */
    }
    req->client_gone = 1;
}

static void request_written(coop_request *req)
{
    req->writing = 0;
    req->writing_ev = NULL;
    if (!req->in_dispatch)
        request_release(req);
}

void request_on_connection_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    coop_request *req = arg;
    if (req->writing)
        request_written(req); /* the reply could not be written; libevent frees ev */
    else
        request_client_gone(req);
}

void request_on_reply_sent(struct evhttp_request *ev, void *arg)
{
    /* The connection may be freed right after this (Connection: close): it
     * must not call back into a released request. */
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    if (conn)
        evhttp_connection_set_closecb(conn, NULL, NULL);
    request_written(arg);
}

void requests_abandon_all(void)
{
    coop_request *req = in_flight_head;
    while (req) {
        coop_request *next = req->next;
        struct evhttp_request *ev = req->ev ? req->ev : req->writing_ev;
        if (ev) {
            struct evhttp_connection *conn = evhttp_request_get_connection(ev);
            evhttp_request_set_on_complete_cb(ev, NULL, NULL);
            if (conn)
                evhttp_connection_set_closecb(conn, NULL, NULL); /* libevent frees ev */
            else
                evhttp_request_free(ev); /* detached: ours */
        }
        request_free_owned(req);
        free(req);
        req = next;
    }
    in_flight_head = NULL;
    in_flight_count = 0;
}

void requests_pool_free(void)
{
    while (free_list) {
        coop_request *next = free_list->next;
        free(free_list);
        free_list = next;
    }
    free_count = 0;
}

/* ---- host functions ---- */

unsigned host_request_method(const coop_request *req)
{
    return req ? req->method : 0;
}

const char *host_request_path(const coop_request *req)
{
    if (!req)
        return NULL;
    coop_request *r = (coop_request *)req; /* lazily built cache; logically const */
    if (!r->path_decoded) {
        /* The decoded segments sit NUL-separated in scratch: join them with '/'. */
        size_t len = 0;
        const char *p = r->scratch;
        for (int i = 0; i < r->match.nsegments; i++) {
            size_t n = strlen(p);
            len += n + 1;
            p += n + 1;
        }
        r->path_decoded = malloc(len + 2);
        if (!r->path_decoded)
            return r->raw_path;
        char *out = r->path_decoded;
        p = r->scratch;
        for (int i = 0; i < r->match.nsegments; i++) {
            size_t n = strlen(p);
            *out++ = '/';
            memcpy(out, p, n);
            out += n;
            p += n + 1;
        }
        if (out == r->path_decoded)
            *out++ = '/';
        *out = '\0';
    }
    return r->path_decoded;
}

const char *host_request_param(const coop_request *req, const char *name)
{
    if (!req || !req->route || !name)
        return NULL;
    for (int i = 0; i < req->match.nparams; i++)
        if (strcmp(req->route->param_names[i], name) == 0)
            return req->match.values[i];
    return NULL;
}

/* Splits and decodes the query string once, on first use: most requests never
 * read it. A pair that does not decode is skipped, not fatal. */
static void request_parse_query(coop_request *req)
{
    req->query_parsed = 1;
    if (!req->ev)
        return;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req->ev));
    if (!query || !*query)
        return;
    size_t len = strlen(query);
    /* Decoding never grows text, but each pair gains up to two NULs. */
    req->query_buf = malloc(2 * len + 2);
    if (!req->query_buf)
        return;
    char *out = req->query_buf;
    const char *p = query;
    while (*p && req->nquery < REQUEST_MAX_QUERY) {
        const char *amp = strchr(p, '&');
        size_t pair_len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', pair_len);
        size_t name_len = eq ? (size_t)(eq - p) : pair_len;
        if (name_len > 0) {
            long n = router_percent_decode(p, name_len, out, 1);
            if (n >= 0) {
                char *name = out;
                char *value = out + n + 1;
                long v = 0;
                if (eq)
                    v = router_percent_decode(eq + 1, pair_len - name_len - 1, value, 1);
                else
                    value[0] = '\0';
                if (v >= 0) {
                    req->query[req->nquery].name = name;
                    req->query[req->nquery].value = value;
                    req->nquery++;
                    out = value + v + 1;
                }
            }
        }
        if (!amp)
            break;
        p = amp + 1;
    }
}

const char *host_request_query(const coop_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    coop_request *r = (coop_request *)req; /* lazily parsed; logically const */
    if (!r->query_parsed)
        request_parse_query(r);
    for (int i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

const char *host_request_header(const coop_request *req, const char *name)
{
    if (!req || !req->ev || !name)
        return NULL;
    /* evhttp_find_header compares names case-insensitively. */
    return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

const void *host_request_body(const coop_request *req, size_t *len)
{
    if (len)
        *len = 0;
    if (!req || !req->ev)
        return NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
    size_t n = evbuffer_get_length(in);
    if (n == 0)
        return NULL;
    if (len)
        *len = n;
    /* Makes the body contiguous inside libevent's buffer (no copy when it
     * already is); valid until the request is freed. */
    return evbuffer_pullup(in, -1);
}

const json_t *host_request_json(const coop_request *req)
{
    return req ? req->json : NULL;
}

const coop_caller *host_request_caller(const coop_request *req)
{
    static const coop_caller nobody;
    return req ? &req->caller : &nobody;
}

const char *host_request_id(const coop_request *req)
{
    return req ? req->id : "";
}
