/* Identity, owned by the core: the member register and bearer tokens (owner:
 * members.c, tokens.c, and the migrations in core/sql/). */
#ifndef COOP_IDENTITY_INTERNAL_H
#define COOP_IDENTITY_INTERNAL_H

#include <stddef.h>

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

#endif
