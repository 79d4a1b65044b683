/*
 * Loaded plugins and their lifecycle: load (dlopen, ABI check, settings
 * validated against the plugin's schema), dependency order, migrate, init,
 * start, stop (in reverse), unload.
 *
 * Every failure is reported as one "<culprit>: <reason>" line for coopd to
 * print before it exits with status 2, so an operator reads which plugin is at
 * fault and why, never a crash or a stack of messages.
 */
#include "plugin_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_internal.h"
#include "host_internal.h"
#include "schema_internal.h"

/* A plugin's depends list longer than this is a mistake (or a missing NULL). */
#define MAX_DEPENDS 32

/* The descriptor size of ABI 1.0, whose last field before the reserved slots is
 * stop: later minors append after stop, so every 1.x descriptor is at least this
 * large. */
#define DESCRIPTOR_V1_0_SIZE                                                                       \
    (offsetof(coop_plugin_descriptor, stop) + sizeof(void (*)(void)) + 8 * sizeof(void *))

/* Settings schema of a plugin that declares none: only {} is accepted. */
static const char no_settings_schema[] = "{\"type\": \"object\", \"additionalProperties\": false}";

static coop_plugin core = {.name = "core", .mount = "", .state = PLUGIN_LOADED};

/* Loaded plugins; in configuration order while loading, dependency order once
 * plugins_load() has succeeded. */
static coop_plugin **plugins;
static size_t nplugins;

coop_plugin *core_plugin(void)
{
    return &core;
}

size_t plugins_count(void)
{
    return nplugins;
}

coop_plugin *plugins_at(size_t i)
{
    return i < nplugins ? plugins[i] : NULL;
}

