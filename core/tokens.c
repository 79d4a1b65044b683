/*
 * Bearer tokens: checking them on every request, and managing them over HTTP.
 *
 *   POST   /v1/tokens       operator    -> 201 the token, shown this once
 *   GET    /v1/tokens       operator    -> 200 {"tokens": [...]} (never a secret or hash)
 *   DELETE /v1/tokens/{id}  operator    -> 204, revoked (the row stays)
 *   GET    /v1/me           every role  -> 200 who the caller is
 *
 * identity_authenticate() is on every request's path, so a token seen lately
 * is answered from the cache (token_cache.c) synchronously, without the
 * database. A miss asks the database once per token however many requests
 * with it arrive meanwhile (they wait on the same lookup). A revocation on
 * this node evicts the token at once; other nodes learn of it when their
 * entry expires, at most auth.token_cache_seconds later. The same holds for a
 * member token whose member resigns or is excluded (see lookup's statement).
 */
#include <stdlib.h>
#include <string.h>

#include <coop/coop.h>
#include <openssl/crypto.h>

#include "identity_internal.h"
#include "plugin_internal.h"

/* ---- Authentication --------------------------------------------------------- */

/* Bad tokens are remembered briefly: enough to absorb a client retrying one in a
 * loop, short enough that nothing depends on it. Their memory is fixed. */
#define NEGATIVE_TTL_MAX_MS 10000u
#define NEGATIVE_SLOTS 4096u
/* Valid tokens in the cache at most; beyond, lookups still work but go to the database. */
#define CACHE_MAX_ENTRIES 262144u

struct auth_waiter {
    identity_auth_fn cb;
    void *arg;
    struct auth_waiter *next;
};

/* One database lookup in flight, and the requests waiting on its answer. */
struct auth_lookup {
    uint8_t digest[TOKEN_DIGEST_LEN];
    uint64_t access_changes_at_start;
    struct auth_waiter *first, *last;
    struct auth_lookup *prev, *next;
};

static token_cache *cache;
static struct auth_lookup *lookups;
/* Counts revocations and status changes on this node: a lookup that raced one
 * is answered but not cached, so neither a token revoked meanwhile comes back
 * from the cache nor a re-admitted member's token stays refused. */
static uint64_t access_changes;

void identity_member_changed(int64_t member_id)
{
    access_changes++;
    if (cache) {
        token_cache_evict_member(cache, member_id);
        token_cache_forget_invalid(cache);
    }
}

int tokens_start(int cache_seconds)
{
    uint64_t ttl = cache_seconds > 0 ? (uint64_t)cache_seconds * 1000u : 0;
    uint64_t negative_ttl = ttl < NEGATIVE_TTL_MAX_MS ? ttl : NEGATIVE_TTL_MAX_MS;
    token_cache_free(cache);
    cache = token_cache_new(ttl, negative_ttl, CACHE_MAX_ENTRIES, NEGATIVE_SLOTS);
    return cache ? 0 : -COOP_ENOMEM;
}

/* Lookups still in flight keep their memory: the pool answers them (cancelled)
 * when it stops, and they free themselves then. */
void tokens_stop(void)
{
    token_cache_free(cache);
    cache = NULL;
}

static void lookup_unlink(struct auth_lookup *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        lookups = l->next;
    if (l->next)
        l->next->prev = l->prev;
}

static int waiter_add(struct auth_lookup *l, identity_auth_fn cb, void *arg)
{
    struct auth_waiter *w = malloc(sizeof(*w));
    if (!w)
        return -1;
    w->cb = cb;
    w->arg = arg;
    w->next = NULL;
    if (l->last)
        l->last->next = w;
    else
        l->first = w;
    l->last = w;
    return 0;
}

