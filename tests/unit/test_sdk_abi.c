/*
 * The SDK's ABI, checked mechanically (as libevent's abi-check does): this
 * test lays out every field a built plugin depends on (struct sizes and
 * offsets, enum values, the ABI version) and compares the listing with the
 * committed baseline sdk/abi/coop-sdk-<major>.<minor>.abi.
 *
 * Changing the layout without bumping COOP_ABI_MINOR (append-only changes) or
 * COOP_ABI_MAJOR (anything else) fails here. After a bump, write the new
 * baseline with: test_sdk_abi --print > sdk/abi/coop-sdk-<major>.<minor>.abi;
 * for a minor bump the test also checks that the previous minor's baseline is
 * unchanged in the new one, i.e. that fields were only appended.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coop/coop.h>

#include "unit.h"

static char listing[16384];
static size_t used;

static void line(const char *what, long long value)
{
    used += (size_t)snprintf(listing + used, sizeof(listing) - used, "%s %lld\n", what, value);
}

#define SIZE(type) line("sizeof " #type, (long long)sizeof(type))
#define OFFSET(type, field) line("offsetof " #type "." #field, (long long)offsetof(type, field))
#define VALUE(name) line("value " #name, (long long)(name))

static void describe_abi(void)
{
    VALUE(COOP_ABI_MAJOR);
    VALUE(COOP_ABI_MINOR);

    SIZE(coop_plugin_descriptor);
    OFFSET(coop_plugin_descriptor, abi_major);
    OFFSET(coop_plugin_descriptor, abi_minor);
    OFFSET(coop_plugin_descriptor, size);
    OFFSET(coop_plugin_descriptor, name);
    OFFSET(coop_plugin_descriptor, version);
    OFFSET(coop_plugin_descriptor, depends);
    OFFSET(coop_plugin_descriptor, config_schema);
    OFFSET(coop_plugin_descriptor, migrations);
    OFFSET(coop_plugin_descriptor, openapi);
    OFFSET(coop_plugin_descriptor, init);
    OFFSET(coop_plugin_descriptor, start);
    OFFSET(coop_plugin_descriptor, stop);
    OFFSET(coop_plugin_descriptor, reserved);

    SIZE(coop_host_api);
    OFFSET(coop_host_api, abi_major);
    OFFSET(coop_host_api, abi_minor);
    OFFSET(coop_host_api, size);
    OFFSET(coop_host_api, plugin_name);
    OFFSET(coop_host_api, plugin_config);
    OFFSET(coop_host_api, strerror);
    OFFSET(coop_host_api, logv);
    OFFSET(coop_host_api, route_add);
    OFFSET(coop_host_api, request_method);
    OFFSET(coop_host_api, request_path);
    OFFSET(coop_host_api, request_param);
    OFFSET(coop_host_api, request_query);
    OFFSET(coop_host_api, request_header);
    OFFSET(coop_host_api, request_body);
    OFFSET(coop_host_api, request_json);
    OFFSET(coop_host_api, request_caller);
    OFFSET(coop_host_api, request_id);
    OFFSET(coop_host_api, reply_header);
    OFFSET(coop_host_api, reply_json);
    OFFSET(coop_host_api, reply_problem);
    OFFSET(coop_host_api, reply_db_error);
    OFFSET(coop_host_api, db_query);
    OFFSET(coop_host_api, tx_begin);
    OFFSET(coop_host_api, tx_query);
    OFFSET(coop_host_api, tx_commit);
    OFFSET(coop_host_api, tx_rollback);
    OFFSET(coop_host_api, db_status);
    OFFSET(coop_host_api, db_sqlstate);
    OFFSET(coop_host_api, db_error);
    OFFSET(coop_host_api, db_nrows);
    OFFSET(coop_host_api, db_ncols);
    OFFSET(coop_host_api, db_column);
    OFFSET(coop_host_api, db_value);
    OFFSET(coop_host_api, db_is_null);
    OFFSET(coop_host_api, db_affected);
    OFFSET(coop_host_api, timer_start);
    OFFSET(coop_host_api, timer_cancel);
    OFFSET(coop_host_api, service_provide);
    OFFSET(coop_host_api, service_get);

    SIZE(coop_route);
    OFFSET(coop_route, method);
    OFFSET(coop_route, path);
    OFFSET(coop_route, roles);
    OFFSET(coop_route, body_schema);
    OFFSET(coop_route, handler);
    OFFSET(coop_route, arg);

    SIZE(coop_caller);
    OFFSET(coop_caller, role);
    OFFSET(coop_caller, member_id);
    OFFSET(coop_caller, token_id);

    SIZE(coop_migration);
    OFFSET(coop_migration, name);
    OFFSET(coop_migration, sql);

    VALUE(COOP_EINVAL);
    VALUE(COOP_ENOMEM);
    VALUE(COOP_ENOTFOUND);
    VALUE(COOP_EEXIST);
    VALUE(COOP_EUNAVAILABLE);
    VALUE(COOP_EDB);
    VALUE(COOP_ESTATE);
    VALUE(COOP_EABI);
    VALUE(COOP_ECANCELLED);
    VALUE(COOP_GET);
    VALUE(COOP_POST);
    VALUE(COOP_PUT);
    VALUE(COOP_PATCH);
    VALUE(COOP_DELETE);
    VALUE(COOP_ROLE_OPERATOR);
    VALUE(COOP_ROLE_MEMBER);
    VALUE(COOP_ROLE_PARTNER);
    VALUE(COOP_ROLE_CUSTOMER);
    VALUE(COOP_ROLES_ALL);
    VALUE(COOP_PUBLIC);
    VALUE(COOP_LOG_DEBUG);
    VALUE(COOP_LOG_INFO);
    VALUE(COOP_LOG_WARN);
    VALUE(COOP_LOG_ERROR);
}

/* Reads a whole file into a new buffer, or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* Every line of before also stands, unchanged, in after (fields only appended,
 * sizes aside: a struct may grow). */
