/*
 * The member register over HTTP: create, list, read, and change a member's
 * status with the date the change takes effect.
 *
 *   POST /v1/members              operator           -> 201 member (+ Location)
 *   GET  /v1/members              operator, member   -> 200 {"members": [...]}
 *   GET  /v1/members/{id}         operator, member   -> 200 member with its history
 *   POST /v1/members/{id}/status  operator           -> 200 member with its history
 *
 * Who sees what: an operator sees every field of every member. A member-role
 * token (an applicant's too) sees the register as GenG §31 lets members
 * inspect the member list: ids, names, statuses with their dates, creation
 * times; but the email address and the notes of the status changes (which
 * may say why someone was excluded) only of its own record. The chain hash of
 * another member's change is withheld with the note: it covers the note, so
 * it would let a reader confirm a guessed one.
 *
 * The rules of the life cycle (which transition is allowed, that a change
 * takes effect no earlier than the one before) are enforced by the database
 * (core/sql/001_identity.sql) under a lock of the member's row, so they hold
 * for concurrent requests too; this file maps the refusals to answers naming
 * the field at fault. A write and the read of its answer share a transaction.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coop/coop.h>

#include "identity_internal.h"
#include "plugin_internal.h"
#include "schema_internal.h"

/* ---- JSON from rows ------------------------------------------------------ */

static json_t *json_id(const char *text)
{
    return text ? json_integer(strtoll(text, NULL, 10)) : json_null();
}

static json_t *json_text(const char *text)
{
    return text ? json_string(text) : json_null();
}

static const char *value(const coop_db_result *res, int row, const char *column)
{
    return coop_db_value(res, row, coop_db_column(res, column));
}

/* Whose private fields (email, notes, chain hashes) a reader may see: every
 * member's (VIEW_ALL) for an operator, else only those of the caller's own
 * member record (a member token always names its member). */
#define VIEW_ALL (-1)

static int64_t view_of(coop_request *req)
{
    const coop_caller *caller = coop_request_caller(req);
    return caller->role == COOP_ROLE_OPERATOR ? VIEW_ALL : caller->member_id;
}

static bool private_visible(int64_t view, const coop_db_result *res, int row)
{
    if (view == VIEW_ALL)
        return true;
    const char *id = value(res, row, "id");
    return view > 0 && id && strtoll(id, NULL, 10) == view;
}

/* The member of row (id, name, email, created_at, status, effective_date);
 * "email" only when view may see it. */
static json_t *member_json(const coop_db_result *res, int row, int64_t view)
{
    json_t *member = json_pack("{s:o, s:o, s:o, s:o, s:o}", "id", json_id(value(res, row, "id")),
                               "name", json_text(value(res, row, "name")), "status",
                               json_text(value(res, row, "status")), "status_effective_date",
                               json_text(value(res, row, "effective_date")), "created_at",
                               json_text(value(res, row, "created_at")));
    if (member && private_visible(view, res, row))
        json_object_set_new(member, "email", json_text(value(res, row, "email")));
    return member;
}

/* ---- Reading one member --------------------------------------------------- */

/* One row per status change, oldest first: the last row holds the current status. */
static const char member_read_sql[] =
    "SELECT m.id, m.name, m.email, coop.rfc3339(m.created_at) AS created_at, c.status,"
    " to_char(c.effective_date, 'YYYY-MM-DD') AS effective_date,"
    " coop.rfc3339(c.recorded_at) AS recorded_at, c.note, encode(c.hash, 'hex') AS hash"
    " FROM coop.members m JOIN coop.member_status_changes c ON c.member_id = m.id"
    " WHERE m.id = $1 ORDER BY c.effective_date, c.id";

/* The full member from the rows of member_read_sql, as view may see it: a new
 * reference, or NULL when there are none. */
static json_t *member_from_rows(const coop_db_result *res, int64_t view)
{
    int n = coop_db_nrows(res);
    if (n == 0)
        return NULL;
    json_t *member = member_json(res, n - 1, view);
    bool visible = private_visible(view, res, 0);
    json_t *history = json_array();
    for (int i = 0; i < n; i++) {
        json_t *change = json_pack("{s:o, s:o, s:o}", "status", json_text(value(res, i, "status")),
                                   "effective_date", json_text(value(res, i, "effective_date")),
                                   "recorded_at", json_text(value(res, i, "recorded_at")));
        if (change && visible) {
            json_object_set_new(change, "note", json_text(value(res, i, "note")));
            json_object_set_new(change, "hash", json_text(value(res, i, "hash")));
        }
        json_array_append_new(history, change);
    }
    json_object_set_new(member, "history", history);
    return member;
}

