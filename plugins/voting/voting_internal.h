/* The voting plugin's internal contracts between its files (nothing here is exported: the
 * plugin is built with hidden visibility and exports only coop_plugin_entry). */
#ifndef COOP_VOTING_INTERNAL_H
#define COOP_VOTING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <coop/coop.h>

#include "tally.h"

/* ---- voting.c: the plugin and its settings ------------------------------------------------ */

/* The plugin handle coopd gave init; valid until stop. */
extern coop_plugin *voting_self;

/* Seconds between sweeps for open proposals this node has no timer for (settings key
 * "sweep_seconds"). */
extern unsigned voting_sweep_seconds;

/* Parses a path parameter that must be a positive decimal id (at most 18 digits). Returns
 * true and sets *id, or false: the caller answers 404, since no such proposal can exist. */
bool voting_parse_id(const char *text, int64_t *id);

/* Answers 404 for proposal id text (borrowed). Ends the request. */
void voting_reply_no_proposal(coop_request *req, const char *id_text);

/* ---- request_query.c: one statement for one request ----------------------------------------- */

/* Room for a proposal id as decimal text (at most 18 digits, see voting_parse_id). */
#define VOTING_ID_TEXT 24

/* Reads path parameter {id} of req. Returns true and sets *id and id_text (the id in canonical
 * decimal); or answers 404 (which ends the request) and returns false. */
bool voting_request_id(coop_request *req, int64_t *id, char id_text[VOTING_ID_TEXT]);

/* Answers req when a statement could not be queued; rc is what coop_db_query() or
 * coop_tx_begin() returned: 503 with Retry-After (the pool is not running: coopd is starting or
 * stopping; or memory ran out), or 500 for -COOP_EINVAL (a bug here). Ends the request. */
void voting_reply_not_queued(coop_request *req, int rc);

/* What a handler makes of a statement that succeeded: answers req (ending it). res and id_text
 * (the proposal id the statement was for, "" for none) are borrowed for the call. */
typedef void (*voting_rows_fn)(coop_request *req, const coop_db_result *res, const char *id_text);

/* Runs sql with nparams params (copied) for req, and answers it: rows(req, res, id_text) when the
 * statement succeeded, coop_reply_db_error() when it failed, voting_reply_not_queued() when it
 * could not be queued, 500 when memory ran out. id_text (copied; may be NULL) is handed to rows. */
void voting_query(coop_request *req, const char *id_text, const char *sql, int nparams,
                  const char *const *params, voting_rows_fn rows);

/* voting_query() for the proposal of req's path parameter {id}: $1 is the id, $2 extra (copied)
 * when extra is not NULL. Answers 404 without a statement when {id} cannot be an id. */
void voting_query_proposal(coop_request *req, const char *sql, const char *extra,
                           voting_rows_fn rows);

/* Parses a JSON text from the database (borrowed). New reference, or NULL when it is not JSON
 * (logged). */
json_t *voting_json_from_db(const char *text);

/* ---- proposals.c: create, list, read ------------------------------------------------------- */

void proposals_create(coop_request *req, void *arg);
void proposals_list(coop_request *req, void *arg);
void proposals_get(coop_request *req, void *arg);

/* The times the API can write in RFC 3339: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, in
 * milliseconds since 1970 (GNU date -u -d ... +%s gives -62135596800 and 253402300799). */
#define RFC3339_MIN_MS (-62135596800000LL)
#define RFC3339_MAX_MS 253402300799999LL

/* Parses an RFC 3339 date-time ("2026-12-03T17:00:00Z", "...T18:00:00.5+01:00"). Returns true
 * and sets *epoch_ms (milliseconds since 1970, UTC), or false when it is not one or it falls
 * outside RFC3339_MIN_MS..RFC3339_MAX_MS once its offset is applied. */
bool rfc3339_parse(const char *text, int64_t *epoch_ms);

/* How far voting_now_ms() may be ahead of the operator's clock: opens_at may be this much in
 * the past (it is then taken as now); earlier is refused. */
