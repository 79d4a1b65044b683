/* One statement for one request, answered the same way by every handler: the path's proposal
 * id (404 when it cannot be one), the statement queued with a small context that the callback
 * frees, the database's failure answered for the handler (coop_reply_db_error) and a statement
 * that cannot be queued answered 503 with Retry-After. A handler supplies only the SQL and what
 * it makes of the rows.
 */
#include <stdio.h>
#include <stdlib.h>

#include "voting_internal.h"

/* Seconds a client should wait before retrying a statement that could not be queued: the pool
 * is starting or stopping, which takes a few seconds (core/http.c answers /readyz alike). */
#define NOT_QUEUED_RETRY_AFTER "5"

struct query_ctx {
    coop_request *req;
    voting_rows_fn rows;
    char id_text[VOTING_ID_TEXT];
};

void voting_reply_not_queued(coop_request *req, int rc)
{
    coop_log(voting_self, COOP_LOG_WARN, "%s: the statement could not be queued: %s",
             coop_request_path(req), coop_strerror(rc));
    if (rc == -COOP_EINVAL) {
        /* Bad arguments are this plugin's bug: retrying would not help. */
        coop_reply_problem(req, 500, "Internal Server Error", "The query could not be queued.");
        return;
    }
    coop_reply_header(req, "Retry-After", NOT_QUEUED_RETRY_AFTER);
    coop_reply_problem(req, 503, "Service Unavailable",
                       "The database cannot take the request now (%s); retry shortly.",
                       coop_strerror(rc));
}

bool voting_request_id(coop_request *req, int64_t *id, char id_text[VOTING_ID_TEXT])
{
    const char *text = coop_request_param(req, "id");
    if (!voting_parse_id(text, id)) {
        voting_reply_no_proposal(req, text ? text : "");
        return false;
    }
    snprintf(id_text, VOTING_ID_TEXT, "%lld", (long long)*id);
    return true;
}

static void query_done(const coop_db_result *res, void *arg)
{
    struct query_ctx *ctx = arg;
    if (coop_db_status(res) != 0)
        coop_reply_db_error(ctx->req, res);
    else
        ctx->rows(ctx->req, res, ctx->id_text);
    free(ctx);
}

void voting_query(coop_request *req, const char *id_text, const char *sql, int nparams,
                  const char *const *params, voting_rows_fn rows)
{
    struct query_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        coop_reply_problem(req, 500, "Internal Server Error", "Out of memory.");
        return;
    }
    ctx->req = req;
    ctx->rows = rows;
    snprintf(ctx->id_text, sizeof(ctx->id_text), "%s", id_text ? id_text : "");
    int rc = coop_db_query(voting_self, sql, nparams, params, query_done, ctx);
    if (rc < 0) {
        voting_reply_not_queued(req, rc);
        free(ctx);
    }
}

void voting_query_proposal(coop_request *req, const char *sql, const char *extra,
                           voting_rows_fn rows)
{
    int64_t id;
    char id_text[VOTING_ID_TEXT];
    if (!voting_request_id(req, &id, id_text))
        return;
    const char *params[] = {id_text, extra};
    voting_query(req, id_text, sql, extra ? 2 : 1, params, rows);
}