static void reply_member(coop_request *req, const coop_db_result *res, int status)
{
    if (coop_db_status(res) != 0) {
        coop_reply_db_error(req, res);
        return;
    }
    json_t *member = member_from_rows(res, view_of(req));
    if (!member) {
        coop_reply_problem(req, 404, "Not Found", "There is no member with this id.");
        return;
    }
    coop_reply_json(req, status, member);
}

static void member_read_done_200(const coop_db_result *res, void *arg)
{
    reply_member(arg, res, 200);
}

static void member_read(coop_request *req, const char *id, coop_db_fn done)
{
    const char *params[] = {id};
    if (coop_db_query(core_plugin(), member_read_sql, 1, params, done, req) != 0)
        identity_reply_not_queued(req);
}

/* ---- Refusals ------------------------------------------------------------- */

/* A problem naming one field: status 409 or 422. message is copied. */
static void reply_field_problem(coop_request *req, int status, const char *pointer,
                                const char *message)
{
    json_t *errors = json_array();
    coop_invalid_add(errors, pointer, message);
    if (status == 422) {
        coop_reply_invalid(req, errors);
        return;
    }
    coop_reply_problem_json(
        req, status,
        json_pack("{s:s, s:s, s:o}", "title", "Conflict", "detail", message, "errors", errors));
}

/* Maps a refused write of the register to its answer; anything unforeseen goes to
 * coop_reply_db_error (503 when the database is away, else 500 and a log line). */
static void reply_write_refused(coop_request *req, const coop_db_result *res)
{
    const char *state = coop_db_sqlstate(res);
    if (coop_db_status(res) == -COOP_EDB) {
        if (strcmp(state, "CI001") == 0) { /* transition not allowed from the current status */
            reply_field_problem(req, 409, "/status", coop_db_error(res));
            return;
        }
        if (strcmp(state, "CI002") == 0) { /* takes effect before the current status */
            reply_field_problem(req, 422, "/effective_date", coop_db_error(res));
            return;
        }
        if (strcmp(state, "23505") == 0) { /* members_email_key */
            reply_field_problem(req, 409, "/email", "Another member has this email address.");
            return;
        }
        if (strcmp(state, "23503") == 0) { /* no such member */
            coop_reply_problem(req, 404, "Not Found", "There is no member with this id.");
            return;
        }
    }
    coop_reply_db_error(req, res);
}

/* Semantic checks the schema cannot express (or only with a message naming a
 * regular expression). Each appends to errors. */
static void check_name(const json_t *body, json_t *errors)
{
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name)
        return;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!isspace(*p))
            return;
    coop_invalid_add(errors, "/name", "must not be blank");
}

/* Deliberately loose (one @ with something around it, no spaces): the only sure
 * test of an address is mail that arrives. */
static void check_email(const json_t *body, json_t *errors)
{
    const char *email = json_string_value(json_object_get(body, "email"));
    if (!email)
        return;
    const char *at = strchr(email, '@');
    bool ok = at && at != email && at[1] != '\0' && !strchr(at + 1, '@');
    for (const unsigned char *p = (const unsigned char *)email; ok && *p; p++)
        ok = !isspace(*p) && !iscntrl(*p);
    if (!ok)
        coop_invalid_add(errors, "/email", "must be an email address (name@domain)");
}

static void check_effective_date(const json_t *body, json_t *errors)
{
    const char *date = json_string_value(json_object_get(body, "effective_date"));
    /* The format is checked by the schema; the database keeps dates from 1900 on. */
    if (date && strncmp(date, "1900", 4) < 0)
        coop_invalid_add(errors, "/effective_date", "must be 1900-01-01 or later");
}

/* ---- Writes: the change and the answer in one transaction ------------------ */

/* A write of the register and the read of the member it answers with run in one
 * transaction, so the answer shows exactly what was committed, and when the read
 * fails the write is rolled back: an error answer means nothing was written and
 * the client may retry. (Only a COMMIT whose connection breaks leaves the
 * outcome unknown.) */
