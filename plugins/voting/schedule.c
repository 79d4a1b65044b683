/* This node's timers for open proposals: one at opens_at (to take the electorate snapshot
 * promptly) and one at closes_at (to close). A sweep at start and then every sweep_seconds arms
 * them for open proposals this node does not know yet: those still open after a restart
 * (including ones whose closing time passed while coopd was down: their delay is 0) and those
 * another node created. Every node closing the same proposal is harmless: close.c lets exactly
 * one of them do it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voting_internal.h"

/* coopd refuses a timer more than about 68 years ahead (coop_timer_start: INT32_MAX seconds),
 * and a proposal may be due in year 9999. So a timer is set at most a day ahead; one that fires
 * with time still to go (rest_ms) is set again for the rest before anything is done. */
#define TIMER_MAX_MS (86400 * 1000LL)

struct capped_timer {
    coop_timer *timer; /* pending, or NULL */
    int64_t rest_ms;   /* still to wait when it fires */
};

struct armed {
    int64_t id;
    struct capped_timer open;  /* takes the electorate at opens_at */
    struct capped_timer close; /* closes at closes_at */
    bool closing;              /* a close started by the timer is in flight */
    struct armed *next;
};

static struct armed *armed_list;
static coop_timer *sweep_timer;
static bool stopping;

static struct armed *armed_find(int64_t id)
{
    for (struct armed *a = armed_list; a; a = a->next)
        if (a->id == id)
            return a;
    return NULL;
}

/* Cancels the proposal's timers and forgets it (it is closed). */
static void armed_forget(int64_t id)
{
    for (struct armed **link = &armed_list; *link; link = &(*link)->next) {
        struct armed *a = *link;
        if (a->id != id)
            continue;
        if (a->open.timer)
            coop_timer_cancel(a->open.timer);
        if (a->close.timer)
            coop_timer_cancel(a->close.timer);
        *link = a->next;
        free(a);
        return;
    }
}

static void close_timer_fired(void *arg);
static void open_timer_fired(void *arg);

/* Sets t to fire delay_ms from now (at once when negative), or the first TIMER_MAX_MS of it. */
static void capped_start(struct capped_timer *t, int64_t delay_ms, coop_timer_fn cb, void *arg)
{
    if (delay_ms < 0)
        delay_ms = 0;
    int64_t first = delay_ms < TIMER_MAX_MS ? delay_ms : TIMER_MAX_MS;
    t->rest_ms = delay_ms - first;
    t->timer = coop_timer_start(voting_self, (uint64_t)first, cb, arg);
}

/* For the callback of t: it has fired. Returns true when it fired early only because of the cap;
 * then it is set again for the rest (the callback should do nothing more). */
static bool capped_fired_early(struct capped_timer *t, coop_timer_fn cb, void *arg)
{
    t->timer = NULL;
    if (t->rest_ms <= 0 || stopping)
        return false;
    capped_start(t, t->rest_ms, cb, arg);
    return true;
}

static void log_close_unarmed(const struct armed *a)
{
    coop_log(voting_self, COOP_LOG_ERROR,
             "cannot arm the closing timer of proposal %lld; the sweep will retry",
             (long long)a->id);
}

static void arm_close(struct armed *a, int64_t delay_ms)
{
    a->closing = false;
    if (stopping || a->close.timer)
        return;
    capped_start(&a->close, delay_ms, close_timer_fired, a);
    if (!a->close.timer)
        log_close_unarmed(a);
}

static void arm_open(struct armed *a, int64_t delay_ms)
{
    if (stopping || a->open.timer)
        return;
    capped_start(&a->open, delay_ms, open_timer_fired, a);
}

void schedule_proposal(int64_t id, int64_t open_in_ms, int64_t close_in_ms)
{
    if (stopping)
        return;
    struct armed *a = armed_find(id);
    if (a) {
        /* Known: only repair a timer that could not be armed (the sweep's promise). */
        if (!a->close.timer && !a->closing)
            arm_close(a, close_in_ms);
        return;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        coop_log(voting_self, COOP_LOG_ERROR, "out of memory arming proposal %lld", (long long)id);
        return;
    }
    a->id = id;
    a->next = armed_list;
    armed_list = a;
    if (open_in_ms >= 0)
        arm_open(a, open_in_ms);
    arm_close(a, close_in_ms);
}

