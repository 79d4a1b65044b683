/*
 * Named, versioned services between plugins: "<service>/<major>", where the
 * service is dot-separated lowercase words ("contrib.shares") and the major a
 * positive number. A provider registers during its init; a consumer looks it
 * up from start on (until it stops), and only from plugins it depends on (or
 * the core), because only those are guaranteed to have started before it.
 */
#include "service_internal.h"

#include <stdlib.h>
#include <string.h>

#include "log_internal.h"
#include "plugin_internal.h"

typedef struct service_entry {
    struct service_entry *next;
    const coop_plugin *provider;
    const void *vtable;
    char name[];
} service_entry;

static service_entry *services;
static service_entry **services_tail = &services;

/* [a-z][a-z0-9_]* ("." [a-z][a-z0-9_]*)* "/" [1-9][0-9]{0,5}, at most 96 bytes. */
int service_name_valid(const char *name)
{
    if (!name || strlen(name) > 96)
        return 0;
    const char *p = name;
    for (;;) {
        if (*p < 'a' || *p > 'z')
            return 0;
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
            p++;
        if (*p == '.') {
            p++;
            continue;
        }
        break;
    }
    if (*p++ != '/' || *p < '1' || *p > '9')
        return 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 7)
        p++, digits++;
    return *p == '\0' && digits <= 6;
}

static service_entry *service_find(const char *name)
{
    for (service_entry *e = services; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

int host_service_provide(coop_plugin *p, const char *name, const void *vtable)
{
    if (!p || !vtable || !service_name_valid(name))
        return -COOP_EINVAL;
    if (p->state != PLUGIN_INITIALISING)
        return -COOP_ESTATE;
    if (service_find(name))
        return -COOP_EEXIST;
    size_t n = strlen(name);
    service_entry *e = malloc(sizeof(*e) + n + 1);
    if (!e)
        return -COOP_ENOMEM;
    memcpy(e->name, name, n + 1);
    e->provider = p;
    e->vtable = vtable;
    e->next = NULL;
    *services_tail = e;
    services_tail = &e->next;
    return 0;
}

static int depends_on(const coop_plugin *p, const char *provider)
{
    if (!p->desc || !p->desc->depends)
        return 0;
    for (const char *const *d = p->desc->depends; *d; d++)
        if (strcmp(*d, provider) == 0)
            return 1;
    return 0;
}

const void *host_service_get(coop_plugin *p, const char *name)
{
    if (!p || !name)
        return NULL;
    /* PLUGIN_STOPPED sorts after the running states, so it is tested apart: a
     * stopped plugin (or a core that has stopped) must not reach a provider
     * that may have released what its vtable points into. */
    if (p->state == PLUGIN_STOPPED) {
        log_write(COOP_LOG_WARN, p->name, "coop_service_get(%s) refused: coopd is stopping", name);
        return NULL;
    }
    if (p != core_plugin() && p->state < PLUGIN_INITIALISED) {
        log_write(COOP_LOG_WARN, p->name, "coop_service_get(%s) refused: call it from start on",
                  name);
        return NULL;
    }
    service_entry *e = service_find(name);
    if (!e)
        return NULL;
    if (e->provider != p && e->provider != core_plugin() && p != core_plugin() &&
        !depends_on(p, e->provider->name)) {
        log_write(COOP_LOG_WARN, p->name,
                  "service %s is provided by %s, which is not among this plugin's depends", name,
                  e->provider->name);
        return NULL;
    }
    return e->vtable;
}

json_t *services_of(const coop_plugin *p)
{
    json_t *names = json_array();
    for (service_entry *e = services; e && names; e = e->next)
        if (e->provider == p)
            json_array_append_new(names, json_string(e->name));
    return names;
}

void services_clear(void)
{
    while (services) {
        service_entry *e = services;
        services = e->next;
        free(e);
    }
    services_tail = &services;
}
