/*
 * The authentication cache: what the database said about a token digest, kept
 * for a while so that a request with a known token is authorised without a
 * round trip (the benchmarked path: one hash lookup and a memcmp, no
 * allocation).
 *
 * Positive entries live in a chained hash table sized to a power of two and
 * keyed by the digest's first bytes (a SHA-256 is already uniformly spread).
 * They are bounded by the number of valid tokens, and by max_entries besides.
 * Negative entries ("this digest is no valid token") live in a fixed array of
 * slots indexed by other bytes of the digest: a collision simply overwrites,
 * so however many bad tokens arrive, their memory is fixed and they never push
 * a good entry out.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity_internal.h"

struct cache_entry {
    uint8_t digest[TOKEN_DIGEST_LEN];
    coop_caller caller;
    uint64_t expires;
    struct cache_entry *next;
};

struct negative_slot {
    uint8_t digest[TOKEN_DIGEST_LEN];
    uint64_t expires; /* 0: empty */
};

struct token_cache {
    uint64_t ttl, negative_ttl;
    struct cache_entry **buckets;
    size_t bucket_mask; /* bucket count - 1 */
    size_t count, max_entries;
    struct negative_slot *negatives;
    size_t negative_mask;
};

enum { INITIAL_BUCKETS = 64 };

