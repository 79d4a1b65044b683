/* Plugin timers on the loop (owner: timer.c). */
#ifndef COOP_TIMER_INTERNAL_H
#define COOP_TIMER_INTERNAL_H

#include <coop/types.h>

coop_timer *host_timer_start(coop_plugin *p, uint64_t delay_ms, coop_timer_fn cb, void *arg);
void host_timer_cancel(coop_timer *t);
void timers_cancel_all(void); /* at stop, without calling callbacks */

#endif
