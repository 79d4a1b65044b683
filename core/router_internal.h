/* The route table: method + path template -> route, matched segment by
 * segment (owner: router.c). Pure data structure: no libevent, no I/O, so the
 * unit tests exercise it alone. */
#ifndef COOP_ROUTER_INTERNAL_H
#define COOP_ROUTER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <coop/types.h>
#include <jansson.h>

#define ROUTER_MAX_PARAMS 8    /* "{name}" segments in one template */
#define ROUTER_MAX_SEGMENTS 32 /* deeper request paths are simply not found */
#define ROUTER_METHODS 5       /* COOP_GET .. COOP_DELETE */
#define ROUTER_STATUS_SLOTS 12 /* distinct statuses counted per route */
#define ROUTER_LATENCY_BUCKETS 12

/* Request counters of one route (or of the unmatched requests of one method),
 * kept next to the route so the hot path touches no other table. Only the
 * loop thread writes them. */
typedef struct route_counters {
    struct {
        int status; /* 0: slot free */
        uint64_t count;
    } by_status[ROUTER_STATUS_SLOTS];
    uint64_t other_status; /* statuses beyond the slots (never seen in practice) */
    uint64_t latency_buckets[ROUTER_LATENCY_BUCKETS]; /* non-cumulative */
    uint64_t latency_count;
    uint64_t latency_sum_ns;
} route_counters;

typedef struct route_entry {
    unsigned method;     /* one enum coop_method bit */
    unsigned roles;      /* enum coop_role bits */
    char *template_path; /* the full path, mount included: "/v1/voting/proposals/{id}" */
    json_t *body_schema; /* parsed once at registration (owned); NULL: no body */
    coop_handler_fn handler;
    void *arg;
    coop_plugin *plugin; /* who registered it (borrowed) */
    int nparams;
    char *param_names[ROUTER_MAX_PARAMS]; /* in path order, owned */
    route_counters counters;
} route_entry;

typedef struct router router;

enum router_result {
    ROUTER_FOUND = 0,
    ROUTER_NOT_FOUND,          /* no template has this path: 404 */
    ROUTER_METHOD_NOT_ALLOWED, /* the path exists for other methods: 405, see allowed */
    ROUTER_BAD_PATH            /* broken percent-encoding or an encoded NUL: 400 */
};

typedef struct router_match {
    const route_entry *route; /* set when ROUTER_FOUND */
    /* METHOD_NOT_ALLOWED: every method the path answers, over all the templates
     * it fits (the Allow header). FOUND: the methods of the matched template and
     * of those tried before it; the search stops at the match. */
    unsigned allowed;
    int nparams;
    const char *values[ROUTER_MAX_PARAMS]; /* decoded, in route->param_names order; they
                                              point into the caller's scratch buffer */
    int nsegments;                         /* decoded segments written to scratch */
} router_match;

router *router_new(void);
void router_free(router *r);

/* Adds a route for method at template_path (copied). body_schema: a parsed
 * schema whose reference is stolen (also on failure), or NULL. Returns 0,
 * -COOP_EINVAL (bad template, method or roles; reason in err) or
 * -COOP_EEXIST (same method and template twice). */
int router_add(router *r, unsigned method, const char *template_path, unsigned roles,
               json_t *body_schema, coop_handler_fn handler, void *arg, coop_plugin *plugin,
               char *err, size_t errlen);

/* Matches method (one coop_method bit, or 0 for a method no route can have)
 * and the raw (still percent-encoded) path, without the query. The decoded
 * segments are written to scratch, which needs strlen(raw_path) + 1 bytes;
 * m's values point into it. Allocates nothing. */
enum router_result router_lookup(const router *r, unsigned method, const char *raw_path,
                                 char *scratch, size_t scratch_len, router_match *m);

/* The routes in registration order, for /v1/plugins, /openapi.json, /metrics. */
size_t router_count(const router *r);
route_entry *router_at(const router *r, size_t i);

/* "GET", "POST", ... for one coop_method bit; "OTHER" otherwise. */
const char *router_method_name(unsigned method);
/* Index 0..ROUTER_METHODS-1 of one coop_method bit, or -1. */
int router_method_index(unsigned method);
/* Writes "GET, POST" for a mask of methods (registration order of the bits)
 * into buf. */
void router_allow_header(unsigned methods, char *buf, size_t buflen);

/* Decodes %XX escapes of src[0..len) into dst (which may be src); returns the
 * decoded length, or -1 for a broken escape or an encoded NUL. When plus_is_space,
 * '+' becomes ' ' (query strings). dst needs len + 1 bytes; it is NUL-terminated. */
long router_percent_decode(const char *src, size_t len, char *dst, int plus_is_space);

#endif
