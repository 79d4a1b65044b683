/*
 * The configuration file: one JSON object, validated before anything starts.
 *
 *   {
 *     "listen": "127.0.0.1:8080",                 host:port, [v6]:port; port 0 = any free
 *     "database": {"conninfo": "dbname=coop",     libpq; secrets from PGPASSWORD/.pgpass
 *                  "pool_size": 4},                1..64, default 4
 *     "http": {"max_body_bytes": 1048576},        1..1 GiB, default 1 MiB
 *     "auth": {"token_cache_seconds": 30},        0..3600, default 30
 *     "plugin_dir": "../build/plugins",           relative to this file's folder
 *     "plugins": {"hello": {}, "voting": {...}}   name -> settings (checked by plugin.c)
 *   }
 *
 * Unknown keys are errors, reported with their JSON pointer, so that a
 * misspelt setting never silently falls back to its default. The shape is
 * checked by the same schema validator that checks plugin settings; what a
 * schema cannot say (the listen address, the connection string, folders) is
 * checked by hand below.
 */
#include "config_internal.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>

#include "schema_internal.h"

#define DEFAULT_POOL_SIZE 4
#define DEFAULT_MAX_BODY_BYTES 1048576
#define DEFAULT_TOKEN_CACHE_SECONDS 30

static const char config_schema_text[] =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"required\": [\"listen\", \"database\"],"
    " \"properties\": {"
    "  \"listen\": {\"type\": \"string\", \"minLength\": 1},"
    "  \"database\": {\"type\": \"object\", \"additionalProperties\": false,"
    "   \"required\": [\"conninfo\"],"
    "   \"properties\": {\"conninfo\": {\"type\": \"string\"},"
    "    \"pool_size\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 64}}},"
    "  \"http\": {\"type\": \"object\", \"additionalProperties\": false,"
    "   \"properties\": {\"max_body_bytes\": {\"type\": \"integer\", \"minimum\": 1,"
    "    \"maximum\": 1073741824}}},"
    "  \"auth\": {\"type\": \"object\", \"additionalProperties\": false,"
    "   \"properties\": {\"token_cache_seconds\": {\"type\": \"integer\", \"minimum\": 0,"
    "    \"maximum\": 3600}}},"
    "  \"plugin_dir\": {\"type\": \"string\", \"minLength\": 1},"
    "  \"plugins\": {\"type\": \"object\"}}}";

int config_is_plugin_name(const char *name)
{
    size_t len = strlen(name);
    if (len < 1 || len > 31 || name[0] < 'a' || name[0] > 'z')
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* An IPv6 address in brackets, an IPv4 address in dotted decimal, or a host
 * name (resolved when http.c binds). */
static int check_listen_host(const char *host, int bracketed, const char **why)
{
    unsigned char addr[sizeof(struct in6_addr)];
    if (bracketed) {
        if (inet_pton(AF_INET6, host, addr) != 1) {
            *why = "not an IPv6 address inside the brackets";
            return -1;
        }
        return 0;
    }
    if (strspn(host, "0123456789.") == strlen(host)) {
        if (inet_pton(AF_INET, host, addr) != 1) {
            *why = "not an IPv4 address";
            return -1;
        }
        return 0;
    }
    size_t len = strlen(host);
    if (len > 253 ||
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != len ||
        host[0] == '-' || host[0] == '.') {
        *why = "not a host name or IP address";
        return -1;
    }
    return 0;
}

/* "host:port", "[v6]:port". Returns 0, or -1 with the reason in why. */
static int parse_listen(const char *text, char **host, int *port, const char **why)
{
    const char *host_start = text, *host_end, *port_text;
    if (text[0] == '[') {
        host_start = text + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':') {
            *why = "expected \"[address]:port\" for an IPv6 address";
            return -1;
        }
        port_text = host_end + 2;
    } else {
        host_end = strrchr(text, ':');
        if (!host_end) {
            *why = "expected \"host:port\"";
            return -1;
        }
        if (memchr(text, ':', (size_t)(host_end - text))) {
            *why = "write an IPv6 address in brackets: \"[::1]:8080\"";
            return -1;
        }
        port_text = host_end + 1;
    }
    if (host_end == host_start) {
        *why = "the host is empty (use 0.0.0.0 or [::] for every address)";
        return -1;
    }
    long value = 0;
    if (!*port_text) {
        *why = "the port is missing";
        return -1;
    }
    for (const char *p = port_text; *p; p++) {
        if (*p < '0' || *p > '9' || value > 65535) {
            *why = "the port must be a number from 0 to 65535";
            return -1;
        }
        value = value * 10 + (*p - '0');
    }
    if (value > 65535) {
        *why = "the port must be a number from 0 to 65535";
        return -1;
    }
    *host = strndup(host_start, (size_t)(host_end - host_start));
    if (!*host)
        return -1;
    *port = (int)value;
    if (check_listen_host(*host, text[0] == '[', why) < 0) {
        free(*host);
        *host = NULL;
        return -1;
    }
    return 0;
}

