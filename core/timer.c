/*
 * One-shot plugin timers on the loop.
 *
 * Every pending timer is on one list so that coopd can cancel them all at
 * stop without calling their callbacks (the plugin that set them has been
 * stopped by then). A timer frees itself before its callback runs, as the SDK
 * promises, so the callback may start the next timer of a chain.
 */
#include "timer_internal.h"

#include <stdlib.h>

#include <event2/event.h>

#include "log_internal.h"
#include "loop_internal.h"
#include "plugin_internal.h"

struct coop_timer {
    struct coop_timer *prev, *next;
    struct event *ev;
    coop_plugin *owner;
    coop_timer_fn cb;
    void *arg;
};

static coop_timer *pending;

static void timer_unlink_and_free(coop_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        pending = t->next;
    if (t->next)
        t->next->prev = t->prev;
    event_free(t->ev);
    free(t);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    coop_timer *t = arg;
    coop_timer_fn cb = t->cb;
    void *cb_arg = t->arg;
    timer_unlink_and_free(t);
    cb(cb_arg);
}

/* Plugins may set timers from start on ("Call from start or later"); the
 * core's own modules whenever the loop runs. */
static int may_set_timers(const coop_plugin *p)
{
    if (p == core_plugin())
        return p->state != PLUGIN_STOPPED;
    return p->state == PLUGIN_INITIALISED || p->state == PLUGIN_STARTED;
}

coop_timer *host_timer_start(coop_plugin *p, uint64_t delay_ms, coop_timer_fn cb, void *arg)
{
    struct event_base *base = loop_base();
    if (!p || !cb || !base)
        return NULL;
    if (!may_set_timers(p)) {
        log_write(COOP_LOG_WARN, p->name, "coop_timer_start refused: %s",
                  p->state == PLUGIN_STOPPED ? "coopd is stopping" : "call it from start or later");
        return NULL;
    }
    /* Beyond ~68 years the timeval would overflow on 32-bit time_t; a timer
     * that far out is a bug, not a plan. */
    if (delay_ms > (uint64_t)INT32_MAX * 1000u)
        return NULL;
    coop_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ev = evtimer_new(base, timer_fired, t);
    if (!t->ev) {
        free(t);
        return NULL;
    }
    t->owner = p;
    t->cb = cb;
    t->arg = arg;
    struct timeval tv = {.tv_sec = (time_t)(delay_ms / 1000),
                         .tv_usec = (suseconds_t)((delay_ms % 1000) * 1000)};
    if (evtimer_add(t->ev, &tv) < 0) {
        event_free(t->ev);
        free(t);
        return NULL;
    }
    t->next = pending;
    if (pending)
        pending->prev = t;
    pending = t;
    return t;
}

void host_timer_cancel(coop_timer *t)
{
    if (t)
        timer_unlink_and_free(t);
}

void timers_cancel_all(void)
{
    while (pending)
        timer_unlink_and_free(pending);
}
