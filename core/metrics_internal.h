/* Prometheus metrics of the HTTP server and the pool (owner: metrics.c).
 * Counting is a few integer increments on the loop thread; rendering builds
 * the text format 0.0.4 on demand for GET /metrics. */
#ifndef COOP_METRICS_INTERNAL_H
#define COOP_METRICS_INTERNAL_H

#include <stdint.h>

#include "router_internal.h"

struct evbuffer;

/* Counts one answered request with status that took duration_ns. */
void metrics_count(route_counters *c, int status, uint64_t duration_ns);
/* The counters of requests no route matched (404, 405, 400), per method
 * (0 for methods no route can have). */
route_counters *metrics_unmatched(unsigned method);
/* Appends the whole exposition to out. */
void metrics_render(struct evbuffer *out, const router *r);

#endif
