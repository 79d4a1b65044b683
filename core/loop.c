/*
 * The process's one event loop. Modules that need it after start-up (timers,
 * the database pool, HTTP) read it from here rather than having it threaded
 * through every call.
 */
#include "loop_internal.h"

#include <stddef.h>

static struct event_base *the_base;

void loop_set(struct event_base *base)
{
    the_base = base;
}

struct event_base *loop_base(void)
{
    return the_base;
}