static void lookup_done(const coop_db_result *res, void *arg)
{
    struct auth_lookup *l = arg;
    lookup_unlink(l);

    int status = 0;
    coop_caller caller = {0};
    if (coop_db_status(res) != 0) {
        status = -COOP_EUNAVAILABLE;
        if (coop_db_status(res) == -COOP_EDB)
            coop_log(core_plugin(), COOP_LOG_ERROR, "token lookup failed: %s (SQLSTATE %s)",
                     coop_db_error(res), coop_db_sqlstate(res));
    } else if (coop_db_nrows(res) == 0) {
        status = -COOP_ENOTFOUND;
        if (cache && l->access_changes_at_start == access_changes)
            token_cache_put_invalid(cache, l->digest, token_cache_now());
    } else {
        caller.token_id = strtoll(coop_db_value(res, 0, 0), NULL, 10);
        caller.role = identity_role_parse(coop_db_value(res, 0, 1));
        const char *member = coop_db_value(res, 0, 2);
        caller.member_id = member ? strtoll(member, NULL, 10) : 0;
        if (caller.role == 0) { /* the table's CHECK makes this impossible */
            status = -COOP_ENOTFOUND;
        } else if (cache && l->access_changes_at_start == access_changes) {
            token_cache_put(cache, l->digest, &caller, token_cache_now());
        }
    }

    struct auth_waiter *w = l->first;
    free(l);
    while (w) {
        struct auth_waiter *next = w->next;
        w->cb(status, status == 0 ? &caller : NULL, w->arg);
        free(w);
        w = next;
    }
}

void identity_authenticate(const char *token, identity_auth_fn cb, void *arg)
{
    size_t len = token ? strlen(token) : 0;
    if (!token_shaped(token, len)) {
        cb(-COOP_ENOTFOUND, NULL, arg);
        return;
    }
    uint8_t digest[TOKEN_DIGEST_LEN];
    if (!cache || token_digest(token, len, digest) != 0) {
        cb(-COOP_EUNAVAILABLE, NULL, arg);
        return;
    }
    coop_caller caller;
    switch (token_cache_get(cache, digest, token_cache_now(), &caller)) {
    case TOKEN_CACHE_VALID:
        cb(0, &caller, arg);
        return;
    case TOKEN_CACHE_INVALID:
        cb(-COOP_ENOTFOUND, NULL, arg);
        return;
    case TOKEN_CACHE_MISS:
        break;
    }
    /* The alphabet is checked only now, off the cache-hit path: a digest in the
     * cache as valid came from the database, so its token was well formed. */
    if (!token_well_formed(token, len)) {
        cb(-COOP_ENOTFOUND, NULL, arg);
        return;
    }

    /* Join a lookup of the same token, unless it started before a revocation or
     * status change on this node: its answer may predate that. */
    for (struct auth_lookup *l = lookups; l; l = l->next) {
        if (l->access_changes_at_start == access_changes &&
            memcmp(l->digest, digest, TOKEN_DIGEST_LEN) == 0) {
            if (waiter_add(l, cb, arg) != 0)
                cb(-COOP_EUNAVAILABLE, NULL, arg);
            return;
        }
    }

    struct auth_lookup *l = calloc(1, sizeof(*l));
    if (!l || waiter_add(l, cb, arg) != 0) {
        free(l);
        cb(-COOP_EUNAVAILABLE, NULL, arg);
        return;
    }
    memcpy(l->digest, digest, TOKEN_DIGEST_LEN);
    l->access_changes_at_start = access_changes;
    char hex[TOKEN_DIGEST_HEX_LEN + 1];
    token_digest_hex(digest, hex);
    const char *params[] = {hex};
    /* A member token works while its member's status in force is applicant or
     * member: from the date a resignation or exclusion takes effect it is refused
     * (and works again after a re-admission), so nobody has to remember to revoke
     * it. A member with no status in force yet (the first one takes effect on a
     * later date) is not in the register yet: refused too (NULL IN (...) is not
     * true). */
    static const char sql[] =
        "SELECT t.id, t.role, t.member_id FROM coop.tokens t"
        " WHERE t.sha256 = $1::bytea AND t.revoked_at IS NULL"
        " AND (t.role <> 'member' OR (SELECT c.status FROM coop.member_status_changes c"
        "  WHERE c.member_id = t.member_id"
        "   AND c.effective_date <= (now() AT TIME ZONE 'UTC')::date"
        "  ORDER BY c.effective_date DESC, c.id DESC LIMIT 1) IN ('applicant', 'member'))";
    if (coop_db_query(core_plugin(), sql, 1, params, lookup_done, l) != 0) {
        free(l->first);
        free(l);
        cb(-COOP_EUNAVAILABLE, NULL, arg);
        return;
    }
    l->next = lookups;
    if (lookups)
        lookups->prev = l;
    lookups = l;
}

