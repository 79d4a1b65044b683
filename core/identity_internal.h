/* Identity, owned by the core: the member register and bearer tokens (owner:
 * identity.c, members.c, tokens.c, token_secret.c, token_cache.c, and the
 * migrations in core/sql/). */
#ifndef COOP_IDENTITY_INTERNAL_H
#define COOP_IDENTITY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <coop/types.h>
#include <libpq-fe.h>

#include "config_internal.h"

/* Registers the identity routes (/v1/members..., /v1/tokens..., /v1/me) on the
 * core plugin. Call during init, before http_start. */
int identity_init(const coop_config *cfg);
void identity_stop(void);

/* Result of a token check: status 0 with caller set; -COOP_ENOTFOUND when the
 * token is unknown or revoked; -COOP_EUNAVAILABLE when the database could not
 * be asked. caller is borrowed for the duration of the callback. */
typedef void (*identity_auth_fn)(int status, const coop_caller *caller, void *arg);
/* Checks a bearer token. Answers from the in-memory cache synchronously (cb
 * runs before this returns), otherwise asks the database asynchronously. */
void identity_authenticate(const char *token, identity_auth_fn cb, void *arg);

/* Start-up command: creates an operator token with label, writes it to out
 * (NUL-terminated). Blocking; never on the loop. Returns 0 or -1 with err. */
int identity_create_operator_token(PGconn *conn, const char *label, char *out, size_t outlen,
                                   char *err, size_t errlen);

/* The OpenAPI 3.1 description of the identity routes (identity_openapi.c), as
 * static JSON text: a "paths" object (absolute paths) and a "components/schemas"
 * object its "$ref"s point into. For /openapi.json (builtin_routes.c). */
const char *identity_openapi_paths(void);
const char *identity_openapi_schemas(void);

/* ---- Between the identity modules ---------------------------------------- */

/* Route registration of each half (members.c, tokens.c); identity_init calls them. */
int members_routes_register(void);
int tokens_routes_register(void);
/* tokens.c: the authentication cache's life (identity_init / identity_stop). */
int tokens_start(int cache_seconds);
void tokens_stop(void);

/* tokens.c: the status of member_id changed on this node; what the cache knows
 * of that member's tokens is forgotten so the next request asks the database. */
void identity_member_changed(int64_t member_id);

/* Names of enum coop_role bits as the API and the database spell them. */
const char *identity_role_name(unsigned role);  /* static string, NULL when unknown */
unsigned identity_role_parse(const char *name); /* 0 when unknown */

/* Answers a request whose statement could not be queued (the pool is not
 * running: coopd is starting or stopping): 503 with Retry-After. */
void identity_reply_not_queued(coop_request *req);

/* Reads a positive decimal id (a path parameter); 0 when text is not one. */
int64_t identity_parse_id(const char *text);

/* ---- Token secrets (token_secret.c) -------------------------------------- */

/* A token is "coop_" followed by 32 random bytes in unpadded base64url: 48
 * characters. Only its SHA-256 (over those 48 characters) is stored. */
#define TOKEN_PREFIX "coop_"
#define TOKEN_PREFIX_LEN 5
#define TOKEN_RANDOM_BYTES 32
#define TOKEN_TEXT_LEN (TOKEN_PREFIX_LEN + 43)
#define TOKEN_DIGEST_LEN 32
/* The digest as PostgreSQL's bytea hex input: "\x" and 64 hex digits. */
#define TOKEN_DIGEST_HEX_LEN (2 + 2 * TOKEN_DIGEST_LEN)

/* Writes the token text for raw into out (TOKEN_TEXT_LEN + 1 bytes). */
void token_encode(const uint8_t raw[TOKEN_RANDOM_BYTES], char out[TOKEN_TEXT_LEN + 1]);
/* Draws a new token from OpenSSL's CSPRNG into out. Returns 0, or -1 when the
 * generator is not seeded (then nothing usable is written). */
int token_generate(char out[TOKEN_TEXT_LEN + 1]);
/* True when text has the shape of a token (prefix, length, alphabet): what
 * cannot be a token is refused without asking the database. */
bool token_well_formed(const char *text, size_t len);
/* The cheap part of that test (prefix and length), for the cache-hit path:
 * only digests of well-formed tokens ever enter the cache as valid. */
bool token_shaped(const char *text, size_t len);
/* SHA-256 of the len bytes of text into digest. Returns 0 or -1. */
int token_digest(const char *text, size_t len, uint8_t digest[TOKEN_DIGEST_LEN]);
/* Writes digest as bytea hex input ("\\x...") into out (TOKEN_DIGEST_HEX_LEN + 1 bytes). */
void token_digest_hex(const uint8_t digest[TOKEN_DIGEST_LEN], char out[TOKEN_DIGEST_HEX_LEN + 1]);

/* ---- The authentication cache (token_cache.c) ---------------------------- */

/* Remembers, per token digest, who a token stands for (positive entries, kept
 * ttl) and which digests are not valid tokens (negative entries, kept
 * negative_ttl in a fixed table of slots, so a flood of bad tokens costs no
 * memory and evicts no good entry). Times are milliseconds on a monotonic
 * clock, passed in so that tests need not sleep. Not thread-safe: one loop. */
typedef struct token_cache token_cache;

enum token_cache_answer { TOKEN_CACHE_MISS = 0, TOKEN_CACHE_VALID = 1, TOKEN_CACHE_INVALID = 2 };

/* A new, empty cache; NULL when out of memory. max_entries bounds the positive
 * entries (a put beyond it first drops expired ones, then is not cached);
 * negative_slots is rounded up to a power of two. A ttl of 0 caches nothing. */
token_cache *token_cache_new(uint64_t ttl_ms, uint64_t negative_ttl_ms, size_t max_entries,
                             size_t negative_slots);
void token_cache_free(token_cache *cache);
/* Looks digest up at time now; on TOKEN_CACHE_VALID copies the caller to *out. */
enum token_cache_answer token_cache_get(token_cache *cache, const uint8_t digest[TOKEN_DIGEST_LEN],
                                        uint64_t now, coop_caller *out);
/* Remembers that digest is the token described by caller (copied), until now + ttl. */
void token_cache_put(token_cache *cache, const uint8_t digest[TOKEN_DIGEST_LEN],
                     const coop_caller *caller, uint64_t now);
/* Remembers that digest is no valid token, until now + negative ttl. */
void token_cache_put_invalid(token_cache *cache, const uint8_t digest[TOKEN_DIGEST_LEN],
                             uint64_t now);
/* Forgets the positive entry of token token_id (after its revocation). Returns
 * how many entries went (0 or 1). */
size_t token_cache_evict_token(token_cache *cache, int64_t token_id);
/* Forgets the positive entries of member member_id's tokens. Returns how many went. */
size_t token_cache_evict_member(token_cache *cache, int64_t member_id);
/* Forgets every negative entry. */
void token_cache_forget_invalid(token_cache *cache);
/* Number of positive entries held (expired ones included until swept). */
size_t token_cache_size(const token_cache *cache);
/* Milliseconds on the coarse monotonic clock: cheap enough for every request. */
uint64_t token_cache_now(void);

#endif
