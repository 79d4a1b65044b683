/* voting: proposals, ballots and results for the cooperative's decisions.
 *
 * Routes (below /v1/voting):
 *   POST /proposals                      operator   create a proposal
 *   GET  /proposals                      operator, member
 *   GET  /proposals/{id}                 operator, member
 *   POST /proposals/{id}/ballots         member     cast or replace one's ballot
 *   GET  /proposals/{id}/ballots/mine    member     the caller's ballot that counts
 *   GET  /proposals/{id}/ballots/verify  operator   recompute the ballot hash chain
 *   POST /proposals/{id}/close           operator   close early (idempotent)
 *   GET  /proposals/{id}/result          operator, member
 * The schema of each body is below; openapi.json documents the whole API.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "voting_internal.h"

extern const coop_migration voting_migrations[];

coop_plugin *voting_self;
unsigned voting_sweep_seconds = 60;

static const char voting_config_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"properties\": {\"sweep_seconds\": {\"type\": \"integer\", \"minimum\": 1,"
    " \"maximum\": 86400}}}";

/* Structure only; what needs the proposal or several fields (duplicate keys, closing after
 * opening, options per method) is checked in proposals.c and answered the same way. */
static const char proposal_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"required\": [\"title\", \"method\", \"closes_at\"],"
    " \"properties\": {"
    "  \"title\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200},"
    "  \"text\": {\"type\": \"string\", \"maxLength\": 20000},"
    "  \"method\": {\"type\": \"string\", \"enum\": [\"yesno\", \"approval\", \"ranked\"]},"
    "  \"options\": {\"type\": \"array\", \"maxItems\": 64, \"items\": {"
    "    \"type\": \"object\", \"additionalProperties\": false, \"required\": [\"key\", \"label\"],"
    "    \"properties\": {\"key\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 64,"
    "                            \"pattern\": \"^[A-Za-z0-9_.-]+$\"},"
    "                   \"label\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200}}}},"
    "  \"opens_at\": {\"type\": \"string\", \"format\": \"date-time\"},"
    "  \"closes_at\": {\"type\": \"string\", \"format\": \"date-time\"},"
    "  \"quorum_percent\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 100},"
    "  \"threshold\": {\"type\": \"string\","
    "                  \"enum\": [\"half\", \"two_thirds\", \"three_quarters\"]}}}";

/* Which of the three fields a ballot must carry depends on the proposal: ballot_choice.c. */
static const char ballot_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"properties\": {"
    "  \"choice\": {\"type\": \"string\", \"enum\": [\"yes\", \"no\", \"abstain\"]},"
    "  \"approve\": {\"type\": \"array\", \"maxItems\": 64, \"items\": {\"type\": \"string\"}},"
    "  \"ranking\": {\"type\": \"array\", \"maxItems\": 64, \"items\": {\"type\": \"array\","
    "                \"minItems\": 1, \"maxItems\": 64, \"items\": {\"type\": \"string\"}}}}}";

/* plugins/voting/openapi.json, embedded at build time (embed_text.cmake). */
extern const char voting_openapi[];

bool voting_parse_id(const char *text, int64_t *id)
{
    if (!text || !*text || strlen(text) > 18)
        return false;
    int64_t value = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        value = value * 10 + (*c - '0');
    }
    if (value <= 0)
        return false;
    *id = value;
    return true;
}

void voting_reply_no_proposal(coop_request *req, const char *id_text)
{
    coop_reply_problem(req, 404, "Not Found", "There is no proposal %.40s.", id_text);
}

json_t *voting_json_from_db(const char *text)
{
    json_error_t error;
    json_t *value = text ? json_loads(text, JSON_DECODE_ANY, &error) : NULL;
    if (!value)
        coop_log(voting_self, COOP_LOG_ERROR, "unreadable JSON from the database: %s",
                 text ? error.text : "NULL");
    return value;
}

static int voting_init(coop_plugin *self, const json_t *config)
{
    voting_self = self;
    const json_t *sweep = json_object_get(config, "sweep_seconds");
    if (sweep)
        voting_sweep_seconds = (unsigned)json_integer_value(sweep);

    static const coop_route routes[] = {
        {.method = COOP_POST,
         .path = "/proposals",
         .roles = COOP_ROLE_OPERATOR,
         .body_schema = proposal_schema,
         .handler = proposals_create},
        {.method = COOP_GET,
         .path = "/proposals",
         .roles = COOP_ROLE_OPERATOR | COOP_ROLE_MEMBER,
         .handler = proposals_list},
        {.method = COOP_GET,
         .path = "/proposals/{id}",
         .roles = COOP_ROLE_OPERATOR | COOP_ROLE_MEMBER,
         .handler = proposals_get},
        {.method = COOP_POST,
         .path = "/proposals/{id}/ballots",
         .roles = COOP_ROLE_MEMBER,
         .body_schema = ballot_schema,
         .handler = ballots_cast},
        {.method = COOP_GET,
         .path = "/proposals/{id}/ballots/verify",
         .roles = COOP_ROLE_OPERATOR,
         .handler = ballots_verify},
        {.method = COOP_GET,
         .path = "/proposals/{id}/ballots/mine",
         .roles = COOP_ROLE_MEMBER,
         .handler = ballots_mine},
        {.method = COOP_POST,
         .path = "/proposals/{id}/close",
         .roles = COOP_ROLE_OPERATOR,
         .handler = close_by_operator},
        {.method = COOP_GET,
         .path = "/proposals/{id}/result",
         .roles = COOP_ROLE_OPERATOR | COOP_ROLE_MEMBER,
         .handler = result_get},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = coop_route_add(self, &routes[i]);
        if (rc < 0) {
            coop_log(self, COOP_LOG_ERROR, "cannot add route %s: %s", routes[i].path,
                     coop_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static int voting_start(coop_plugin *self)
{
    (void)self;
    schedule_start();
    return 0;
}

static void voting_stop(coop_plugin *self)
{
    (void)self;
    schedule_stop();
}

static const coop_plugin_descriptor voting_descriptor = {
    COOP_DESCRIPTOR_HEADER,
    .name = "voting",
    .version = "1.0.0",
    .config_schema = voting_config_schema,
    .migrations = voting_migrations,
    .openapi = voting_openapi,
    .init = voting_init,
    .start = voting_start,
    .stop = voting_stop,
};

COOP_PLUGIN(voting_descriptor)
