/* Unit tests of the plugin's pure parts: ballot reading (ballot_choice.c) and RFC 3339
 * parsing (rfc3339.c). No coopd, no database: these files call jansson and the tally only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../voting_internal.h"

/* COOP_PLUGIN() defines this in the plugin; the pure files never call through it. */
const coop_host_api *coop_host;

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static void test_rfc3339(void)
{
    /* Expected values from GNU date: date -u -d '<text>' +%s (times 1000). */
    static const struct {
        const char *text;
        long long ms;
    } good[] = {
        {"2026-12-03T17:00:00Z", 1796317200000LL},
        {"2024-02-29T23:59:59+01:00", 1709247599000LL},
        {"1970-01-01T00:00:00Z", 0},
        {"2000-03-01T00:00:00-05:30", 951888600000LL},
        {"1969-12-31T23:59:59Z", -1000},
        {"9999-12-31T23:59:59Z", 253402300799000LL},
        {"2026-12-03t17:00:00.250z", 1796317200250LL},
        {"2026-12-03T17:00:00.123456Z", 1796317200123LL},
        /* The ends of the range the API accepts (years 0001 to 9999 in UTC). */
        {"0001-01-01T00:00:00Z", -62135596800000LL},
        {"9999-12-31T23:59:59.999Z", 253402300799999LL},
        {"0001-01-01T01:00:00+01:00", -62135596800000LL},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ms = 0;
        bool ok = rfc3339_parse(good[i].text, &ms);
        CHECK(ok && ms == good[i].ms, "%s: got %d %lld, want %lld", good[i].text, ok, (long long)ms,
              good[i].ms);
    }
    static const char *const bad[] = {
        "2026-12-03",
        "2026-12-03T17:00:00",
        "2026-13-03T17:00:00Z",
        "2026-02-30T17:00:00Z",
        "2023-02-29T00:00:00Z",
        "2026-12-03T24:00:00Z",
        "2026-12-03 17:00:00Z",
        "2026-12-03T17:00:00+0100",
        "2026-12-03T17:00:00.Z",
        "2026-12-03T17:00:00Zx",
        "",
        "tomorrow",
        /* Valid text, but past 9999 or before 0001 once the offset is applied: GNU date gives
         * 253402304399 (10000-01-01T00:59:59Z) and -62135598600 (0000-12-31T23:30:00Z). */
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:30:00+01:00",
        "0000-12-31T23:59:59Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms;
        CHECK(!rfc3339_parse(bad[i], &ms), "'%s' must be refused", bad[i]);
    }
    int64_t ms;
    CHECK(!rfc3339_parse(NULL, &ms), "NULL must be refused");
}

static const char *const keys[] = {"a", "b", "c", "d"};

/* Reads body (JSON text) as a ballot; returns the rc and puts the canonical form (or the
 * errors) as compact JSON text in out. */
static int read_ballot(enum tally_method method, const char *body_text, char *out, size_t size,
                       struct ballot_choice *choice)
{
    json_t *body = json_loads(body_text, 0, NULL);
    json_t *errors = json_array();
    int rc = ballot_choice_read(method, keys, 4, body, errors, choice);
    char *text = json_dumps(rc == 0 ? choice->canonical : errors, JSON_COMPACT);
    snprintf(out, size, "%s", text);
    free(text);
    json_decref(errors);
    json_decref(body);
    return rc;
}

static void expect_ok(enum tally_method method, const char *body, const char *canonical)
{
    char out[512];
    struct ballot_choice choice;
    int rc = read_ballot(method, body, out, sizeof(out), &choice);
    CHECK(rc == 0 && strcmp(out, canonical) == 0, "%s: rc %d, got %s, want %s", body, rc, out,
          canonical);
    json_decref(choice.canonical);
}

