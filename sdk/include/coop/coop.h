/*
 * coop SDK umbrella header: include this one in a plugin.
 */
#ifndef COOP_COOP_H
#define COOP_COOP_H

#include "types.h"
#include "host.h"
#include "plugin.h"
#include "http.h"
#include "db.h"
#include "log.h"
#include "timer.h"
#include "service.h"

#endif /* COOP_COOP_H */
