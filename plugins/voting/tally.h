/* Vote counting for the voting plugin: pure computation, no I/O, no allocation hidden from the
 * caller's view (everything a result owns is freed by tally_result_free()).
 *
 * Three methods:
 *  - yes/no/abstain with a pass threshold over the yes and no votes;
 *  - approval: a ballot approves any number of options (zero included);
 *  - ranked: counted by the Schulze method with winning votes as the defeat strength. Ballots
 *    may rank options equal; options a ballot leaves out rank equal to each other, below every
 *    option it ranks (the rule of Debian's constitution, A.6).
 *
 * All arithmetic is on exact integers: a quorum or threshold is compared by cross
 * multiplication, never by dividing.
 *
 * Usage: tally_new(), one tally_add_*() per counted ballot (the caller has already kept only the
 * last ballot of each voter), tally_compute() into a struct tally_result, tally_free(),
 * and tally_result_free() when the result has been stored or printed.
 */
#ifndef COOP_VOTING_TALLY_H
#define COOP_VOTING_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest number of options a proposal may have. It bounds the O(n^3) Schulze step and the
 * n*n matrices kept in a result (64 options: 4096 cells, 262144 steps). */
#define TALLY_MAX_OPTIONS 64

enum tally_method {
    TALLY_METHOD_YESNO,
    TALLY_METHOD_APPROVAL,
    TALLY_METHOD_RANKED,
};

/* For yes/no: the fraction of the yes and no votes that yes must exceed (strictly). */
enum tally_threshold {
    TALLY_THRESHOLD_HALF,           /* yes > 1/2 of (yes + no) */
    TALLY_THRESHOLD_TWO_THIRDS,     /* yes > 2/3 of (yes + no) */
    TALLY_THRESHOLD_THREE_QUARTERS, /* yes > 3/4 of (yes + no) */
};

enum tally_choice {
    TALLY_CHOICE_YES,
    TALLY_CHOICE_NO,
    TALLY_CHOICE_ABSTAIN,
};

enum tally_outcome {
    TALLY_OUTCOME_FAILED_QUORUM, /* too few eligible voters cast a ballot: nothing is decided */
    TALLY_OUTCOME_PASSED,        /* yes/no: yes exceeded the threshold */
    TALLY_OUTCOME_REJECTED,      /* yes/no: it did not (also when nobody voted yes or no) */
    TALLY_OUTCOME_DECIDED,       /* approval/ranked: exactly one winner */
    TALLY_OUTCOME_TIED,          /* approval/ranked: several winners share the first place */
    /* approval/ranked: nothing was chosen: no approval at all (approval), or no ballot prefers
     * any option to another, every d[i][j] = 0 (ranked: no ballots, or only empty rankings) */
    TALLY_OUTCOME_NO_WINNER,
};

/* The rules of one proposal. */
struct tally_rules {
    /* Size of the electorate snapshot taken when voting opened. */
    uint64_t eligible;
    /* 0..100: the quorum is met when ballots * 100 >= quorum_percent * eligible ("at least").
     * A positive quorum is never met by zero ballots, so an empty electorate with a quorum
     * fails rather than deciding something nobody voted on. */
    unsigned quorum_percent;
    /* Used by yes/no only. */
    enum tally_threshold threshold;
};

/* What tally_compute() fills in. Arrays are owned by the result (free with tally_result_free);
 * unused ones are NULL. Option indexes are those used when adding ballots (0..option_count-1). */
struct tally_result {
    enum tally_method method;
    enum tally_outcome outcome;
    size_t option_count;
    uint64_t ballots;  /* ballots counted */
    uint64_t eligible; /* copied from the rules */
    bool quorum_met;

    /* yes/no only */
    uint64_t yes, no, abstain;

    /* approval only: approvals[i] = ballots approving option i */
    uint64_t *approvals;

    /* ranked only, row-major n*n: pairwise[i*n+j] = ballots preferring i to j (d[i][j]);
     * strongest_paths[i*n+j] = strength of the strongest path from i to j (p[i][j]).
     * The diagonal is 0. */
    uint64_t *pairwise;
    uint64_t *strongest_paths;

    /* approval and ranked: the full order as tiers. tier[i] is option i's place, 0 being the
     * first; options in one tier are tied. tier_count tiers are used, each non-empty.
     * Computed even when the quorum failed, so the tally can be shown. */
    unsigned *tier;
    size_t tier_count;

    /* Winning options in index order: the first tier, unless the outcome is FAILED_QUORUM or
     * NO_WINNER (then winner_count is 0). */
    size_t *winners;
    size_t winner_count;
};

struct tally;

/* A new, empty count for option_count options (1..TALLY_MAX_OPTIONS; yes/no ignores it and
 * takes 3). Returns NULL when option_count is out of range or memory ran out.
 * The caller frees it with tally_free(). */
struct tally *tally_new(enum tally_method method, size_t option_count);

/* Frees a count made by tally_new(); NULL is accepted. */
void tally_free(struct tally *tally);

/* Add one yes/no ballot. Returns 0, or -EINVAL when the count is not yes/no or choice is not
 * a tally_choice. */
int tally_add_yesno(struct tally *tally, enum tally_choice choice);

/* Add one approval ballot; approved (borrowed) has option_count entries. Returns 0 or -EINVAL
 * when the count is not an approval count. */
int tally_add_approval(struct tally *tally, const bool *approved);

/* Add one ranked ballot; ranks (borrowed) has option_count entries: 1 is the best rank,
 * a larger number a worse one, equal numbers a tie, 0 "not ranked" (below every ranked
 * option, equal to the other unranked ones). Only the order of the numbers matters, so gaps
 * are allowed. Returns 0 or -EINVAL when the count is not a ranked count. */
int tally_add_ranked(struct tally *tally, const unsigned *ranks);

/* Compute the result of the ballots added so far (the count stays usable). *result is
 * overwritten; free it with tally_result_free(). Returns 0 or -ENOMEM (then *result holds
 * nothing to free). */
int tally_compute(const struct tally *tally, const struct tally_rules *rules,
                  struct tally_result *result);

/* Frees the arrays of a result filled by tally_compute() and zeroes it; safe on a zeroed
 * result and when called twice. */
void tally_result_free(struct tally_result *result);

/* Stable names used in the JSON the plugin serves and stores. Static strings. */
const char *tally_outcome_name(enum tally_outcome outcome);
const char *tally_method_name(enum tally_method method);
const char *tally_threshold_name(enum tally_threshold threshold);

/* Parse the names above; return 0 and set *out, or -EINVAL for an unknown name. */
int tally_method_parse(const char *name, enum tally_method *out);
int tally_threshold_parse(const char *name, enum tally_threshold *out);

/* Whole percentages of counts[0..n) that add up to exactly 100, by the largest remainder method
 * (DESIGN.md: shares are rounded so that they add up): every share gets its floor, then the
 * points still missing go one each to the largest remainders; equal remainders favour the lower
 * index, so the answer is deterministic. percent (n entries, caller's) is all zero when the counts
 * sum to zero. */
void tally_percentages(const uint64_t *counts, size_t n, unsigned *percent);

/* True when yes exceeds the threshold fraction of yes + no (strictly). Exposed for tests. */
bool tally_yes_passes(uint64_t yes, uint64_t no, enum tally_threshold threshold);

/* True when the quorum of the rules is met by this number of ballots. Exposed for tests. */
bool tally_quorum_met(uint64_t ballots, const struct tally_rules *rules);

#endif