static size_t round_up_pow2(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static uint64_t digest_word(const uint8_t *digest, size_t offset)
{
    uint64_t w;
    memcpy(&w, digest + offset, sizeof(w));
    return w;
}

token_cache *token_cache_new(uint64_t ttl_ms, uint64_t negative_ttl_ms, size_t max_entries,
                             size_t negative_slots)
{
    token_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ttl = ttl_ms;
    c->negative_ttl = negative_ttl_ms;
    c->max_entries = max_entries;
    c->buckets = calloc(INITIAL_BUCKETS, sizeof(*c->buckets));
    size_t slots = round_up_pow2(negative_slots ? negative_slots : 1);
    c->negatives = calloc(slots, sizeof(*c->negatives));
    if (!c->buckets || !c->negatives) {
        token_cache_free(c);
        return NULL;
    }
    c->bucket_mask = INITIAL_BUCKETS - 1;
    c->negative_mask = slots - 1;
    return c;
}

void token_cache_free(token_cache *c)
{
    if (!c)
        return;
    if (c->buckets) {
        for (size_t i = 0; i <= c->bucket_mask; i++) {
            struct cache_entry *e = c->buckets[i];
            while (e) {
                struct cache_entry *next = e->next;
                free(e);
                e = next;
            }
        }
    }
    free(c->buckets);
    free(c->negatives);
    free(c);
}

static struct cache_entry **bucket_of(const token_cache *c, const uint8_t *digest)
{
    return &c->buckets[digest_word(digest, 0) & c->bucket_mask];
}

static struct negative_slot *slot_of(const token_cache *c, const uint8_t *digest)
{
    return &c->negatives[digest_word(digest, 8) & c->negative_mask];
}

enum token_cache_answer token_cache_get(token_cache *c, const uint8_t digest[TOKEN_DIGEST_LEN],
                                        uint64_t now, coop_caller *out)
{
    for (struct cache_entry **link = bucket_of(c, digest); *link; link = &(*link)->next) {
        struct cache_entry *e = *link;
        if (memcmp(e->digest, digest, TOKEN_DIGEST_LEN) != 0)
            continue;
        if (now >= e->expires) {
            *link = e->next;
            free(e);
            c->count--;
            return TOKEN_CACHE_MISS;
        }
        *out = e->caller;
        return TOKEN_CACHE_VALID;
    }
    const struct negative_slot *s = slot_of(c, digest);
    if (s->expires > now && memcmp(s->digest, digest, TOKEN_DIGEST_LEN) == 0)
        return TOKEN_CACHE_INVALID;
    return TOKEN_CACHE_MISS;
}

/* Drops every expired positive entry. */
static void sweep(token_cache *c, uint64_t now)
{
    for (size_t i = 0; i <= c->bucket_mask; i++) {
        struct cache_entry **link = &c->buckets[i];
        while (*link) {
            struct cache_entry *e = *link;
            if (now >= e->expires) {
                *link = e->next;
                free(e);
                c->count--;
            } else {
                link = &e->next;
            }
        }
    }
}

/* Doubles the bucket array; on allocation failure keeps the current one (longer
 * chains, still correct). */
static void grow(token_cache *c)
{
    size_t n = (c->bucket_mask + 1) * 2;
    struct cache_entry **buckets = calloc(n, sizeof(*buckets));
    if (!buckets)
        return;
    for (size_t i = 0; i <= c->bucket_mask; i++) {
        struct cache_entry *e = c->buckets[i];
        while (e) {
            struct cache_entry *next = e->next;
            struct cache_entry **b = &buckets[digest_word(e->digest, 0) & (n - 1)];
            e->next = *b;
            *b = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = buckets;
    c->bucket_mask = n - 1;
}

void token_cache_put(token_cache *c, const uint8_t digest[TOKEN_DIGEST_LEN],
                     const coop_caller *caller, uint64_t now)
{
    if (c->ttl == 0)
        return;
    struct negative_slot *s = slot_of(c, digest);
    if (memcmp(s->digest, digest, TOKEN_DIGEST_LEN) == 0)
        s->expires = 0;
    struct cache_entry **bucket = bucket_of(c, digest);
    for (struct cache_entry *e = *bucket; e; e = e->next) {
        if (memcmp(e->digest, digest, TOKEN_DIGEST_LEN) == 0) {
            e->caller = *caller;
            e->expires = now + c->ttl;
            return;
        }
    }
    if (c->count >= c->max_entries) {
        sweep(c, now);
        if (c->count >= c->max_entries)
            return;
    }
    struct cache_entry *e = malloc(sizeof(*e));
    if (!e)
        return;
    memcpy(e->digest, digest, TOKEN_DIGEST_LEN);
    e->caller = *caller;
    e->expires = now + c->ttl;
    if (c->count >= c->bucket_mask + 1) {
        grow(c);
        bucket = bucket_of(c, digest);
    }
    e->next = *bucket;
    *bucket = e;
    c->count++;
}

void token_cache_put_invalid(token_cache *c, const uint8_t digest[TOKEN_DIGEST_LEN], uint64_t now)
{
    if (c->negative_ttl == 0)
        return;
    struct negative_slot *s = slot_of(c, digest);
    memcpy(s->digest, digest, TOKEN_DIGEST_LEN);
    s->expires = now + c->negative_ttl;
}

/* Drops the entries whose caller matches: by token id, or by member id. */
static size_t evict_where(token_cache *c, int64_t token_id, int64_t member_id)
{
    size_t evicted = 0;
    for (size_t i = 0; i <= c->bucket_mask; i++) {
        struct cache_entry **link = &c->buckets[i];
        while (*link) {
            struct cache_entry *e = *link;
            if ((token_id && e->caller.token_id == token_id) ||
                (member_id && e->caller.member_id == member_id)) {
                *link = e->next;
                free(e);
                c->count--;
                evicted++;
            } else {
                link = &e->next;
            }
        }
    }
    return evicted;
}

size_t token_cache_evict_token(token_cache *c, int64_t token_id)
{
    return token_id ? evict_where(c, token_id, 0) : 0;
}

size_t token_cache_evict_member(token_cache *c, int64_t member_id)
{
    return member_id ? evict_where(c, 0, member_id) : 0;
}

void token_cache_forget_invalid(token_cache *c)
{
    memset(c->negatives, 0, (c->negative_mask + 1) * sizeof(*c->negatives));
}

size_t token_cache_size(const token_cache *c)
{
    return c->count;
}

uint64_t token_cache_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
