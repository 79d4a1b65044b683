/*
 * Token secrets and the authentication cache (core/token_secret.c,
 * core/token_cache.c).
 *
 * The expected spellings and digests come from outside this code: Python's
 * base64.urlsafe_b64encode and hashlib.sha256 (the commands are beside each
 * value), and the FIPS 180-2 test vector for "abc".
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "identity_internal.h"
#include "unit.h"

static void hex_of(const uint8_t *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void test_encode(void)
{
    uint8_t raw[TOKEN_RANDOM_BYTES];
    char text[TOKEN_TEXT_LEN + 1];

    /* python3 -c "import base64; print('coop_' +
     *   base64.urlsafe_b64encode(bytes(range(32))).rstrip(b'=').decode())" */
    for (int i = 0; i < TOKEN_RANDOM_BYTES; i++)
        raw[i] = (uint8_t)i;
    token_encode(raw, text);
    CHECK_STR(text, "coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    CHECK_INT(strlen(text), TOKEN_TEXT_LEN);

    /* bytes([255] * 32): the alphabet's last two characters ('-' 62, '_' 63). */
    memset(raw, 0xff, sizeof(raw));
    token_encode(raw, text);
    CHECK_STR(text, "coop___________________________________________8");
}

static void test_generate(void)
{
    char a[TOKEN_TEXT_LEN + 1], b[TOKEN_TEXT_LEN + 1];
    CHECK_INT(token_generate(a), 0);
    CHECK_INT(token_generate(b), 0);
    CHECK(token_well_formed(a, strlen(a)));
    CHECK(token_well_formed(b, strlen(b)));
    CHECK(strcmp(a, b) != 0);
}

