/* Its init refuses to start (as a plugin whose settings point at something
 * missing would): coopd must exit 2 with one line naming it. */
#include <coop/coop.h>

static int init_fails_init(coop_plugin *self, const json_t *config)
{
    (void)config;
    coop_log(self, COOP_LOG_ERROR, "refusing to start, as this test plugin always does");
    return -COOP_EINVAL;
}

static const coop_plugin_descriptor init_fails = {
    COOP_DESCRIPTOR_HEADER,
    .name = "init_fails",
    .version = "1.0.0",
    .init = init_fails_init,
};

COOP_PLUGIN(init_fails)
