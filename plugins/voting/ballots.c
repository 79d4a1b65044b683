/* Ballots: cast or replace (members), verify the chain (operators).
 *
 * Casting takes two statements: read the proposal's method and option keys (to check the
 * ballot and put it in canonical form, answering 422 with pointers), then
 * voting.cast_ballot(), which under the proposal's row lock checks that voting is open and the
 * caller eligible and appends the ballot to the proposal's hash chain. The second statement
 * decides, so a proposal closed in between refuses the ballot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voting_internal.h"

struct cast_ctx {
    coop_request *req;
    char id_text[VOTING_ID_TEXT];
    char member_text[24];
    char *choice_text; /* canonical choice, JSON text; freed with the context */
};

static void cast_ctx_free(struct cast_ctx *ctx)
{
    free(ctx->choice_text);
    free(ctx);
}

static const char *column(const coop_db_result *res, const char *name)
{
    int col = coop_db_column(res, name);
    return col < 0 ? NULL : coop_db_value(res, 0, col);
}

static void ballot_appended(const coop_db_result *res, void *arg)
{
    struct cast_ctx *ctx = arg;
    coop_request *req = ctx->req;
    if (coop_db_status(res) != 0) {
        coop_reply_db_error(req, res);
        goto out_free_ctx;
    }
    const char *outcome = column(res, "outcome");
    if (!outcome) {
        coop_reply_problem(req, 500, "Internal Server Error", "No outcome from cast_ballot.");
    } else if (strcmp(outcome, "cast") == 0) {
        const char *replaces = column(res, "replaces");
        json_t *receipt =
            json_pack("{s:I, s:I, s:o, s:s, s:s, s:o}", "proposal_id",
                      (json_int_t)strtoll(ctx->id_text, NULL, 10), "seq",
                      (json_int_t)strtoll(column(res, "seq"), NULL, 10), "replaces",
                      replaces ? json_integer(strtoll(replaces, NULL, 10)) : json_null(), "cast_at",
                      column(res, "cast_at"), "hash", column(res, "hash"), "choice",
                      voting_json_from_db(ctx->choice_text));
        coop_reply_json(req, 201, receipt);
    } else if (strcmp(outcome, "not_found") == 0) {
        voting_reply_no_proposal(req, ctx->id_text);
    } else if (strcmp(outcome, "not_open") == 0) {
        coop_reply_problem(req, 409, "Conflict", "Voting on proposal %s has not opened yet.",
                           ctx->id_text);
    } else if (strcmp(outcome, "closed") == 0) {
        coop_reply_problem(req, 409, "Conflict", "Voting on proposal %s is closed.", ctx->id_text);
    } else if (strcmp(outcome, "not_eligible") == 0) {
        coop_reply_problem(req, 403, "Forbidden",
                           "Member %s was not a member when voting on proposal %s opened, so "
                           "may not vote on it.",
                           ctx->member_text, ctx->id_text);
    } else {
        coop_reply_problem(req, 500, "Internal Server Error", "Unknown outcome %s.", outcome);
    }

out_free_ctx:
    cast_ctx_free(ctx);
}

