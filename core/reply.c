/*
 * Replies: the host_reply_* functions and the problem+json answers coopd
 * sends itself.
 *
 * Every reply leaves through reply_buffer(), which enforces "exactly one
 * reply per request" (a second one is logged and ignored), adds the headers
 * every response carries (Content-Type, X-Request-Id), writes the access log
 * line and the metrics, and releases the request. When libevent already
 * closed the connection before the reply, nothing is serialised or sent; the
 * request is only freed.
 *
 * A client that closes its end while its answer is being prepared (a database
 * round trip) is logged and counted as 499, the status nginx uses for that.
 * libevent 2.1 stops reading a connection whose request awaits its reply, so
 * it does not see the close; a deferred reply therefore peeks at the socket
 * first (one recv, only for replies that did not come back at once: never on
 * the cached-token fast path). The reply is still handed to libevent: a
 * client that only half-closed still gets it, and for one that is gone the
 * write fails and libevent frees the connection as for any failed write.
 *
 * JSON is serialised straight into libevent's output buffer (compact, no
 * intermediate string).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <errno.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "db_internal.h"
#include "http_internal.h"
#include "log_internal.h"

/* How long clients should wait before retrying when the database is down. */
#define RETRY_AFTER_SECONDS "5"

const char *http_status_title(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return status < 400 ? "OK" : "Error";
    }
}

json_t *problem_complete(json_t *problem, int status, const char *instance)
{
    if (!json_is_object(problem)) {
        json_decref(problem);
        problem = json_object();
        if (!problem)
            return NULL;
    }
    if (!json_is_string(json_object_get(problem, "type")))
        json_object_set_new(problem, "type", json_string("about:blank"));
    if (!json_is_string(json_object_get(problem, "title")))
        json_object_set_new(problem, "title", json_string(http_status_title(status)));
    /* RFC 9457: status, when present, must be the HTTP status sent. */
    json_object_set_new(problem, "status", json_integer(status));
    if (instance && *instance && !json_object_get(problem, "instance"))
        json_object_set_new(problem, "instance", json_string(instance));
    return problem;
}

