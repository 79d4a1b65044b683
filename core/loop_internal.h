/* The process's one event loop (owner: loop.c). */
#ifndef COOP_LOOP_INTERNAL_H
#define COOP_LOOP_INTERNAL_H

struct event_base;

void loop_set(struct event_base *base);
struct event_base *loop_base(void);

#endif
