/*
 * Connection parameters: the operator's conninfo, parsed once by libpq, plus
 * the settings coopd adds where the operator (in the conninfo, or through
 * libpq's environment variables) left them out.
 *
 * Host names are resolved here, once, at start-up: libpq resolves a `host`
 * that is a name with a blocking getaddrinfo() inside PQconnectStartParams,
 * which on the event loop would freeze coopd for as long as DNS takes on
 * every reconnect. Given `hostaddr`, libpq connects to the address and still
 * uses `host` for TLS verification and ~/.pgpass, so both are kept. The price
 * is that a DNS change needs a restart of coopd, which the start-up log says.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include "db_internal.h"
#include "log_internal.h"

/* A name with more addresses than this is tried at its first ones only. */
#define DB_HOST_ADDRESSES_MAX 8

int db_params_parse(db_params *p, const char *conninfo, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    char *why = NULL;
    p->options = PQconninfoParse(conninfo, &why);
    if (!p->options) {
        char line[256];
        db_first_line(why ? why : "out of memory", line, sizeof line);
        snprintf(err, errlen, "database: conninfo: %s", line);
        PQfreemem(why);
        return -1;
    }
    size_t n = 0;
    for (const PQconninfoOption *o = p->options; o->keyword; o++)
        n++;
    /* Every keyword appears at most once, so n + 1 entries always suffice. */
    p->keywords = calloc(n + 1, sizeof *p->keywords);
    p->values = calloc(n + 1, sizeof *p->values);
    if (!p->keywords || !p->values) {
        db_params_free(p);
        snprintf(err, errlen, "database: out of memory");
        return -1;
    }
    for (const PQconninfoOption *o = p->options; o->keyword; o++) {
        if (!o->val)
            continue;
        p->keywords[p->count] = o->keyword;
        p->values[p->count++] = o->val;
    }
    return 0;
}

void db_params_free(db_params *p)
{
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    free(p->keywords);
    free(p->values);
    if (p->options)
        PQconninfoFree(p->options);
    memset(p, 0, sizeof *p);
}

static const PQconninfoOption *option_of(const db_params *p, const char *keyword)
{
    for (const PQconninfoOption *o = p->options; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o;
    return NULL;
}

const char *db_params_get(const db_params *p, const char *keyword)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->keywords[i], keyword) == 0)
            return p->values[i];
    /* Not in the conninfo: libpq would take its environment variable. */
    const PQconninfoOption *o = option_of(p, keyword);
    const char *env = o && o->envvar ? getenv(o->envvar) : NULL;
    return env && *env ? env : NULL;
}

int db_params_set(db_params *p, const char *keyword, const char *value)
{
    const PQconninfoOption *o = option_of(p, keyword);
    if (!o || p->nowned >= DB_PARAMS_OWNED)
        return -1;
    char *copy = strdup(value);
    if (!copy)
        return -1;
    p->owned[p->nowned++] = copy;
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->keywords[i], keyword) == 0) {
            p->values[i] = copy;
            return 0;
        }
    }
    p->keywords[p->count] = o->keyword;
    p->values[p->count++] = copy;
    return 0;
}

int db_params_default(db_params *p, const char *keyword, const char *value)
{
    return db_params_get(p, keyword) ? 0 : db_params_set(p, keyword, value);
}

/* ------------------------------------------------------------------------- */
/* Host names */

/* A growing comma-separated list. */
typedef struct list {
    char *text;
    size_t len, cap;
    int items;
} list;

static int list_add(list *l, const char *item)
{
    size_t n = strlen(item);
    if (l->len + n + 2 > l->cap) {
        size_t cap = (l->len + n + 2) * 2;
        char *text = realloc(l->text, cap);
        if (!text)
            return -1;
        l->text = text;
        l->cap = cap;
    }
    if (l->items++ > 0)
        l->text[l->len++] = ',';
    memcpy(l->text + l->len, item, n + 1);
    l->len += n;
    return 0;
}

