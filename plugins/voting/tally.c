/* Vote counting: yes/no with threshold, approval, and Schulze (winning votes). See tally.h. */
#include "tally.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tally {
    enum tally_method method;
    size_t option_count;
    uint64_t ballots;
    uint64_t yes, no, abstain;
    uint64_t *approvals; /* approval: per option */
    uint64_t *pairwise;  /* ranked: n*n, d[i][j] */
};

struct tally *tally_new(enum tally_method method, size_t option_count)
{
    if (method == TALLY_METHOD_YESNO)
        option_count = 3;
    else if (method != TALLY_METHOD_APPROVAL && method != TALLY_METHOD_RANKED)
        return NULL;
    if (option_count == 0 || option_count > TALLY_MAX_OPTIONS)
        return NULL;

    struct tally *tally = calloc(1, sizeof(*tally));
    if (!tally)
        return NULL;
    tally->method = method;
    tally->option_count = option_count;
    if (method == TALLY_METHOD_APPROVAL) {
        tally->approvals = calloc(option_count, sizeof(*tally->approvals));
        if (!tally->approvals)
            goto out_free_tally;
    } else if (method == TALLY_METHOD_RANKED) {
        tally->pairwise = calloc(option_count * option_count, sizeof(*tally->pairwise));
        if (!tally->pairwise)
            goto out_free_tally;
    }
    return tally;

out_free_tally:
    free(tally);
    return NULL;
}

void tally_free(struct tally *tally)
{
    if (!tally)
        return;
    free(tally->approvals);
    free(tally->pairwise);
    free(tally);
}

int tally_add_yesno(struct tally *tally, enum tally_choice choice)
{
    if (tally->method != TALLY_METHOD_YESNO)
        return -EINVAL;
    switch (choice) {
    case TALLY_CHOICE_YES:
        tally->yes++;
        break;
    case TALLY_CHOICE_NO:
        tally->no++;
        break;
    case TALLY_CHOICE_ABSTAIN:
        tally->abstain++;
        break;
    default:
        return -EINVAL;
    }
    tally->ballots++;
    return 0;
}

int tally_add_approval(struct tally *tally, const bool *approved)
{
    if (tally->method != TALLY_METHOD_APPROVAL)
        return -EINVAL;
    for (size_t i = 0; i < tally->option_count; i++)
        if (approved[i])
            tally->approvals[i]++;
    tally->ballots++;
    return 0;
}

/* Whether a ballot with these ranks prefers the option ranked a to the one ranked b.
 * 0 is "unranked": below every ranked option, and not preferred to another unranked one. */
static bool rank_preferred(unsigned a, unsigned b)
{
    return a != 0 && (b == 0 || a < b);
}

int tally_add_ranked(struct tally *tally, const unsigned *ranks)
{
    if (tally->method != TALLY_METHOD_RANKED)
        return -EINVAL;
    size_t n = tally->option_count;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (i != j && rank_preferred(ranks[i], ranks[j]))
                tally->pairwise[i * n + j]++;
    tally->ballots++;
    return 0;
}

bool tally_yes_passes(uint64_t yes, uint64_t no, enum tally_threshold threshold)
{
    /* yes / (yes + no) > num / den  <=>  yes * den > num * (yes + no); exact in integers.
     * With no yes and no no votes nothing passes (0 > 0 is false). */
    uint64_t num, den;
    switch (threshold) {
    case TALLY_THRESHOLD_HALF:
        num = 1, den = 2;
        break;
    case TALLY_THRESHOLD_TWO_THIRDS:
        num = 2, den = 3;
        break;
    case TALLY_THRESHOLD_THREE_QUARTERS:
        num = 3, den = 4;
        break;
    default:
        return false;
    }
    return yes * den > num * (yes + no);
}

void tally_percentages(const uint64_t *counts, size_t n, unsigned *percent)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += counts[i];
    unsigned given = 0;
    for (size_t i = 0; i < n; i++) {
        percent[i] = total ? (unsigned)(counts[i] * 100 / total) : 0;
        given += percent[i];
    }
    if (total == 0)
        return;
    /* At most n - 1 points are missing (each floor loses less than one). */
    bool bumped[TALLY_MAX_OPTIONS] = {false};
    for (; given < 100; given++) {
        size_t best = n;
        for (size_t i = 0; i < n && i < TALLY_MAX_OPTIONS; i++) {
            if (bumped[i])
                continue;
            if (best == n || counts[i] * 100 % total > counts[best] * 100 % total)
                best = i;
        }
        if (best == n)
            break;
        bumped[best] = true;
        percent[best]++;
    }
}

