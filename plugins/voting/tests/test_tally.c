/* Unit tests of the tally module (plugins/voting/tally.c).
 *
 * Usage: test_tally DATA_DIR   (DATA_DIR is ../shared/data: it holds voting/...)
 *
 * Three kinds of cases:
 *  1. small cases calculated by hand, the calculation in the comment beside each;
 *  2. every "expect Schulze Winning" assertion in voting/condorcet_php_vectors.txt (published by
 *     the Condorcet PHP library's tests), parsed from the file as written;
 *  3. both Debian leader elections, parsed from Debian's own tally sheets, against the orders
 *     the data README cites.
 * The data folder is required: a missing folder or file is a failure, never a skip.
 */
#include "../tally.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures;
static int checks;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

#define CHECK_EQ_U(got, want, what)                                                                \
    CHECK((unsigned long long)(got) == (unsigned long long)(want), "%s: got %llu, want %llu",      \
          what, (unsigned long long)(got), (unsigned long long)(want))

/* ---------------------------------------------------------------------------------------- */
/* 1. Hand-calculated cases                                                                  */

static struct tally_result count_yesno(uint64_t yes, uint64_t no, uint64_t abstain,
                                       const struct tally_rules *rules)
{
    struct tally *t = tally_new(TALLY_METHOD_YESNO, 0);
    struct tally_result r;
    for (uint64_t i = 0; i < yes; i++)
        tally_add_yesno(t, TALLY_CHOICE_YES);
    for (uint64_t i = 0; i < no; i++)
        tally_add_yesno(t, TALLY_CHOICE_NO);
    for (uint64_t i = 0; i < abstain; i++)
        tally_add_yesno(t, TALLY_CHOICE_ABSTAIN);
    if (tally_compute(t, rules, &r) != 0) {
        fail("tally_compute(yesno) failed");
        memset(&r, 0, sizeof(r));
    }
    tally_free(t);
    return r;
}

