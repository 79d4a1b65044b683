/*
 * The table of host functions every plugin receives. Each member is the
 * host_<member> function of the module that owns it; the table is const, so
 * no plugin can rewire coopd.
 */
#include "host_internal.h"

#include "db_internal.h"
#include "http_internal.h"
#include "log_internal.h"
#include "plugin_internal.h"
#include "service_internal.h"
#include "timer_internal.h"

const coop_host_api core_host_api = {
    .abi_major = COOP_ABI_MAJOR,
    .abi_minor = COOP_ABI_MINOR,
    .size = (uint32_t)sizeof(coop_host_api),

    .plugin_name = host_plugin_name,
    .plugin_config = host_plugin_config,
    .strerror = host_strerror,

    .logv = host_logv,

    .route_add = host_route_add,
    .request_method = host_request_method,
    .request_path = host_request_path,
    .request_param = host_request_param,
    .request_query = host_request_query,
    .request_header = host_request_header,
    .request_body = host_request_body,
    .request_json = host_request_json,
    .request_caller = host_request_caller,
    .request_id = host_request_id,

    .reply_header = host_reply_header,
    .reply_json = host_reply_json,
    .reply_problem = host_reply_problem,
    .reply_db_error = host_reply_db_error,

    .db_query = host_db_query,
    .tx_begin = host_tx_begin,
    .tx_query = host_tx_query,
    .tx_commit = host_tx_commit,
    .tx_rollback = host_tx_rollback,
    .db_status = host_db_status,
    .db_sqlstate = host_db_sqlstate,
    .db_error = host_db_error,
    .db_nrows = host_db_nrows,
    .db_ncols = host_db_ncols,
    .db_column = host_db_column,
    .db_value = host_db_value,
    .db_is_null = host_db_is_null,
    .db_affected = host_db_affected,

    .timer_start = host_timer_start,
    .timer_cancel = host_timer_cancel,

    .service_provide = host_service_provide,
    .service_get = host_service_get,
};

/* The core's own modules (identity) use the SDK's wrappers as plugins do. */
const coop_host_api *coop_host = &core_host_api;
