/*
 * Metrics in the Prometheus text format 0.0.4.
 *
 * The counters live in each route's entry (router_internal.h) so that a
 * request touches only memory it already has in hand; this module counts into
 * them and renders them. Label "route" is the template ("/v1/members/{id}"),
 * never the concrete path, so the number of series stays bounded.
 *
 * GET /metrics is public: operators keep it off the internet with their
 * firewall or proxy, as is usual for Prometheus targets.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "db_internal.h"
#include "http_internal.h"
#include "metrics_internal.h"
#include "plugin_internal.h"

/* Upper bounds of the latency buckets in nanoseconds; the last is +Inf. */
static const uint64_t bucket_bounds_ns[ROUTER_LATENCY_BUCKETS - 1] = {
    100000,   250000,   500000,    1000000,   2500000,    5000000,
    10000000, 25000000, 100000000, 500000000, 2500000000u};
static const char *const bucket_labels[ROUTER_LATENCY_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
    "0.01",   "0.025",   "0.1",    "0.5",   "2.5",    "+Inf"};

/* Index ROUTER_METHODS is for methods no route can have. */
static route_counters unmatched[ROUTER_METHODS + 1];

void metrics_count(route_counters *c, int status, uint64_t duration_ns)
{
    int i;
    for (i = 0; i < ROUTER_STATUS_SLOTS; i++) {
        if (c->by_status[i].status == status) {
            c->by_status[i].count++;
            break;
        }
        if (c->by_status[i].status == 0) {
            c->by_status[i].status = status;
            c->by_status[i].count = 1;
            break;
        }
    }
    if (i == ROUTER_STATUS_SLOTS)
        c->other_status++;

    int b = 0;
    while (b < ROUTER_LATENCY_BUCKETS - 1 && duration_ns > bucket_bounds_ns[b])
        b++;
    c->latency_buckets[b]++;
    c->latency_count++;
    c->latency_sum_ns += duration_ns;
}

route_counters *metrics_unmatched(unsigned method)
{
    int i = router_method_index(method);
    return &unmatched[i < 0 ? ROUTER_METHODS : i];
}

/* Label values are templates we registered (no quotes or backslashes are
 * allowed in them), so they need no escaping beyond this guard. */
static void render_series(struct evbuffer *out, const char *route, const char *method,
                          const route_counters *c)
{
    for (int i = 0; i < ROUTER_STATUS_SLOTS && c->by_status[i].status; i++)
        evbuffer_add_printf(out,
                            "coop_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} "
                            "%llu\n",
                            route, method, c->by_status[i].status,
                            (unsigned long long)c->by_status[i].count);
    if (c->other_status)
        evbuffer_add_printf(out,
                            "coop_http_requests_total{route=\"%s\",method=\"%s\",status=\"other\"}"
                            " %llu\n",
                            route, method, (unsigned long long)c->other_status);
}

static void render_histogram(struct evbuffer *out, const char *route, const char *method,
                             const route_counters *c)
{
    uint64_t cumulative = 0;
    for (int b = 0; b < ROUTER_LATENCY_BUCKETS; b++) {
        cumulative += c->latency_buckets[b];
        evbuffer_add_printf(out,
                            "coop_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                            "le=\"%s\"} %llu\n",
                            route, method, bucket_labels[b], (unsigned long long)cumulative);
    }
    evbuffer_add_printf(out,
                        "coop_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} "
                        "%.9f\n",
                        route, method, (double)c->latency_sum_ns / 1e9);
    evbuffer_add_printf(out,
                        "coop_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} "
                        "%llu\n",
                        route, method, (unsigned long long)c->latency_count);
}

static const char *unmatched_method(int i)
{
    static const unsigned bits[ROUTER_METHODS] = {COOP_GET, COOP_POST, COOP_PUT, COOP_PATCH,
                                                  COOP_DELETE};
    return i < ROUTER_METHODS ? router_method_name(bits[i]) : "OTHER";
}

void metrics_render(struct evbuffer *out, const router *r)
{
    size_t n = router_count(r);

    evbuffer_add_printf(out, "# HELP coop_http_requests_total HTTP requests answered, by route "
                             "template, method and status.\n"
                             "# TYPE coop_http_requests_total counter\n");
    for (size_t i = 0; i < n; i++) {
        const route_entry *e = router_at(r, i);
        render_series(out, e->template_path, router_method_name(e->method), &e->counters);
    }
    for (int i = 0; i <= ROUTER_METHODS; i++)
        render_series(out, "unmatched", unmatched_method(i), &unmatched[i]);

    evbuffer_add_printf(out, "# HELP coop_http_request_duration_seconds Time from receiving a "
                             "request to handing its reply to the socket.\n"
                             "# TYPE coop_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        const route_entry *e = router_at(r, i);
        if (e->counters.latency_count)
            render_histogram(out, e->template_path, router_method_name(e->method), &e->counters);
    }
    for (int i = 0; i <= ROUTER_METHODS; i++)
        if (unmatched[i].latency_count)
            render_histogram(out, "unmatched", unmatched_method(i), &unmatched[i]);

    evbuffer_add_printf(
        out,
        "# HELP coop_http_in_flight Requests received whose reply is not yet written "
        "(this scrape included).\n"
        "# TYPE coop_http_in_flight gauge\n"
        "coop_http_in_flight %zu\n",
        requests_in_flight());

    db_pool_stats s;
    memset(&s, 0, sizeof(s));
    db_pool_get_stats(&s);
    evbuffer_add_printf(out,
                        "# HELP coop_db_pool_size Database connections the pool keeps.\n"
                        "# TYPE coop_db_pool_size gauge\ncoop_db_pool_size %d\n"
                        "# HELP coop_db_pool_connected Pool connections that are up.\n"
                        "# TYPE coop_db_pool_connected gauge\ncoop_db_pool_connected %d\n"
                        "# HELP coop_db_pool_busy Pool connections running a statement.\n"
                        "# TYPE coop_db_pool_busy gauge\ncoop_db_pool_busy %d\n"
                        "# HELP coop_db_pool_queued Statements waiting for a connection.\n"
                        "# TYPE coop_db_pool_queued gauge\ncoop_db_pool_queued %d\n"
                        "# HELP coop_db_pool_queries_total Statements run.\n"
                        "# TYPE coop_db_pool_queries_total counter\n"
                        "coop_db_pool_queries_total %llu\n"
                        "# HELP coop_db_pool_failures_total Statements that failed.\n"
                        "# TYPE coop_db_pool_failures_total counter\n"
                        "coop_db_pool_failures_total %llu\n",
                        s.size, s.connected, s.busy, s.queued, s.queries, s.failures);

    evbuffer_add_printf(out,
                        "# HELP coop_plugins_loaded Plugins loaded (the core not counted).\n"
                        "# TYPE coop_plugins_loaded gauge\ncoop_plugins_loaded %zu\n",
                        plugins_count());
}