bool tally_quorum_met(uint64_t ballots, const struct tally_rules *rules)
{
    if (rules->quorum_percent > 0 && ballots == 0)
        return false;
    return ballots * 100 >= (uint64_t)rules->quorum_percent * rules->eligible;
}

/* Group options into tiers from a "beats" relation given as a callback: tier 0 holds every
 * option no other option beats, tier 1 those no remaining option beats, and so on. This is
 * Schulze's ranking when beats is p[j][i] > p[i][j] (a strict partial order by Schulze's
 * proof, so each round finds at least one option) and the order by count for approval. */
typedef bool (*beats_fn)(const struct tally_result *result, size_t j, size_t i);

static int group_into_tiers(struct tally_result *result, beats_fn beats)
{
    size_t n = result->option_count;
    bool placed[TALLY_MAX_OPTIONS] = {false};
    bool in_tier[TALLY_MAX_OPTIONS];
    size_t remaining = n;
    unsigned tier = 0;

    while (remaining > 0) {
        size_t found = 0;
        for (size_t i = 0; i < n; i++) {
            in_tier[i] = false;
            if (placed[i])
                continue;
            bool beaten = false;
            for (size_t j = 0; j < n && !beaten; j++)
                beaten = j != i && !placed[j] && beats(result, j, i);
            if (!beaten) {
                in_tier[i] = true;
                found++;
            }
        }
        /* Unreachable for a transitive relation; refuse rather than loop forever. */
        if (found == 0)
            return -EDOM;
        for (size_t i = 0; i < n; i++) {
            if (in_tier[i]) {
                placed[i] = true;
                result->tier[i] = tier;
            }
        }
        remaining -= found;
        tier++;
    }
    result->tier_count = tier;
    return 0;
}

static bool approval_beats(const struct tally_result *result, size_t j, size_t i)
{
    return result->approvals[j] > result->approvals[i];
}

static bool schulze_beats(const struct tally_result *result, size_t j, size_t i)
{
    size_t n = result->option_count;
    return result->strongest_paths[j * n + i] > result->strongest_paths[i * n + j];
}

/* Strongest paths by the Floyd–Warshall variant in Schulze's paper, section 2.3. A link i->j
 * exists when more ballots prefer i to j than j to i; its strength is the number of ballots
 * preferring i (winning votes). A path is as strong as its weakest link. */
static void schulze_strongest_paths(size_t n, const uint64_t *d, uint64_t *p)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            p[i * n + j] = (i != j && d[i * n + j] > d[j * n + i]) ? d[i * n + j] : 0;

    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            for (size_t k = 0; k < n; k++) {
                if (k == i || k == j)
                    continue;
                uint64_t via = p[j * n + i] < p[i * n + k] ? p[j * n + i] : p[i * n + k];
                if (via > p[j * n + k])
                    p[j * n + k] = via;
            }
        }
}

static bool all_zero(const uint64_t *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (values[i] != 0)
            return false;
    return true;
}

/* approval and ranked: the outcome and the winners (in index order). Nothing wins when the
 * quorum failed or nothing was chosen; otherwise the first tier does: one option is decided,
 * several are tied. */
