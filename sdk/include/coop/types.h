/*
 * coop SDK: the types shared by every part of the plugin interface.
 *
 * Every handle is opaque: a plugin never sees the layout of what coopd owns,
 * so coopd can change it without breaking a built plugin. No libevent, libpq
 * or OpenSSL type appears here; JSON crosses as jansson's json_t.
 */
#ifndef COOP_TYPES_H
#define COOP_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The SDK's ABI version. A plugin built for another major is refused at load;
 *  a plugin built for an older or equal minor keeps working. */
#define COOP_ABI_MAJOR 1
#define COOP_ABI_MINOR 0

/** One loaded plugin. Owned by coopd; valid from init until stop returns. */
typedef struct coop_plugin coop_plugin;
/** One HTTP request being served. Owned by coopd; borrowed by the handler
 *  until it sends the reply (exactly one reply per request). */
typedef struct coop_request coop_request;
/** The outcome of one database statement. Owned by coopd; borrowed by the
 *  callback that receives it and invalid once that callback returns. */
typedef struct coop_db_result coop_db_result;
/** An open database transaction on one pooled connection. Owned by coopd;
 *  valid until the plugin commits or rolls it back. */
typedef struct coop_tx coop_tx;
/** A pending one-shot timer. Owned by coopd; valid until it fires or is cancelled. */
typedef struct coop_timer coop_timer;

/** Error codes. Functions return 0 on success and the negated code on failure
 *  (for example -COOP_EINVAL). coop_strerror() names each one. */
enum coop_error {
    COOP_OK = 0,
    COOP_EINVAL = 1,       /**< an argument is invalid */
    COOP_ENOMEM = 2,       /**< out of memory */
    COOP_ENOTFOUND = 3,    /**< the thing named does not exist */
    COOP_EEXIST = 4,       /**< the thing already exists (route, service) */
    COOP_EUNAVAILABLE = 5, /**< the database cannot be reached now; retry later */
    COOP_EDB = 6,          /**< the database refused the statement (see the SQLSTATE) */
    COOP_ESTATE = 7,       /**< called at the wrong time in the lifecycle */
    COOP_EABI = 8,         /**< ABI versions do not match */
    COOP_ECANCELLED = 9    /**< cancelled because coopd is stopping */
};

/** HTTP methods a route can answer; a route names exactly one. */
enum coop_method {
    COOP_GET = 1u << 0,
    COOP_POST = 1u << 1,
    COOP_PUT = 1u << 2,
    COOP_PATCH = 1u << 3,
    COOP_DELETE = 1u << 4
};

/** Roles a bearer token carries. A route lists the roles that may call it as a
 *  bit mask; COOP_PUBLIC lets callers without a token in. */
enum coop_role {
    COOP_ROLE_OPERATOR = 1u << 0,
    COOP_ROLE_MEMBER = 1u << 1,
    COOP_ROLE_PARTNER = 1u << 2,
    COOP_ROLE_CUSTOMER = 1u << 3,
    COOP_ROLES_ALL = 0xFu,
    COOP_PUBLIC = 1u << 30
};

/** Handles one request. The request is borrowed until the handler (or a
 *  callback it started) sends exactly one reply with a coop_reply_* call. */
typedef void (*coop_handler_fn)(coop_request *req, void *arg);

/** One HTTP route a plugin serves; see coop_route_add(). */
typedef struct coop_route {
    /** Exactly one enum coop_method value. */
    unsigned method;
    /** Path below the plugin's mount point /v1/<plugin-name>: "" for the mount
     *  point itself, else it starts with '/'. A segment written "{name}" matches
     *  any one non-empty segment, read back with coop_request_param(). */
    const char *path;
    /** Roles that may call the route (enum coop_role bits). 0 is refused at
     *  registration so that no route is left open or closed by accident. */
    unsigned roles;
    /** NULL: the route takes no body. Otherwise JSON Schema text (the subset
     *  described in docs/sdk.md) the body must satisfy: coopd answers 400 when
     *  the body is not JSON and 422 with JSON pointers when it does not fit,
     *  before the handler runs. "{}" accepts any JSON value. */
    const char *body_schema;
    /** Called for each matching, authorised request. */
    coop_handler_fn handler;
    /** Passed to handler unchanged; owned by the plugin. */
    void *arg;
} coop_route;

/** Who is calling. Borrowed from the request; valid as long as the request. */
typedef struct coop_caller {
    /** One enum coop_role value, or 0 when the route is public and the caller
     *  sent no token. */
    unsigned role;
    /** The member the token is bound to, or 0 when it is bound to none. */
    int64_t member_id;
    /** The id of the token used, or 0 without a token. */
    int64_t token_id;
} coop_caller;

/** One schema migration of a plugin: applied once, in array order, inside a
 *  transaction with search_path set to the plugin's schema, and recorded with
 *  a SHA-256 checksum. An applied migration whose text changed refuses
 *  start-up, so never edit one: add the next. */
typedef struct coop_migration {
    const char *name; /**< e.g. "001_proposals.sql"; unique within the plugin */
    const char *sql;  /**< the statements, run as one simple query */
} coop_migration;

/** Receives the outcome of a statement run outside a transaction. res is
 *  borrowed and invalid once the callback returns; copy what you keep. */
typedef void (*coop_db_fn)(const coop_db_result *res, void *arg);

/** Receives the outcome of a step of a transaction. After a successful begin
 *  or query tx is the open transaction, and before returning the callback must
 *  issue the next coop_tx_query(), or coop_tx_commit() or coop_tx_rollback():
 *  otherwise coopd rolls the transaction back and logs it. After commit or
 *  rollback, or when begin failed, tx is NULL. res is borrowed as for
 *  coop_db_fn. */
typedef void (*coop_tx_fn)(coop_tx *tx, const coop_db_result *res, void *arg);

/** Called once when a timer fires. The timer handle is already freed. */
typedef void (*coop_timer_fn)(void *arg);

/** Log levels, least to most severe. */
enum coop_log_level {
    COOP_LOG_DEBUG = 0,
    COOP_LOG_INFO = 1,
    COOP_LOG_WARN = 2,
    COOP_LOG_ERROR = 3
};

#ifdef __cplusplus
}
#endif
#endif /* COOP_TYPES_H */