#define VOTING_CLOCK_SKEW_MS (5 * 60 * 1000LL)

/* The longest a vote may last, closes_at - opens_at: ten years of 365 days and at most three
 * leap days. */
#define VOTING_MAX_DURATION_MS (3653 * 86400 * 1000LL)

/* Milliseconds since 1970 now, by the wall clock. */
int64_t voting_now_ms(void);

/* ---- ballot_choice.c: what a ballot says, per method (pure: no I/O) ------------------------ */

/* A ballot read against its proposal. */
struct ballot_choice {
    enum tally_choice yesno;           /* yes/no */
    bool approved[TALLY_MAX_OPTIONS];  /* approval, by option index */
    unsigned ranks[TALLY_MAX_OPTIONS]; /* ranked: 1 = first tier, 0 = not ranked */
    /* The ballot in canonical form (options in the proposal's order within an approval or a
     * tier), which is what is stored and hashed. New reference; caller decrefs. */
    json_t *canonical;
};

/* Reads ballot body (borrowed) for a proposal of method with option_count options whose keys
 * are keys[] (borrowed). On success returns 0 and fills *out (caller decrefs out->canonical).
 * When the ballot names an unknown option, names one twice or does not fit the method,
 * appends {pointer, message} items to errors (an array the caller owns) and returns
 * -COOP_EINVAL. */
int ballot_choice_read(enum tally_method method, const char *const *keys, size_t option_count,
                       const json_t *body, json_t *errors, struct ballot_choice *out);

/* Adds a ballot read by ballot_choice_read() to a count of the same method. Returns 0 or a
 * negative errno from tally.h. */
int ballot_choice_count(struct tally *tally, enum tally_method method,
                        const struct ballot_choice *choice);

/* ---- ballots.c ------------------------------------------------------------------------------ */

void ballots_cast(coop_request *req, void *arg);
void ballots_verify(coop_request *req, void *arg);
void ballots_mine(coop_request *req, void *arg);

/* ---- close.c: closing and results ---------------------------------------------------------- */

void close_by_operator(coop_request *req, void *arg);
void result_get(coop_request *req, void *arg);

/* Closes proposal id in one transaction (see close.c): for the operator's request req (borrowed;
 * answered with the result or a problem), or for the timer when req is NULL (then a failure
 * re-arms the timer through schedule_retry_close()). */
void close_start(int64_t id, coop_request *req);

/* ---- schedule.c: this node's timers and the sweep ------------------------------------------- */

/* Retry delay after a failed close or snapshot (database away, node stopping...). */
#define VOTING_RETRY_MS 5000

/* Arms this node's timers for proposal id: one that takes the electorate at opens_at (when
 * open_in_ms >= 0, i.e. not taken yet) and one that closes it at closes_at. Delays are from
 * now; negative close delays fire at once. Idempotent: a proposal already armed keeps its
 * timers (only a closing timer that could not be armed is armed again). Any delay will do, even
 * thousands of years: a timer is set at most a day ahead and set again for the rest. */
void schedule_proposal(int64_t id, int64_t open_in_ms, int64_t close_in_ms);

/* Forgets proposal id and cancels its timers: it is closed (or gone). */
void schedule_closed(int64_t id);

/* Arms proposal id's closing timer again, delay_ms from now, if this node knows it. */
void schedule_retry_close(int64_t id, int64_t delay_ms);

/* Starts the sweep: at once, then every voting_sweep_seconds, arms timers for every open
 * proposal this node has none for (after a restart, or created by another node). */
void schedule_start(void);

/* Cancels every timer; called from stop. */
void schedule_stop(void);

/* ---- result.c ------------------------------------------------------------------------------ */

/* Builds the result JSON of a closed proposal: proposal is close_proposal()'s JSON (borrowed),
 * result the tally (borrowed). New reference, or NULL on out of memory. */
json_t *result_json(const json_t *proposal, const struct tally_result *result);

#endif
