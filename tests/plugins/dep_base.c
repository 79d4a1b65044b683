/*
 * The bottom of a dependency pair: provides the service "test.base/1" and logs
 * each lifecycle hook, so a test can read the order coopd calls them in.
 */
#include <coop/coop.h>

typedef struct test_base_v1 {
    int (*answer)(void);
} test_base_v1;

static int base_answer(void)
{
    return 42;
}

static const test_base_v1 base_service = {.answer = base_answer};

static int dep_base_init(coop_plugin *self, const json_t *config)
{
    (void)config;
    coop_log(self, COOP_LOG_INFO, "lifecycle: dep_base init");
    return coop_service_provide(self, "test.base/1", &base_service);
}

static int dep_base_start(coop_plugin *self)
{
    coop_log(self, COOP_LOG_INFO, "lifecycle: dep_base start");
    return 0;
}

static void dep_base_stop(coop_plugin *self)
{
    coop_log(self, COOP_LOG_INFO, "lifecycle: dep_base stop");
}

static const coop_plugin_descriptor dep_base = {
    COOP_DESCRIPTOR_HEADER, .name = "dep_base",      .version = "1.0.0",
    .init = dep_base_init,  .start = dep_base_start, .stop = dep_base_stop,
};

COOP_PLUGIN(dep_base)