static void test_well_formed(void)
{
    const char *good = "coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    CHECK(token_well_formed(good, strlen(good)));
    CHECK(!token_well_formed(NULL, 0));
    CHECK(!token_well_formed("", 0));
    CHECK(!token_well_formed(good, strlen(good) - 1));                                  /* short */
    CHECK(!token_well_formed("coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", 49)); /* long */
    CHECK(!token_well_formed("Coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 48));  /* prefix */
    CHECK(!token_well_formed("coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+", 48));  /* '+' */
    CHECK(!token_well_formed("coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=", 48));  /* '=' */
    CHECK(!token_well_formed("coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd h8", 48));  /* ' ' */

    /* Every byte outside the alphabet, in every position, is refused. */
    char probe[TOKEN_TEXT_LEN + 1];
    int refused = 0, expected = 0;
    for (int c = 1; c < 256; c++) {
        bool in_alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (in_alphabet)
            continue;
        for (int pos = TOKEN_PREFIX_LEN; pos < TOKEN_TEXT_LEN; pos++) {
            memcpy(probe, good, sizeof(probe));
            probe[pos] = (char)c;
            expected++;
            refused += !token_well_formed(probe, TOKEN_TEXT_LEN);
        }
    }
    CHECK_INT(refused, expected);
    CHECK_INT(expected, (255 - 64) * 43);

    /* The cheap test looks at prefix and length only. */
    CHECK(token_shaped(good, strlen(good)));
    CHECK(token_shaped("coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+", 48));
    CHECK(!token_shaped("Coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 48));
    CHECK(!token_shaped(good, 47));
    CHECK(!token_shaped(NULL, 0));
}

static void test_digest(void)
{
    uint8_t d[TOKEN_DIGEST_LEN];
    char hex[2 * TOKEN_DIGEST_LEN + 1];

    /* FIPS 180-2, appendix B.1. */
    CHECK_INT(token_digest("abc", 3, d), 0);
    hex_of(d, sizeof(d), hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* python3 -c "import hashlib; print(hashlib.sha256(
     *   b'coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8').hexdigest())" */
    const char *token = "coop_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    CHECK_INT(token_digest(token, strlen(token), d), 0);
    hex_of(d, sizeof(d), hex);
    CHECK_STR(hex, "79f8e7571d07c40a948aa59c674b789527cbc6ab9a2b7e0a765ea039bed04985");

    /* The same digest again: the reused context starts afresh each time. */
    CHECK_INT(token_digest(token, strlen(token), d), 0);
    char bytea[TOKEN_DIGEST_HEX_LEN + 1];
    token_digest_hex(d, bytea);
    CHECK_STR(bytea, "\\x79f8e7571d07c40a948aa59c674b789527cbc6ab9a2b7e0a765ea039bed04985");
}

/* A digest that differs from others in the bytes both tables index by. */
static void digest_n(uint8_t d[TOKEN_DIGEST_LEN], unsigned n)
{
    char text[32];
    snprintf(text, sizeof(text), "token-%u", n);
    token_digest(text, strlen(text), d);
}

static void test_cache_basics(void)
{
    token_cache *c = token_cache_new(30000, 5000, 1000, 64);
    CHECK(c != NULL);
    uint8_t d1[TOKEN_DIGEST_LEN], d2[TOKEN_DIGEST_LEN];
    digest_n(d1, 1);
    digest_n(d2, 2);
    coop_caller got = {0};
    coop_caller op = {.role = COOP_ROLE_OPERATOR, .member_id = 0, .token_id = 7};
    coop_caller mem = {.role = COOP_ROLE_MEMBER, .member_id = 42, .token_id = 8};

    CHECK_INT(token_cache_get(c, d1, 1000, &got), TOKEN_CACHE_MISS);
    token_cache_put(c, d1, &op, 1000);
    token_cache_put(c, d2, &mem, 1000);
    CHECK_INT(token_cache_size(c), 2);
    CHECK_INT(token_cache_get(c, d1, 1000, &got), TOKEN_CACHE_VALID);
    CHECK_INT(got.role, COOP_ROLE_OPERATOR);
    CHECK_INT(got.token_id, 7);
    CHECK_INT(token_cache_get(c, d2, 30999, &got), TOKEN_CACHE_VALID);
    CHECK_INT(got.member_id, 42);
    CHECK_INT(got.token_id, 8);

    /* Expiry: valid up to 1000 + 30000 exclusive, then gone. */
    CHECK_INT(token_cache_get(c, d1, 31000, &got), TOKEN_CACHE_MISS);
    CHECK_INT(token_cache_size(c), 1);

    /* A put again refreshes. */
    token_cache_put(c, d2, &mem, 20000);
    CHECK_INT(token_cache_get(c, d2, 49999, &got), TOKEN_CACHE_VALID);
    CHECK_INT(token_cache_size(c), 1);

    /* Revocation on this node: evicted at once. */
    CHECK_INT(token_cache_evict_token(c, 8), 1);
    CHECK_INT(token_cache_evict_token(c, 8), 0);
    CHECK_INT(token_cache_get(c, d2, 20001, &got), TOKEN_CACHE_MISS);
    CHECK_INT(token_cache_size(c), 0);
    token_cache_free(c);
}

static void test_cache_negative(void)
{
    token_cache *c = token_cache_new(30000, 5000, 1000, 4);
    uint8_t d1[TOKEN_DIGEST_LEN];
    digest_n(d1, 1);
    coop_caller got = {0};

    token_cache_put_invalid(c, d1, 100);
    CHECK_INT(token_cache_get(c, d1, 100, &got), TOKEN_CACHE_INVALID);
    CHECK_INT(token_cache_get(c, d1, 5099, &got), TOKEN_CACHE_INVALID);
    CHECK_INT(token_cache_get(c, d1, 5100, &got), TOKEN_CACHE_MISS);
    /* Negative entries take no positive room. */
    CHECK_INT(token_cache_size(c), 0);

    /* A flood of bad digests through 4 slots: bounded, and the good entry stays. */
    uint8_t good[TOKEN_DIGEST_LEN];
    digest_n(good, 999999);
    coop_caller op = {.role = COOP_ROLE_OPERATOR, .token_id = 1};
    token_cache_put(c, good, &op, 200);
    int invalid_hits = 0;
    for (unsigned i = 0; i < 10000; i++) {
        uint8_t d[TOKEN_DIGEST_LEN];
        digest_n(d, 1000 + i);
        token_cache_put_invalid(c, d, 200);
        if (token_cache_get(c, d, 200, &got) == TOKEN_CACHE_INVALID)
            invalid_hits++;
    }
    CHECK_INT(invalid_hits, 10000);
    CHECK_INT(token_cache_get(c, good, 200, &got), TOKEN_CACHE_VALID);
    CHECK_INT(token_cache_size(c), 1);
    /* The last bad digest is still known bad; most of the earlier ones were overwritten. */
    uint8_t last[TOKEN_DIGEST_LEN];
    digest_n(last, 1000 + 9999);
    CHECK_INT(token_cache_get(c, last, 201, &got), TOKEN_CACHE_INVALID);
    int still_known = 0;
    for (unsigned i = 0; i < 10000; i++) {
        uint8_t d[TOKEN_DIGEST_LEN];
        digest_n(d, 1000 + i);
        if (token_cache_get(c, d, 201, &got) == TOKEN_CACHE_INVALID)
            still_known++;
    }
    CHECK(still_known >= 1 && still_known <= 4);

    /* A digest known bad that becomes valid (put) is valid at once. */
    token_cache_put_invalid(c, d1, 300);
    token_cache_put(c, d1, &op, 300);
    CHECK_INT(token_cache_get(c, d1, 301, &got), TOKEN_CACHE_VALID);
    token_cache_free(c);
}

static void test_cache_growth_and_bound(void)
{
    /* Many entries: the table grows and keeps every one. */
    token_cache *c = token_cache_new(1000, 1000, 100000, 16);
    for (unsigned i = 0; i < 5000; i++) {
        uint8_t d[TOKEN_DIGEST_LEN];
        digest_n(d, i);
        coop_caller who = {.role = COOP_ROLE_MEMBER, .member_id = i + 1, .token_id = i + 1};
        token_cache_put(c, d, &who, 0);
    }
    CHECK_INT(token_cache_size(c), 5000);
    int right = 0;
    for (unsigned i = 0; i < 5000; i++) {
        uint8_t d[TOKEN_DIGEST_LEN];
        coop_caller got = {0};
        digest_n(d, i);
        if (token_cache_get(c, d, 999, &got) == TOKEN_CACHE_VALID && got.token_id == (int64_t)i + 1)
            right++;
    }
    CHECK_INT(right, 5000);
    CHECK_INT(token_cache_evict_token(c, 2500), 1);
    CHECK_INT(token_cache_size(c), 4999);
    token_cache_free(c);

    /* The bound: beyond max_entries expired entries are swept, else nothing is added. */
    c = token_cache_new(1000, 1000, 3, 16);
    coop_caller who = {.role = COOP_ROLE_PARTNER, .token_id = 1};
    uint8_t d[5][TOKEN_DIGEST_LEN];
    for (unsigned i = 0; i < 5; i++)
        digest_n(d[i], 100 + i);
    token_cache_put(c, d[0], &who, 0);
    token_cache_put(c, d[1], &who, 0);
    token_cache_put(c, d[2], &who, 500);
    token_cache_put(c, d[3], &who, 600); /* full, nothing expired: not cached */
    CHECK_INT(token_cache_size(c), 3);
    coop_caller got;
    CHECK_INT(token_cache_get(c, d[3], 600, &got), TOKEN_CACHE_MISS);
    token_cache_put(c, d[4], &who, 1200); /* d0, d1 expired: swept, d4 fits */
    CHECK_INT(token_cache_size(c), 2);
    CHECK_INT(token_cache_get(c, d[4], 1200, &got), TOKEN_CACHE_VALID);
    CHECK_INT(token_cache_get(c, d[2], 1200, &got), TOKEN_CACHE_VALID);
    token_cache_free(c);

    /* A ttl of 0 caches nothing (every request asks the database). */
    c = token_cache_new(0, 0, 10, 16);
    token_cache_put(c, d[0], &who, 0);
    token_cache_put_invalid(c, d[1], 0);
    CHECK_INT(token_cache_get(c, d[0], 0, &got), TOKEN_CACHE_MISS);
    CHECK_INT(token_cache_get(c, d[1], 0, &got), TOKEN_CACHE_MISS);
    token_cache_free(c);
}

static void test_cache_member_eviction(void)
{
    token_cache *c = token_cache_new(30000, 5000, 100, 16);
    uint8_t d[4][TOKEN_DIGEST_LEN];
    for (unsigned i = 0; i < 4; i++)
        digest_n(d[i], 500 + i);
    coop_caller a1 = {.role = COOP_ROLE_MEMBER, .member_id = 5, .token_id = 1};
    coop_caller a2 = {.role = COOP_ROLE_PARTNER, .member_id = 5, .token_id = 2};
    coop_caller b = {.role = COOP_ROLE_MEMBER, .member_id = 6, .token_id = 3};
    coop_caller op = {.role = COOP_ROLE_OPERATOR, .member_id = 0, .token_id = 4};
    token_cache_put(c, d[0], &a1, 0);
    token_cache_put(c, d[1], &a2, 0);
    token_cache_put(c, d[2], &b, 0);
    token_cache_put(c, d[3], &op, 0);
    /* Member 5's two tokens go; member 6's and the unbound one stay. */
    CHECK_INT(token_cache_evict_member(c, 5), 2);
    CHECK_INT(token_cache_evict_member(c, 0), 0); /* 0 means "no member", never all of them */
    CHECK_INT(token_cache_evict_token(c, 0), 0);
    coop_caller got;
    CHECK_INT(token_cache_get(c, d[0], 1, &got), TOKEN_CACHE_MISS);
    CHECK_INT(token_cache_get(c, d[1], 1, &got), TOKEN_CACHE_MISS);
    CHECK_INT(token_cache_get(c, d[2], 1, &got), TOKEN_CACHE_VALID);
    CHECK_INT(token_cache_get(c, d[3], 1, &got), TOKEN_CACHE_VALID);

    /* Forgetting negative entries leaves positive ones. */
    token_cache_put_invalid(c, d[0], 10);
    CHECK_INT(token_cache_get(c, d[0], 11, &got), TOKEN_CACHE_INVALID);
    token_cache_forget_invalid(c);
    CHECK_INT(token_cache_get(c, d[0], 11, &got), TOKEN_CACHE_MISS);
    CHECK_INT(token_cache_get(c, d[2], 11, &got), TOKEN_CACHE_VALID);
    token_cache_free(c);
}

static void test_clock(void)
{
    uint64_t a = token_cache_now();
    uint64_t b = token_cache_now();
    CHECK(a > 0);
    CHECK(b >= a);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    test_encode();
    test_generate();
    test_well_formed();
    test_digest();
    test_cache_basics();
    test_cache_negative();
    test_cache_growth_and_bound();
    test_cache_member_eviction();
    test_clock();
    return unit_finish();
}