/* ---- The first operator token (start-up, blocking) ------------------------------- */

int identity_create_operator_token(PGconn *conn, const char *label, char *out, size_t outlen,
                                   char *err, size_t errlen)
{
    char token[TOKEN_TEXT_LEN + 1];
    uint8_t digest[TOKEN_DIGEST_LEN];
    char hex[TOKEN_DIGEST_HEX_LEN + 1];
    if (outlen < sizeof(token)) {
        snprintf(err, errlen, "token buffer too small");
        return -1;
    }
    if (token_generate(token) != 0 || token_digest(token, TOKEN_TEXT_LEN, digest) != 0) {
        snprintf(err, errlen, "cannot draw a random token (OpenSSL's generator failed)");
        return -1;
    }
    token_digest_hex(digest, hex);
    const char *params[] = {hex, label ? label : "operator"};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO coop.tokens (sha256, role, label)"
                                 " VALUES ($1::bytea, 'operator', $2)",
                                 2, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        snprintf(err, errlen, "cannot store the token: %s", msg ? msg : PQerrorMessage(conn));
    } else {
        memcpy(out, token, sizeof(token));
    }
    PQclear(res);
    OPENSSL_cleanse(token, sizeof(token));
    return ok ? 0 : -1;
}

/* ---- POST /v1/tokens ---------------------------------------------------------- */

static const char token_create_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"role\"],"
    " \"properties\": {"
    "  \"role\": {\"type\": \"string\","
    "            \"enum\": [\"operator\", \"member\", \"partner\", \"customer\"]},"
    "  \"member_id\": {\"type\": [\"integer\", \"null\"], \"minimum\": 1,"
    "                 \"description\": \"Required for role member, whose status in force"
    " today must be applicant or member (a member whose first status takes effect later has"
    " none yet); optional for the others.\"},"
    "  \"label\": {\"type\": \"string\", \"maxLength\": 200, \"default\": \"\"}}}";

/* What a creation needs across its round trip: the secret, shown once. */
struct token_creation {
    coop_request *req;
    char token[TOKEN_TEXT_LEN + 1];
    int64_t member_id;
};

static json_t *json_id_or_null(const char *text)
{
    return text ? json_integer(strtoll(text, NULL, 10)) : json_null();
}

static void token_created(const coop_db_result *res, void *arg)
{
    struct token_creation *tc = arg;
    coop_request *req = tc->req;
    if (coop_db_status(res) != 0) {
        coop_reply_db_error(req, res);
    } else if (coop_db_is_null(res, 0, coop_db_column(res, "id"))) {
        /* Refused by the statement's conditions: say which. */
        const char *exists = coop_db_value(res, 0, coop_db_column(res, "member_exists"));
        const char *status = coop_db_value(res, 0, coop_db_column(res, "member_status"));
        char message[160];
        if (!exists || strcmp(exists, "t") != 0)
            snprintf(message, sizeof(message), "there is no member with id %lld",
                     (long long)tc->member_id);
        else if (!status)
            snprintf(message, sizeof(message),
                     "member %lld has no status in force today (the first one takes effect "
                     "later); a member token needs applicant or member",
                     (long long)tc->member_id);
        else
            snprintf(message, sizeof(message),
                     "member %lld has status %s; a member token needs applicant or member",
                     (long long)tc->member_id, status);
        json_t *errors = json_array();
        coop_invalid_add(errors, "/member_id", message);
        coop_reply_invalid(req, errors);
    } else {
        coop_reply_json(
            req, 201,
            json_pack("{s:o, s:s, s:s, s:o, s:s, s:s}", "id",
                      json_id_or_null(coop_db_value(res, 0, coop_db_column(res, "id"))), "token",
                      tc->token, "role", coop_db_value(res, 0, coop_db_column(res, "role")),
                      "member_id",
                      json_id_or_null(coop_db_value(res, 0, coop_db_column(res, "member_id"))),
                      "label", coop_db_value(res, 0, coop_db_column(res, "label")), "created_at",
                      coop_db_value(res, 0, coop_db_column(res, "created_at"))));
    }
    OPENSSL_cleanse(tc->token, sizeof(tc->token));
    free(tc);
}

