/* Closing: by timer at closes_at (schedule.c) or early by an operator; the result is computed
 * once, here in C with the tally module, and stored in the closing transaction:
 *
 *   BEGIN
 *   close_proposal(id, by)    locks the row, state open -> closed (or says why not)
 *   counted_ballots(id)       each eligible member's last ballot
 *   -- tally in C --
 *   INSERT INTO results
 *   COMMIT
 *
 * Several coopd nodes may try at once; the row lock and the state check let exactly one of
 * them close, the others find it closed. If anything fails before COMMIT nothing is written
 * and the timer tries again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voting_internal.h"

/* ---- the close ------------------------------------------------------------------------------- */

struct close_job {
    coop_request *req; /* the operator's request, or NULL for the timer */
    int64_t id;
    char id_text[VOTING_ID_TEXT];
    const char *by; /* "operator" or "timer" (static) */
    json_t *proposal;
    json_t *result;
    char *result_text;
};

static void close_job_free(struct close_job *job)
{
    json_decref(job->proposal);
    json_decref(job->result);
    free(job->result_text);
    free(job);
}

static void read_result(coop_request *req, const char *id_text);

/* Ends a close that did not happen: res (may be NULL) says why. The operator gets the error;
 * the timer tries again later. */
static void close_failed(struct close_job *job, const coop_db_result *res, const char *why)
{
    coop_log(voting_self, COOP_LOG_WARN, "closing proposal %s (%s) failed: %s %s", job->id_text,
             job->by, why, res ? coop_db_error(res) : "");
    if (job->req) {
        if (res && coop_db_status(res) != 0)
            coop_reply_db_error(job->req, res);
        else
            coop_reply_problem(job->req, 500, "Internal Server Error",
                               "Closing the proposal failed: %s.", why);
    } else {
        schedule_retry_close(job->id, VOTING_RETRY_MS);
    }
    close_job_free(job);
}

static void close_committed(coop_tx *tx, const coop_db_result *res, void *arg)
{
    (void)tx;
    struct close_job *job = arg;
    if (coop_db_status(res) != 0) {
        close_failed(job, res, "commit");
        return;
    }
    coop_log(voting_self, COOP_LOG_INFO, "proposal %s closed by %s: %s", job->id_text, job->by,
             json_string_value(json_object_get(job->result, "outcome")));
    schedule_closed(job->id);
    if (job->req) {
        coop_reply_json(job->req, 200, job->result);
        job->result = NULL;
    }
    close_job_free(job);
}

static void result_stored(coop_tx *tx, const coop_db_result *res, void *arg)
{
    struct close_job *job = arg;
    if (coop_db_status(res) != 0) {
        if (tx)
            coop_tx_rollback(tx, NULL, NULL);
        close_failed(job, res, "storing the result");
        return;
    }
    if (coop_tx_commit(tx, close_committed, job) < 0)
        close_failed(job, NULL, "commit could not be queued");
}

/* Counts the ballots in res (one row per voter: the choice as JSON text) for the proposal of
 * job. Returns the result JSON (new reference) or NULL with *why set. */
static json_t *count_ballots(const json_t *proposal, const coop_db_result *res, const char **why)
{
    enum tally_method method;
    enum tally_threshold threshold = TALLY_THRESHOLD_HALF;
    const json_t *options = json_object_get(proposal, "options");
    const char *keys[TALLY_MAX_OPTIONS];
    size_t n = json_array_size(options);
    json_t *result_json_value = NULL;
    struct tally *tally = NULL;

    *why = "unreadable proposal";
    if (tally_method_parse(json_string_value(json_object_get(proposal, "method")), &method) < 0 ||
        n == 0 || n > TALLY_MAX_OPTIONS)
        return NULL;
    const char *threshold_name = json_string_value(json_object_get(proposal, "threshold"));
    if (threshold_name && tally_threshold_parse(threshold_name, &threshold) < 0)
        return NULL;
    for (size_t i = 0; i < n; i++)
        keys[i] = json_string_value(json_object_get(json_array_get(options, i), "key"));

    *why = "out of memory";
    tally = tally_new(method, n);
    json_t *errors = json_array();
    if (!tally || !errors)
        goto out_free;
    *why = "a stored ballot no longer reads";
    for (int row = 0; row < coop_db_nrows(res); row++) {
        json_t *stored = voting_json_from_db(coop_db_value(res, row, 0));
        struct ballot_choice choice;
        int rc = ballot_choice_read(method, keys, n, stored, errors, &choice);
        json_decref(stored);
        json_decref(choice.canonical);
        /* Ballots were checked when cast and options never change, so this cannot happen;
         * refusing to close beats miscounting. */
        if (rc < 0 || ballot_choice_count(tally, method, &choice) < 0)
            goto out_free;
    }

    struct tally_rules rules = {
        .eligible = (uint64_t)json_integer_value(json_object_get(proposal, "eligible_voters")),
        .quorum_percent = (unsigned)json_integer_value(json_object_get(proposal, "quorum_percent")),
        .threshold = threshold,
    };
    struct tally_result result;
    *why = "the tally failed";
    if (tally_compute(tally, &rules, &result) < 0)
        goto out_free;
    *why = "out of memory";
    result_json_value = result_json(proposal, &result);
    tally_result_free(&result);

out_free:
    json_decref(errors);
    tally_free(tally);
    return result_json_value;
}

