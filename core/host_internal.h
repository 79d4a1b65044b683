/* The table of host functions handed to plugins (owner: host.c).
 *
 * Convention: every member of coop_host_api is implemented by a function named
 * host_<member> with exactly the member's signature, declared in the internal
 * header of the module that owns it (http_internal.h, db_internal.h, ...). */
#ifndef COOP_HOST_INTERNAL_H
#define COOP_HOST_INTERNAL_H

#include <coop/host.h>

extern const coop_host_api core_host_api;

#endif