/* One statement: whether the member exists and their status in force today are
 * read, and the token inserted only when the rules hold (a member token must be
 * one that would work now: see the lookup in identity_authenticate); the row
 * always comes back, so a refusal can be explained. */
static const char token_insert_sql[] =
    "WITH target AS ("
    "  SELECT EXISTS (SELECT 1 FROM coop.members m WHERE m.id = $3::bigint) AS member_exists,"
    "   (SELECT c.status FROM coop.member_status_changes c"
    "    WHERE c.member_id = $3::bigint"
    "     AND c.effective_date <= (now() AT TIME ZONE 'UTC')::date"
    "    ORDER BY c.effective_date DESC, c.id DESC LIMIT 1) AS member_status),"
    " ins AS ("
    "  INSERT INTO coop.tokens (sha256, role, member_id, label, created_by)"
    "  SELECT $1::bytea, $2, $3::bigint, $4, $5::bigint FROM target"
    "  WHERE $3::bigint IS NULL"
    "     OR (target.member_exists AND ($2 <> 'member'"
    "         OR target.member_status IN ('applicant', 'member')))"
    "  RETURNING id, role, member_id, label, coop.rfc3339(created_at) AS created_at)"
    " SELECT target.member_exists, target.member_status, ins.* FROM target LEFT JOIN ins ON true";

static void token_create(coop_request *req, void *arg)
{
    (void)arg;
    const json_t *body = coop_request_json(req);
    const char *role = json_string_value(json_object_get(body, "role"));
    const char *label = json_string_value(json_object_get(body, "label"));
    const json_t *member = json_object_get(body, "member_id");
    int64_t member_id = json_is_integer(member) ? (int64_t)json_integer_value(member) : 0;
    if (strcmp(role, "member") == 0 && member_id == 0) {
        json_t *errors = json_array();
        coop_invalid_add(errors, "/member_id", "a member token must name its member");
        coop_reply_invalid(req, errors);
        return;
    }

    struct token_creation *tc = calloc(1, sizeof(*tc));
    uint8_t digest[TOKEN_DIGEST_LEN];
    if (!tc || token_generate(tc->token) != 0 ||
        token_digest(tc->token, TOKEN_TEXT_LEN, digest) != 0) {
        free(tc);
        coop_reply_problem(req, 500, "Internal Server Error", "No token could be drawn.");
        return;
    }
    tc->req = req;
    tc->member_id = member_id;
    char hex[TOKEN_DIGEST_HEX_LEN + 1], member_text[24], creator_text[24];
    token_digest_hex(digest, hex);
    snprintf(member_text, sizeof(member_text), "%lld", (long long)member_id);
    const coop_caller *caller = coop_request_caller(req);
    snprintf(creator_text, sizeof(creator_text), "%lld", (long long)caller->token_id);
    const char *params[] = {hex, role, member_id ? member_text : NULL, label ? label : "",
                            caller->token_id ? creator_text : NULL};
    if (coop_db_query(core_plugin(), token_insert_sql, 5, params, token_created, tc) != 0) {
        OPENSSL_cleanse(tc->token, sizeof(tc->token));
        free(tc);
        identity_reply_not_queued(req);
    }
}

/* ---- GET /v1/tokens ----------------------------------------------------------- */