static void test_yesno(void)
{
    /* Threshold "more than": exactly the fraction is not enough.
     * half:       2 yes, 2 no: 2*2 = 4 > 1*4 = 4 is false; 3 yes, 2 no: 6 > 5 is true.
     * two_thirds: 2 yes, 1 no: 2*3 = 6 > 2*3 = 6 is false; 3 yes, 1 no: 9 > 8 is true.
     * 3/4:        3 yes, 1 no: 3*4 = 12 > 3*4 = 12 false;  4 yes, 1 no: 16 > 15 is true.
     * No yes and no no votes: 0 > 0 is false. */
    CHECK(!tally_yes_passes(2, 2, TALLY_THRESHOLD_HALF), "2:2 must not pass half");
    CHECK(tally_yes_passes(3, 2, TALLY_THRESHOLD_HALF), "3:2 must pass half");
    CHECK(!tally_yes_passes(2, 1, TALLY_THRESHOLD_TWO_THIRDS), "2:1 must not pass 2/3");
    CHECK(tally_yes_passes(3, 1, TALLY_THRESHOLD_TWO_THIRDS), "3:1 must pass 2/3");
    CHECK(!tally_yes_passes(3, 1, TALLY_THRESHOLD_THREE_QUARTERS), "3:1 must not pass 3/4");
    CHECK(tally_yes_passes(4, 1, TALLY_THRESHOLD_THREE_QUARTERS), "4:1 must pass 3/4");
    CHECK(!tally_yes_passes(0, 0, TALLY_THRESHOLD_HALF), "0:0 must not pass");
    CHECK(tally_yes_passes(1, 0, TALLY_THRESHOLD_THREE_QUARTERS), "1:0 passes 3/4 (4 > 3)");

    /* Quorum "at least", integer percent of the eligible:
     * 10 eligible, 50 %: 5 ballots: 500 >= 500 met; 4 ballots: 400 < 500 failed.
     * 3 eligible, 34 %: 1 ballot: 100 < 102 failed; 2 ballots: 200 >= 102 met.
     * 0 % with 0 ballots is met; a positive quorum is never met by 0 ballots (even with 0
     * eligible, where 0 >= 0 would hold arithmetically). */
    struct tally_rules q = {.eligible = 10, .quorum_percent = 50};
    CHECK(tally_quorum_met(5, &q), "5 of 10 meets 50%%");
    CHECK(!tally_quorum_met(4, &q), "4 of 10 misses 50%%");
    q = (struct tally_rules){.eligible = 3, .quorum_percent = 34};
    CHECK(!tally_quorum_met(1, &q), "1 of 3 misses 34%%");
    CHECK(tally_quorum_met(2, &q), "2 of 3 meets 34%%");
    q = (struct tally_rules){.eligible = 0, .quorum_percent = 0};
    CHECK(tally_quorum_met(0, &q), "0 of 0 meets 0%%");
    q = (struct tally_rules){.eligible = 0, .quorum_percent = 10};
    CHECK(!tally_quorum_met(0, &q), "0 ballots never meet a positive quorum");
    q = (struct tally_rules){.eligible = 7, .quorum_percent = 100};
    CHECK(tally_quorum_met(7, &q), "7 of 7 meets 100%%");
    CHECK(!tally_quorum_met(6, &q), "6 of 7 misses 100%%");

    /* Abstentions count toward the quorum only: 4 eligible, quorum 75 %, 1 yes + 2 abstain:
     * 3 ballots * 100 = 300 >= 75 * 4 = 300, met; yes 1 > half of (1 + 0): 2 > 1, passed. */
    struct tally_rules rules = {.eligible = 4, .quorum_percent = 75};
    struct tally_result r = count_yesno(1, 0, 2, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_PASSED, "1 yes + 2 abstain: got %s, want passed",
          tally_outcome_name(r.outcome));
    CHECK_EQ_U(r.ballots, 3, "yesno ballots");
    CHECK_EQ_U(r.abstain, 2, "yesno abstain");
    tally_result_free(&r);

    /* Same without the abstentions: 1 ballot * 100 = 100 < 300: failed quorum although yes
     * would pass. */
    r = count_yesno(1, 0, 0, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_FAILED_QUORUM, "1 yes of 4 at 75%%: got %s",
          tally_outcome_name(r.outcome));
    CHECK(!r.quorum_met, "quorum_met must be false");
    tally_result_free(&r);

    /* 10 eligible, no quorum, 2/3: 6 yes, 3 no, 1 abstain: 6*3 = 18 > 2*9 = 18 is false. */
    rules = (struct tally_rules){
        .eligible = 10, .quorum_percent = 0, .threshold = TALLY_THRESHOLD_TWO_THIRDS};
    r = count_yesno(6, 3, 1, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_REJECTED, "6:3 at 2/3: got %s, want rejected",
          tally_outcome_name(r.outcome));
    tally_result_free(&r);

    /* Single ballot, yes, 1 eligible, quorum 100 %, half: 100 >= 100, 2 > 1: passed. */
    rules = (struct tally_rules){.eligible = 1, .quorum_percent = 100};
    r = count_yesno(1, 0, 0, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_PASSED, "single yes ballot: got %s",
          tally_outcome_name(r.outcome));
    tally_result_free(&r);

    /* Zero ballots: quorum 0 -> rejected (nothing passes 0 > 0); quorum 1 -> failed quorum. */
    rules = (struct tally_rules){.eligible = 5, .quorum_percent = 0};
    r = count_yesno(0, 0, 0, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_REJECTED, "no ballots, no quorum: got %s",
          tally_outcome_name(r.outcome));
    tally_result_free(&r);
    rules.quorum_percent = 1;
    r = count_yesno(0, 0, 0, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_FAILED_QUORUM, "no ballots, quorum 1%%: got %s",
          tally_outcome_name(r.outcome));
    tally_result_free(&r);
}

static void test_percentages(void)
{
    /* Largest remainder, whole percent:
     * 1,1,1: 33.33 each, floors 99, the one missing point to the first (equal remainders).
     * 2,1,0: 66.67, 33.33, 0: floors 66 + 33 = 99, the point to the larger remainder (.67).
     * six ones: 16.67 each, floors 96, four points to the first four.
     * 1,0,0: 100, 0, 0.  0,0,0: all zero (nothing to share). */
    static const struct {
        size_t n;
        uint64_t counts[6];
        unsigned want[6];
    } cases[] = {
        {3, {1, 1, 1}, {34, 33, 33}},
        {3, {2, 1, 0}, {67, 33, 0}},
        {6, {1, 1, 1, 1, 1, 1}, {17, 17, 17, 17, 16, 16}},
        {3, {1, 0, 0}, {100, 0, 0}},
        {3, {0, 0, 0}, {0, 0, 0}},
        {3, {482, 339, 0}, {59, 41, 0}}, /* 58.71 + 41.29: floors 99, point to .71 */
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        unsigned got[6];
        tally_percentages(cases[c].counts, cases[c].n, got);
        for (size_t i = 0; i < cases[c].n; i++)
            CHECK_EQ_U(got[i], cases[c].want[i], "percentage");
    }
}

