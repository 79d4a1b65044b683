/* Proposals: create (operator), list and read (operators and members).
 *
 * The route's JSON schema has checked the shape of a new proposal; here come the checks that
 * need several fields or the method (closing after opening, distinct option keys, options and
 * threshold per method), answered the same way: 422 naming each field by JSON pointer. The
 * insert, the options and (when voting is already open) the electorate snapshot happen in one
 * statement, voting.create_proposal(), so they commit together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voting_internal.h"

int64_t voting_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool key_is_plain(const char *key)
{
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return false;
    return true;
}

struct create_ctx {
    coop_request *req;
    int64_t opens_ms, closes_ms;
};

static void proposal_created(const coop_db_result *res, void *arg)
{
    struct create_ctx *ctx = arg;
    coop_request *req = ctx->req;
    if (coop_db_status(res) != 0) {
        coop_reply_db_error(req, res);
        goto out_free_ctx;
    }
    json_t *proposal = voting_json_from_db(coop_db_value(res, 0, 0));
    if (!proposal) {
        coop_reply_problem(req, 500, "Internal Server Error", "The proposal could not be read.");
        goto out_free_ctx;
    }
    int64_t id = json_integer_value(json_object_get(proposal, "id"));
    int64_t now = voting_now_ms();
    /* The electorate was taken in the insert when voting is open already. */
    int64_t open_in = json_object_get(proposal, "eligible_voters") ? -1
                      : ctx->opens_ms > now                        ? ctx->opens_ms - now
                                                                   : 0;
    schedule_proposal(id, open_in, ctx->closes_ms - now);

    char location[64];
    snprintf(location, sizeof(location), "/v1/voting/proposals/%lld", (long long)id);
    coop_reply_header(req, "Location", location);
    coop_reply_json(req, 201, proposal);

out_free_ctx:
    free(ctx);
}

#define RFC3339_MESSAGE "must be an RFC 3339 date-time in the years 0001 to 9999 (UTC)"

/* The checks the schema cannot express. Appends to errors; fills in the defaults (yes/no
 * options, threshold) in body. */
static void check_proposal(json_t *body, json_t *errors, int64_t *opens_ms, int64_t *closes_ms)
{
    enum tally_method method;
    const char *method_name = json_string_value(json_object_get(body, "method"));
    if (!method_name || tally_method_parse(method_name, &method) < 0) {
        coop_invalid_add(errors, "/method", "must be yesno, approval or ranked");
        return;
    }

    int64_t now = voting_now_ms();
    const json_t *opens = json_object_get(body, "opens_at");
    const json_t *closes = json_object_get(body, "closes_at");
    bool times_ok = true;
    *opens_ms = now;
    if (opens && !rfc3339_parse(json_string_value(opens), opens_ms)) {
        coop_invalid_add(errors, "/opens_at", RFC3339_MESSAGE);
        times_ok = false;
    } else if (*opens_ms < now - VOTING_CLOCK_SKEW_MS) {
        /* The electorate is the members as of opens_at: a past opens_at would let the
         * operator pick who votes. */
        coop_invalid_add(errors, "/opens_at",
                         "must not be in the past (more than 5 minutes of clock skew): the "
                         "electorate is the members as of opens_at");
        times_ok = false;
    } else if (*opens_ms < now) {
        *opens_ms = now; /* within the clock skew: voting opens now (so does sql/002) */
    }
    if (!rfc3339_parse(json_string_value(closes), closes_ms))
        coop_invalid_add(errors, "/closes_at", RFC3339_MESSAGE);
    else if (*closes_ms <= now)
        coop_invalid_add(errors, "/closes_at", "must be in the future");
    else if (times_ok && *closes_ms <= *opens_ms)
        coop_invalid_add(errors, "/closes_at", "must be later than opens_at");
    else if (times_ok && *closes_ms - *opens_ms > VOTING_MAX_DURATION_MS)
        coop_invalid_add(errors, "/closes_at",
                         "must be at most 3653 days (ten years) after opens_at");

    json_t *options = json_object_get(body, "options");
    if (method == TALLY_METHOD_YESNO) {
        if (options)
            coop_invalid_add(errors, "/options",
                             "a yesno proposal takes no options: they are yes, no and abstain");
        if (!json_object_get(body, "threshold"))
            json_object_set_new(body, "threshold", json_string("half"));
        json_object_set_new(body, "options",
                            json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "key", "yes", "label",
                                      "Yes", "key", "no", "label", "No", "key", "abstain", "label",
                                      "Abstain"));
        return;
    }

    if (json_object_get(body, "threshold"))
        coop_invalid_add(errors, "/threshold", "applies to yesno proposals only");
    if (json_array_size(options) < 2) {
        coop_invalid_add(errors, "/options",
                         "an approval or ranked proposal needs 2 to 64 options");
        return;
    }
    size_t i;
    json_t *option;
    json_array_foreach(options, i, option)
    {
        const char *key = json_string_value(json_object_get(option, "key"));
        char pointer[48];
        snprintf(pointer, sizeof(pointer), "/options/%zu/key", i);
        if (!key)
            continue; /* the schema has reported it */
        if (!key_is_plain(key)) {
            coop_invalid_add(errors, pointer, "may hold only letters, digits, '_', '-' and '.'");
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const char *earlier =
                json_string_value(json_object_get(json_array_get(options, j), "key"));
            if (earlier && strcmp(earlier, key) == 0) {
                coop_invalid_add(errors, pointer, "repeats the key of an earlier option");
                break;
            }
        }
    }
}