/* The proposal's method and option keys are read: check the ballot, then append it. */
static void proposal_for_ballot(coop_request *req, const coop_db_result *res, const char *id_text)
{
    json_t *keys_json = NULL, *errors = NULL;
    struct ballot_choice choice = {0};
    struct cast_ctx *ctx = NULL;

    if (coop_db_nrows(res) == 0) {
        voting_reply_no_proposal(req, id_text);
        goto out_free;
    }
    enum tally_method method;
    keys_json = voting_json_from_db(coop_db_value(res, 0, 1));
    if (tally_method_parse(coop_db_value(res, 0, 0), &method) < 0 || !json_is_array(keys_json) ||
        json_array_size(keys_json) > TALLY_MAX_OPTIONS) {
        coop_reply_problem(req, 500, "Internal Server Error", "Unreadable proposal.");
        goto out_free;
    }
    const char *keys[TALLY_MAX_OPTIONS];
    size_t n = json_array_size(keys_json);
    for (size_t i = 0; i < n; i++)
        keys[i] = json_string_value(json_array_get(keys_json, i));

    errors = json_array();
    int rc = ballot_choice_read(method, keys, n, coop_request_json(req), errors, &choice);
    if (rc == -COOP_EINVAL) {
        coop_reply_invalid(req, errors);
        errors = NULL;
        goto out_free;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (rc < 0 || !ctx || !(ctx->choice_text = json_dumps(choice.canonical, JSON_COMPACT))) {
        coop_reply_problem(req, 500, "Internal Server Error", "Out of memory.");
        goto out_free;
    }
    ctx->req = req;
    snprintf(ctx->id_text, sizeof(ctx->id_text), "%s", id_text);
    snprintf(ctx->member_text, sizeof(ctx->member_text), "%lld",
             (long long)coop_request_caller(req)->member_id);
    const char *params[] = {ctx->id_text, ctx->member_text, ctx->choice_text};
    rc = coop_db_query(voting_self,
                       "SELECT outcome, seq, replaces, cast_at, hash"
                       " FROM cast_ballot($1::bigint, $2::bigint, $3::jsonb)",
                       3, params, ballot_appended, ctx);
    if (rc < 0) {
        voting_reply_not_queued(req, rc);
        goto out_free;
    }
    ctx = NULL; /* ballot_appended owns it now */

out_free:
    json_decref(choice.canonical);
    json_decref(errors);
    json_decref(keys_json);
    if (ctx)
        cast_ctx_free(ctx);
}

void ballots_cast(coop_request *req, void *arg)
{
    (void)arg;
    if (coop_request_caller(req)->member_id <= 0) {
        coop_reply_problem(req, 403, "Forbidden",
                           "Only a token bound to a member may cast a ballot.");
        return;
    }
    voting_query_proposal(req,
                          "SELECT p.method, (SELECT json_agg(o.key ORDER BY o.position)"
                          "                  FROM options o WHERE o.proposal_id = p.id)::text"
                          " FROM proposals p WHERE p.id = $1::bigint",
                          NULL, proposal_for_ballot);
}

static void chain_verified(coop_request *req, const coop_db_result *res, const char *id_text)
{
    if (coop_db_nrows(res) == 0 || coop_db_is_null(res, 0, 0)) {
        voting_reply_no_proposal(req, id_text);
        return;
    }
    const char *bad = coop_db_value(res, 0, 2);
    const char *head = coop_db_value(res, 0, 3);
    coop_reply_json(req, 200,
                    json_pack("{s:I, s:I, s:b, s:o, s:o}", "proposal_id",
                              (json_int_t)strtoll(id_text, NULL, 10), "ballots",
                              (json_int_t)strtoll(coop_db_value(res, 0, 1), NULL, 10), "intact",
                              bad == NULL, "first_bad_seq",
                              bad ? json_integer(strtoll(bad, NULL, 10)) : json_null(), "head",
                              head ? json_string(head) : json_null()));
}

void ballots_verify(coop_request *req, void *arg)
{
    (void)arg;
    voting_query_proposal(req,
                          "SELECT p.id, v.ballot_count, v.first_bad_seq, v.head"
                          " FROM proposals p, verify_chain(p.id) v WHERE p.id = $1::bigint",
                          NULL, chain_verified);
}

/* ---- the caller's own ballot ------------------------------------------------------------- */

static void own_ballot_read(coop_request *req, const coop_db_result *res, const char *id_text)
{
    if (coop_db_nrows(res) == 0) {
        voting_reply_no_proposal(req, id_text);
    } else if (coop_db_is_null(res, 0, 0)) {
        coop_reply_problem(req, 404, "Not Found", "You have cast no ballot on proposal %s.",
                           id_text);
    } else {
        const char *replaces = coop_db_value(res, 0, 1);
        json_t *choice = voting_json_from_db(coop_db_value(res, 0, 4));
        coop_reply_json(
            req, 200,
            json_pack("{s:I, s:I, s:o, s:s, s:s, s:o*}", "proposal_id",
                      (json_int_t)strtoll(id_text, NULL, 10), "seq",
                      (json_int_t)strtoll(coop_db_value(res, 0, 0), NULL, 10), "replaces",
                      replaces ? json_integer(strtoll(replaces, NULL, 10)) : json_null(), "cast_at",
                      coop_db_value(res, 0, 2), "hash", coop_db_value(res, 0, 3), "choice",
                      choice));
    }
}

void ballots_mine(coop_request *req, void *arg)
{
    (void)arg;
    int64_t member_id = coop_request_caller(req)->member_id;
    if (member_id <= 0) {
        coop_reply_problem(req, 403, "Forbidden", "Only a token bound to a member has ballots.");
        return;
    }
    char member[24];
    snprintf(member, sizeof(member), "%lld", (long long)member_id);
    /* The member's last ballot (the one that counts) and the one it replaced, if any. */
    static const char sql[] =
        "SELECT b.seq,"
        " (SELECT max(x.seq) FROM ballots x WHERE x.proposal_id = p.id"
        "   AND x.member_id = $2::bigint AND x.seq < b.seq),"
        " rfc3339(b.cast_at), encode(b.hash, 'hex'), b.choice::text"
        " FROM proposals p LEFT JOIN LATERAL ("
        "   SELECT * FROM ballots y WHERE y.proposal_id = p.id AND y.member_id = $2::bigint"
        "   ORDER BY y.seq DESC LIMIT 1) b ON true"
        " WHERE p.id = $1::bigint";
    voting_query_proposal(req, sql, member, own_ballot_read);
}