static void test_approval(void)
{
    /* Options A B C; ballots {A,B}, {B}, {B,C}, {}: A 1, B 3, C 1.
     * Winner B; order B > A = C (tiers B:0, A:1, C:1). The empty ballot still counts as cast. */
    struct tally *t = tally_new(TALLY_METHOD_APPROVAL, 3);
    bool b1[] = {true, true, false}, b2[] = {false, true, false}, b3[] = {false, true, true},
         b4[] = {false, false, false};
    tally_add_approval(t, b1);
    tally_add_approval(t, b2);
    tally_add_approval(t, b3);
    tally_add_approval(t, b4);
    struct tally_rules rules = {.eligible = 4, .quorum_percent = 100};
    struct tally_result r;
    CHECK(tally_compute(t, &rules, &r) == 0, "approval compute");
    CHECK_EQ_U(r.ballots, 4, "approval ballots");
    CHECK_EQ_U(r.approvals[0], 1, "approvals A");
    CHECK_EQ_U(r.approvals[1], 3, "approvals B");
    CHECK_EQ_U(r.approvals[2], 1, "approvals C");
    CHECK(r.outcome == TALLY_OUTCOME_DECIDED, "approval outcome %s", tally_outcome_name(r.outcome));
    CHECK(r.winner_count == 1 && r.winners[0] == 1, "approval winner must be B");
    CHECK(r.tier_count == 2 && r.tier[1] == 0 && r.tier[0] == 1 && r.tier[2] == 1,
          "approval order must be B > A = C");
    tally_result_free(&r);
    tally_free(t);

    /* Tie: {A}, {B} over A B C: A 1, B 1, C 0 -> winners A and B, order A = B > C. */
    t = tally_new(TALLY_METHOD_APPROVAL, 3);
    bool only_a[] = {true, false, false}, only_b[] = {false, true, false};
    tally_add_approval(t, only_a);
    tally_add_approval(t, only_b);
    rules = (struct tally_rules){.eligible = 2};
    CHECK(tally_compute(t, &rules, &r) == 0, "approval tie compute");
    CHECK(r.outcome == TALLY_OUTCOME_TIED, "approval tie outcome %s",
          tally_outcome_name(r.outcome));
    CHECK(r.winner_count == 2 && r.winners[0] == 0 && r.winners[1] == 1, "winners must be A, B");
    CHECK(r.tier_count == 2 && r.tier[0] == 0 && r.tier[1] == 0 && r.tier[2] == 1,
          "order must be A = B > C");
    tally_result_free(&r);
    tally_free(t);

    /* One ballot approving nothing: all options 0, one tier, no winner. */
    t = tally_new(TALLY_METHOD_APPROVAL, 2);
    bool none[] = {false, false};
    tally_add_approval(t, none);
    rules = (struct tally_rules){.eligible = 1, .quorum_percent = 100};
    CHECK(tally_compute(t, &rules, &r) == 0, "approval empty compute");
    CHECK(r.outcome == TALLY_OUTCOME_NO_WINNER, "nothing approved: %s",
          tally_outcome_name(r.outcome));
    CHECK(r.winner_count == 0 && r.tier_count == 1, "nothing approved: no winner, one tier");
    tally_result_free(&r);
    tally_free(t);

    /* Quorum miss: 1 ballot {A} of 3 eligible at 50 %: 100 < 150. Counts and order are still
     * computed (A > B) but there is no winner. */
    t = tally_new(TALLY_METHOD_APPROVAL, 2);
    bool a[] = {true, false};
    tally_add_approval(t, a);
    rules = (struct tally_rules){.eligible = 3, .quorum_percent = 50};
    CHECK(tally_compute(t, &rules, &r) == 0, "approval quorum compute");
    CHECK(r.outcome == TALLY_OUTCOME_FAILED_QUORUM, "approval quorum: %s",
          tally_outcome_name(r.outcome));
    CHECK(r.winner_count == 0 && r.tier_count == 2 && r.tier[0] == 0, "failed quorum keeps order");
    tally_result_free(&r);
    tally_free(t);
}

static struct tally_result count_ranked(size_t n, size_t ballots, const unsigned ranks[][4],
                                        const struct tally_rules *rules)
{
    struct tally *t = tally_new(TALLY_METHOD_RANKED, n);
    struct tally_result r;
    for (size_t b = 0; b < ballots; b++)
        tally_add_ranked(t, ranks[b]);
    if (tally_compute(t, rules, &r) != 0) {
        fail("tally_compute(ranked) failed");
        memset(&r, 0, sizeof(r));
    }
    tally_free(t);
    return r;
}

