/*
 * The benchmark's baseline: the least an evhttp server can do to answer
 * GET /v1/hello/ping with a fixed JSON body. coopd's rate on the same route is
 * divided by this one's, measured in the same run, so the ratio shows what the
 * router, the token check, the plugin call and the JSON reply cost.
 *
 * usage: bench_baseline_server PORT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static const char body[] = "{\"message\":\"pong\"}";

static void answer(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", "application/json");
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evbuffer_add_reference(out, body, sizeof(body) - 1, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_gencb(http, answer, NULL);
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(argv[1])) != 0) {
        fprintf(stderr, "bench_baseline_server: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 2;
    }
    struct event *term = evsignal_new(base, SIGTERM, stop, base);
    event_add(term, NULL);
    event_base_dispatch(base);
    event_free(term);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