static int decide(struct tally_result *result, bool nothing_chosen)
{
    size_t n = result->option_count;
    result->winners = calloc(n, sizeof(*result->winners));
    if (!result->winners)
        return -ENOMEM;
    result->winner_count = 0;
    if (!result->quorum_met) {
        result->outcome = TALLY_OUTCOME_FAILED_QUORUM;
        return 0;
    }
    if (nothing_chosen) {
        result->outcome = TALLY_OUTCOME_NO_WINNER;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (result->tier[i] == 0)
            result->winners[result->winner_count++] = i;
    result->outcome = result->winner_count == 1 ? TALLY_OUTCOME_DECIDED : TALLY_OUTCOME_TIED;
    return 0;
}

int tally_compute(const struct tally *tally, const struct tally_rules *rules,
                  struct tally_result *result)
{
    size_t n = tally->option_count;
    int rc = -ENOMEM;

    memset(result, 0, sizeof(*result));
    result->method = tally->method;
    result->option_count = n;
    result->ballots = tally->ballots;
    result->eligible = rules->eligible;
    result->quorum_met = tally_quorum_met(tally->ballots, rules);

    switch (tally->method) {
    case TALLY_METHOD_YESNO:
        result->yes = tally->yes;
        result->no = tally->no;
        result->abstain = tally->abstain;
        if (!result->quorum_met)
            result->outcome = TALLY_OUTCOME_FAILED_QUORUM;
        else if (tally_yes_passes(tally->yes, tally->no, rules->threshold))
            result->outcome = TALLY_OUTCOME_PASSED;
        else
            result->outcome = TALLY_OUTCOME_REJECTED;
        return 0;

    case TALLY_METHOD_APPROVAL: {
        result->approvals = malloc(n * sizeof(*result->approvals));
        result->tier = calloc(n, sizeof(*result->tier));
        if (!result->approvals || !result->tier)
            goto out_free_result;
        memcpy(result->approvals, tally->approvals, n * sizeof(*result->approvals));
        rc = group_into_tiers(result, approval_beats);
        if (rc < 0)
            goto out_free_result;
        uint64_t most = 0;
        for (size_t i = 0; i < n; i++)
            if (result->approvals[i] > most)
                most = result->approvals[i];
        /* An option nobody approved does not win, even when every option ties at zero. */
        rc = decide(result, most == 0);
        if (rc < 0)
            goto out_free_result;
        return 0;
    }

    case TALLY_METHOD_RANKED:
        result->pairwise = malloc(n * n * sizeof(*result->pairwise));
        result->strongest_paths = malloc(n * n * sizeof(*result->strongest_paths));
        result->tier = calloc(n, sizeof(*result->tier));
        if (!result->pairwise || !result->strongest_paths || !result->tier)
            goto out_free_result;
        memcpy(result->pairwise, tally->pairwise, n * n * sizeof(*result->pairwise));
        schulze_strongest_paths(n, result->pairwise, result->strongest_paths);
        rc = group_into_tiers(result, schulze_beats);
        if (rc < 0)
            goto out_free_result;
        /* When no ballot prefers any option to another (no ballot at all, or only empty or
         * all-tied rankings) every option ties at nothing: like approval with no approval,
         * nothing was chosen, so nothing wins. */
        rc = decide(result, all_zero(result->pairwise, n * n));
        if (rc < 0)
            goto out_free_result;
        return 0;
    }
    rc = -EINVAL;

out_free_result:
    tally_result_free(result);
    return rc;
}

void tally_result_free(struct tally_result *result)
{
    free(result->approvals);
    free(result->pairwise);
    free(result->strongest_paths);
    free(result->tier);
    free(result->winners);
    memset(result, 0, sizeof(*result));
}

const char *tally_outcome_name(enum tally_outcome outcome)
{
    switch (outcome) {
    case TALLY_OUTCOME_FAILED_QUORUM:
        return "failed_quorum";
    case TALLY_OUTCOME_PASSED:
        return "passed";
    case TALLY_OUTCOME_REJECTED:
        return "rejected";
    case TALLY_OUTCOME_DECIDED:
        return "decided";
    case TALLY_OUTCOME_TIED:
        return "tied";
    case TALLY_OUTCOME_NO_WINNER:
        return "no_winner";
    }
    return "unknown";
}

static const char *const method_names[] = {
    [TALLY_METHOD_YESNO] = "yesno",
    [TALLY_METHOD_APPROVAL] = "approval",
    [TALLY_METHOD_RANKED] = "ranked",
};

static const char *const threshold_names[] = {
    [TALLY_THRESHOLD_HALF] = "half",
    [TALLY_THRESHOLD_TWO_THIRDS] = "two_thirds",
    [TALLY_THRESHOLD_THREE_QUARTERS] = "three_quarters",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *tally_method_name(enum tally_method method)
{
    return (size_t)method < COUNT_OF(method_names) ? method_names[method] : "unknown";
}

const char *tally_threshold_name(enum tally_threshold threshold)
{
    return (size_t)threshold < COUNT_OF(threshold_names) ? threshold_names[threshold] : "unknown";
}

int tally_method_parse(const char *name, enum tally_method *out)
{
    for (size_t i = 0; i < COUNT_OF(method_names); i++) {
        if (strcmp(name, method_names[i]) == 0) {
            *out = (enum tally_method)i;
            return 0;
        }
    }
    return -EINVAL;
}

int tally_threshold_parse(const char *name, enum tally_threshold *out)
{
    for (size_t i = 0; i < COUNT_OF(threshold_names); i++) {
        if (strcmp(name, threshold_names[i]) == 0) {
            *out = (enum tally_threshold)i;
            return 0;
        }
    }
    return -EINVAL;
}