static void test_ranked_by_hand(void)
{
    struct tally_rules rules = {.eligible = 1, .quorum_percent = 100};

    /* A single ballot A > B, C left out. d[A][B] = d[A][C] = d[B][C] = 1 (C is unranked, so
     * below B), all others 0. Links A->B, A->C, B->C of strength 1; p[A][B] = p[A][C] =
     * p[B][C] = 1, the reverse 0. Order A > B > C, winner A. */
    const unsigned single[][4] = {{1, 2, 0}};
    struct tally_result r = count_ranked(3, 1, single, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_DECIDED, "single ballot: %s", tally_outcome_name(r.outcome));
    CHECK(r.winner_count == 1 && r.winners[0] == 0, "single ballot: winner A");
    CHECK(r.tier_count == 3 && r.tier[0] == 0 && r.tier[1] == 1 && r.tier[2] == 2,
          "single ballot: A > B > C");
    CHECK(r.pairwise[0 * 3 + 2] == 1 && r.pairwise[1 * 3 + 2] == 1 && r.pairwise[2 * 3 + 0] == 0,
          "single ballot: d[A][C] = d[B][C] = 1, d[C][A] = 0");
    tally_result_free(&r);

    /* Debian's rule: a ballot ranking only B ranks A and C equal, below B:
     * d[B][A] = d[B][C] = 1, d[A][C] = d[C][A] = 0. Order B > A = C. */
    const unsigned only_b[][4] = {{0, 1, 0}};
    r = count_ranked(3, 1, only_b, &rules);
    CHECK(r.tier_count == 2 && r.tier[1] == 0 && r.tier[0] == 1 && r.tier[2] == 1,
          "only B ranked: B > A = C");
    CHECK(r.pairwise[0 * 3 + 2] == 0 && r.pairwise[2 * 3 + 0] == 0, "unranked A, C tie");
    tally_result_free(&r);

    /* Ties on a ballot: A = B > C gives d[A][C] = d[B][C] = 1 and d[A][B] = d[B][A] = 0. */
    const unsigned tied[][4] = {{1, 1, 2}};
    r = count_ranked(3, 1, tied, &rules);
    CHECK(r.tier_count == 2 && r.tier[0] == 0 && r.tier[1] == 0 && r.tier[2] == 1, "A = B > C");
    CHECK(r.outcome == TALLY_OUTCOME_TIED && r.winner_count == 2, "A = B tie for first");
    tally_result_free(&r);

    /* Condorcet cycle: A>B>C, B>C>A, C>A>B. d[A][B] = d[B][C] = d[C][A] = 2, reverses 1.
     * Links of strength 2 around the cycle, so every p[i][j] = 2: all tied, three winners. */
    const unsigned cycle[][4] = {{1, 2, 3}, {3, 1, 2}, {2, 3, 1}};
    rules.eligible = 3;
    r = count_ranked(3, 3, cycle, &rules);
    CHECK(r.tier_count == 1 && r.winner_count == 3, "cycle: all three tied");
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            CHECK_EQ_U(r.strongest_paths[i * 3 + j], i == j ? 0 : 2, "cycle p[i][j]");
    tally_result_free(&r);

    /* Zero ballots, no quorum: everything 0, one tier, no winner. With a quorum: failed. */
    rules = (struct tally_rules){.eligible = 4, .quorum_percent = 0};
    r = count_ranked(2, 0, single, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_NO_WINNER && r.winner_count == 0 && r.tier_count == 1,
          "no ballots: no winner, one tier (%s)", tally_outcome_name(r.outcome));
    tally_result_free(&r);
    rules.quorum_percent = 25;
    r = count_ranked(2, 0, single, &rules);
    CHECK(r.outcome == TALLY_OUTCOME_FAILED_QUORUM, "no ballots, quorum: %s",
          tally_outcome_name(r.outcome));
    tally_result_free(&r);

    /* Ballots that prefer nothing: an empty ranking (ranks 0, 0, 0: all unranked, tied) and
     * one ranking all three in one tier (1, 1, 1). Neither ballot prefers any option to
     * another, so d[i][j] = 0 for every i, j; no links, p = 0, one tier of all three. Nothing
     * was chosen, so no winner rather than a three-way tie (as approval with no approval).
     * Quorum 100 % of 2 eligible: 2 * 100 = 200 >= 200, met, so the outcome is not
     * failed_quorum. */
    const unsigned prefer_nothing[][4] = {{0, 0, 0}, {1, 1, 1}};
    rules = (struct tally_rules){.eligible = 2, .quorum_percent = 100};
    r = count_ranked(3, 2, prefer_nothing, &rules);
    CHECK(r.quorum_met && r.ballots == 2, "prefer nothing: 2 ballots meet the quorum");
    CHECK(r.outcome == TALLY_OUTCOME_NO_WINNER && r.winner_count == 0,
          "prefer nothing: no winner (%s, %zu winners)", tally_outcome_name(r.outcome),
          r.winner_count);
    CHECK(r.tier_count == 1 && r.tier[0] == 0 && r.tier[1] == 0 && r.tier[2] == 0,
          "prefer nothing: one tier of all three");
    for (size_t i = 0; i < 9; i++)
        CHECK_EQ_U(r.pairwise[i], 0, "prefer nothing: d[i][j]");
    tally_result_free(&r);

    /* Misuse is refused, not miscounted. */
    struct tally *t = tally_new(TALLY_METHOD_RANKED, 2);
    CHECK(tally_add_yesno(t, TALLY_CHOICE_YES) == -EINVAL, "yes/no ballot into ranked count");
    tally_free(t);
    CHECK(tally_new(TALLY_METHOD_RANKED, 0) == NULL, "0 options refused");
    CHECK(tally_new(TALLY_METHOD_RANKED, TALLY_MAX_OPTIONS + 1) == NULL, "65 options refused");

    enum tally_method m;
    enum tally_threshold th;
    CHECK(tally_method_parse("ranked", &m) == 0 && m == TALLY_METHOD_RANKED, "parse ranked");
    CHECK(tally_method_parse("borda", &m) == -EINVAL, "parse borda refused");
    CHECK(tally_threshold_parse("two_thirds", &th) == 0 && th == TALLY_THRESHOLD_TWO_THIRDS,
          "parse two_thirds");
}

