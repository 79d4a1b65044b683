/*
 * Unit tests of core/timer.c on a real libevent loop: order of firing,
 * cancellation, chains started from a callback, cancel-all at stop, and the
 * lifecycle rule (plugins may set timers from start on, and no one once coopd
 * is stopping).
 */
#include <string.h>

#include <event2/event.h>

#include "loop_internal.h"
#include "plugin_internal.h"
#include "stderr_capture.h"
#include "timer_internal.h"
#include "unit.h"

static char fired[64];
static coop_plugin *chain_owner;

static void record(void *arg)
{
    strncat(fired, (const char *)arg, sizeof(fired) - strlen(fired) - 1);
}

static void chain(void *arg)
{
    record(arg);
    /* The handle of this timer is already freed; starting the next one is fine. */
    CHECK(host_timer_start(chain_owner, 1, record, "C") != NULL);
}

int main(void)
{
    struct event_base *base = event_base_new();
    coop_plugin *core = core_plugin();

    /* No loop yet: refused. */
    core->state = PLUGIN_STARTED;
    CHECK(host_timer_start(core, 0, record, "x") == NULL);
    loop_set(base);

    /* Fired in order of their deadlines, not of their creation; a cancelled one never. */
    fired[0] = '\0';
    CHECK(host_timer_start(core, 30, record, "3") != NULL);
    coop_timer *cancelled = host_timer_start(core, 20, record, "X");
    CHECK(cancelled != NULL);
    CHECK(host_timer_start(core, 10, record, "2") != NULL);
    CHECK(host_timer_start(core, 0, record, "1") != NULL);
    host_timer_cancel(cancelled);
    host_timer_cancel(NULL); /* harmless */
    event_base_dispatch(base);
    CHECK_STR(fired, "123");

    /* A callback may start the next timer. */
    fired[0] = '\0';
    chain_owner = core;
    CHECK(host_timer_start(core, 1, chain, "B") != NULL);
    event_base_dispatch(base);
    CHECK_STR(fired, "BC");

    /* At stop, pending timers go without their callbacks. */
    fired[0] = '\0';
    CHECK(host_timer_start(core, 5, record, "Y") != NULL);
    CHECK(host_timer_start(core, 50, record, "Z") != NULL);
    timers_cancel_all();
    event_base_dispatch(base);
    CHECK_STR(fired, "");

    /* A plugin may set timers in start (state INITIALISED) and later, not in init. */
    coop_plugin plugin = {.name = "p", .mount = "/v1/p", .state = PLUGIN_INITIALISING};
    char said[1024];
    stderr_capture c;
    stderr_capture_begin(&c);
    CHECK(host_timer_start(&plugin, 0, record, "I") == NULL);
    stderr_capture_end(&c, said, sizeof(said));
    CHECK(strstr(said, " level=warn component=p msg=\"coop_timer_start refused: call it from "
                       "start or later\"\n") != NULL);
    plugin.state = PLUGIN_INITIALISED;
    coop_timer *t = host_timer_start(&plugin, 0, record, "S");
    CHECK(t != NULL);
    plugin.state = PLUGIN_STARTED;
    CHECK(host_timer_start(&plugin, 0, record, "R") != NULL);
    /* After stop, the refusal says why: not a call too early, but coopd stopping. */
    plugin.state = PLUGIN_STOPPED;
    stderr_capture_begin(&c);
    CHECK(host_timer_start(&plugin, 0, record, "D") == NULL);
    stderr_capture_end(&c, said, sizeof(said));
    CHECK(strstr(said, " level=warn component=p msg=\"coop_timer_start refused: coopd is "
                       "stopping\"\n") != NULL);
    event_base_dispatch(base);
    CHECK(strcmp(fired, "SR") == 0 || strcmp(fired, "RS") == 0);
    CHECK(host_timer_start(NULL, 0, record, "n") == NULL);
    CHECK(host_timer_start(core, 0, NULL, NULL) == NULL);

    loop_set(NULL);
    event_base_free(base);
    return unit_finish();
}