static void tokens_listed(const coop_db_result *res, void *arg)
{
    coop_request *req = arg;
    if (coop_db_status(res) != 0) {
        coop_reply_db_error(req, res);
        return;
    }
    json_t *tokens = json_array();
    int n = coop_db_nrows(res);
    for (int i = 0; i < n; i++) {
        const char *revoked = coop_db_value(res, i, 5);
        json_array_append_new(
            tokens,
            json_pack("{s:o, s:s, s:o, s:s, s:s, s:o, s:o}", "id",
                      json_id_or_null(coop_db_value(res, i, 0)), "role", coop_db_value(res, i, 1),
                      "member_id", json_id_or_null(coop_db_value(res, i, 2)), "label",
                      coop_db_value(res, i, 3), "created_at", coop_db_value(res, i, 4),
                      "revoked_at", revoked ? json_string(revoked) : json_null(), "created_by",
                      json_id_or_null(coop_db_value(res, i, 6))));
    }
    coop_reply_json(req, 200, json_pack("{s:o}", "tokens", tokens));
}

static void tokens_list(coop_request *req, void *arg)
{
    (void)arg;
    static const char sql[] =
        "SELECT id, role, member_id, label, coop.rfc3339(created_at), coop.rfc3339(revoked_at),"
        " created_by FROM coop.tokens ORDER BY id";
    if (coop_db_query(core_plugin(), sql, 0, NULL, tokens_listed, req) != 0)
        identity_reply_not_queued(req);
}

/* ---- DELETE /v1/tokens/{id} ----------------------------------------------------- */

static void token_revoked(const coop_db_result *res, void *arg)
{
    coop_request *req = arg;
    if (coop_db_status(res) != 0) {
        coop_reply_db_error(req, res);
        return;
    }
    if (coop_db_nrows(res) == 0) {
        coop_reply_problem(req, 404, "Not Found", "There is no token with this id.");
        return;
    }
    /* Committed: from now on this node refuses the token. */
    access_changes++;
    if (cache)
        token_cache_evict_token(cache, strtoll(coop_db_value(res, 0, 0), NULL, 10));
    coop_reply_json(req, 204, NULL);
}

static void token_revoke(coop_request *req, void *arg)
{
    (void)arg;
    const char *id = coop_request_param(req, "id");
    if (identity_parse_id(id) == 0) {
        coop_reply_problem(req, 404, "Not Found", "There is no token with this id.");
        return;
    }
    /* Revoking twice keeps the first time and answers 204 again. */
    static const char sql[] = "UPDATE coop.tokens SET revoked_at = coalesce(revoked_at, now())"
                              " WHERE id = $1 RETURNING id";
    const char *params[] = {id};
    if (coop_db_query(core_plugin(), sql, 1, params, token_revoked, req) != 0)
        identity_reply_not_queued(req);
}

/* ---- GET /v1/me ------------------------------------------------------------------ */

static void me(coop_request *req, void *arg)
{
    (void)arg;
    const coop_caller *caller = coop_request_caller(req);
    const char *role = identity_role_name(caller->role);
    coop_reply_json(req, 200,
                    json_pack("{s:s?, s:o, s:o}", "role", role, "member_id",
                              caller->member_id ? json_integer(caller->member_id) : json_null(),
                              "token_id",
                              caller->token_id ? json_integer(caller->token_id) : json_null()));
}

/* ---- Registration ---------------------------------------------------------------- */

int tokens_routes_register(void)
{
    const coop_route routes[] = {
        {.method = COOP_POST,
         .path = "/v1/tokens",
         .roles = COOP_ROLE_OPERATOR,
         .body_schema = token_create_schema,
         .handler = token_create},
        {.method = COOP_GET,
         .path = "/v1/tokens",
         .roles = COOP_ROLE_OPERATOR,
         .handler = tokens_list},
        {.method = COOP_DELETE,
         .path = "/v1/tokens/{id}",
         .roles = COOP_ROLE_OPERATOR,
         .handler = token_revoke},
        {.method = COOP_GET, .path = "/v1/me", .roles = COOP_ROLES_ALL, .handler = me},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = coop_route_add(core_plugin(), &routes[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}