/* ---------------------------------------------------------------------------------------- */
/* Small file helpers                                                                         */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + used, 1, cap - used, f)) > 0) {
        used += got;
        if (used == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        fail("%s: out of memory", path);
        return NULL;
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}

/* Whether s[0..len) is well-formed UTF-8 (enough for telling it from ISO-8859-1, where a
 * letter such as 0xEB is never followed by the continuation bytes UTF-8 needs). */
static bool is_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t extra;
        if (s[i] < 0x80)
            extra = 0;
        else if ((s[i] & 0xE0) == 0xC0)
            extra = 1;
        else if ((s[i] & 0xF0) == 0xE0)
            extra = 2;
        else if ((s[i] & 0xF8) == 0xF0)
            extra = 3;
        else
            return false;
        for (size_t k = 1; k <= extra; k++)
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return false;
        i += extra + 1;
    }
    return true;
}

/* ISO-8859-1 to UTF-8: every byte is the code point of the same value. Caller frees. */
static char *latin1_to_utf8(const unsigned char *s, size_t len)
{
    char *out = malloc(len * 2 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x80) {
            *o++ = (char)s[i];
        } else {
            *o++ = (char)(0xC0 | (s[i] >> 6));
            *o++ = (char)(0x80 | (s[i] & 0x3F));
        }
    }
    *o = '\0';
    return out;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        *--end = '\0';
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* 2. Condorcet PHP vectors                                                                   */

#define MAX_CANDIDATES 16
#define MAX_BALLOT_LINES 64

struct vector_case {
    char name[128];
    size_t n;
    char names[MAX_CANDIDATES][32];
    size_t lines;
    unsigned ranks[MAX_BALLOT_LINES][MAX_CANDIDATES];
    unsigned long weight[MAX_BALLOT_LINES];
};

static int candidate_index(const struct vector_case *vc, const char *name)
{
    for (size_t i = 0; i < vc->n; i++)
        if (strcmp(vc->names[i], name) == 0)
            return (int)i;
    return -1;
}

/* "A > B = C * 3" (implicit ranking: candidates left out stay 0, unranked). */
static bool parse_vector_ballot(struct vector_case *vc, char *line)
{
    if (vc->lines >= MAX_BALLOT_LINES)
        return false;
    unsigned long weight = 1;
    char *star = strchr(line, '*');
    if (star) {
        *star = '\0';
        char *end;
        weight = strtoul(star + 1, &end, 10);
        if (weight == 0 || *trim(end) != '\0')
            return false;
    }
    unsigned *ranks = vc->ranks[vc->lines];
    memset(ranks, 0, sizeof(vc->ranks[0]));
    unsigned rank = 1;
    char *save_tier, *save_name;
    for (char *tier = strtok_r(line, ">", &save_tier); tier;
         tier = strtok_r(NULL, ">", &save_tier), rank++) {
        for (char *name = strtok_r(tier, "=", &save_name); name;
             name = strtok_r(NULL, "=", &save_name)) {
            int idx = candidate_index(vc, trim(name));
            if (idx < 0 || ranks[idx] != 0)
                return false;
            ranks[idx] = rank;
        }
    }
    vc->weight[vc->lines++] = weight;
    return true;
}

