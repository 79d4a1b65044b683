/*
 * The top of a dependency pair: depends on dep_base, uses its service
 * "test.base/1" from start, and logs each lifecycle hook.
 */
#include <coop/coop.h>

typedef struct test_base_v1 {
    int (*answer)(void);
} test_base_v1;

static int dep_top_init(coop_plugin *self, const json_t *config)
{
    (void)config;
    coop_log(self, COOP_LOG_INFO, "lifecycle: dep_top init");
    return 0;
}

static int dep_top_start(coop_plugin *self)
{
    const test_base_v1 *base = coop_service_get(self, "test.base/1");
    if (!base)
        return -COOP_ENOTFOUND;
    coop_log(self, COOP_LOG_INFO, "lifecycle: dep_top start; dep_base answers %d", base->answer());
    return 0;
}

static void dep_top_stop(coop_plugin *self)
{
    coop_log(self, COOP_LOG_INFO, "lifecycle: dep_top stop");
}

static const char *const dep_top_depends[] = {"dep_base", NULL};

static const coop_plugin_descriptor dep_top = {
    COOP_DESCRIPTOR_HEADER,     .name = "dep_top",    .version = "1.0.0",
    .depends = dep_top_depends, .init = dep_top_init, .start = dep_top_start,
    .stop = dep_top_stop,
};

COOP_PLUGIN(dep_top)
