/* Named, versioned services between plugins (owner: service.c). */
#ifndef COOP_SERVICE_INTERNAL_H
#define COOP_SERVICE_INTERNAL_H

#include <jansson.h>

#include <coop/types.h>

int host_service_provide(coop_plugin *p, const char *name, const void *vtable);
const void *host_service_get(coop_plugin *p, const char *name);
/* Names the plugin provides, as a new JSON array (for /v1/plugins). */
json_t *services_of(const coop_plugin *p);
void services_clear(void);
/* 1 when name has the form "<service>/<major>", e.g. "contrib.shares/1". */
int service_name_valid(const char *name);

#endif
