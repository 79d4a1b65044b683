/*
 * The route table: a tree with one node per path segment.
 *
 * Matching walks the request path once, segment by segment; a literal child is
 * tried before the "{param}" child, and the walk backtracks only when a
 * literal branch leads nowhere (so GET /a/new and GET /a/{id} coexist). No
 * regular expression and no allocation while matching: segments are decoded
 * into a buffer the caller provides.
 *
 * Trailing-slash policy: strict. "/v1/members/" is not "/v1/members" and gets
 * 404, as does any empty segment ("/a//b"). A redirect would invite clients to
 * depend on it, and silently accepting both makes two URLs for one resource.
 *
 * Percent-decoding happens per segment after splitting on '/', so "%2F" inside
 * a segment is data (a parameter value may contain a slash) and never creates
 * a new segment. "+" is a plus in a path (only query strings use it for space).
 */
#include "router_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct router_node {
    char *literal; /* NULL for the root and for param nodes */
    struct router_node **children;
    size_t nchildren;
    struct router_node *param_child; /* "{name}": any one non-empty segment */
    route_entry *routes[ROUTER_METHODS];
} router_node;

struct router {
    router_node root;
    route_entry **entries;
    size_t nentries, cap;
};

static const unsigned method_bits[ROUTER_METHODS] = {COOP_GET, COOP_POST, COOP_PUT, COOP_PATCH,
                                                     COOP_DELETE};
static const char *const method_names[ROUTER_METHODS] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

int router_method_index(unsigned method)
{
    for (int i = 0; i < ROUTER_METHODS; i++)
        if (method_bits[i] == method)
            return i;
    return -1;
}

const char *router_method_name(unsigned method)
{
    int i = router_method_index(method);
    return i < 0 ? "OTHER" : method_names[i];
}

void router_allow_header(unsigned methods, char *buf, size_t buflen)
{
    size_t used = 0;
    if (buflen == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < ROUTER_METHODS; i++) {
        if (!(methods & method_bits[i]))
            continue;
        int n = snprintf(buf + used, buflen - used, "%s%s", used ? ", " : "", method_names[i]);
        if (n < 0 || (size_t)n >= buflen - used)
            return;
        used += (size_t)n;
    }
}

router *router_new(void)
{
    return calloc(1, sizeof(router));
}

static void node_free(router_node *n)
{
    for (size_t i = 0; i < n->nchildren; i++) {
        node_free(n->children[i]);
        free(n->children[i]);
    }
    free(n->children);
    if (n->param_child) {
        node_free(n->param_child);
        free(n->param_child);
    }
    free(n->literal);
}

static void entry_free(route_entry *e)
{
    if (!e)
        return;
    free(e->template_path);
    json_decref(e->body_schema);
    for (int i = 0; i < e->nparams; i++)
        free(e->param_names[i]);
    free(e);
}

void router_free(router *r)
{
    if (!r)
        return;
    node_free(&r->root);
    for (size_t i = 0; i < r->nentries; i++)
        entry_free(r->entries[i]);
    free(r->entries);
    free(r);
}

size_t router_count(const router *r)
{
    return r ? r->nentries : 0;
}

route_entry *router_at(const router *r, size_t i)
{
    return r && i < r->nentries ? r->entries[i] : NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long router_percent_decode(const char *src, size_t len, char *dst, int plus_is_space)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = hexval((unsigned char)src[i + 1]);
            int l = hexval((unsigned char)src[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (char)(h * 16 + l);
            if (c == '\0')
                return -1;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == '\0') {
            return -1;
        }
        dst[out++] = c;
    }
    dst[out] = '\0';
    return (long)out;
}

/* A template segment "{name}": returns the name's length, 0 when the segment
 * is a literal, -1 when it is a broken parameter. */
static int param_segment(const char *seg, size_t len)
{
    if (len == 0 || seg[0] != '{')
        return memchr(seg, '{', len) || memchr(seg, '}', len) ? -1 : 0;
    if (len < 3 || seg[len - 1] != '}')
        return -1;
    for (size_t i = 1; i < len - 1; i++) {
        char c = seg[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (i > 1 && c >= '0' && c <= '9');
        if (!ok)
            return -1;
    }
    return (int)(len - 2);
}

/* Characters a literal template segment may hold: anything printable, UTF-8
 * included, but delimiters and '%' (templates are written decoded). */
static int literal_ok(const char *seg, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)seg[i];
        if (c <= 0x20 || c == 0x7f || strchr("%?#{}\"<>\\^`|[]", c))
            return 0;
    }
    return 1;
}