static bool parse_name_set(const struct vector_case *vc, char *text, bool *set)
{
    memset(set, 0, MAX_CANDIDATES * sizeof(*set));
    text = trim(text);
    if (*text == '[') {
        char *close = strchr(text, ']');
        if (!close)
            return false;
        *close = '\0';
        text++;
    }
    char *save;
    for (char *name = strtok_r(text, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int idx = candidate_index(vc, trim(name));
        if (idx < 0)
            return false;
        set[idx] = true;
    }
    return true;
}

static void check_vector_expectation(struct vector_case *vc, char *kind, char *value)
{
    struct tally *t = tally_new(TALLY_METHOD_RANKED, vc->n);
    uint64_t total = 0;
    for (size_t l = 0; l < vc->lines; l++)
        for (unsigned long w = 0; w < vc->weight[l]; w++, total++)
            tally_add_ranked(t, vc->ranks[l]);
    struct tally_rules rules = {.eligible = total};
    struct tally_result r;
    if (tally_compute(t, &rules, &r) != 0) {
        fail("%s: tally_compute failed", vc->name);
        tally_free(t);
        return;
    }
    tally_free(t);
    size_t n = vc->n;

    if (strncmp(kind, "winner", 6) == 0) {
        bool want[MAX_CANDIDATES];
        if (!parse_name_set(vc, value, want)) {
            fail("%s: cannot read expected winners", vc->name);
        } else {
            bool same = true;
            size_t want_count = 0;
            for (size_t i = 0; i < n; i++)
                want_count += want[i];
            for (size_t w = 0; w < r.winner_count; w++)
                same = same && want[r.winners[w]];
            CHECK(same && want_count == r.winner_count, "%s: winners differ (%s)", vc->name, kind);
        }
    } else if (strncmp(kind, "ranking", 7) == 0) {
        /* "1=[B, D] 2=[A, C]": tiers numbered 1, 2, ... in order. */
        unsigned want_tier[MAX_CANDIDATES];
        size_t placed = 0, tiers = 0;
        bool ok = true;
        char *p = value;
        while (ok && *(p = trim(p)) != '\0') {
            char *end;
            unsigned long tier = strtoul(p, &end, 10);
            ok = *end == '=';
            p = end + 1;
            char *stop = *p == '[' ? strchr(p, ']') : p + strcspn(p, " ");
            if (!stop) {
                ok = false;
                break;
            }
            if (*stop == ']')
                stop++;
            char saved = *stop;
            *stop = '\0';
            bool set[MAX_CANDIDATES];
            ok = ok && parse_name_set(vc, p, set);
            for (size_t i = 0; ok && i < n; i++)
                if (set[i])
                    want_tier[i] = (unsigned)tier - 1, placed++;
            tiers++;
            *stop = saved;
            p = stop;
        }
        if (!ok || placed != n) {
            fail("%s: cannot read expected ranking", vc->name);
        } else {
            bool same = r.tier_count == tiers;
            for (size_t i = 0; i < n; i++)
                same = same && r.tier[i] == want_tier[i];
            CHECK(same, "%s: ranking differs", vc->name);
        }
    } else if (strncmp(kind, "strongest paths", 15) == 0) {
        /* "A>B 14, A>C 14, ..." */
        char *save;
        size_t seen = 0;
        for (char *item = strtok_r(value, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            char from[32], to[32];
            unsigned long strength;
            if (sscanf(item, " %31[^>]>%31s %lu", from, to, &strength) != 3 ||
                candidate_index(vc, from) < 0 || candidate_index(vc, to) < 0) {
                fail("%s: cannot read strongest path '%s'", vc->name, item);
                continue;
            }
            size_t i = (size_t)candidate_index(vc, from), j = (size_t)candidate_index(vc, to);
            CHECK(r.strongest_paths[i * n + j] == strength, "%s: p[%s][%s] = %llu, want %lu",
                  vc->name, from, to, (unsigned long long)r.strongest_paths[i * n + j], strength);
            seen++;
        }
        CHECK(seen == n * (n - 1), "%s: expected all %zu strongest paths, read %zu", vc->name,
              n * (n - 1), seen);
    } else {
        fail("%s: unknown expectation '%s'", vc->name, kind);
    }
    tally_result_free(&r);
}

/* Runs one section if it asserts anything about Schulze winning votes; returns the number of
 * such assertions. Sections about other methods (margin, ratio, IRV, STV) are skipped whole:
 * their ballot syntax (weights "^ 28", files) is not ours to read. */
static int run_vector_section(char **lines, size_t count)
{
    static const char prefix[] = "expect Schulze Winning ";
    int asserted = 0;
    bool relevant = false;
    for (size_t i = 0; i < count; i++)
        relevant = relevant || strncmp(lines[i], prefix, sizeof(prefix) - 1) == 0;
    if (!relevant)
        return 0;

    struct vector_case *vc = calloc(1, sizeof(*vc));
    snprintf(vc->name, sizeof(vc->name), "%s", trim(lines[0] + 2));
    for (size_t i = 1; i < count; i++) {
        char *line = lines[i];
        if (strncmp(line, "candidates:", 11) == 0) {
            char *save;
            for (char *name = strtok_r(line + 11, " ", &save); name && vc->n < MAX_CANDIDATES;
                 name = strtok_r(NULL, " ", &save))
                snprintf(vc->names[vc->n++], sizeof(vc->names[0]), "%s", trim(name));
        } else if (strncmp(line, prefix, sizeof(prefix) - 1) == 0) {
            char *kind = line + sizeof(prefix) - 1;
            char *colon = strchr(kind, ':');
            if (!colon) {
                fail("%s: expectation without ':'", vc->name);
                continue;
            }
            *colon = '\0';
            check_vector_expectation(vc, kind, colon + 1);
            asserted++;
        } else if (strncmp(line, "expect ", 7) == 0) {
            continue; /* another method's answer */
        } else {
            char *ballot = strncmp(line, "then add:", 9) == 0 ? line + 9 : line;
            if (!parse_vector_ballot(vc, ballot))
                fail("%s: cannot read ballot line '%s'", vc->name, lines[i]);
        }
    }
    free(vc);
    return asserted;
}

static void test_condorcet_vectors(const char *data_dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/voting/condorcet_php_vectors.txt", data_dir);
    size_t len;
    char *text = read_file(path, &len);
    if (!text)
        return;

    char *lines[256];
    size_t count = 0;
    int sections = 0, asserted = 0;
    char *save;
    for (char *line = strtok_r(text, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
        if (line)
            line = trim(line);
        /* A section runs from its "== name" line to the next one or the end of the file. */
        if (!line || strncmp(line, "== ", 3) == 0) {
            if (count > 0) {
                int n = run_vector_section(lines, count);
                sections += n > 0;
                asserted += n;
            }
            if (!line)
                break;
            lines[0] = line;
            count = 1;
            continue;
        }
        if (line[0] == '\0' || line[0] == '#' || count == 0)
            continue;
        if (count == sizeof(lines) / sizeof(lines[0])) {
            fail("condorcet vectors: section '%s' too long", lines[0]);
            continue;
        }
        lines[count++] = line;
    }
    free(text);
    /* The file has 18 sections with Schulze winning-votes answers and 24 such lines; fewer
     * means the reader skipped something, which must not pass silently. */
    CHECK(sections == 18, "condorcet vectors: %d Schulze sections read, want 18", sections);
    CHECK(asserted == 24, "condorcet vectors: %d Schulze assertions read, want 24", asserted);
    printf("condorcet vectors: %d sections, %d assertions\n", sections, asserted);
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Debian tally sheets                                                                     */

struct debian_sheet {
    size_t n;
    char *names[TALLY_MAX_OPTIONS]; /* UTF-8, point into text */
    struct tally *tally;
    size_t ballots;
};

/* Reads "Option N---->: Name" headers and "V: 1-23 <hash>" votes. Character k of a vote is the
 * rank of option k+1, '-' for unranked. Returns false (after saying why) on anything else that
 * looks like a vote, so a format surprise fails loudly. */
static bool parse_debian_sheet(char *text, struct debian_sheet *sheet)
{
    char *save;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *opt = strstr(line, "Option ");
        if (opt && strncmp(line, "V:", 2) != 0) {
            char *end;
            unsigned long number = strtoul(opt + 7, &end, 10);
            while (*end == '-')
                end++;
            if (strncmp(end, ">:", 2) != 0)
                continue;
            if (number != sheet->n + 1 || number > TALLY_MAX_OPTIONS) {
                fail("option %lu out of order", number);
                return false;
            }
            sheet->names[sheet->n++] = trim(end + 2);
            continue;
        }
        if (strncmp(line, "V:", 2) != 0)
            continue;
        if (!sheet->tally) {
            sheet->tally = tally_new(TALLY_METHOD_RANKED, sheet->n);
            if (!sheet->tally) {
                fail("vote before any option header");
                return false;
            }
        }
        char *vote = line + 2;
        while (*vote == ' ')
            vote++;
        unsigned ranks[TALLY_MAX_OPTIONS];
        size_t k = 0;
        for (; vote[k] && vote[k] != ' ' && vote[k] != '\t'; k++) {
            if (k >= sheet->n || (vote[k] != '-' && (vote[k] < '1' || vote[k] > '9'))) {
                fail("bad vote line '%s'", line);
                return false;
            }
            ranks[k] = vote[k] == '-' ? 0 : (unsigned)(vote[k] - '0');
        }
        if (k != sheet->n) {
            fail("vote '%s' has %zu ranks for %zu options", line, k, sheet->n);
            return false;
        }
        tally_add_ranked(sheet->tally, ranks);
        sheet->ballots++;
    }
    return sheet->tally != NULL;
}

static void test_debian_sheet(const char *data_dir, const char *file, size_t want_ballots,
                              const char *want_order)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/voting/debian_tally/%s", data_dir, file);
    size_t len;
    char *raw = read_file(path, &len);
    if (!raw)
        return;
    /* Debian's 2007 sheet is ISO-8859-1, the 2020 one UTF-8: compare names in UTF-8. */
    char *text = raw;
    if (!is_utf8((unsigned char *)raw, len)) {
        text = latin1_to_utf8((unsigned char *)raw, len);
        free(raw);
        raw = text;
    }

    struct debian_sheet sheet = {0};
    if (!parse_debian_sheet(text, &sheet)) {
        fail("%s: cannot read the tally sheet", file);
        goto out_free;
    }
    CHECK_EQ_U(sheet.ballots, want_ballots, file);

    struct tally_rules rules = {.eligible = sheet.ballots};
    struct tally_result r;
    if (tally_compute(sheet.tally, &rules, &r) != 0) {
        fail("%s: tally_compute failed", file);
        goto out_free;
    }
    char order[2048] = "";
    for (unsigned tier = 0; tier < r.tier_count; tier++) {
        bool first_in_tier = true;
        for (size_t i = 0; i < sheet.n; i++) {
            if (r.tier[i] != tier)
                continue;
            if (order[0])
                strncat(order, first_in_tier ? " > " : " = ", sizeof(order) - strlen(order) - 1);
            strncat(order, sheet.names[i], sizeof(order) - strlen(order) - 1);
            first_in_tier = false;
        }
    }
    CHECK(strcmp(order, want_order) == 0, "%s: order\n  got  %s\n  want %s", file, order,
          want_order);
    CHECK(r.outcome == TALLY_OUTCOME_DECIDED && r.winner_count == 1, "%s: one winner", file);
    printf("%s: %zu ballots: %s\n", file, sheet.ballots, order);
    tally_result_free(&r);

out_free:
    tally_free(sheet.tally);
    free(raw);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR (the shared data folder holding voting/)\n", argv[0]);
        return 2;
    }
    const char *data_dir = argv[1];
    char probe[4096];
    snprintf(probe, sizeof(probe), "%s/voting", data_dir);
    struct stat st;
    errno = 0;
    if (stat(probe, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "FAIL: %s: %s: the shared test data is required (Debian tally sheets and the "
                "Condorcet vectors); CI has it\n",
                probe, errno ? strerror(errno) : "not a folder");
        return 1;
    }

    test_yesno();
    test_percentages();
    test_approval();
    test_ranked_by_hand();
    test_condorcet_vectors(data_dir);
    /* Published orders, as cited in the data README (Condorcet's DebianFormatTest.php). */
    test_debian_sheet(data_dir, "leader2020_tally.txt", 339,
                      "Jonathan Carter > Sruthi Chandran > Brian Gupta > None Of The Above");
    test_debian_sheet(data_dir, "leader2007_tally.txt", 482,
                      "Sam Hocevar > Steve McIntyre > Rapha\xC3\xABl Hertzog > Wouter Verhelst > "
                      "Anthony Towns > Gustavo Franco > None Of The Above > Simon Richter > "
                      "Aigars Mahinovs");

    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