struct register_write {
    coop_request *req;
    const char *sql; /* static; its first column is the member's id */
    int nparams;
    const char *params[5]; /* borrowed from the request, which lives until the reply */
    bool status_change;    /* tokens of the member may work differently afterwards */
    int reply_status;      /* 201 for a new member (with Location), 200 for a change */
    int64_t member_id;
    json_t *member; /* the answer, once read */
};

static void register_write_free(struct register_write *w)
{
    json_decref(w->member);
    free(w);
}

static void register_write_committed(coop_tx *tx, const coop_db_result *res, void *arg)
{
    (void)tx;
    struct register_write *w = arg;
    if (coop_db_status(res) != 0) {
        coop_reply_db_error(w->req, res);
    } else {
        if (w->status_change)
            identity_member_changed(w->member_id);
        if (w->reply_status == 201) {
            char location[48];
            snprintf(location, sizeof(location), "/v1/members/%lld", (long long)w->member_id);
            coop_reply_header(w->req, "Location", location);
        }
        coop_reply_json(w->req, w->reply_status, json_incref(w->member));
    }
    register_write_free(w);
}

static void register_write_read(coop_tx *tx, const coop_db_result *res, void *arg)
{
    struct register_write *w = arg;
    if (coop_db_status(res) == 0)
        w->member = member_from_rows(res, VIEW_ALL); /* writes are the operator's */
    if (!tx || !w->member) {
        if (tx)
            coop_tx_rollback(tx, NULL, NULL);
        if (coop_db_status(res) != 0)
            coop_reply_db_error(w->req, res);
        else
            coop_reply_problem(w->req, 500, "Internal Server Error",
                               "The member just written could not be read back.");
        register_write_free(w);
        return;
    }
    if (coop_tx_commit(tx, register_write_committed, w) != 0) {
        identity_reply_not_queued(w->req);
        register_write_free(w);
    }
}

static void register_write_done(coop_tx *tx, const coop_db_result *res, void *arg)
{
    struct register_write *w = arg;
    if (!tx || coop_db_status(res) != 0) {
        if (tx)
            coop_tx_rollback(tx, NULL, NULL);
        reply_write_refused(w->req, res);
        register_write_free(w);
        return;
    }
    const char *id = coop_db_value(res, 0, 0);
    w->member_id = strtoll(id ? id : "0", NULL, 10);
    const char *params[] = {id};
    if (coop_tx_query(tx, member_read_sql, 1, params, register_write_read, w) != 0) {
        coop_tx_rollback(tx, NULL, NULL);
        identity_reply_not_queued(w->req);
        register_write_free(w);
    }
}

static void register_write_begun(coop_tx *tx, const coop_db_result *res, void *arg)
{
    struct register_write *w = arg;
    if (!tx) {
        coop_reply_db_error(w->req, res);
        register_write_free(w);
        return;
    }
    if (coop_tx_query(tx, w->sql, w->nparams, w->params, register_write_done, w) != 0) {
        coop_tx_rollback(tx, NULL, NULL);
        identity_reply_not_queued(w->req);
        register_write_free(w);
    }
}

/* Starts w (owned from here on); the request is answered in any case. */
static void register_write_start(struct register_write *w)
{
    if (coop_tx_begin(core_plugin(), register_write_begun, w) != 0) {
        identity_reply_not_queued(w->req);
        register_write_free(w);
    }
}

static struct register_write *register_write_new(coop_request *req)
{
    struct register_write *w = calloc(1, sizeof(*w));
    if (!w)
        coop_reply_problem(req, 500, "Internal Server Error", "Out of memory.");
    else
        w->req = req;
    return w;
}

/* ---- POST /v1/members ------------------------------------------------------ */

static const char member_create_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"name\"],"
    " \"properties\": {"
    "  \"name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200,"
    "            \"description\": \"Not blank; leading and trailing spaces are trimmed.\"},"
    "  \"email\": {\"type\": [\"string\", \"null\"], \"minLength\": 3, \"maxLength\": 254,"
    "             \"description\": \"name@domain; unique among members, case-insensitively.\"},"
    "  \"status\": {\"type\": \"string\", \"enum\": [\"applicant\", \"member\"],"
    "              \"default\": \"applicant\"},"
    "  \"effective_date\": {\"type\": \"string\", \"format\": \"date\","
    "                      \"description\": \"From 1900-01-01; default: today (UTC).\"},"
    "  \"note\": {\"type\": \"string\", \"maxLength\": 2000}}}";