void proposals_create(coop_request *req, void *arg)
{
    (void)arg;
    json_t *body = json_deep_copy(coop_request_json(req));
    json_t *errors = json_array();
    struct create_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!body || !errors || !ctx) {
        coop_reply_problem(req, 500, "Internal Server Error", "Out of memory.");
        goto out_free;
    }
    check_proposal(body, errors, &ctx->opens_ms, &ctx->closes_ms);
    if (json_array_size(errors) > 0) {
        coop_reply_invalid(req, errors);
        errors = NULL;
        goto out_free;
    }

    char *text = json_dumps(body, JSON_COMPACT);
    char token[24];
    snprintf(token, sizeof(token), "%lld", (long long)coop_request_caller(req)->token_id);
    const char *params[] = {text, token};
    ctx->req = req;
    int rc = coop_db_query(voting_self, "SELECT create_proposal($1::jsonb, $2::bigint)::text", 2,
                           params, proposal_created, ctx);
    free(text);
    if (rc < 0) {
        voting_reply_not_queued(req, rc);
        goto out_free;
    }
    ctx = NULL;

out_free:
    free(ctx);
    json_decref(errors);
    json_decref(body);
}

/* Answers with the JSON text in the first column of the first row, 404 when there is none. */
static void reply_json_row(coop_request *req, const coop_db_result *res, const char *id_text)
{
    if (coop_db_nrows(res) == 0) {
        voting_reply_no_proposal(req, id_text);
        return;
    }
    json_t *value = voting_json_from_db(coop_db_value(res, 0, 0));
    if (value)
        coop_reply_json(req, 200, value);
    else
        coop_reply_problem(req, 500, "Internal Server Error", "Unreadable proposal.");
}

void proposals_get(coop_request *req, void *arg)
{
    (void)arg;
    voting_query_proposal(req,
                          "SELECT proposal_json(p)::text FROM proposals p WHERE p.id = $1::bigint",
                          NULL, reply_json_row);
}

void proposals_list(coop_request *req, void *arg)
{
    (void)arg;
    /* ?status=scheduled|open|closing|closed, ?limit=1..500 (default 100), ?before=<id> for the
     * next page (the response's next_before). */
    const char *status = coop_request_query(req, "status");
    const char *limit_text = coop_request_query(req, "limit");
    const char *before_text = coop_request_query(req, "before");
    int64_t limit = 100, before = 0;
    if (status && strcmp(status, "scheduled") != 0 && strcmp(status, "open") != 0 &&
        strcmp(status, "closing") != 0 && strcmp(status, "closed") != 0) {
        coop_reply_problem(req, 400, "Bad Request",
                           "Query parameter status must be scheduled, open, closing or closed.");
        return;
    }
    if (limit_text && (!voting_parse_id(limit_text, &limit) || limit > 500)) {
        coop_reply_problem(req, 400, "Bad Request", "Query parameter limit must be 1 to 500.");
        return;
    }
    if (before_text && !voting_parse_id(before_text, &before)) {
        coop_reply_problem(req, 400, "Bad Request",
                           "Query parameter before must be a proposal id.");
        return;
    }
    char limit_param[24], before_param[24];
    snprintf(limit_param, sizeof(limit_param), "%lld", (long long)limit);
    snprintf(before_param, sizeof(before_param), "%lld", (long long)before);
    const char *params[] = {status, limit_param, before_text ? before_param : NULL};
    static const char sql[] =
        "WITH page AS ("
        "  SELECT p.id, proposal_json(p) AS j FROM proposals p"
        "  WHERE ($3::bigint IS NULL OR p.id < $3::bigint)"
        "    AND ($1::text IS NULL OR proposal_json(p)->>'status' = $1::text)"
        "  ORDER BY p.id DESC LIMIT $2::integer)"
        " SELECT jsonb_strip_nulls(jsonb_build_object("
        "   'proposals', coalesce((SELECT jsonb_agg(j ORDER BY id DESC) FROM page), '[]'),"
        "   'next_before', CASE WHEN (SELECT count(*) FROM page) = $2::integer"
        "                       THEN (SELECT min(id) FROM page) END))::text";
    voting_query(req, NULL, sql, 3, params, reply_json_row); /* always one row */
}