/* Checks a libpq connection string without connecting. Passwords are refused:
 * the config file is not a place for secrets (DESIGN.md). */
static int check_conninfo(const char *conninfo, const char **why, char *buf, size_t buflen)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    if (!opts) {
        snprintf(buf, buflen, "%s", errmsg ? errmsg : "not a libpq connection string");
        /* libpq's messages end in a newline; an error stays one line. */
        for (char *p = buf; *p; p++)
            if (*p == '\n')
                *p = (p[1] ? ' ' : '\0');
        PQfreemem(errmsg);
        *why = buf;
        return -1;
    }
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val) {
            *why = "holds a password; give it through PGPASSWORD or ~/.pgpass instead";
            rc = -1;
        }
    }
    PQconninfoFree(opts);
    return rc;
}

/* dir + "/" + path unless path is absolute; without "..", "." and symbolic links
 * when the folder exists, so that logs and errors show where it really is. */
static char *resolve_path(const char *dir, const char *path)
{
    char *joined;
    if (path[0] == '/') {
        joined = strdup(path);
    } else {
        size_t n = strlen(dir) + 1 + strlen(path) + 1;
        joined = malloc(n);
        if (joined)
            snprintf(joined, n, "%s/%s", dir, path);
    }
    char *real = joined ? realpath(joined, NULL) : NULL;
    if (real) {
        free(joined);
        return real;
    }
    return joined;
}

static int fail(coop_config *cfg, char *err, size_t errlen, const char *path, const char *pointer,
                const char *reason)
{
    if (pointer && *pointer)
        snprintf(err, errlen, "%s: %s: %s", path, pointer, reason);
    else
        snprintf(err, errlen, "%s: %s", path, reason);
    config_free(cfg);
    return -1;
}

static int int_or(const json_t *obj, const char *key, int fallback)
{
    const json_t *v = json_object_get(obj, key);
    return v ? (int)json_integer_value(v) : fallback;
}

