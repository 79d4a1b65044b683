/*
 * coop SDK: routes, requests and replies.
 *
 * A handler receives a borrowed request and must answer it exactly once with
 * one of the coop_reply_* functions, either before returning or later from a
 * database or timer callback. Until then every string the accessors return is
 * borrowed from the request. After the reply the request is gone: passing it
 * to any coop_request_* or coop_reply_* function afterwards is undefined
 * behaviour. coopd reuses request objects from a pool, so such a late call may
 * read or answer another client's request; only a second reply made before
 * the handler (or coopd's own call) returns is reliably caught, logged and
 * ignored. Keep no pointer to a request past its reply.
 *
 * A reply's status must be a final one, 200..599; anything else is sent as
 * 500 and logged.
 *
 * Errors leave as RFC 9457 application/problem+json. coopd itself answers 400
 * (body is not JSON), 401, 403, 404, 405, 413, 422 (body does not fit the
 * route's schema) and 503 before a handler runs.
 */
#ifndef COOP_HTTP_H
#define COOP_HTTP_H

#include <stdarg.h>
#include <stdio.h>

#include <jansson.h>

#include "host.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Registers a route of the plugin, mounted below /v1/<plugin-name>. Call from
 *  init only. route and the strings it points to are copied. Returns 0,
 *  -COOP_EINVAL (bad method, path, roles 0, or a body schema that is not a
 *  valid schema), -COOP_EEXIST (same method and path twice) or -COOP_ESTATE
 *  (called after init). */
static inline int coop_route_add(coop_plugin *self, const coop_route *route)
{
    return coop_host->route_add(self, route);
}

/** The request's method, one enum coop_method value. */
static inline unsigned coop_request_method(const coop_request *req)
{
    return coop_host->request_method(req);
}

/** The decoded request path, without the query. Borrowed. */
static inline const char *coop_request_path(const coop_request *req)
{
    return coop_host->request_path(req);
}

/** The value of the path parameter {name} of the matched route, percent-
 *  decoded. Borrowed; NULL when the route has no such parameter. */
static inline const char *coop_request_param(const coop_request *req, const char *name)
{
    return coop_host->request_param(req, name);
}

/** The first value of query parameter name, percent-decoded. Borrowed; NULL
 *  when absent. */
static inline const char *coop_request_query(const coop_request *req, const char *name)
{
    return coop_host->request_query(req, name);
}

/** The value of request header name (case-insensitive). Borrowed; NULL when
 *  absent. */
static inline const char *coop_request_header(const coop_request *req, const char *name)
{
    return coop_host->request_header(req, name);
}

/** The raw body and its length in *len (len may be NULL). Borrowed; NULL with
 *  *len 0 when there is no body. */
static inline const void *coop_request_body(const coop_request *req, size_t *len)
{
    return coop_host->request_body(req, len);
}

/** The parsed JSON body of a route with a body_schema, already validated.
 *  Borrowed reference (json_incref() it to keep it past the reply); NULL for
 *  routes without a body_schema. */
static inline const json_t *coop_request_json(const coop_request *req)
{
    return coop_host->request_json(req);
}

/** Who is calling. Borrowed; never NULL. */
static inline const coop_caller *coop_request_caller(const coop_request *req)
{
    return coop_host->request_caller(req);
}

/** The request id coopd logs and returns in X-Request-Id. Borrowed. */
static inline const char *coop_request_id(const coop_request *req)
{
    return coop_host->request_id(req);
}

/** Adds a response header to the coming reply. name and value are copied.
 *  Returns 0 or -COOP_EINVAL: name empty or containing ':', a space, a tab,
 *  CR or LF; CR or LF in value; or name is one of the headers coopd writes
 *  itself on every reply (Content-Type, Content-Length, Date, X-Request-Id,
 *  Transfer-Encoding, Connection; compared case-insensitively). Calling it
 *  after the reply is undefined behaviour, like every call on a request
 *  that was answered (see the top of this file). */
static inline int coop_reply_header(coop_request *req, const char *name, const char *value)
{
    return coop_host->reply_header(req, name, value);
}

/** Replies with status and body serialized as application/json. Steals the
 *  reference to body (which may be NULL for an empty body, e.g. 204). Ends
 *  the request. */
static inline void coop_reply_json(coop_request *req, int status, json_t *body)
{
    coop_host->reply_json(req, status, body);
}

/** Replies with an application/problem+json object. Steals the reference to
 *  problem; coopd fills in "status", "title" (from the status) and "instance"
 *  (the request id) when absent. Ends the request. */
static inline void coop_reply_problem_json(coop_request *req, int status, json_t *problem)
{
    coop_host->reply_problem(req, status, problem);
}

/** Replies with a problem: status, title and a printf-style detail (copied).
 *  Ends the request. */
static inline void coop_reply_problem(coop_request *req, int status, const char *title,
                                      const char *detail_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static inline void coop_reply_problem(coop_request *req, int status, const char *title,
                                      const char *detail_fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    coop_host->reply_problem(req, status,
                             json_pack("{s:s, s:s}", "title", title, "detail", detail));
}

/** Appends {"pointer": pointer, "message": message} to errors (a JSON array
 *  the caller owns; both strings are copied). For coop_reply_invalid(). */
static inline void coop_invalid_add(json_t *errors, const char *pointer, const char *message)
{
    json_array_append_new(errors, json_pack("{s:s, s:s}", "pointer", pointer, "message", message));
}

/** Replies 422 Unprocessable Content with the list of invalid fields. Steals
 *  the reference to errors (an array built with coop_invalid_add()). Ends the
 *  request. */
static inline void coop_reply_invalid(coop_request *req, json_t *errors)
{
    json_t *problem = json_pack("{s:s, s:s, s:o}", "title", "Invalid request", "detail",
                                "One or more fields are invalid.", "errors", errors);
    coop_host->reply_problem(req, 422, problem);
}

/** Replies to a failed database result res (borrowed): 503 with Retry-After
 *  when the database is unreachable, 409 for a unique or exclusion violation,
 *  else 500 (the SQL error is logged, never sent). Ends the request. */
static inline void coop_reply_db_error(coop_request *req, const coop_db_result *res)
{
    coop_host->reply_db_error(req, res);
}

#ifdef __cplusplus
}
#endif
#endif /* COOP_HTTP_H */