static void expect_invalid(enum tally_method method, const char *body, const char *pointer)
{
    char out[512];
    struct ballot_choice choice;
    int rc = read_ballot(method, body, out, sizeof(out), &choice);
    char want[128];
    snprintf(want, sizeof(want), "\"pointer\":\"%s\"", pointer);
    CHECK(rc == -COOP_EINVAL && strstr(out, want), "%s: rc %d, errors %s, want pointer %s", body,
          rc, out, pointer);
    if (rc == 0)
        json_decref(choice.canonical);
}

static void test_ballots(void)
{
    /* Canonical forms: options in the proposal's order within an approval and within a tier. */
    expect_ok(TALLY_METHOD_YESNO, "{\"choice\":\"abstain\"}", "{\"choice\":\"abstain\"}");
    expect_ok(TALLY_METHOD_APPROVAL, "{\"approve\":[\"c\",\"a\"]}", "{\"approve\":[\"a\",\"c\"]}");
    expect_ok(TALLY_METHOD_APPROVAL, "{\"approve\":[]}", "{\"approve\":[]}");
    expect_ok(TALLY_METHOD_RANKED, "{\"ranking\":[[\"d\"],[\"c\",\"a\"]]}",
              "{\"ranking\":[[\"d\"],[\"a\",\"c\"]]}");
    expect_ok(TALLY_METHOD_RANKED, "{\"ranking\":[]}", "{\"ranking\":[]}");

    /* The ranks handed to the tally: d first, a and c tied second, b unranked. */
    char out[512];
    struct ballot_choice choice;
    read_ballot(TALLY_METHOD_RANKED, "{\"ranking\":[[\"d\"],[\"c\",\"a\"]]}", out, sizeof(out),
                &choice);
    CHECK(choice.ranks[0] == 2 && choice.ranks[1] == 0 && choice.ranks[2] == 2 &&
              choice.ranks[3] == 1,
          "ranks a=2 b=0 c=2 d=1, got %u %u %u %u", choice.ranks[0], choice.ranks[1],
          choice.ranks[2], choice.ranks[3]);
    json_decref(choice.canonical);

    /* Unknown option, option named twice, ballot not fitting the method. */
    expect_invalid(TALLY_METHOD_APPROVAL, "{\"approve\":[\"a\",\"x\"]}", "/approve/1");
    expect_invalid(TALLY_METHOD_APPROVAL, "{\"approve\":[\"a\",\"b\",\"a\"]}", "/approve/2");
    expect_invalid(TALLY_METHOD_RANKED, "{\"ranking\":[[\"a\"],[\"b\",\"zz\"]]}", "/ranking/1/1");
    expect_invalid(TALLY_METHOD_RANKED, "{\"ranking\":[[\"a\"],[\"b\",\"a\"]]}", "/ranking/1/1");
    expect_invalid(TALLY_METHOD_RANKED, "{\"ranking\":[[\"a\"],[]]}", "/ranking/1");
    expect_invalid(TALLY_METHOD_RANKED, "{\"ranking\":[[\"a\"],[\"b\"],[\"c\"],[\"d\"],[\"a\"]]}",
                   "/ranking");
    expect_invalid(TALLY_METHOD_RANKED, "{\"approve\":[\"a\"]}", "/approve");
    expect_invalid(TALLY_METHOD_RANKED, "{}", "/ranking");
    expect_invalid(TALLY_METHOD_YESNO, "{\"choice\":\"maybe\"}", "/choice");
    expect_invalid(TALLY_METHOD_YESNO, "{\"choice\":\"yes\",\"ranking\":[]}", "/ranking");
    expect_invalid(TALLY_METHOD_APPROVAL, "{\"approve\":\"a\"}", "/approve");
    expect_invalid(TALLY_METHOD_APPROVAL, "{\"a/b~\":1,\"approve\":[]}", "/a~1b~0");
    expect_invalid(TALLY_METHOD_APPROVAL, "[]", "");
}

int main(void)
{
    test_rfc3339();
    test_ballots();
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
