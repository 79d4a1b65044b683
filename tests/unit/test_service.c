/*
 * Unit tests of core/service.c: the "<service>/<major>" names, who may provide
 * (during init only, once per name) and who may look up (from start on, until
 * it stops, only from plugins it depends on or the core).
 */
#include <string.h>

#include "plugin_internal.h"
#include "service_internal.h"
#include "stderr_capture.h"
#include "unit.h"

static const int shares_v1 = 1, shares_v2 = 2, other = 3;

int main(void)
{
    static const char *const names_ok[] = {"contrib.shares/1", "a/1", "x_1.y2.z/123456",
                                           "members/10"};
    static const char *const names_bad[] = {
        "",     "a",      "a/",    "a/0",   "a/01",  "A/1",       "1a/1", "a./1",
        ".a/1", "a..b/1", "a/1/2", "a b/1", "a-b/1", "a/1234567", "a/x",  NULL};
    for (size_t i = 0; i < sizeof(names_ok) / sizeof(names_ok[0]); i++)
        CHECK_INT(service_name_valid(names_ok[i]), 1);
    for (size_t i = 0; names_bad[i]; i++) {
        if (service_name_valid(names_bad[i]))
            fprintf(stderr, "accepted %s\n", names_bad[i]);
        CHECK_INT(service_name_valid(names_bad[i]), 0);
    }
    CHECK_INT(service_name_valid(NULL), 0);

    static const char *const consumer_depends[] = {"provider", NULL};
    static const coop_plugin_descriptor provider_desc = {COOP_DESCRIPTOR_HEADER,
                                                         .name = "provider"};
    static const coop_plugin_descriptor consumer_desc = {COOP_DESCRIPTOR_HEADER, .name = "consumer",
                                                         .depends = consumer_depends};
    static const coop_plugin_descriptor stranger_desc = {COOP_DESCRIPTOR_HEADER,
                                                         .name = "stranger"};
    coop_plugin provider = {.name = "provider", .desc = &provider_desc, .state = PLUGIN_LOADED};
    coop_plugin consumer = {.name = "consumer", .desc = &consumer_desc};
    coop_plugin stranger = {.name = "stranger", .desc = &stranger_desc};

    /* Only during init. */
    CHECK_INT(host_service_provide(&provider, "contrib.shares/1", &shares_v1), -COOP_ESTATE);
    provider.state = PLUGIN_INITIALISING;
    CHECK_INT(host_service_provide(&provider, "contrib.shares/1", &shares_v1), 0);
    CHECK_INT(host_service_provide(&provider, "contrib.shares/2", &shares_v2), 0);
    CHECK_INT(host_service_provide(&provider, "contrib.shares/1", &other), -COOP_EEXIST);
    CHECK_INT(host_service_provide(&provider, "Shares/1", &other), -COOP_EINVAL);
    CHECK_INT(host_service_provide(&provider, "x/1", NULL), -COOP_EINVAL);
    provider.state = PLUGIN_STARTED;
    CHECK_INT(host_service_provide(&provider, "late/1", &other), -COOP_ESTATE);

    /* Looked up from start on, by a plugin that depends on the provider. */
    consumer.state = PLUGIN_INITIALISING;
    CHECK(host_service_get(&consumer, "contrib.shares/1") == NULL);
    consumer.state = PLUGIN_INITIALISED;
    CHECK(host_service_get(&consumer, "contrib.shares/1") == &shares_v1);
    CHECK(host_service_get(&consumer, "contrib.shares/2") == &shares_v2);
    CHECK(host_service_get(&consumer, "contrib.shares/3") == NULL);
    CHECK(host_service_get(&provider, "contrib.shares/1") == &shares_v1);
    stranger.state = PLUGIN_STARTED;
    CHECK(host_service_get(&stranger, "contrib.shares/1") == NULL);
    CHECK(host_service_get(core_plugin(), "contrib.shares/1") == &shares_v1);

    /* The core's services are open to every plugin. */
    core_plugin()->state = PLUGIN_INITIALISING;
    CHECK_INT(host_service_provide(core_plugin(), "coop.members/1", &other), 0);
    core_plugin()->state = PLUGIN_STARTED;
    CHECK(host_service_get(&stranger, "coop.members/1") == &other);

    json_t *names = services_of(&provider);
    char *text = json_dumps(names, JSON_COMPACT);
    CHECK_STR(text, "[\"contrib.shares/1\",\"contrib.shares/2\"]");
    free(text);
    json_decref(names);

    /* Once stopped, a plugin (or the core) looks up nothing: the provider may have
     * released what its vtable points into. The refusal says why. */
    consumer.state = PLUGIN_STOPPED;
    char said[1024];
    stderr_capture c;
    stderr_capture_begin(&c);
    CHECK(host_service_get(&consumer, "contrib.shares/1") == NULL);
    stderr_capture_end(&c, said, sizeof(said));
    CHECK(strstr(said, " level=warn component=consumer msg=\"coop_service_get(contrib.shares/1) "
                       "refused: coopd is stopping\"\n") != NULL);
    core_plugin()->state = PLUGIN_STOPPED;
    CHECK(host_service_get(core_plugin(), "contrib.shares/1") == NULL);
    CHECK(host_service_get(&stranger, "coop.members/1") == &other); /* stranger still runs */
    consumer.state = PLUGIN_STARTED;
    CHECK(host_service_get(&consumer, "contrib.shares/1") == &shares_v1);

    services_clear();
    CHECK(host_service_get(&consumer, "contrib.shares/1") == NULL);
    provider.state = PLUGIN_INITIALISING;
    CHECK_INT(host_service_provide(&provider, "contrib.shares/1", &shares_v1), 0);
    services_clear();
    return unit_finish();
}