/* The index-th item of a comma-separated list, copied into out. */
static void list_item(const char *text, int index, char *out, size_t outlen)
{
    const char *start = text;
    for (int i = 0; i < index && start; i++) {
        start = strchr(start, ',');
        if (start)
            start++;
    }
    size_t n = start ? strcspn(start, ",") : 0;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, start ? start : "", n);
    out[n] = '\0';
}

static int list_count(const char *text)
{
    int n = 1;
    for (const char *c = text; *c; c++)
        n += *c == ',';
    return n;
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Appends host's addresses to addrs (host and port repeated alongside), or
 * the host alone with an empty hostaddr (libpq then treats it as before)
 * when it is a socket path, an address already, or does not resolve. */
static int add_host(const char *host, const char *port, list *hosts, list *addrs, list *ports,
                    int *resolved)
{
    if (!host[0] || host[0] == '/' || host[0] == '@' || is_ip_literal(host))
        return list_add(hosts, host) || list_add(addrs, is_ip_literal(host) ? host : "") ||
                       (port && list_add(ports, port))
                   ? -1
                   : 0;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &found);
    if (rc != 0) {
        log_write(COOP_LOG_WARN, "db",
                  "cannot resolve database host %s at start-up (%s); each reconnect will "
                  "resolve it on the event loop",
                  host, gai_strerror(rc));
        return list_add(hosts, host) || list_add(addrs, "") || (port && list_add(ports, port)) ? -1
                                                                                               : 0;
    }
    int failed = 0, nseen = 0;
    char seen[DB_HOST_ADDRESSES_MAX][INET6_ADDRSTRLEN];
    for (struct addrinfo *a = found; a && !failed && nseen < DB_HOST_ADDRESSES_MAX;
         a = a->ai_next) {
        char *text = seen[nseen];
        const void *where = a->ai_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            !inet_ntop(a->ai_family, where, text, INET6_ADDRSTRLEN))
            continue;
        int again = 0;
        for (int i = 0; i < nseen && !again; i++)
            again = strcmp(seen[i], text) == 0;
        if (again)
            continue;
        nseen++;
        /* One entry per address, tried in turn as libpq would have. */
        failed = list_add(hosts, host) || list_add(addrs, text) || (port && list_add(ports, port));
        if (!failed)
            log_write(COOP_LOG_INFO, "db",
                      "database host %s resolved to %s at start-up (a DNS change needs a "
                      "restart of coopd)",
                      host, text);
    }
    if (nseen == 0 && !failed) /* no address we can use: let libpq say so */
        failed = list_add(hosts, host) || list_add(addrs, "") || (port && list_add(ports, port));
    *resolved += nseen;
    freeaddrinfo(found);
    return failed ? -1 : 0;
}

int db_params_resolve_hosts(db_params *p)
{
    const char *host = db_params_get(p, "host");
    if (!host || db_params_get(p, "hostaddr"))
        return 0;
    const char *port = db_params_get(p, "port");
    int nhosts = list_count(host);
    int nports = port ? list_count(port) : 0;
    if (nports > 1 && nports != nhosts)
        return 0; /* libpq refuses this itself, with its own message */
    list hosts = {0}, addrs = {0}, ports = {0};
    int rc = 0, resolved = 0;
    for (int i = 0; i < nhosts && rc == 0; i++) {
        char one[256], one_port[32];
        list_item(host, i, one, sizeof one);
        if (nports > 1)
            list_item(port, i, one_port, sizeof one_port);
        rc = add_host(one, nports > 1 ? one_port : NULL, &hosts, &addrs, &ports, &resolved);
    }
    /* Only names need a hostaddr: leave sockets and addresses as they were. */
    if (rc == 0 && resolved > 0)
        rc = db_params_set(p, "host", hosts.text) || db_params_set(p, "hostaddr", addrs.text) ||
                     (nports > 1 && db_params_set(p, "port", ports.text))
                 ? -1
                 : 0;
    free(hosts.text);
    free(addrs.text);
    free(ports.text);
    return rc;
}