static router_node *child_literal(router_node *n, const char *seg, size_t len, int create)
{
    for (size_t i = 0; i < n->nchildren; i++) {
        router_node *c = n->children[i];
        if (strlen(c->literal) == len && memcmp(c->literal, seg, len) == 0)
            return c;
    }
    if (!create)
        return NULL;
    router_node **grown = realloc(n->children, (n->nchildren + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    n->children = grown;
    router_node *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->literal = strndup(seg, len);
    if (!c->literal) {
        free(c);
        return NULL;
    }
    n->children[n->nchildren++] = c;
    return c;
}

int router_add(router *r, unsigned method, const char *template_path, unsigned roles,
               json_t *body_schema, coop_handler_fn handler, void *arg, coop_plugin *plugin,
               char *err, size_t errlen)
{
    int mi = router_method_index(method);
    route_entry *e = NULL;
    int rc = -COOP_EINVAL;

    if (!r || !template_path || !handler) {
        snprintf(err, errlen, "no path or no handler");
        goto out_fail;
    }
    if (mi < 0) {
        snprintf(err, errlen, "method %#x is not exactly one of GET, POST, PUT, PATCH, DELETE",
                 method);
        goto out_fail;
    }
    if (roles == 0 || (roles & ~(unsigned)(COOP_ROLES_ALL | COOP_PUBLIC))) {
        snprintf(err, errlen, "roles %#x: name at least one role, and only known ones", roles);
        goto out_fail;
    }
    if (template_path[0] != '/') {
        snprintf(err, errlen, "path \"%s\" does not start with '/'", template_path);
        goto out_fail;
    }

    e = calloc(1, sizeof(*e));
    if (!e || !(e->template_path = strdup(template_path))) {
        rc = -COOP_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto out_fail;
    }
    e->method = method;
    e->roles = roles;
    e->handler = handler;
    e->arg = arg;
    e->plugin = plugin;

    router_node *node = &r->root;
    const char *p = template_path;
    /* "/" alone is the root path: a single empty segment, which no request
     * matches under the strict policy; refuse it rather than register a dead
     * route. */
    while (*p == '/') {
        const char *seg = p + 1;
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0) {
            snprintf(err, errlen, "path \"%s\" has an empty segment or a trailing '/'",
                     template_path);
            goto out_fail;
        }
        int plen = param_segment(seg, len);
        if (plen < 0 || (plen == 0 && !literal_ok(seg, len))) {
            snprintf(err, errlen,
                     "path \"%s\": segment \"%.*s\" is neither a plain word nor "
                     "{name}",
                     template_path, (int)len, seg);
            goto out_fail;
        }
        if (plen > 0) {
            if (e->nparams == ROUTER_MAX_PARAMS) {
                snprintf(err, errlen, "path \"%s\" has more than %d parameters", template_path,
                         ROUTER_MAX_PARAMS);
                goto out_fail;
            }
            for (int i = 0; i < e->nparams; i++) {
                if (strlen(e->param_names[i]) == (size_t)plen &&
                    memcmp(e->param_names[i], seg + 1, (size_t)plen) == 0) {
                    snprintf(err, errlen, "path \"%s\" names parameter {%.*s} twice", template_path,
                             plen, seg + 1);
                    goto out_fail;
                }
            }
            if (!(e->param_names[e->nparams] = strndup(seg + 1, (size_t)plen))) {
                rc = -COOP_ENOMEM;
                goto out_fail;
            }
            e->nparams++;
            if (!node->param_child && !(node->param_child = calloc(1, sizeof(router_node)))) {
                rc = -COOP_ENOMEM;
                goto out_fail;
            }
            node = node->param_child;
        } else {
            node = child_literal(node, seg, len, 1);
            if (!node) {
                rc = -COOP_ENOMEM;
                goto out_fail;
            }
        }
        p = seg + len;
    }

    if (node->routes[mi]) {
        snprintf(err, errlen, "%s %s is already registered (as %s)", method_names[mi],
                 template_path, node->routes[mi]->template_path);
        rc = -COOP_EEXIST;
        goto out_fail;
    }
    if (r->nentries == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        route_entry **grown = realloc(r->entries, cap * sizeof(*grown));
        if (!grown) {
            rc = -COOP_ENOMEM;
            goto out_fail;
        }
        r->entries = grown;
        r->cap = cap;
    }
    e->body_schema = body_schema;
    node->routes[mi] = e;
    r->entries[r->nentries++] = e;
    return 0;

out_fail:
    /* Nodes created on the way stay: they are harmless (no routes) and freed
     * with the router. */
    json_decref(body_schema); /* never attached to e on failure */
    entry_free(e);
    return rc;
}

static unsigned node_methods(const router_node *n)
{
    unsigned m = 0;
    for (int i = 0; i < ROUTER_METHODS; i++)
        if (n->routes[i])
            m |= method_bits[i];
    return m;
}

typedef struct match_state {
    const char *const *segs;
    int nsegs;
    int method_index;
    const char *values[ROUTER_MAX_PARAMS];
    unsigned path_methods; /* union of the methods of every node whose path matched */
} match_state;

/* Depth-first: returns the node that has the method. Every node whose path
 * matched adds its methods to path_methods; when none has the method, the
 * search has visited them all, so the 405's Allow is the union over every
 * template the path fits (GET /a/new and POST /a/{id}: PUT /a/new allows
 * GET and POST, both of which would be served). */
static const router_node *match_node(const router_node *n, int depth, int nvalues, match_state *st)
{
    if (depth == st->nsegs) {
        unsigned methods = node_methods(n);
        st->path_methods |= methods;
        return st->method_index >= 0 && n->routes[st->method_index] ? n : NULL;
    }
    const char *seg = st->segs[depth];
    for (size_t i = 0; i < n->nchildren; i++) {
        if (strcmp(n->children[i]->literal, seg) == 0) {
            const router_node *found = match_node(n->children[i], depth + 1, nvalues, st);
            if (found)
                return found;
            break; /* literals are unique among siblings */
        }
    }
    if (n->param_child && seg[0] != '\0' && nvalues < ROUTER_MAX_PARAMS) {
        st->values[nvalues] = seg;
        return match_node(n->param_child, depth + 1, nvalues + 1, st);
    }
    return NULL;
}

enum router_result router_lookup(const router *r, unsigned method, const char *raw_path,
                                 char *scratch, size_t scratch_len, router_match *m)
{
    const char *segs[ROUTER_MAX_SEGMENTS];
    int nsegs = 0;
    size_t used = 0;

    memset(m, 0, sizeof(*m));
    if (!r || !raw_path || raw_path[0] != '/')
        return ROUTER_NOT_FOUND;

    const char *p = raw_path;
    while (*p == '/') {
        const char *seg = p + 1;
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (nsegs == ROUTER_MAX_SEGMENTS)
            return ROUTER_NOT_FOUND;
        if (used + len + 1 > scratch_len)
            return ROUTER_NOT_FOUND; /* the caller sized scratch too small: treat as unknown */
        long n = router_percent_decode(seg, len, scratch + used, 0);
        if (n < 0)
            return ROUTER_BAD_PATH;
        segs[nsegs++] = scratch + used;
        used += (size_t)n + 1;
        p = seg + len;
    }
    m->nsegments = nsegs;

    match_state st = {.segs = segs, .nsegs = nsegs, .method_index = router_method_index(method)};
    const router_node *found = match_node(&r->root, 0, 0, &st);
    if (found) {
        m->route = found->routes[st.method_index];
        m->allowed = st.path_methods; /* the templates visited so far: enough for a match */
        m->nparams = m->route->nparams;
        for (int i = 0; i < m->nparams; i++)
            m->values[i] = st.values[i];
        return ROUTER_FOUND;
    }
    if (st.path_methods) {
        m->allowed = st.path_methods;
        return ROUTER_METHOD_NOT_ALLOWED;
    }
    return ROUTER_NOT_FOUND;
}
