/* The result document of a closed proposal, built from the tally. It is stored once, in the
 * closing transaction, and served as stored from then on.
 *
 *   proposal_id, method, outcome, closed_at, closed_by
 *   eligible_voters, ballots, quorum_percent, quorum_met
 *   options          [{key, label}] as in the proposal
 *   winners          [key...]: the first tier (yesno: ["yes"] passed, ["no"] rejected);
 *                    empty when the quorum failed or nothing won
 *   yesno:           threshold, yes, no, abstain, percent_of_ballots {yes, no, abstain}
 *                    (whole percent adding up to 100 by the largest remainder; all 0 without
 *                    ballots)
 *   approval:        approvals {key: n}, order [[key...]...] (tiers, best first)
 *   ranked:          order, pairwise {a: {b: ballots preferring a to b}},
 *                    strongest_paths {a: {b: strength of the strongest path a->b}}
 *                    (Schulze, winning votes; diagonal left out)
 */
#include "voting_internal.h"

static json_t *matrix_json(const char *const *keys, size_t n, const uint64_t *cells)
{
    json_t *rows = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_object();
        for (size_t j = 0; j < n; j++)
            if (i != j)
                json_object_set_new(row, keys[j], json_integer((json_int_t)cells[i * n + j]));
        json_object_set_new(rows, keys[i], row);
    }
    return rows;
}

static json_t *order_json(const char *const *keys, const struct tally_result *r)
{
    json_t *order = json_array();
    for (unsigned tier = 0; tier < r->tier_count; tier++) {
        json_t *members = json_array();
        for (size_t i = 0; i < r->option_count; i++)
            if (r->tier[i] == tier)
                json_array_append_new(members, json_string(keys[i]));
        json_array_append_new(order, members);
    }
    return order;
}

json_t *result_json(const json_t *proposal, const struct tally_result *r)
{
    const json_t *options = json_object_get(proposal, "options");
    size_t n = json_array_size(options);
    const char *keys[TALLY_MAX_OPTIONS];
    if (n == 0 || n > TALLY_MAX_OPTIONS)
        return NULL;
    for (size_t i = 0; i < n; i++)
        keys[i] = json_string_value(json_object_get(json_array_get(options, i), "key"));

    json_t *doc = json_object();
    json_object_set(doc, "proposal_id", json_object_get(proposal, "id"));
    json_object_set_new(doc, "method", json_string(tally_method_name(r->method)));
    json_object_set_new(doc, "outcome", json_string(tally_outcome_name(r->outcome)));
    json_object_set(doc, "closed_at", json_object_get(proposal, "closed_at"));
    json_object_set(doc, "closed_by", json_object_get(proposal, "closed_by"));
    json_object_set_new(doc, "eligible_voters", json_integer((json_int_t)r->eligible));
    json_object_set_new(doc, "ballots", json_integer((json_int_t)r->ballots));
    json_object_set(doc, "quorum_percent", json_object_get(proposal, "quorum_percent"));
    json_object_set_new(doc, "quorum_met", json_boolean(r->quorum_met));
    json_object_set_new(doc, "options", json_deep_copy(options));

    json_t *winners = json_array();
    switch (r->method) {
    case TALLY_METHOD_YESNO:
        json_object_set(doc, "threshold", json_object_get(proposal, "threshold"));
        json_object_set_new(doc, "yes", json_integer((json_int_t)r->yes));
        json_object_set_new(doc, "no", json_integer((json_int_t)r->no));
        json_object_set_new(doc, "abstain", json_integer((json_int_t)r->abstain));
        {
            /* Shares of the ballots cast, adding up to exactly 100 (largest remainder). */
            const uint64_t counts[] = {r->yes, r->no, r->abstain};
            unsigned percent[3];
            tally_percentages(counts, 3, percent);
            json_object_set_new(doc, "percent_of_ballots",
                                json_pack("{s:i, s:i, s:i}", "yes", (int)percent[0], "no",
                                          (int)percent[1], "abstain", (int)percent[2]));
        }
        if (r->outcome == TALLY_OUTCOME_PASSED)
            json_array_append_new(winners, json_string("yes"));
        else if (r->outcome == TALLY_OUTCOME_REJECTED)
            json_array_append_new(winners, json_string("no"));
        break;
    case TALLY_METHOD_APPROVAL: {
        json_t *approvals = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(approvals, keys[i], json_integer((json_int_t)r->approvals[i]));
        json_object_set_new(doc, "approvals", approvals);
        json_object_set_new(doc, "order", order_json(keys, r));
        break;
    }
    case TALLY_METHOD_RANKED:
        json_object_set_new(doc, "order", order_json(keys, r));
        json_object_set_new(doc, "pairwise", matrix_json(keys, n, r->pairwise));
        json_object_set_new(doc, "strongest_paths", matrix_json(keys, n, r->strongest_paths));
        break;
    }
    for (size_t w = 0; w < r->winner_count; w++)
        json_array_append_new(winners, json_string(keys[r->winners[w]]));
    json_object_set_new(doc, "winners", winners);
    return doc;
}
