/* RFC 3339 dates and date-times, checked strictly (owner: rfc3339.c): for the
 * schema formats "date" and "date-time" and for dates in query strings. */
#ifndef COOP_RFC3339_INTERNAL_H
#define COOP_RFC3339_INTERNAL_H

/* 1 when s is an RFC 3339 full-date that exists on the calendar ("2026-05-01";
 * not "2026-02-30"), else 0. s is borrowed. */
int rfc3339_is_date(const char *s);

/* 1 when s is an RFC 3339 date-time ("2026-05-01T12:00:00Z",
 * "2026-05-01t12:00:00.5+02:00"), else 0. A leap second (:60) is accepted only at
 * 23:59:60 UTC. s is borrowed. */
int rfc3339_is_date_time(const char *s);

#endif
