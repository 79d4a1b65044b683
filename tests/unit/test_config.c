/*
 * Unit tests of core/config.c: real files in a temporary folder, loaded the way
 * coopd loads them, with the one-line errors an operator would read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "unit.h"

static char folder[256];

/* Writes text to <folder>/<name> and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", folder, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return path;
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text as a config; returns "ok" or the error with the folder replaced by "DIR". */
static const char *load(const char *text, coop_config *cfg)
{
    static char out[1024];
    char err[1024];
    const char *path = write_file("c.json", text);
    if (config_load(path, cfg, err, sizeof(err)) == 0)
        return "ok";
    /* Make the message independent of the temporary folder's name. */
    char *at;
    out[0] = '\0';
    const char *rest = err;
    while ((at = strstr(rest, folder))) {
        strncat(out, rest, (size_t)(at - rest));
        strcat(out, "DIR");
        rest = at + strlen(folder);
    }
    strcat(out, rest);
    return out;
}

static const char *load_err(const char *text)
{
    coop_config cfg;
    const char *r = load(text, &cfg);
    config_free(&cfg);
    return r;
}

static void test_minimal_and_defaults(void)
{
    coop_config cfg;
    CHECK_STR(
        load("{\"listen\": \"127.0.0.1:8080\", \"database\": {\"conninfo\": \"dbname=coop\"}}",
             &cfg),
        "ok");
    CHECK_STR(cfg.listen_host, "127.0.0.1");
    CHECK_INT(cfg.listen_port, 8080);
    CHECK_STR(cfg.conninfo, "dbname=coop");
    CHECK_INT(cfg.pool_size, 4);
    CHECK_INT(cfg.max_body_bytes, 1048576);
    CHECK_INT(cfg.token_cache_seconds, 30);
    CHECK_INT(json_object_size(cfg.plugins), 0);
    CHECK_STR(cfg.dir, folder);
    char want[600];
    snprintf(want, sizeof(want), "%s/plugins", folder);
    CHECK_STR(cfg.plugin_dir, want);
    config_free(&cfg);
    CHECK(cfg.path == NULL);
    config_free(&cfg); /* twice is harmless */
}

static void test_full(void)
{
    coop_config cfg;
    mkdir(strcat(strcpy((char[600]){0}, folder), "/so"), 0755);
    CHECK_STR(
        load("{\"listen\": \"[::1]:0\","
             " \"database\": {\"conninfo\": \"host=/tmp port=5433 dbname=x\", \"pool_size\": 64},"
             " \"http\": {\"max_body_bytes\": 1},"
             " \"auth\": {\"token_cache_seconds\": 0},"
             " \"plugin_dir\": \"./so\","
             " \"plugins\": {\"hello\": {}, \"voting\": {\"a\": [1]}, \"x_2\": null}}",
             &cfg),
        "ok");
    CHECK_STR(cfg.listen_host, "::1");
    CHECK_INT(cfg.listen_port, 0);
    CHECK_INT(cfg.pool_size, 64);
    CHECK_INT(cfg.max_body_bytes, 1);
    CHECK_INT(cfg.token_cache_seconds, 0);
    char want[600];
    snprintf(want, sizeof(want), "%s/so", folder);
    CHECK_STR(cfg.plugin_dir, want);
    CHECK_INT(json_object_size(cfg.plugins), 3);
    CHECK(json_is_array(json_object_get(json_object_get(cfg.plugins, "voting"), "a")));
    /* Plugins keep the order of the file. */
    void *it = json_object_iter(cfg.plugins);
    CHECK_STR(json_object_iter_key(it), "hello");
    config_free(&cfg);

    /* An absolute plugin_dir is taken as it is. */
    CHECK_STR(load("{\"listen\": \"0.0.0.0:1\", \"database\": {\"conninfo\": \"\"},"
                   " \"plugin_dir\": \"/\", \"plugins\": {\"a\": {}}}",
                   &cfg),
              "ok");
    CHECK_STR(cfg.plugin_dir, "/");
    CHECK_STR(cfg.listen_host, "0.0.0.0");
    CHECK_INT(cfg.listen_port, 1);
    config_free(&cfg);
}

