/* Initialises, then refuses in start (as a plugin whose first query fails
 * might): coopd must exit 2 with one line naming it, after calling stop on every
 * plugin that was initialised, this one included, so that what init took is
 * released. Its stop appends "start_fails stopped" to the file named by the
 * "marker" setting, for the test to find after coopd has exited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coop/coop.h>

static char *marker_path;

static int start_fails_init(coop_plugin *self, const json_t *config)
{
    (void)self;
    marker_path = strdup(json_string_value(json_object_get(config, "marker")));
    return marker_path ? 0 : -COOP_ENOMEM;
}

static int start_fails_start(coop_plugin *self)
{
    coop_log(self, COOP_LOG_ERROR, "refusing to start, as this test plugin always does");
    return -COOP_EINVAL;
}

/* Runs at shutdown, off the serving path: a blocking write is fine here. */
static void start_fails_stop(coop_plugin *self)
{
    coop_log(self, COOP_LOG_INFO, "lifecycle: start_fails stop");
    FILE *f = fopen(marker_path, "a");
    if (f) {
        fputs("start_fails stopped\n", f);
        fclose(f);
    }
    free(marker_path);
    marker_path = NULL;
}

static const coop_plugin_descriptor start_fails = {
    COOP_DESCRIPTOR_HEADER,
    .name = "start_fails",
    .version = "1.0.0",
    .config_schema = "{\"type\": \"object\", \"additionalProperties\": false,"
                     " \"required\": [\"marker\"],"
                     " \"properties\": {\"marker\": {\"type\": \"string\", \"minLength\": 1}}}",
    .init = start_fails_init,
    .start = start_fails_start,
    .stop = start_fails_stop,
};

COOP_PLUGIN(start_fails)
