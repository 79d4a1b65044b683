/*
 * The route table: matching by segments, path parameters, percent-decoding,
 * the strict trailing-slash policy, and the 404 / 405 + Allow decisions.
 * Also the reply side the router's decisions lead to (problem+json building,
 * exactly one reply per request), which needs no socket to test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http_internal.h"
#include "metrics_internal.h"
#include "router_internal.h"
#include "unit.h"

static void handler_a(coop_request *req, void *arg)
{
    (void)req;
    (void)arg;
}

static int add(router *r, unsigned method, const char *path)
{
    char err[256];
    return router_add(r, method, path, COOP_ROLES_ALL, NULL, handler_a, NULL, NULL, err,
                      sizeof(err));
}

/* Matches path with a scratch buffer of exactly the documented size. */
static enum router_result match(router *r, unsigned method, const char *path, router_match *m,
                                char **scratch)
{
    free(*scratch);
    size_t len = strlen(path) + 1;
    *scratch = malloc(len);
    return router_lookup(r, method, path, *scratch, len, m);
}

static void test_registration(void)
{
    router *r = router_new();
    char err[256];

    CHECK_INT(add(r, COOP_GET, "/healthz"), 0);
    CHECK_INT(add(r, COOP_GET, "/healthz"), -COOP_EEXIST);
    CHECK_INT(add(r, COOP_POST, "/healthz"), 0);
    CHECK_INT(add(r, COOP_GET | COOP_POST, "/x"), -COOP_EINVAL);
    CHECK_INT(add(r, 0, "/x"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "x"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a/"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a//b"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a/{id"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a/{}"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a/{1d}"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a/x{id}"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a/{id}/b/{id}"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a b"), -COOP_EINVAL);
    CHECK_INT(add(r, COOP_GET, "/a%20b"), -COOP_EINVAL);
    CHECK_INT(router_add(r, COOP_GET, "/noroles", 0, NULL, handler_a, NULL, NULL, err, sizeof(err)),
              -COOP_EINVAL);
    CHECK_INT(router_add(r, COOP_GET, "/badroles", 1u << 8, NULL, handler_a, NULL, NULL, err,
                         sizeof(err)),
              -COOP_EINVAL);
    CHECK_INT(router_add(r, COOP_GET, "/nohandler", COOP_PUBLIC, NULL, NULL, NULL, NULL, err,
                         sizeof(err)),
              -COOP_EINVAL);
    /* A schema given to a failed registration is released, not leaked (ASan checks). */
    CHECK_INT(router_add(r, COOP_GET, "/a/", COOP_PUBLIC, json_object(), handler_a, NULL, NULL, err,
                         sizeof(err)),
              -COOP_EINVAL);
    CHECK(strstr(err, "trailing") != NULL);
    CHECK_INT(router_add(r, COOP_POST, "/withschema", COOP_PUBLIC, json_object(), handler_a, NULL,
                         NULL, err, sizeof(err)),
              0);
    CHECK_INT(router_count(r), 3);
    CHECK_STR(router_at(r, 0)->template_path, "/healthz");
    CHECK(router_at(r, 2)->body_schema != NULL);
    CHECK(router_at(r, 3) == NULL);
    router_free(r);
}

static void test_matching(void)
{
    router *r = router_new();
    router_match m;
    char *scratch = NULL;

    CHECK_INT(add(r, COOP_GET, "/v1/members"), 0);
    CHECK_INT(add(r, COOP_POST, "/v1/members"), 0);
    CHECK_INT(add(r, COOP_GET, "/v1/members/{id}"), 0);
    CHECK_INT(add(r, COOP_POST, "/v1/members/{id}/status"), 0);
    CHECK_INT(add(r, COOP_GET, "/v1/voting/proposals/{id}/ballots/{ballot}"), 0);
    CHECK_INT(add(r, COOP_GET, "/v1/voting/proposals/open"), 0);
    CHECK_INT(add(r, COOP_DELETE, "/v1/voting/proposals/{pid}"), 0);
    CHECK_INT(add(r, COOP_GET, "/v1/hello"), 0);

    CHECK_INT(match(r, COOP_GET, "/v1/members", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.route->template_path, "/v1/members");
    CHECK_INT(m.route->method, COOP_GET);
    CHECK_INT(m.allowed, COOP_GET | COOP_POST);
    CHECK_INT(m.nparams, 0);

    CHECK_INT(match(r, COOP_POST, "/v1/members", &m, &scratch), ROUTER_FOUND);
    CHECK_INT(m.route->method, COOP_POST);

    CHECK_INT(match(r, COOP_GET, "/v1/members/42", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.route->template_path, "/v1/members/{id}");
    CHECK_INT(m.nparams, 1);
    CHECK_STR(m.route->param_names[0], "id");
    CHECK_STR(m.values[0], "42");

    CHECK_INT(match(r, COOP_POST, "/v1/members/7/status", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.values[0], "7");

    CHECK_INT(match(r, COOP_GET, "/v1/voting/proposals/12/ballots/99", &m, &scratch), ROUTER_FOUND);
    CHECK_INT(m.nparams, 2);
    CHECK_STR(m.route->param_names[0], "id");
    CHECK_STR(m.values[0], "12");
    CHECK_STR(m.route->param_names[1], "ballot");
    CHECK_STR(m.values[1], "99");

    /* A literal wins over a parameter at the same place... */
    CHECK_INT(match(r, COOP_GET, "/v1/voting/proposals/open", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.route->template_path, "/v1/voting/proposals/open");
    /* ...but the walk backtracks to the parameter when the literal lacks the method,
     * and then names the parameter of that route. */
    CHECK_INT(match(r, COOP_DELETE, "/v1/voting/proposals/open", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.route->template_path, "/v1/voting/proposals/{pid}");
    CHECK_STR(m.route->param_names[0], "pid");
    CHECK_STR(m.values[0], "open");

    /* The plugin's mount point itself. */
    CHECK_INT(match(r, COOP_GET, "/v1/hello", &m, &scratch), ROUTER_FOUND);

    free(scratch);
    router_free(r);
}

static void test_not_found_and_method(void)
{
    router *r = router_new();
    router_match m;
    char *scratch = NULL;
    char allow[64];

    CHECK_INT(add(r, COOP_GET, "/v1/members"), 0);
    CHECK_INT(add(r, COOP_POST, "/v1/members"), 0);
    CHECK_INT(add(r, COOP_GET, "/v1/members/{id}"), 0);
    CHECK_INT(add(r, COOP_PATCH, "/v1/members/{id}"), 0);

    CHECK_INT(match(r, COOP_GET, "/v1/nothing", &m, &scratch), ROUTER_NOT_FOUND);
    CHECK(m.route == NULL);
    CHECK_INT(match(r, COOP_GET, "/", &m, &scratch), ROUTER_NOT_FOUND);
    CHECK_INT(match(r, COOP_GET, "/v1", &m, &scratch), ROUTER_NOT_FOUND);
    CHECK_INT(match(r, COOP_GET, "/v1/members/1/extra", &m, &scratch), ROUTER_NOT_FOUND);
    CHECK_INT(match(r, COOP_GET, "", &m, &scratch), ROUTER_NOT_FOUND);
    CHECK_INT(match(r, COOP_GET, "v1/members", &m, &scratch), ROUTER_NOT_FOUND);

    /* Strict trailing slash and empty segments: a parameter never matches "". */
    CHECK_INT(match(r, COOP_GET, "/v1/members/", &m, &scratch), ROUTER_NOT_FOUND);
    CHECK_INT(match(r, COOP_GET, "/v1//members", &m, &scratch), ROUTER_NOT_FOUND);
    CHECK_INT(match(r, COOP_GET, "/v1/members/1/", &m, &scratch), ROUTER_NOT_FOUND);

    /* 405 lists exactly the methods of that path. */
    CHECK_INT(match(r, COOP_DELETE, "/v1/members", &m, &scratch), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, COOP_GET | COOP_POST);
    router_allow_header(m.allowed, allow, sizeof(allow));
    CHECK_STR(allow, "GET, POST");
    CHECK_INT(match(r, COOP_POST, "/v1/members/3", &m, &scratch), ROUTER_METHOD_NOT_ALLOWED);
    router_allow_header(m.allowed, allow, sizeof(allow));
    CHECK_STR(allow, "GET, PATCH");
    /* A method no route can have (0: OPTIONS, TRACE...) is 405 on a known path. */
    CHECK_INT(match(r, 0, "/v1/members", &m, &scratch), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(match(r, 0, "/v1/unknown", &m, &scratch), ROUTER_NOT_FOUND);

    /* Allow is the union over every template the path fits: GET /a/new and
     * POST /a/{id} both serve /a/new, so PUT /a/new allows GET and POST. */
    CHECK_INT(add(r, COOP_GET, "/a/new"), 0);
    CHECK_INT(add(r, COOP_POST, "/a/{id}"), 0);
    CHECK_INT(add(r, COOP_DELETE, "/a/{id}/x"), 0);
    CHECK_INT(match(r, COOP_PUT, "/a/new", &m, &scratch), ROUTER_METHOD_NOT_ALLOWED);
    router_allow_header(m.allowed, allow, sizeof(allow));
    CHECK_STR(allow, "GET, POST");
    CHECK_INT(match(r, 0, "/a/new", &m, &scratch), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, COOP_GET | COOP_POST);
    /* Another value of {id} fits only the parameter's template. */
    CHECK_INT(match(r, COOP_PUT, "/a/7", &m, &scratch), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, COOP_POST);
    /* Both are still served. */
    CHECK_INT(match(r, COOP_GET, "/a/new", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.route->template_path, "/a/new");
    CHECK_INT(match(r, COOP_POST, "/a/new", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.route->template_path, "/a/{id}");
    CHECK_INT(match(r, COOP_GET, "/a/new/x", &m, &scratch), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, COOP_DELETE);

    router_allow_header(COOP_GET | COOP_POST | COOP_PUT | COOP_PATCH | COOP_DELETE, allow,
                        sizeof(allow));
    CHECK_STR(allow, "GET, POST, PUT, PATCH, DELETE");

    /* Too many segments: not found, not a crash. */
    char deep[2 * ROUTER_MAX_SEGMENTS + 8] = "";
    for (int i = 0; i < ROUTER_MAX_SEGMENTS + 2; i++)
        strcat(deep, "/a");
    CHECK_INT(match(r, COOP_GET, deep, &m, &scratch), ROUTER_NOT_FOUND);

    /* A scratch buffer smaller than documented is refused, not overrun. */
    char tiny[4];
    CHECK_INT(router_lookup(r, COOP_GET, "/v1/members", tiny, sizeof(tiny), &m), ROUTER_NOT_FOUND);

    free(scratch);
    router_free(r);
}

static void test_percent_decoding(void)
{
    router *r = router_new();
    router_match m;
    char *scratch = NULL;
    char buf[64];

    CHECK_INT(add(r, COOP_GET, "/files/{name}"), 0);
    CHECK_INT(add(r, COOP_GET, "/caf\xc3\xa9"), 0);
    CHECK_INT(add(r, COOP_GET, "/a+b"), 0);

    CHECK_INT(match(r, COOP_GET, "/files/a%20b", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.values[0], "a b");
    /* An encoded slash is data inside one segment, not a separator. */
    CHECK_INT(match(r, COOP_GET, "/files/a%2Fb", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.values[0], "a/b");
    CHECK_INT(match(r, COOP_GET, "/files/%41%62%63", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.values[0], "Abc");
    /* Literal segments compare decoded: %C3%A9 is the UTF-8 of e-acute. */
    CHECK_INT(match(r, COOP_GET, "/caf%C3%A9", &m, &scratch), ROUTER_FOUND);
    CHECK_INT(match(r, COOP_GET, "/caf%c3%a9", &m, &scratch), ROUTER_FOUND);
    /* In a path '+' is a plus, and %2B is too. */
    CHECK_INT(match(r, COOP_GET, "/a+b", &m, &scratch), ROUTER_FOUND);
    CHECK_INT(match(r, COOP_GET, "/a%2Bb", &m, &scratch), ROUTER_FOUND);
    CHECK_INT(match(r, COOP_GET, "/files/x+y", &m, &scratch), ROUTER_FOUND);
    CHECK_STR(m.values[0], "x+y");

    /* Broken escapes and encoded NULs are a bad request, never a match. */
    CHECK_INT(match(r, COOP_GET, "/files/%zz", &m, &scratch), ROUTER_BAD_PATH);
    CHECK_INT(match(r, COOP_GET, "/files/%4", &m, &scratch), ROUTER_BAD_PATH);
    CHECK_INT(match(r, COOP_GET, "/files/%", &m, &scratch), ROUTER_BAD_PATH);
    CHECK_INT(match(r, COOP_GET, "/files/a%00b", &m, &scratch), ROUTER_BAD_PATH);

    /* The decoder alone, as the query string uses it. */
    CHECK_INT(router_percent_decode("a+b%26c", 7, buf, 1), 5);
    CHECK_STR(buf, "a b&c");
    CHECK_INT(router_percent_decode("a+b", 3, buf, 0), 3);
    CHECK_STR(buf, "a+b");
    CHECK_INT(router_percent_decode("", 0, buf, 1), 0);
    CHECK_STR(buf, "");
    CHECK_INT(router_percent_decode("%e2%82%ac", 9, buf, 0), 3);
    CHECK_STR(buf, "\xe2\x82\xac");
    /* Decoding in place works (dst == src). */
    char inplace[] = "x%3Dy";
    CHECK_INT(router_percent_decode(inplace, 5, inplace, 0), 3);
    CHECK_STR(inplace, "x=y");

    free(scratch);
    router_free(r);
}

static void test_method_names(void)
{
    CHECK_STR(router_method_name(COOP_GET), "GET");
    CHECK_STR(router_method_name(COOP_DELETE), "DELETE");
    CHECK_STR(router_method_name(COOP_GET | COOP_POST), "OTHER");
    CHECK_INT(router_method_index(COOP_PATCH), 3);
    CHECK_INT(router_method_index(0), -1);
}

static void test_problem_json(void)
{
    json_t *p = problem_complete(NULL, 404, "abc123");
    CHECK_STR(json_string_value(json_object_get(p, "type")), "about:blank");
    CHECK_STR(json_string_value(json_object_get(p, "title")), "Not Found");
    CHECK_INT(json_integer_value(json_object_get(p, "status")), 404);
    CHECK_STR(json_string_value(json_object_get(p, "instance")), "abc123");
    json_decref(p);

    /* What the caller set stays, except a status that contradicts the HTTP one. */
    p = problem_complete(json_pack("{s:s, s:s, s:i, s:s, s:[]}", "type", "https://coop/x", "title",
                                   "Custom", "status", 200, "instance", "mine", "errors"),
                         422, "abc123");
    CHECK_STR(json_string_value(json_object_get(p, "type")), "https://coop/x");
    CHECK_STR(json_string_value(json_object_get(p, "title")), "Custom");
    CHECK_INT(json_integer_value(json_object_get(p, "status")), 422);
    CHECK_STR(json_string_value(json_object_get(p, "instance")), "mine");
    CHECK(json_is_array(json_object_get(p, "errors")));
    json_decref(p);

    /* Not an object: replaced by one (and the old value released). */
    p = problem_complete(json_array(), 500, NULL);
    CHECK(json_is_object(p));
    CHECK(json_object_get(p, "instance") == NULL);
    CHECK_STR(json_string_value(json_object_get(p, "title")), "Internal Server Error");
    json_decref(p);

    CHECK_STR(http_status_title(413), "Content Too Large");
    CHECK_STR(http_status_title(422), "Unprocessable Content");
    CHECK_STR(http_status_title(599), "Error");
}

/* Requests without a connection (as after the client left): the reply logic
 * runs in full, nothing is sent. */
static void test_exactly_one_reply(void)
{
    coop_request *req = request_acquire(NULL);
    strcpy(req->id, "unit-1");
    CHECK_INT(requests_in_flight(), 1);
    CHECK(host_request_param(req, "id") == NULL);
    CHECK(host_request_query(req, "x") == NULL);
    CHECK(host_request_header(req, "Host") == NULL);
    CHECK_INT(host_request_caller(req)->role, 0);
    CHECK_STR(host_request_id(req), "unit-1");

    CHECK_INT(host_reply_header(req, "X-Custom", "ok"), 0);
    CHECK_INT(host_reply_header(req, "X-Bad", "a\r\nInjected: yes"), -COOP_EINVAL);
    CHECK_INT(host_reply_header(req, "Bad Name", "v"), -COOP_EINVAL);
    CHECK_INT(host_reply_header(req, "content-length", "5"), -COOP_EINVAL);
    CHECK_INT(host_reply_header(req, "X-Request-Id", "spoof"), -COOP_EINVAL);

    host_reply_json(req, 200, json_object());
    CHECK_INT(requests_in_flight(), 0);
    /* The request went back to the pool still marked answered: a late second
     * reply is logged and ignored, and its body released (ASan checks). */
    host_reply_json(req, 500, json_object());
    host_reply_problem(req, 500, json_object());
    CHECK_INT(requests_in_flight(), 0);
    CHECK_INT(host_reply_header(req, "X-Late", "v"), -COOP_EINVAL);

    /* Inside coopd's own call the release waits until the call returns, so a
     * handler that replies twice in a row hits its own request. */
    req = request_acquire(NULL);
    strcpy(req->id, "unit-2");
    request_dispatch_enter(req);
    host_reply_problem(req, 404, NULL);
    CHECK(req->replied);
    CHECK_INT(requests_in_flight(), 1);
    host_reply_json(req, 200, json_object());
    request_dispatch_leave(req);
    CHECK_INT(requests_in_flight(), 0);

    requests_pool_free();
}

static uint64_t count_of(const route_counters *c, int status)
{
    for (int i = 0; i < ROUTER_STATUS_SLOTS; i++)
        if (c->by_status[i].status == status)
            return c->by_status[i].count;
    return 0;
}

/* Only 200..599 is a final answer: an interim 1xx (libevent would send it as
 * if final) or a number outside HTTP goes out as 500, which metrics count. */
static void test_final_status_only(void)
{
    const route_counters *c = metrics_unmatched(0);
    uint64_t errors_before = count_of(c, 500);
    static const int refused[] = {100, 101, 103, 199, 600, 0, -200};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        coop_request *req = request_acquire(NULL);
        strcpy(req->id, "unit-status");
        host_reply_json(req, refused[i], json_object());
        CHECK_INT(count_of(c, refused[i]), 0);
    }
    CHECK_INT(count_of(c, 500) - errors_before, sizeof(refused) / sizeof(refused[0]));
    static const int kept[] = {200, 204, 418, 599};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        uint64_t before = count_of(c, kept[i]);
        coop_request *req = request_acquire(NULL);
        strcpy(req->id, "unit-status");
        host_reply_json(req, kept[i], NULL);
        CHECK_INT(count_of(c, kept[i]) - before, 1);
    }
    CHECK_INT(count_of(c, 500) - errors_before, sizeof(refused) / sizeof(refused[0]));
    requests_pool_free();
}

/* json_write_compact must give exactly jansson's compact output. */
static void check_same_as_jansson(json_t *doc)
{
    struct evbuffer *out = evbuffer_new();
    char *want = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    CHECK_INT(json_write_compact(out, doc), 0);
    size_t n = evbuffer_get_length(out);
    char *got = calloc(1, n + 1);
    evbuffer_remove(out, got, n);
    CHECK_STR(got, want);
    free(got);
    free(want);
    evbuffer_free(out);
    json_decref(doc);
}

static void test_json_writer(void)
{
    check_same_as_jansson(json_pack("{s:s}", "message", "pong"));
    check_same_as_jansson(json_object());
    check_same_as_jansson(json_array());
    check_same_as_jansson(json_null());
    check_same_as_jansson(json_true());
    check_same_as_jansson(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x97\xb3 \x7f"));
    check_same_as_jansson(json_string("quote\" backslash\\ slash/ \b\f\n\r\t \x01\x1f"));
    check_same_as_jansson(json_stringn("nul\0inside", 11));
    check_same_as_jansson(json_integer(0));
    check_same_as_jansson(json_integer(-1));
    check_same_as_jansson(json_integer(INT64_MAX));
    check_same_as_jansson(json_integer(INT64_MIN));
    check_same_as_jansson(json_real(0.1));
    check_same_as_jansson(json_real(-2.5e-300));
    check_same_as_jansson(json_real(3.0));
    check_same_as_jansson(json_pack("{s:[i,s,{s:n,s:b,s:[]}],s:{},s:f,s:s}", "a", 1, "x", "z", "t",
                                    1, "e", "o", "r", 1.5, "key\twith tab", "v"));
    /* Large enough to leave the stack buffer. */
    json_t *big = json_array();
    for (int i = 0; i < 2000; i++)
        json_array_append_new(big, json_pack("{s:i,s:s}", "id", i, "name", "member name"));
    check_same_as_jansson(big);

    /* A container that contains itself is refused, not followed forever. */
    json_t *loop = json_array();
    json_t *inner = json_array();
    json_array_append(loop, inner);
    json_array_append(inner, loop);
    struct evbuffer *out = evbuffer_new();
    CHECK_INT(json_write_compact(out, loop), -1);
    CHECK_INT(json_write_compact(out, NULL), -1);
    evbuffer_free(out);
    json_array_clear(inner); /* break the cycle so both are freed */
    json_decref(inner);
    json_decref(loop);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    test_registration();
    test_matching();
    test_not_found_and_method();
    test_percent_decoding();
    test_method_names();
    test_problem_json();
    test_exactly_one_reply();
    test_final_status_only();
    test_json_writer();
    return unit_finish();
}