/* Writes n in decimal to buf (at least 21 bytes). */
static void format_decimal(char *buf, size_t n)
{
    char digits[21];
    int len = 0;
    do {
        digits[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (len > 0)
        *buf++ = digits[--len];
    *buf = '\0';
}

/*
 * A compact JSON writer for reply bodies. jansson's json_dumpb() costs about
 * 3,000 instructions even for {"message":"pong"} (a loop check that prints
 * every container's address, a callback per piece): more than the whole
 * router. This writer gives byte-for-byte the output of json_dumps() with
 * JSON_COMPACT | JSON_ENCODE_ANY (the unit tests compare the two), for a
 * tenth of that. Reals, rare in replies (money is integers), are still
 * formatted by jansson so that their digits match exactly.
 */
#define JSON_WRITE_MAX_DEPTH 256

typedef struct json_writer {
    char *buf;
    size_t len, cap;
    int on_heap;
} json_writer;

static int jw_reserve(json_writer *w, size_t more)
{
    if (w->len + more <= w->cap)
        return 0;
    size_t cap = w->cap * 2;
    while (cap < w->len + more)
        cap *= 2;
    char *grown = w->on_heap ? realloc(w->buf, cap) : malloc(cap);
    if (!grown)
        return -1;
    if (!w->on_heap)
        memcpy(grown, w->buf, w->len);
    w->buf = grown;
    w->cap = cap;
    w->on_heap = 1;
    return 0;
}

static int jw_put(json_writer *w, const char *s, size_t n)
{
    if (jw_reserve(w, n) != 0)
        return -1;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return 0;
}

static int jw_string(json_writer *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    /* Worst case every byte becomes \u00XX. */
    if (jw_reserve(w, 6 * n + 2) != 0)
        return -1;
    char *p = w->buf + w->len;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char)c;
            continue;
        }
        *p++ = '\\';
        switch (c) {
        case '"':
            *p++ = '"';
            break;
        case '\\':
            *p++ = '\\';
            break;
        case '\b':
            *p++ = 'b';
            break;
        case '\f':
            *p++ = 'f';
            break;
        case '\n':
            *p++ = 'n';
            break;
        case '\r':
            *p++ = 'r';
            break;
        case '\t':
            *p++ = 't';
            break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p++ = '"';
    w->len = (size_t)(p - w->buf);
    return 0;
}

static int jw_integer(json_writer *w, json_int_t v)
{
    char digits[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[n++] = '-';
    if (jw_reserve(w, (size_t)n) != 0)
        return -1;
    while (n > 0)
        w->buf[w->len++] = digits[--n];
    return 0;
}

static int jw_value(json_writer *w, const json_t *v, int depth)
{
    if (depth > JSON_WRITE_MAX_DEPTH)
        return -1; /* also what stops a container that contains itself */
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *member;
        int first = 1;
        if (jw_put(w, "{", 1) != 0)
            return -1;
        json_object_foreach((json_t *)v, key, member)
        {
            if ((!first && jw_put(w, ",", 1) != 0) || jw_string(w, key, strlen(key)) != 0 ||
                jw_put(w, ":", 1) != 0 || jw_value(w, member, depth + 1) != 0)
                return -1;
            first = 0;
        }
        return jw_put(w, "}", 1);
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (jw_put(w, "[", 1) != 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if ((i > 0 && jw_put(w, ",", 1) != 0) ||
                jw_value(w, json_array_get(v, i), depth + 1) != 0)
                return -1;
        return jw_put(w, "]", 1);
    }
    case JSON_STRING:
        return jw_string(w, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return jw_integer(w, json_integer_value(v));
    case JSON_REAL: {
        char real[64];
        size_t n = json_dumpb(v, real, sizeof(real), JSON_COMPACT | JSON_ENCODE_ANY);
        return n == 0 || n > sizeof(real) ? -1 : jw_put(w, real, n);
    }
    case JSON_TRUE:
        return jw_put(w, "true", 4);
    case JSON_FALSE:
        return jw_put(w, "false", 5);
    case JSON_NULL:
        return jw_put(w, "null", 4);
    }
    return -1;
}

static void free_written(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

int json_write_compact(struct evbuffer *out, const json_t *value)
{
    char small[2048];
    json_writer w = {.buf = small, .cap = sizeof(small)};
    if (!value || jw_value(&w, value, 0) != 0) {
        if (w.on_heap)
            free(w.buf);
        return -1;
    }
    if (!w.on_heap)
        return evbuffer_add(out, w.buf, w.len);
    /* A large document: hand the heap buffer over instead of copying it. */
    if (evbuffer_add_reference(out, w.buf, w.len, free_written, NULL) != 0) {
        free(w.buf);
        return -1;
    }
    return 0;
}

/* Logs and refuses a reply to a request that already had one. */
static int already_replied(coop_request *req, int status)
{
    if (!req)
        return 1;
    if (req->replied) {
        log_write(COOP_LOG_WARN, "http",
                  "request_id=%s: a second reply (status %d) was ignored: a request gets exactly "
                  "one reply",
                  req->id, status);
        return 1;
    }
    return 0;
}

/* A final answer is 200..599: 1xx are interim responses, which libevent would
 * send as if final (and the client would then wait for the real one). */
static int sane_status(coop_request *req, int status)
{
    if (status < 200 || status > 599) {
        log_write(COOP_LOG_ERROR, "http", "request_id=%s: reply with invalid status %d sent as 500",
                  req->id, status);
        return 500;
    }
    return status;
}

/* True when the client closed (or reset) conn: a peek finds the end of the
 * stream or an error. Data waiting (a pipelined request) counts as still
 * there, and so does anything unclear. */
static int client_closed(struct evhttp_connection *conn)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0)
        return 0;
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN));
}

void reply_buffer(coop_request *req, int status, const char *content_type, struct evbuffer *body)
{
    if (already_replied(req, status))
        return;
    status = sane_status(req, status);
    req->replied = 1;

    size_t bytes = 0;
    struct evhttp_request *ev = req->ev;
    req->ev = NULL;
    if (ev) {
        struct evhttp_connection *conn = evhttp_request_get_connection(ev);
        if (!req->client_gone) {
            struct evkeyvalq *headers = evhttp_request_get_output_headers(ev);
            struct evbuffer *out = evhttp_request_get_output_buffer(ev);
            if (body)
                evbuffer_add_buffer(out, body);
            bytes = evbuffer_get_length(out);
            /* Date and Content-Length would otherwise be printf'ed by libevent
             * on every reply; the date string is cached per second. They go
             * first, in the order libevent then looks them up. */
            evhttp_add_header(headers, "Date", http_date());
            if (status >= 200 && status != 204 && status != 304) {
                char length[24];
                format_decimal(length, bytes);
                evhttp_add_header(headers, "Content-Length", length);
            }
            if (content_type && bytes > 0)
                evhttp_add_header(headers, "Content-Type", content_type);
            evhttp_add_header(headers, "X-Request-Id", req->id);
            /* HEAD is answered as GET without the body, which libevent 2.1
             * would otherwise send; Content-Length still tells its size. */
            if (req->command == EVHTTP_REQ_HEAD) {
                evbuffer_drain(out, bytes);
                bytes = 0;
            }
            if (http_draining())
                evhttp_add_header(headers, "Connection", "close");
        }
        /* Before sending: libevent may free ev (and the path we log) in it.
         * The reply still goes out (see the top of this file). */
        int logged = status;
        if (req->deferred && conn && !req->client_gone && client_closed(conn))
            logged = 499;
        http_request_finished(req, logged, bytes);
        if (conn) {
            /* In flight until written, so that a drain does not end the
             * process with the reply still in libevent's buffer. */
            req->writing = 1;
            req->writing_ev = ev;
            evhttp_connection_set_closecb(conn, request_on_connection_close, req);
            evhttp_request_set_on_complete_cb(ev, request_on_reply_sent, req);
        }
        /* For a request whose connection is gone (detached) this only frees it. */
        evhttp_send_reply(ev, status, http_status_title(status), NULL);
    } else {
        http_request_finished(req, status, 0);
    }
    if (!req->in_dispatch && !req->writing)
        request_release(req);
}