/* Answers 422 with errors when there are any (stealing errors either way).
 * Returns true when it replied. */
static bool replied_invalid(coop_request *req, json_t *errors)
{
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return false;
    }
    coop_reply_invalid(req, errors);
    return true;
}

static void member_create(coop_request *req, void *arg)
{
    (void)arg;
    const json_t *body = coop_request_json(req);
    json_t *errors = json_array();
    check_name(body, errors);
    check_email(body, errors);
    check_effective_date(body, errors);
    if (replied_invalid(req, errors))
        return;

    struct register_write *w = register_write_new(req);
    if (!w)
        return;
    const char *status = json_string_value(json_object_get(body, "status"));
    w->reply_status = 201;
    w->sql = "SELECT coop.member_create(btrim($1), $2, $3,"
             " coalesce($4::date, (now() AT TIME ZONE 'UTC')::date), $5)";
    w->nparams = 5;
    w->params[0] = json_string_value(json_object_get(body, "name"));
    w->params[1] = json_string_value(json_object_get(body, "email")); /* NULL: null or absent */
    w->params[2] = status ? status : "applicant";
    w->params[3] = json_string_value(json_object_get(body, "effective_date"));
    w->params[4] = json_string_value(json_object_get(body, "note"));
    register_write_start(w);
}

/* ---- GET /v1/members -------------------------------------------------------- */

static void members_listed(const coop_db_result *res, void *arg)
{
    coop_request *req = arg;
    if (coop_db_status(res) != 0) {
        coop_reply_db_error(req, res);
        return;
    }
    json_t *members = json_array();
    int n = coop_db_nrows(res);
    int64_t view = view_of(req);
    for (int i = 0; i < n; i++)
        json_array_append_new(members, member_json(res, i, view));
    coop_reply_json(req, 200, json_pack("{s:o}", "members", members));
}

static void reply_bad_parameter(coop_request *req, const char *name, const char *message)
{
    json_t *errors = json_pack("[{s:s, s:s}]", "parameter", name, "message", message);
    coop_reply_problem_json(req, 400,
                            json_pack("{s:s, s:s, s:o}", "title", "Bad Request", "detail",
                                      "A query parameter is invalid.", "errors", errors));
}

/* ?status= keeps the members with that status; ?at= (an RFC 3339 date or
 * date-time) gives each member's status in force then, as coop.member_status_at
 * does, and leaves out those whose first status takes effect later. Pages:
 * ?limit=N (at most MEMBERS_LIST_LIMIT_MAX) and ?after=<the last id seen>;
 * without limit every member comes in one answer. */
#define MEMBERS_LIST_LIMIT_MAX 10000
static void members_list(coop_request *req, void *arg)
{
    (void)arg;
    const char *status = coop_request_query(req, "status");
    const char *at = coop_request_query(req, "at");
    if (status && strcmp(status, "applicant") != 0 && strcmp(status, "member") != 0 &&
        strcmp(status, "resigned") != 0 && strcmp(status, "excluded") != 0) {
        reply_bad_parameter(req, "status", "must be applicant, member, resigned or excluded");
        return;
    }
    char at_buf[64];
    if (at) {
        if (schema_is_rfc3339_date(at)) {
            /* A date means its first instant in UTC, like an effective date. */
            snprintf(at_buf, sizeof(at_buf), "%sT00:00:00Z", at);
            at = at_buf;
        } else if (!schema_is_rfc3339_date_time(at) || strncmp(at, "1900", 4) < 0) {
            reply_bad_parameter(req, "at", "must be an RFC 3339 date or date-time from 1900 on");
            return;
        }
    }
    const char *after = coop_request_query(req, "after");
    const char *limit = coop_request_query(req, "limit");
    if (after && strcmp(after, "0") != 0 && identity_parse_id(after) == 0) {
        reply_bad_parameter(req, "after", "must be a member id (a whole number >= 0)");
        return;
    }
    int64_t limit_value = identity_parse_id(limit);
    if (limit && (limit_value == 0 || limit_value > MEMBERS_LIST_LIMIT_MAX)) {
        reply_bad_parameter(req, "limit", "must be a whole number from 1 to 10000");
        return;
    }
    static const char sql[] =
        "SELECT m.id, m.name, m.email, coop.rfc3339(m.created_at) AS created_at, s.status,"
        " to_char(s.effective_date, 'YYYY-MM-DD') AS effective_date"
        " FROM coop.members m CROSS JOIN LATERAL ("
        "  SELECT c.status, c.effective_date FROM coop.member_status_changes c"
        "  WHERE c.member_id = m.id"
        "   AND c.effective_date <= (coalesce($2::timestamptz, 'infinity') AT TIME ZONE "
        "'UTC')::date"
        "  ORDER BY c.effective_date DESC, c.id DESC LIMIT 1) s"
        " WHERE ($1::text IS NULL OR s.status = $1) AND m.id > coalesce($3::bigint, 0)"
        " ORDER BY m.id LIMIT $4::bigint";
    const char *params[] = {status, at, after, limit};
    if (coop_db_query(core_plugin(), sql, 4, params, members_listed, req) != 0)
        identity_reply_not_queued(req);
}

