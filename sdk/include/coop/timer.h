/*
 * coop SDK: one-shot timers on coopd's event loop.
 */
#ifndef COOP_TIMER_H
#define COOP_TIMER_H

#include "host.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Calls cb(arg) once, delay_ms milliseconds from now (0: on the next loop
 *  turn). Call from start or later. Returns a handle owned by coopd, valid
 *  until cb runs or coop_timer_cancel(); NULL on failure. Pending timers are
 *  cancelled, without calling cb, when coopd stops. */
static inline coop_timer *coop_timer_start(coop_plugin *self, uint64_t delay_ms, coop_timer_fn cb,
                                           void *arg)
{
    return coop_host->timer_start(self, delay_ms, cb, arg);
}

/** Cancels a pending timer without calling its callback and frees it. */
static inline void coop_timer_cancel(coop_timer *timer)
{
    coop_host->timer_cancel(timer);
}

#ifdef __cplusplus
}
#endif
#endif /* COOP_TIMER_H */