void reply_bytes(coop_request *req, int status, const char *content_type, const void *body,
                 size_t len)
{
    if (already_replied(req, status))
        return;
    if (req->ev && !req->client_gone && len > 0)
        evbuffer_add(evhttp_request_get_output_buffer(req->ev), body, len);
    reply_buffer(req, status, content_type, NULL);
}

/* Serialises value (borrowed) as the body and replies. */
static void reply_json_value(coop_request *req, int status, const char *content_type,
                             const json_t *value)
{
    if (value && req->ev && !req->client_gone) {
        struct evbuffer *out = evhttp_request_get_output_buffer(req->ev);
        if (json_write_compact(out, value) != 0) {
            evbuffer_drain(out, evbuffer_get_length(out));
            log_write(COOP_LOG_ERROR, "http", "request_id=%s: reply body could not be serialised",
                      req->id);
            static const char fallback[] =
                "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500}";
            evbuffer_add(out, fallback, sizeof(fallback) - 1);
            status = 500;
            content_type = "application/problem+json";
        }
    }
    reply_buffer(req, status, content_type, NULL);
}

void reply_problem_detail(coop_request *req, int status, const char *fmt, ...)
{
    if (already_replied(req, status))
        return;
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    json_t *detail_json = json_string(detail);
    if (!detail_json) /* not UTF-8 (bytes of a request in it): say so rather than nothing */
        detail_json = json_string("(the detail is not valid UTF-8)");
    json_t *problem = problem_complete(json_pack("{s:o}", "detail", detail_json), status, req->id);
    reply_json_value(req, status, "application/problem+json", problem);
    json_decref(problem);
}

/* ---- host functions ---- */

int host_reply_header(coop_request *req, const char *name, const char *value)
{
    if (!req || !name || !value || !*name || req->replied)
        return -COOP_EINVAL;
    if (strpbrk(name, "\r\n: \t") || strpbrk(value, "\r\n"))
        return -COOP_EINVAL;
    /* coopd writes these itself on every reply; a second copy would make the
     * response ambiguous (two lengths) or lie about the body. */
    static const char *const managed[] = {"Content-Length", "Content-Type",      "Date",
                                          "X-Request-Id",   "Transfer-Encoding", "Connection"};
    for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
        if (strcasecmp(name, managed[i]) == 0)
            return -COOP_EINVAL;
    if (!req->ev || req->client_gone)
        return 0; /* nobody to send it to; not the plugin's error */
    if (evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value) != 0)
        return -COOP_EINVAL;
    return 0;
}

void host_reply_json(coop_request *req, int status, json_t *body)
{
    if (already_replied(req, status)) {
        json_decref(body);
        return;
    }
    reply_json_value(req, status, body ? "application/json" : NULL, body);
    json_decref(body);
}

void host_reply_problem(coop_request *req, int status, json_t *problem)
{
    if (already_replied(req, status)) {
        json_decref(problem);
        return;
    }
    problem = problem_complete(problem, status, req->id);
    reply_json_value(req, status, "application/problem+json", problem);
    json_decref(problem);
}

void host_reply_db_error(coop_request *req, const coop_db_result *res)
{
    if (already_replied(req, 500))
        return;
    int st = res ? host_db_status(res) : -COOP_EUNAVAILABLE;
    if (st == -COOP_EUNAVAILABLE || st == -COOP_ECANCELLED) {
        host_reply_header(req, "Retry-After", RETRY_AFTER_SECONDS);
        reply_problem_detail(req, 503,
                             st == -COOP_ECANCELLED
                                 ? "coopd is stopping; retry later."
                                 : "The database cannot be reached now; retry later.");
        return;
    }
    const char *sqlstate = res ? host_db_sqlstate(res) : "";
    if (strcmp(sqlstate, "23505") == 0 || strcmp(sqlstate, "23P01") == 0) {
        reply_problem_detail(req, 409, "The request conflicts with data that already exists.");
        return;
    }
    /* The SQL error may name tables, values or other callers' data: log it, never send it. */
    log_write(COOP_LOG_ERROR, "http", "request_id=%s: database error (SQLSTATE %s): %s", req->id,
              *sqlstate ? sqlstate : "none", res ? host_db_error(res) : "no result");
    reply_problem_detail(req, 500,
                         "The request failed inside coopd; the log has the details "
                         "under request id %s.",
                         req->id);
}