/* ---- GET /v1/members/{id} ---------------------------------------------------- */

/* The id as the database should see it, or NULL after answering 404. */
static const char *member_id_param(coop_request *req)
{
    const char *id = coop_request_param(req, "id");
    if (identity_parse_id(id) == 0) {
        coop_reply_problem(req, 404, "Not Found", "There is no member with this id.");
        return NULL;
    }
    return id;
}

static void member_get(coop_request *req, void *arg)
{
    (void)arg;
    const char *id = member_id_param(req);
    if (id)
        member_read(req, id, member_read_done_200);
}

/* ---- POST /v1/members/{id}/status -------------------------------------------- */

static const char status_change_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"status\"],"
    " \"properties\": {"
    "  \"status\": {\"type\": \"string\","
    "              \"enum\": [\"applicant\", \"member\", \"resigned\", \"excluded\"]},"
    "  \"effective_date\": {\"type\": \"string\", \"format\": \"date\","
    "                      \"description\": \"Not before the current status's effective date;"
    " default: today (UTC).\"},"
    "  \"note\": {\"type\": \"string\", \"maxLength\": 2000}}}";

static void status_change(coop_request *req, void *arg)
{
    (void)arg;
    const char *id = member_id_param(req);
    if (!id)
        return;
    const json_t *body = coop_request_json(req);
    json_t *errors = json_array();
    check_effective_date(body, errors);
    if (replied_invalid(req, errors))
        return;

    struct register_write *w = register_write_new(req);
    if (!w)
        return;
    w->sql = "INSERT INTO coop.member_status_changes (member_id, status, effective_date, note)"
             " VALUES ($1, $2, coalesce($3::date, (now() AT TIME ZONE 'UTC')::date), $4)"
             " RETURNING member_id";
    w->nparams = 4;
    w->params[0] = id;
    w->params[1] = json_string_value(json_object_get(body, "status"));
    w->params[2] = json_string_value(json_object_get(body, "effective_date"));
    w->params[3] = json_string_value(json_object_get(body, "note"));
    /* Whether the member's tokens work may change: the cache forgets them at commit. */
    w->status_change = true;
    /* 200, not 201: the answer is the member (an existing resource), not the
     * change, which has no URL of its own. */
    w->reply_status = 200;
    register_write_start(w);
}

/* ---- Registration ------------------------------------------------------------ */

int members_routes_register(void)
{
    const coop_route routes[] = {
        {.method = COOP_POST,
         .path = "/v1/members",
         .roles = COOP_ROLE_OPERATOR,
         .body_schema = member_create_schema,
         .handler = member_create},
        {.method = COOP_GET,
         .path = "/v1/members",
         .roles = COOP_ROLE_OPERATOR | COOP_ROLE_MEMBER,
         .handler = members_list},
        {.method = COOP_GET,
         .path = "/v1/members/{id}",
         .roles = COOP_ROLE_OPERATOR | COOP_ROLE_MEMBER,
         .handler = member_get},
        {.method = COOP_POST,
         .path = "/v1/members/{id}/status",
         .roles = COOP_ROLE_OPERATOR,
         .body_schema = status_change_schema,
         .handler = status_change},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = coop_route_add(core_plugin(), &routes[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}