static void test_errors(void)
{
    const char *db = "\"database\": {\"conninfo\": \"dbname=coop\"}";
    char text[1024];

    CHECK_STR(load_err("{\"listen\": \"127.0.0.1:80\", \"databse\": {}}"),
              "DIR/c.json: /database: is required (and 1 more error)");
    snprintf(text, sizeof(text), "{\"listen\": \"127.0.0.1:80\", %s, \"plugns\": {}}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /plugns: unknown property");
    snprintf(text, sizeof(text), "{\"listen\": \"127.0.0.1:80\", %s, \"http\": {\"max_body\": 1}}",
             db);
    CHECK_STR(load_err(text), "DIR/c.json: /http/max_body: unknown property");
    CHECK_STR(load_err("{\"listen\": \"127.0.0.1:80\","
                       " \"database\": {\"conninfo\": \"x=1\", \"pool_size\": \"4\"}}"),
              "DIR/c.json: /database/pool_size: expected integer");
    CHECK_STR(load_err("{\"listen\": \"127.0.0.1:80\","
                       " \"database\": {\"conninfo\": \"\", \"pool_size\": 0}}"),
              "DIR/c.json: /database/pool_size: must be at least 1");
    snprintf(text, sizeof(text),
             "{\"listen\": \"127.0.0.1:80\", %s,"
             " \"auth\": {\"token_cache_seconds\": 3601}}",
             db);
    CHECK_STR(load_err(text), "DIR/c.json: /auth/token_cache_seconds: must be at most 3600");
    snprintf(text, sizeof(text), "{%s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: is required");
    CHECK_STR(load_err("[]"), "DIR/c.json: expected object");
    snprintf(text, sizeof(text), "{\"listen\": 8080, %s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: expected string");

    /* The listen address. */
    snprintf(text, sizeof(text), "{\"listen\": \"localhost\", %s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: expected \"host:port\"");
    snprintf(text, sizeof(text), "{\"listen\": \"::1:80\", %s}", db);
    CHECK_STR(load_err(text),
              "DIR/c.json: /listen: write an IPv6 address in brackets: \"[::1]:8080\"");
    snprintf(text, sizeof(text), "{\"listen\": \"[::1]80\", %s}", db);
    CHECK_STR(load_err(text),
              "DIR/c.json: /listen: expected \"[address]:port\" for an IPv6 address");
    snprintf(text, sizeof(text), "{\"listen\": \"1.2.3.4:65536\", %s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: the port must be a number from 0 to 65535");
    snprintf(text, sizeof(text), "{\"listen\": \"1.2.3.4:http\", %s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: the port must be a number from 0 to 65535");
    snprintf(text, sizeof(text), "{\"listen\": \"1.2.3.4:\", %s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: the port is missing");
    snprintf(text, sizeof(text), "{\"listen\": \":80\", %s}", db);
    CHECK_STR(load_err(text),
              "DIR/c.json: /listen: the host is empty (use 0.0.0.0 or [::] for every address)");

    snprintf(text, sizeof(text), "{\"listen\": \"300.1.2.3:80\", %s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: not an IPv4 address");
    snprintf(text, sizeof(text), "{\"listen\": \"[::g]:80\", %s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: not an IPv6 address inside the brackets");
    snprintf(text, sizeof(text), "{\"listen\": \"bad_host!:80\", %s}", db);
    CHECK_STR(load_err(text), "DIR/c.json: /listen: not a host name or IP address");
    coop_config named;
    snprintf(text, sizeof(text), "{\"listen\": \"localhost:80\", %s}", db);
    CHECK_STR(load(text, &named), "ok");
    CHECK_STR(named.listen_host, "localhost");
    config_free(&named);
    snprintf(text, sizeof(text), "{\"listen\": \"[::]:80\", %s}", db);
    CHECK_STR(load(text, &named), "ok");
    CHECK_STR(named.listen_host, "::");
    config_free(&named);

    /* The connection string: checked by libpq's own parser, no secrets. */
    CHECK_STR(load_err("{\"listen\": \"127.0.0.1:80\","
                       " \"database\": {\"conninfo\": \"dbname=coop password=secret\"}}"),
              "DIR/c.json: /database/conninfo: holds a password; give it through PGPASSWORD or "
              "~/.pgpass instead");
    CHECK_STR(load_err("{\"listen\": \"127.0.0.1:80\","
                       " \"database\": {\"conninfo\": \"postgresql://u:pw@h/db\"}}"),
              "DIR/c.json: /database/conninfo: holds a password; give it through PGPASSWORD or "
              "~/.pgpass instead");
    CHECK_STR(load_err("{\"listen\": \"127.0.0.1:80\","
                       " \"database\": {\"conninfo\": \"dbname='coop\"}}"),
              "DIR/c.json: /database/conninfo: unterminated quoted string in connection info "
              "string");
    CHECK_STR(load_err("{\"listen\": \"127.0.0.1:80\","
                       " \"database\": {\"conninfo\": \"nosuchoption=1\"}}"),
              "DIR/c.json: /database/conninfo: invalid connection option \"nosuchoption\"");

    /* Plugin names and folder. */
    snprintf(text, sizeof(text),
             "{\"listen\": \"127.0.0.1:80\", %s, \"plugin_dir\": \".\","
             " \"plugins\": {\"Hello\": {}}}",
             db);
    CHECK_STR(load_err(text), "DIR/c.json: /plugins/Hello: not a plugin name (a lowercase letter, "
                              "then up to 30 lowercase letters, digits or _)");
    snprintf(text, sizeof(text),
             "{\"listen\": \"127.0.0.1:80\", %s, \"plugin_dir\": \".\","
             " \"plugins\": {\"core\": {}}}",
             db);
    CHECK_STR(load_err(text), "DIR/c.json: /plugins/core: \"core\" is reserved for coopd itself");
    snprintf(text, sizeof(text),
             "{\"listen\": \"127.0.0.1:80\", %s, \"plugin_dir\": \".\","
             " \"plugins\": {\"a234567890123456789012345678901x\": {}}}",
             db);
    CHECK_STR(load_err(text), "DIR/c.json: /plugins/a234567890123456789012345678901x: not a plugin "
                              "name (a lowercase letter, then up to 30 lowercase letters, digits "
                              "or _)");
    snprintf(text, sizeof(text),
             "{\"listen\": \"127.0.0.1:80\", %s, \"plugin_dir\": \"nope\","
             " \"plugins\": {\"hello\": {}}}",
             db);
    CHECK_STR(load_err(text), "DIR/c.json: /plugin_dir: DIR/nope: No such file or directory");
    snprintf(text, sizeof(text),
             "{\"listen\": \"127.0.0.1:80\", %s, \"plugin_dir\": \"c.json\","
             " \"plugins\": {\"hello\": {}}}",
             db);
    CHECK_STR(load_err(text), "DIR/c.json: /plugin_dir: DIR/c.json: not a folder");
    /* Without plugins the folder is not needed. */
    snprintf(text, sizeof(text), "{\"listen\": \"127.0.0.1:80\", %s, \"plugin_dir\": \"nope\"}",
             db);
    CHECK_STR(load_err(text), "ok");

    /* The file itself. */
    CHECK_STR(load_err("{\"listen\": \"127.0.0.1:80\",\n  \"database\": {\"conninfo\": }}"),
              "DIR/c.json: line 2, column 28: unexpected token near '}'");
    CHECK_STR(load_err("{\"listen\": \"a:1\", \"listen\": \"b:2\"}"),
              "DIR/c.json: line 1, column 26: duplicate object key near '\"listen\"'");
    coop_config cfg;
    char err[512];
    CHECK_INT(config_load("/nonexistent/coop.json", &cfg, err, sizeof(err)), -1);
    CHECK_STR(err, "/nonexistent/coop.json: cannot read: No such file or directory");
    CHECK(cfg.plugins == NULL);
}

int main(void)
{
    snprintf(folder, sizeof(folder), "/tmp/coop-test-config-XXXXXX");
    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 1;
    }
    /* realpath: the folder config.c reports is absolute and resolved. */
    char resolved[256];
    if (realpath(folder, resolved))
        snprintf(folder, sizeof(folder), "%s", resolved);

    test_minimal_and_defaults();
    test_full();
    test_errors();

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", folder);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", folder);
    return unit_finish();
}