int config_load(const char *path, coop_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    char reason[512];

    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(reason, sizeof(reason), "cannot read: %s", strerror(errno));
        return fail(cfg, err, errlen, path, NULL, reason);
    }
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!root) {
        snprintf(reason, sizeof(reason), "line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return fail(cfg, err, errlen, path, NULL, reason);
    }

    json_t *schema = json_loads(config_schema_text, 0, NULL);
    json_t *errors = schema ? schema_validate(schema, root) : NULL;
    json_decref(schema);
    if (!errors) {
        json_decref(root);
        return fail(cfg, err, errlen, path, NULL, "out of memory");
    }
    if (json_array_size(errors) > 0) {
        const json_t *first = json_array_get(errors, 0);
        size_t more = json_array_size(errors) - 1;
        snprintf(reason, sizeof(reason), "%s",
                 json_string_value(json_object_get(first, "message")));
        if (more)
            snprintf(reason + strlen(reason), sizeof(reason) - strlen(reason),
                     " (and %zu more error%s)", more, more == 1 ? "" : "s");
        char pointer[256];
        snprintf(pointer, sizeof(pointer), "%s",
                 json_string_value(json_object_get(first, "pointer")));
        json_decref(errors);
        json_decref(root);
        return fail(cfg, err, errlen, path, pointer, reason);
    }
    json_decref(errors);

    cfg->path = strdup(path);
    char *copy = strdup(path);
    char absdir[PATH_MAX];
    if (!cfg->path || !copy || !realpath(dirname(copy), absdir)) {
        snprintf(reason, sizeof(reason), "cannot resolve its folder: %s", strerror(errno));
        free(copy);
        json_decref(root);
        return fail(cfg, err, errlen, path, NULL, reason);
    }
    free(copy);
    cfg->dir = strdup(absdir);
    if (!cfg->dir) {
        json_decref(root);
        return fail(cfg, err, errlen, path, NULL, "out of memory");
    }

    const char *why = NULL;
    if (parse_listen(json_string_value(json_object_get(root, "listen")), &cfg->listen_host,
                     &cfg->listen_port, &why) < 0) {
        json_decref(root);
        return fail(cfg, err, errlen, path, "/listen", why ? why : "out of memory");
    }

    const json_t *database = json_object_get(root, "database");
    const char *conninfo = json_string_value(json_object_get(database, "conninfo"));
    if (check_conninfo(conninfo, &why, reason, sizeof(reason)) < 0) {
        char copy_why[512];
        snprintf(copy_why, sizeof(copy_why), "%s", why);
        json_decref(root);
        return fail(cfg, err, errlen, path, "/database/conninfo", copy_why);
    }
    cfg->conninfo = strdup(conninfo);
    cfg->pool_size = int_or(database, "pool_size", DEFAULT_POOL_SIZE);
    cfg->max_body_bytes =
        (size_t)int_or(json_object_get(root, "http"), "max_body_bytes", DEFAULT_MAX_BODY_BYTES);
    cfg->token_cache_seconds =
        int_or(json_object_get(root, "auth"), "token_cache_seconds", DEFAULT_TOKEN_CACHE_SECONDS);

    json_t *plugins = json_object_get(root, "plugins");
    cfg->plugins = plugins ? json_incref(plugins) : json_object();
    const char *name;
    json_t *settings;
    json_object_foreach(cfg->plugins, name, settings)
    {
        (void)settings;
        if (!config_is_plugin_name(name) || strcmp(name, "core") == 0) {
            char pointer[300];
            snprintf(pointer, sizeof(pointer), "/plugins/%s", name);
            /* A name with "/" or "~" is refused here anyway; the pointer stays readable. */
            json_decref(root);
            return fail(cfg, err, errlen, path, pointer,
                        strcmp(name, "core") == 0
                            ? "\"core\" is reserved for coopd itself"
                            : "not a plugin name (a lowercase letter, then up to 30 lowercase "
                              "letters, digits or _)");
        }
    }

    const json_t *plugin_dir = json_object_get(root, "plugin_dir");
    cfg->plugin_dir =
        resolve_path(cfg->dir, plugin_dir ? json_string_value(plugin_dir) : "plugins");
    json_decref(root);
    if (!cfg->conninfo || !cfg->plugins || !cfg->plugin_dir)
        return fail(cfg, err, errlen, path, NULL, "out of memory");

    /* Only a folder that will be read has to exist. */
    if (json_object_size(cfg->plugins) > 0) {
        struct stat st;
        int stat_failed = stat(cfg->plugin_dir, &st) < 0;
        if (stat_failed || !S_ISDIR(st.st_mode)) {
            snprintf(reason, sizeof(reason), "%s: %s", cfg->plugin_dir,
                     stat_failed ? strerror(errno) : "not a folder");
            return fail(cfg, err, errlen, path, plugin_dir ? "/plugin_dir" : NULL, reason);
        }
    }
    return 0;
}

void config_free(coop_config *cfg)
{
    free(cfg->path);
    free(cfg->dir);
    free(cfg->listen_host);
    free(cfg->conninfo);
    free(cfg->plugin_dir);
    json_decref(cfg->plugins);
    memset(cfg, 0, sizeof(*cfg));
}