/* ---- the electorate snapshot at opens_at ---------------------------------------------------- */

static void electorate_taken(const coop_db_result *res, void *arg)
{
    int64_t id = (int64_t)(intptr_t)arg;
    struct armed *a = armed_find(id);
    if (coop_db_status(res) == 0 && !coop_db_is_null(res, 0, 0)) {
        coop_log(voting_self, COOP_LOG_INFO, "proposal %lld opened, %s eligible voters",
                 (long long)id, coop_db_value(res, 0, 0));
        return;
    }
    /* Not open yet by the database's clock, or the database is away: try again. A ballot or
     * the close would take the snapshot anyway; this only makes it prompt. */
    if (a && coop_db_status(res) != -COOP_ECANCELLED)
        arm_open(a, coop_db_status(res) == 0 ? 1000 : VOTING_RETRY_MS);
}

static void open_timer_fired(void *arg)
{
    struct armed *a = arg;
    if (capped_fired_early(&a->open, open_timer_fired, a))
        return;
    char id_text[VOTING_ID_TEXT];
    snprintf(id_text, sizeof(id_text), "%lld", (long long)a->id);
    const char *params[] = {id_text};
    if (coop_db_query(voting_self, "SELECT take_electorate($1::bigint)", 1, params,
                      electorate_taken, (void *)(intptr_t)a->id) < 0)
        arm_open(a, VOTING_RETRY_MS);
}

static void close_timer_fired(void *arg)
{
    struct armed *a = arg;
    if (capped_fired_early(&a->close, close_timer_fired, a)) {
        if (!a->close.timer)
            log_close_unarmed(a);
        return;
    }
    a->closing = true;
    close_start(a->id, NULL);
}

void schedule_closed(int64_t id)
{
    armed_forget(id);
}

void schedule_retry_close(int64_t id, int64_t delay_ms)
{
    struct armed *a = armed_find(id);
    if (a)
        arm_close(a, delay_ms);
}

/* ---- the sweep ------------------------------------------------------------------------------- */

static void sweep_fired(void *arg);

static void open_proposals_read(const coop_db_result *res, void *arg)
{
    (void)arg;
    if (coop_db_status(res) == -COOP_ECANCELLED || stopping)
        return;
    if (coop_db_status(res) != 0) {
        coop_log(voting_self, COOP_LOG_WARN, "sweep failed: %s", coop_db_error(res));
    } else {
        for (int row = 0; row < coop_db_nrows(res); row++)
            schedule_proposal(strtoll(coop_db_value(res, row, 0), NULL, 10),
                              strtoll(coop_db_value(res, row, 1), NULL, 10),
                              strtoll(coop_db_value(res, row, 2), NULL, 10));
    }
    sweep_timer =
        coop_timer_start(voting_self, (uint64_t)voting_sweep_seconds * 1000, sweep_fired, NULL);
}

static void sweep_fired(void *arg)
{
    (void)arg;
    sweep_timer = NULL;
    /* Delays by the database's clock, which decides; -1: the electorate is taken already. */
    static const char sql[] =
        "SELECT id,"
        " CASE WHEN electorate_taken_at IS NULL"
        "      THEN greatest(0, ceil(extract(epoch FROM opens_at - now()) * 1000)) ELSE -1 END,"
        " greatest(0, ceil(extract(epoch FROM closes_at - now()) * 1000))"
        " FROM proposals WHERE state = 'open'";
    if (coop_db_query(voting_self, sql, 0, NULL, open_proposals_read, NULL) < 0)
        sweep_timer =
            coop_timer_start(voting_self, (uint64_t)voting_sweep_seconds * 1000, sweep_fired, NULL);
}

void schedule_start(void)
{
    stopping = false;
    sweep_fired(NULL);
}

void schedule_stop(void)
{
    /* coopd cancels every pending timer itself when it stops, so that no callback runs after
     * stop: before stop is called (plugin.h), or right after it in older cores. The handles may
     * thus be freed already: they are forgotten here, never cancelled. */
    stopping = true;
    sweep_timer = NULL;
    while (armed_list) {
        struct armed *a = armed_list;
        armed_list = a->next;
        free(a);
    }
}