static void ballots_counted(coop_tx *tx, const coop_db_result *res, void *arg)
{
    struct close_job *job = arg;
    const char *why = "reading the ballots";
    if (coop_db_status(res) != 0 || !(job->result = count_ballots(job->proposal, res, &why)) ||
        !(job->result_text = json_dumps(job->result, JSON_COMPACT))) {
        if (tx)
            coop_tx_rollback(tx, NULL, NULL);
        close_failed(job, res, why);
        return;
    }
    const char *params[] = {job->id_text, job->result_text};
    if (coop_tx_query(tx,
                      "INSERT INTO results (proposal_id, result) VALUES ($1::bigint, $2::jsonb)", 2,
                      params, result_stored, job) < 0) {
        coop_tx_rollback(tx, NULL, NULL);
        close_failed(job, NULL, "insert could not be queued");
    }
}

static void proposal_marked(coop_tx *tx, const coop_db_result *res, void *arg)
{
    struct close_job *job = arg;
    if (coop_db_status(res) != 0 || coop_db_nrows(res) != 1) {
        if (tx)
            coop_tx_rollback(tx, NULL, NULL);
        close_failed(job, res, "close_proposal");
        return;
    }
    const char *outcome = coop_db_value(res, 0, 0);
    if (strcmp(outcome, "closed") == 0) {
        job->proposal = voting_json_from_db(coop_db_value(res, 0, 2));
        const char *params[] = {job->id_text};
        if (!job->proposal ||
            coop_tx_query(tx, "SELECT choice::text FROM counted_ballots($1::bigint)", 1, params,
                          ballots_counted, job) < 0) {
            coop_tx_rollback(tx, NULL, NULL);
            close_failed(job, NULL, "reading the ballots could not be queued");
        }
        return;
    }

    /* Nothing to do in this transaction. */
    coop_tx_rollback(tx, NULL, NULL);
    if (strcmp(outcome, "too_early") == 0) {
        /* The timer fired before closes_at by the database's clock. */
        schedule_retry_close(job->id, strtoll(coop_db_value(res, 0, 1), NULL, 10));
    } else if (strcmp(outcome, "already_closed") == 0) {
        /* Another node or an earlier request closed it: closing is idempotent. */
        schedule_closed(job->id);
        if (job->req)
            read_result(job->req, job->id_text);
    } else if (strcmp(outcome, "not_found") == 0) {
        schedule_closed(job->id);
        if (job->req)
            voting_reply_no_proposal(job->req, job->id_text);
    } else if (!job->req) {
        /* not_open cannot happen to a timer (closes_at > opens_at); whatever it was, the timer
         * must not be left unarmed. */
        schedule_retry_close(job->id, VOTING_RETRY_MS);
    } else if (strcmp(outcome, "not_open") == 0) {
        coop_reply_problem(job->req, 409, "Conflict",
                           "Voting on proposal %s has not opened yet, so it cannot close.",
                           job->id_text);
    } else {
        coop_reply_problem(job->req, 500, "Internal Server Error", "Unknown outcome %s.", outcome);
    }
    close_job_free(job);
}

static void close_begun(coop_tx *tx, const coop_db_result *res, void *arg)
{
    struct close_job *job = arg;
    if (!tx) {
        close_failed(job, res, "begin");
        return;
    }
    const char *params[] = {job->id_text, job->by};
    if (coop_tx_query(tx,
                      "SELECT outcome, wait_ms, proposal::text"
                      " FROM close_proposal($1::bigint, $2::text)",
                      2, params, proposal_marked, job) < 0) {
        coop_tx_rollback(tx, NULL, NULL);
        close_failed(job, NULL, "close_proposal could not be queued");
    }
}

void close_start(int64_t id, coop_request *req)
{
    struct close_job *job = calloc(1, sizeof(*job));
    if (!job) {
        if (req)
            coop_reply_problem(req, 500, "Internal Server Error", "Out of memory.");
        return;
    }
    job->req = req;
    job->id = id;
    job->by = req ? "operator" : "timer";
    snprintf(job->id_text, sizeof(job->id_text), "%lld", (long long)id);
    int rc = coop_tx_begin(voting_self, close_begun, job);
    if (rc < 0 && req) {
        /* Nothing began: the operator may simply try again. */
        voting_reply_not_queued(req, rc);
        close_job_free(job);
    } else if (rc < 0) {
        close_failed(job, NULL, "begin could not be queued");
    }
}

void close_by_operator(coop_request *req, void *arg)
{
    (void)arg;
    int64_t id;
    char id_text[VOTING_ID_TEXT];
    if (voting_request_id(req, &id, id_text))
        close_start(id, req);
}

/* ---- reading a stored result ----------------------------------------------------------------- */

static void result_read(coop_request *req, const coop_db_result *res, const char *id_text)
{
    if (coop_db_nrows(res) == 0) {
        voting_reply_no_proposal(req, id_text);
    } else if (coop_db_is_null(res, 0, 0)) {
        coop_reply_problem(req, 409, "Conflict",
                           "Voting on proposal %s has not closed yet; the result exists once it "
                           "closes.",
                           id_text);
    } else {
        json_t *result = voting_json_from_db(coop_db_value(res, 0, 0));
        if (result)
            coop_reply_json(req, 200, result);
        else
            coop_reply_problem(req, 500, "Internal Server Error", "Unreadable result.");
    }
}

static const char result_sql[] =
    "SELECT r.result::text FROM proposals p"
    " LEFT JOIN results r ON r.proposal_id = p.id WHERE p.id = $1::bigint";

static void read_result(coop_request *req, const char *id_text)
{
    const char *params[] = {id_text};
    voting_query(req, id_text, result_sql, 1, params, result_read);
}

void result_get(coop_request *req, void *arg)
{
    (void)arg;
    voting_query_proposal(req, result_sql, NULL, result_read);
}
