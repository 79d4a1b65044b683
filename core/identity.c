/*
 * Identity: the member register (members.c) and bearer tokens (tokens.c),
 * served by the core through the same SDK a plugin uses. This file starts and
 * stops them and holds the little they share.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <coop/http.h>

#include "identity_internal.h"

int identity_init(const coop_config *cfg)
{
    int rc = tokens_start(cfg ? cfg->token_cache_seconds : 0);
    if (rc == 0)
        rc = members_routes_register();
    if (rc == 0)
        rc = tokens_routes_register();
    if (rc != 0)
        tokens_stop();
    return rc;
}

void identity_stop(void)
{
    tokens_stop();
}

static const struct {
    unsigned role;
    const char *name;
} role_names[] = {
    {COOP_ROLE_OPERATOR, "operator"},
    {COOP_ROLE_MEMBER, "member"},
    {COOP_ROLE_PARTNER, "partner"},
    {COOP_ROLE_CUSTOMER, "customer"},
};

const char *identity_role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (role_names[i].role == role)
            return role_names[i].name;
    return NULL;
}

unsigned identity_role_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (strcmp(role_names[i].name, name) == 0)
            return role_names[i].role;
    return 0;
}

int64_t identity_parse_id(const char *text)
{
    if (!text || text[0] < '1' || text[0] > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return 0;
    return (int64_t)v;
}

void identity_reply_not_queued(coop_request *req)
{
    coop_reply_header(req, "Retry-After", "1");
    coop_reply_problem(req, 503, "Service Unavailable",
                       "The database cannot take the request now; retry shortly.");
}