static int only_appended(const char *before, const char *after)
{
    char *copy = strdup(before);
    int ok = 1;
    for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
        if (strncmp(l, "sizeof ", 7) == 0 || strncmp(l, "value COOP_ABI_MINOR ", 21) == 0)
            continue;
        char needle[512];
        snprintf(needle, sizeof(needle), "%s\n", l);
        if (!strstr(after, needle)) {
            fprintf(stderr, "changed by the minor bump: %s\n", l);
            ok = 0;
        }
    }
    free(copy);
    return ok;
}

int main(int argc, char **argv)
{
    describe_abi();
    if (argc == 2 && strcmp(argv[1], "--print") == 0) {
        fputs(listing, stdout);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: test_sdk_abi DATA_DIR SOURCE_DIR | --print\n");
        return 2;
    }

    char path[4096];
    snprintf(path, sizeof(path), "%s/sdk/abi/coop-sdk-%d.%d.abi", argv[2], COOP_ABI_MAJOR,
             COOP_ABI_MINOR);
    char *baseline = read_file(path);
    if (!baseline) {
        fprintf(stderr,
                "%s is missing: the ABI version was bumped without a baseline; write it "
                "with test_sdk_abi --print\n",
                path);
        CHECK(baseline != NULL);
        return unit_finish();
    }
    if (strcmp(baseline, listing) != 0) {
        fprintf(stderr, "the SDK's ABI differs from %s without a version bump.\nnow:\n%s", path,
                listing);
    }
    CHECK_STR(listing, baseline);
    free(baseline);

    if (COOP_ABI_MINOR > 0) {
        snprintf(path, sizeof(path), "%s/sdk/abi/coop-sdk-%d.%d.abi", argv[2], COOP_ABI_MAJOR,
                 COOP_ABI_MINOR - 1);
        char *previous = read_file(path);
        CHECK(previous != NULL);
        if (previous)
            CHECK(only_appended(previous, listing));
        free(previous);
    }

    /* The size fields coopd checks must match what the compiler lays out. */
    CHECK_INT(sizeof(coop_plugin_descriptor) % sizeof(void *), 0);
    CHECK_INT(offsetof(coop_plugin_descriptor, size), 4);
    return unit_finish();
}