static coop_plugin *plugin_find(const char *name)
{
    for (size_t i = 0; i < nplugins; i++)
        if (strcmp(plugins[i]->name, name) == 0)
            return plugins[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Loading one plugin */

static int load_fail(char *err, size_t errlen, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int load_fail(char *err, size_t errlen, const char *name, const char *fmt, ...)
{
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "plugin %s: %s", name, reason);
    return -1;
}

/* A migration's name is its key in coop.schema_migrations and appears in error
 * lines: a second migration of the same name would be taken as already applied
 * (or as edited), and a name with a control character would break the one-line
 * refusal. '/' is refused too, so that a name never reads as a path. Names are
 * printed only once they are known to be printable; migrations are numbered from
 * 1 as the plugin lists them. */
int plugin_check_migrations(const char *plugin, const coop_migration *migrations, char *err,
                            size_t errlen)
{
    for (size_t i = 0; migrations && migrations[i].name; i++) {
        const coop_migration *m = &migrations[i];
        if (!*m->name)
            return load_fail(err, errlen, plugin, "migration #%zu has an empty name", i + 1);
        for (const unsigned char *c = (const unsigned char *)m->name; *c; c++)
            if (*c < 0x20 || *c == 0x7f)
                return load_fail(err, errlen, plugin,
                                 "migration #%zu has a control character (0x%02x) in its name",
                                 i + 1, *c);
        if (strchr(m->name, '/'))
            return load_fail(err, errlen, plugin, "migration #%zu has a '/' in its name: %.64s",
                             i + 1, m->name);
        if (!m->sql)
            return load_fail(err, errlen, plugin, "migration %.64s has no SQL", m->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(migrations[j].name, m->name) == 0)
                return load_fail(err, errlen, plugin,
                                 "migration #%zu has the same name as #%zu: %.64s", i + 1, j + 1,
                                 m->name);
    }
    return 0;
}

/* Checks what a descriptor says about itself, ABI first: the layout of a
 * descriptor of another major version is unknown, so nothing else is read
 * from it. */
static int check_descriptor(const coop_plugin *p, const coop_plugin_descriptor *d, char *err,
                            size_t errlen)
{
    if (!d)
        return load_fail(err, errlen, p->name, "coop_plugin_entry returned no descriptor");
    if (d->abi_major != COOP_ABI_MAJOR)
        return load_fail(err, errlen, p->name, "built for SDK ABI %u.%u, coopd has %d.%d",
                         d->abi_major, d->abi_minor, COOP_ABI_MAJOR, COOP_ABI_MINOR);
    if (d->abi_minor > COOP_ABI_MINOR)
        return load_fail(err, errlen, p->name,
                         "built for SDK ABI %u.%u, newer than coopd's %d.%d; upgrade coopd",
                         d->abi_major, d->abi_minor, COOP_ABI_MAJOR, COOP_ABI_MINOR);
    if (d->size < DESCRIPTOR_V1_0_SIZE)
        return load_fail(err, errlen, p->name,
                         "descriptor is %u bytes, smaller than ABI 1.0's %zu; rebuild the plugin",
                         d->size, (size_t)DESCRIPTOR_V1_0_SIZE);
    if (!d->name)
        return load_fail(err, errlen, p->name, "descriptor has no name");
    if (strcmp(d->name, p->name) != 0)
        return load_fail(err, errlen, p->name, "%s.so declares the name \"%.64s\"", p->name,
                         d->name);
    if (!d->version || !*d->version)
        return load_fail(err, errlen, p->name, "descriptor has no version");
    if (!d->init)
        return load_fail(err, errlen, p->name, "descriptor has no init function");
    size_t ndeps = 0;
    for (const char *const *dep = d->depends; dep && *dep; dep++, ndeps++) {
        if (ndeps >= MAX_DEPENDS)
            return load_fail(err, errlen, p->name, "depends on more than %d plugins", MAX_DEPENDS);
        if (!config_is_plugin_name(*dep))
            return load_fail(err, errlen, p->name, "depends on \"%.64s\", not a plugin name", *dep);
    }
    return plugin_check_migrations(p->name, d->migrations, err, errlen);
}

/* Validates the plugin's settings against its schema. Errors name the config
 * file and the pointer of the wrong setting: "<file>: /plugins/<name>/x: ...". */
static int check_settings(coop_plugin *p, const coop_config *cfg, const json_t *settings, char *err,
                          size_t errlen)
{
    const coop_plugin_descriptor *d = p->desc;
    char why[512];
    json_t *schema =
        schema_parse(d->config_schema ? d->config_schema : no_settings_schema, why, sizeof(why));
    if (!schema)
        return load_fail(err, errlen, p->name, "config_schema: %s", why);
    json_t *errors = schema_validate(schema, settings);
    json_decref(schema);
    if (!errors)
        return load_fail(err, errlen, p->name, "out of memory");
    size_t n = json_array_size(errors);
    if (n > 0) {
        const json_t *first = json_array_get(errors, 0);
        char more[48] = "";
        if (n > 1)
            snprintf(more, sizeof(more), " (and %zu more error%s)", n - 1, n > 2 ? "s" : "");
        snprintf(err, errlen, "%s: /plugins/%s%s: %s%s", cfg->path, p->name,
                 json_string_value(json_object_get(first, "pointer")),
                 json_string_value(json_object_get(first, "message")), more);
        json_decref(errors);
        return -1;
    }
    json_decref(errors);
    return 0;
}

static int plugin_load_one(coop_plugin *p, const coop_config *cfg, const json_t *settings,
                           char *err, size_t errlen)
{
    struct stat st;
    if (stat(p->path, &st) < 0)
        return load_fail(err, errlen, p->name, "cannot load %s: %s", p->path, strerror(errno));

    dlerror();
    p->dl_handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl_handle) {
        const char *why = dlerror();
        return load_fail(err, errlen, p->name, "cannot load: %s", why ? why : "dlopen failed");
    }
    coop_plugin_entry_fn entry;
    /* POSIX's way of turning dlsym's object pointer into a function pointer. */
    *(void **)(&entry) = dlsym(p->dl_handle, "coop_plugin_entry");
    if (!entry)
        return load_fail(err, errlen, p->name,
                         "%s exports no coop_plugin_entry; is it a coopd plugin?", p->path);
    p->desc = entry(&core_host_api);
    if (check_descriptor(p, p->desc, err, errlen) < 0)
        return -1;
    if (check_settings(p, cfg, settings, err, errlen) < 0)
        return -1;
    p->config = json_incref((json_t *)settings);
    p->state = PLUGIN_LOADED;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Dependency order */

enum { UNVISITED, VISITING, DONE };

typedef struct order_ctx {
    coop_plugin **sorted; /* post-order: dependencies first */
    size_t nsorted;
    int *mark;     /* per plugins[] index */
    size_t *stack; /* the path being visited, as plugins[] indices */
    size_t depth;
    char *err;
    size_t errlen;
} order_ctx;

static size_t plugin_index(const coop_plugin *p)
{
    for (size_t i = 0; i < nplugins; i++)
        if (plugins[i] == p)
            return i;
    return nplugins;
}

/* "plugins a, b: dependency cycle a -> b -> a", from the stack position where
 * the cycle starts. */
static int report_cycle(order_ctx *o, size_t from, size_t again)
{
    char names[512] = "", path[768] = "";
    for (size_t i = from; i < o->depth; i++) {
        const char *name = plugins[o->stack[i]]->name;
        size_t nl = strlen(names), pl = strlen(path);
        snprintf(names + nl, sizeof(names) - nl, "%s%s", i == from ? "" : ", ", name);
        snprintf(path + pl, sizeof(path) - pl, "%s -> ", name);
    }
    size_t pl = strlen(path);
    snprintf(path + pl, sizeof(path) - pl, "%s", plugins[again]->name);
    if (o->depth - from == 1)
        snprintf(o->err, o->errlen, "plugin %s: depends on itself", names);
    else
        snprintf(o->err, o->errlen, "plugins %s: dependency cycle %s", names, path);
    return -1;
}

static int visit(order_ctx *o, size_t i)
{
    if (o->mark[i] == DONE)
        return 0;
    if (o->mark[i] == VISITING) {
        for (size_t s = 0; s < o->depth; s++)
            if (o->stack[s] == i)
                return report_cycle(o, s, i);
        return -1;
    }
    o->mark[i] = VISITING;
    o->stack[o->depth++] = i;
    for (const char *const *dep = plugins[i]->desc->depends; dep && *dep; dep++)
        if (visit(o, plugin_index(plugin_find(*dep))) < 0)
            return -1;
    o->depth--;
    o->mark[i] = DONE;
    o->sorted[o->nsorted++] = plugins[i];
    return 0;
}

/* Reorders plugins[] so that every plugin comes after the ones it depends on,
 * keeping the configuration's order otherwise. */
static int plugins_order(char *err, size_t errlen)
{
    for (size_t i = 0; i < nplugins; i++) {
        for (const char *const *dep = plugins[i]->desc->depends; dep && *dep; dep++) {
            if (!plugin_find(*dep)) {
                snprintf(err, errlen, "plugin %s: depends on %s, which is not configured",
                         plugins[i]->name, *dep);
                return -1;
            }
        }
    }
    order_ctx o = {.sorted = calloc(nplugins + 1, sizeof(*o.sorted)),
                   .mark = calloc(nplugins + 1, sizeof(*o.mark)),
                   .stack = calloc(nplugins + 1, sizeof(*o.stack)),
                   .err = err,
                   .errlen = errlen};
    int rc = 0;
    if (!o.sorted || !o.mark || !o.stack) {
        snprintf(err, errlen, "plugins: out of memory");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < nplugins; i++)
        rc = visit(&o, i);
    if (rc == 0)
        memcpy(plugins, o.sorted, nplugins * sizeof(*plugins));
    free(o.sorted);
    free(o.mark);
    free(o.stack);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Lifecycle */

int plugins_load(const coop_config *cfg, char *err, size_t errlen)
{
    size_t count = json_object_size(cfg->plugins);
    plugins = calloc(count + 1, sizeof(*plugins));
    if (!plugins) {
        snprintf(err, errlen, "plugins: out of memory");
        return -1;
    }
    const char *name;
    json_t *settings;
    json_object_foreach(cfg->plugins, name, settings)
    {
        coop_plugin *p = calloc(1, sizeof(*p));
        if (!p) {
            snprintf(err, errlen, "plugins: out of memory");
            return -1;
        }
        plugins[nplugins++] = p;
        /* config.c admits only [a-z][a-z0-9_]{0,30}, which fits both buffers. */
        snprintf(p->name, sizeof(p->name), "%s", name);
        snprintf(p->mount, sizeof(p->mount), "/v1/%s", name);
        size_t n = strlen(cfg->plugin_dir) + strlen(name) + 5;
        p->path = malloc(n);
        if (!p->path) {
            snprintf(err, errlen, "plugins: out of memory");
            return -1;
        }
        snprintf(p->path, n, "%s/%s.so", cfg->plugin_dir, name);
        if (plugin_load_one(p, cfg, settings, err, errlen) < 0) {
            p->desc = NULL; /* never call into a plugin that failed its checks */
            return -1;
        }
    }
    return plugins_order(err, errlen);
}

int plugins_migrate(PGconn *conn, char *err, size_t errlen)
{
    for (size_t i = 0; i < nplugins; i++) {
        coop_plugin *p = plugins[i];
        char why[1024];
        if (migrations_apply(conn, p->name, p->name, p->desc->migrations, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "plugin %s", why);
            return -1;
        }
    }
    return 0;
}

static void hook_failed(char *err, size_t errlen, const coop_plugin *p, const char *hook, int rc)
{
    if (rc < 0)
        snprintf(err, errlen, "plugin %s: %s failed: %s", p->name, hook, host_strerror(rc));
    else
        snprintf(err, errlen, "plugin %s: %s failed: returned %d", p->name, hook, rc);
}

int plugins_init(char *err, size_t errlen)
{
    for (size_t i = 0; i < nplugins; i++) {
        coop_plugin *p = plugins[i];
        p->state = PLUGIN_INITIALISING;
        int rc = p->desc->init(p, p->config);
        if (rc != 0) {
            /* A failed init cleans up after itself; stop is not called for it. */
            p->state = PLUGIN_STOPPED;
            hook_failed(err, errlen, p, "init", rc);
            return -1;
        }
        p->state = PLUGIN_INITIALISED;
    }
    return 0;
}

int plugins_start(char *err, size_t errlen)
{
    for (size_t i = 0; i < nplugins; i++) {
        coop_plugin *p = plugins[i];
        int rc = p->desc->start ? p->desc->start(p) : 0;
        if (rc != 0) {
            /* Left INITIALISED: plugins_stop() lets it release what init took. */
            hook_failed(err, errlen, p, "start", rc);
            return -1;
        }
        p->state = PLUGIN_STARTED;
    }
    return 0;
}

void plugins_stop(void)
{
    for (size_t i = nplugins; i-- > 0;) {
        coop_plugin *p = plugins[i];
        if (p->state != PLUGIN_INITIALISED && p->state != PLUGIN_STARTED)
            continue;
        if (p->desc->stop)
            p->desc->stop(p);
        p->state = PLUGIN_STOPPED;
    }
}

void plugins_unload(void)
{
    for (size_t i = 0; i < nplugins; i++) {
        coop_plugin *p = plugins[i];
        json_decref(p->config);
#if !defined(__SANITIZE_ADDRESS__)
        /* Under AddressSanitizer plugins stay mapped, so that a leak report
         * can still name the plugin function that allocated. */
        if (p->dl_handle)
            dlclose(p->dl_handle);
#endif
        free(p->path);
        free(p);
    }
    free(plugins);
    plugins = NULL;
    nplugins = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Host functions */

const char *host_plugin_name(const coop_plugin *p)
{
    return p ? p->name : NULL;
}

const json_t *host_plugin_config(const coop_plugin *p)
{
    return p ? p->config : NULL;
}

const char *host_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case COOP_OK:
        return "success";
    case COOP_EINVAL:
        return "invalid argument";
    case COOP_ENOMEM:
        return "out of memory";
    case COOP_ENOTFOUND:
        return "not found";
    case COOP_EEXIST:
        return "already exists";
    case COOP_EUNAVAILABLE:
        return "database unavailable";
    case COOP_EDB:
        return "database error";
    case COOP_ESTATE:
        return "called at the wrong time in the lifecycle";
    case COOP_EABI:
        return "ABI versions do not match";
    case COOP_ECANCELLED:
        return "cancelled because coopd is stopping";
    default:
        return "unknown error";
    }
}
