/*
 * coop SDK: named, versioned services between plugins.
 *
 * A service is a struct of function pointers one plugin provides under a name
 * with its major version, "contrib.shares/1", and others look up. Plugins
 * never read each other's tables. A new major is a new name: a provider may
 * offer "x/1" and "x/2" side by side.
 */
#ifndef COOP_SERVICE_H
#define COOP_SERVICE_H

#include "host.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Offers vtable (borrowed: it must live until stop, usually static const)
 *  under name ("<service>/<major>"). Call from init. Returns 0,
 *  -COOP_EINVAL (bad name), -COOP_EEXIST (already provided) or -COOP_ESTATE. */
static inline int coop_service_provide(coop_plugin *self, const char *name, const void *vtable)
{
    return coop_host->service_provide(self, name, vtable);
}

/** The vtable offered under name, or NULL. Borrowed, valid until stop. Call
 *  from start or later; the provider must be among the plugin's depends so
 *  that it started first. */
static inline const void *coop_service_get(coop_plugin *self, const char *name)
{
    return coop_host->service_get(self, name);
}

#ifdef __cplusplus
}
#endif
#endif /* COOP_SERVICE_H */
