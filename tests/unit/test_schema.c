/*
 * Unit tests of core/schema.c, the JSON Schema subset validator, and of the
 * pieces it is built from (rfc3339.c, json_unique.c, text_buf.c). Every case is
 * written by hand with the answer JSON Schema (draft 2020-12) gives, apart from
 * the documented differences (integer means an integer literal; POSIX patterns).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_unique_internal.h"
#include "rfc3339_internal.h"
#include "schema_internal.h"
#include "text_buf_internal.h"
#include "unit.h"

/* The errors of validating instance against schema, as "pointer: message"
 * joined by " | ", or "ok". The result lives until the next call. */
static const char *errors_of(const char *schema_text, const char *instance_text)
{
    static char out[2048];
    char err[256];
    json_t *schema = schema_parse(schema_text, err, sizeof(err));
    if (!schema) {
        snprintf(out, sizeof(out), "bad schema: %s", err);
        return out;
    }
    json_error_t jerr;
    json_t *inst = json_loads(instance_text, JSON_DECODE_ANY, &jerr);
    if (!inst) {
        json_decref(schema);
        snprintf(out, sizeof(out), "bad instance: %s", jerr.text);
        return out;
    }
    json_t *errors = schema_validate(schema, inst);
    out[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        size_t len = strlen(out);
        snprintf(out + len, sizeof(out) - len, "%s%s: %s", i ? " | " : "",
                 json_string_value(json_object_get(e, "pointer")),
                 json_string_value(json_object_get(e, "message")));
    }
    if (json_array_size(errors) == 0)
        snprintf(out, sizeof(out), "ok");
    json_decref(errors);
    json_decref(inst);
    json_decref(schema);
    return out;
}

/* The reason schema_check gives, or "ok". */
static const char *check_of(const char *schema_text)
{
    static char out[512];
    char err[256];
    json_t *schema = schema_parse(schema_text, err, sizeof(err));
    if (!schema) {
        snprintf(out, sizeof(out), "%s", err);
        return out;
    }
    json_decref(schema);
    return "ok";
}

static void test_type(void)
{
    CHECK_STR(errors_of("{\"type\": \"string\"}", "\"x\""), "ok");
    CHECK_STR(errors_of("{\"type\": \"string\"}", "1"), ": expected string");
    CHECK_STR(errors_of("{\"type\": \"null\"}", "null"), "ok");
    CHECK_STR(errors_of("{\"type\": \"null\"}", "false"), ": expected null");
    CHECK_STR(errors_of("{\"type\": \"boolean\"}", "false"), "ok");
    CHECK_STR(errors_of("{\"type\": \"boolean\"}", "0"), ": expected boolean");
    CHECK_STR(errors_of("{\"type\": \"object\"}", "{}"), "ok");
    CHECK_STR(errors_of("{\"type\": \"object\"}", "[]"), ": expected object");
    CHECK_STR(errors_of("{\"type\": \"array\"}", "[]"), "ok");
    CHECK_STR(errors_of("{\"type\": \"array\"}", "{}"), ": expected array");
    CHECK_STR(errors_of("{\"type\": \"number\"}", "1"), "ok");
    CHECK_STR(errors_of("{\"type\": \"number\"}", "1.5"), "ok");
    CHECK_STR(errors_of("{\"type\": \"number\"}", "\"1\""), ": expected number");
    CHECK_STR(errors_of("{\"type\": \"integer\"}", "-7"), "ok");
    /* Documented difference: an integer is an integer literal, so that
     * json_integer_value() never reads 0 from a real. */
    CHECK_STR(errors_of("{\"type\": \"integer\"}", "7.0"), ": expected integer");
    CHECK_STR(errors_of("{\"type\": \"integer\"}", "1.5"), ": expected integer");
    CHECK_STR(errors_of("{\"type\": [\"string\", \"null\"]}", "null"), "ok");
    CHECK_STR(errors_of("{\"type\": [\"string\", \"null\"]}", "\"a\""), "ok");
    CHECK_STR(errors_of("{\"type\": [\"string\", \"null\"]}", "3"), ": expected string or null");
    CHECK_STR(errors_of("{\"type\": [\"string\", \"integer\", \"null\"]}", "true"),
              ": expected string, integer or null");
    /* A wrong type hides the other complaints about the same value. */
    CHECK_STR(errors_of("{\"type\": \"string\", \"minLength\": 3, \"enum\": [\"abc\"]}", "1"),
              ": expected string");
    CHECK_STR(errors_of("{}", "{\"anything\": [1, 2]}"), "ok");
    CHECK_STR(errors_of("true", "1"), "ok");
    CHECK_STR(errors_of("false", "1"), ": is not allowed");
}

static void test_objects(void)
{
    const char *s = "{\"type\": \"object\", \"required\": [\"title\", \"options\"],"
                    " \"additionalProperties\": false,"
                    " \"properties\": {\"title\": {\"type\": \"string\"},"
                    "  \"options\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
                    "  \"quorum\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 100}}}";
    CHECK_STR(errors_of(s, "{\"title\": \"t\", \"options\": [\"a\"]}"), "ok");
    CHECK_STR(errors_of(s, "{\"title\": \"t\"}"), "/options: is required");
    CHECK_STR(errors_of(s, "{}"), "/title: is required | /options: is required");
    CHECK_STR(errors_of(s, "{\"title\": 5, \"options\": [\"a\", 2]}"),
              "/title: expected string | /options/1: expected string");
    CHECK_STR(errors_of(s, "{\"title\": \"t\", \"options\": [], \"colour\": 1}"),
              "/colour: unknown property");
    CHECK_STR(errors_of(s, "{\"title\": \"t\", \"options\": [], \"quorum\": 101}"),
              "/quorum: must be at most 100");
    CHECK_STR(errors_of(s, "{\"title\": \"t\", \"options\": [], \"quorum\": -1}"),
              "/quorum: must be at least 0");
    /* Open objects accept members they do not describe. */
    CHECK_STR(errors_of("{\"properties\": {\"a\": {\"type\": \"integer\"}}}", "{\"b\": \"x\"}"),
              "ok");
    CHECK_STR(errors_of("{\"additionalProperties\": true}", "{\"b\": 1}"), "ok");
    /* properties and required apply to objects only. */
    CHECK_STR(errors_of("{\"required\": [\"a\"]}", "[1]"), "ok");
    /* Nested pointers. */
    CHECK_STR(
        errors_of("{\"properties\": {\"a\": {\"properties\": {\"b\": {\"type\": \"null\"}}}}}",
                  "{\"a\": {\"b\": 0}}"),
        "/a/b: expected null");
}

static void test_pointer_escaping(void)
{
    /* RFC 6901: "~" is written "~0" and "/" is written "~1". */
    CHECK_STR(errors_of("{\"additionalProperties\": false}", "{\"a/b\": 1}"),
              "/a~1b: unknown property");
    CHECK_STR(errors_of("{\"additionalProperties\": false}", "{\"m~n\": 1}"),
              "/m~0n: unknown property");
    CHECK_STR(errors_of("{\"properties\": {\"~/\": {\"type\": \"string\"}}}", "{\"~/\": 1}"),
              "/~0~1: expected string");
    CHECK_STR(errors_of("{\"required\": [\"\"]}", "{}"), "/: is required");
}

static void test_arrays(void)
{
    CHECK_STR(errors_of("{\"minItems\": 2}", "[1]"), ": must have at least 2 items");
    CHECK_STR(errors_of("{\"minItems\": 1}", "[]"), ": must have at least 1 item");
    CHECK_STR(errors_of("{\"minItems\": 2}", "[1, 2]"), "ok");
    CHECK_STR(errors_of("{\"maxItems\": 2}", "[1, 2, 3]"), ": must have at most 2 items");
    CHECK_STR(errors_of("{\"maxItems\": 2}", "[1, 2]"), "ok");
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[1, 2, 3]"), "ok");
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[\"a\", \"b\", \"a\"]"),
              "/2: duplicates item 0");
    /* JSON Schema equality: 1 and 1.0 are the same number; object member order
     * does not matter. */
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[1, 1.0]"), "/1: duplicates item 0");
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[{\"a\": 1, \"b\": 2}, {\"b\": 2, \"a\": 1}]"),
              "/1: duplicates item 0");
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[[1, 2], [2, 1]]"), "ok");
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[0, false, null, \"0\"]"), "ok");
    CHECK_STR(errors_of("{\"uniqueItems\": false}", "[1, 1]"), "ok");
    CHECK_STR(errors_of("{\"items\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}}}",
                        "[[1], [2, \"x\"], 3]"),
              "/1/1: expected integer | /2: expected array");
    CHECK_STR(errors_of("{\"minItems\": 3}", "\"ab\""), "ok");
}

static void test_strings(void)
{
    CHECK_STR(errors_of("{\"minLength\": 2}", "\"a\""), ": must be at least 2 characters long");
    CHECK_STR(errors_of("{\"maxLength\": 2}", "\"abc\""), ": must be at most 2 characters long");
    CHECK_STR(errors_of("{\"maxLength\": 2}", "\"ab\""), "ok");
    /* Lengths count code points, not bytes: "é" is 2 bytes, "€" 3, "😀" 4. */
    CHECK_STR(errors_of("{\"maxLength\": 2}", "\"\\u00e9\\u20ac\""), "ok");
    CHECK_STR(errors_of("{\"maxLength\": 1}", "\"\\ud83d\\ude00\""), "ok");
    CHECK_STR(errors_of("{\"minLength\": 2}", "\"\\ud83d\\ude00\""),
              ": must be at least 2 characters long");
    CHECK_STR(errors_of("{\"minLength\": 1}", "\"\""), ": must be at least 1 character long");
    CHECK_STR(errors_of("{\"maxLength\": 1}", "\"ab\""), ": must be at most 1 character long");
    CHECK_STR(errors_of("{\"maxLength\": 0}", "\"a\""), ": must be at most 0 characters long");
    /* Patterns are unanchored, as in JSON Schema. */
    CHECK_STR(errors_of("{\"pattern\": \"[0-9]+\"}", "\"abc123\""), "ok");
    CHECK_STR(errors_of("{\"pattern\": \"^[0-9]+$\"}", "\"abc123\""),
              ": must match the pattern ^[0-9]+$");
    CHECK_STR(errors_of("{\"pattern\": \"^[A-Z]{3}$\"}", "\"EUR\""), "ok");
    CHECK_STR(errors_of("{\"pattern\": \"^[A-Z]{3}$\"}", "\"EURO\""),
              ": must match the pattern ^[A-Z]{3}$");
    CHECK_STR(errors_of("{\"pattern\": \"^(yes|no)$\"}", "\"no\""), "ok");
    /* A string keyword ignores other types. */
    CHECK_STR(errors_of("{\"maxLength\": 1, \"pattern\": \"^a$\"}", "12345"), "ok");
}

static void test_enum_const(void)
{
    CHECK_STR(errors_of("{\"enum\": [\"yes\", \"no\", \"abstain\"]}", "\"no\""), "ok");
    CHECK_STR(errors_of("{\"enum\": [\"yes\", \"no\"]}", "\"maybe\""),
              ": must be one of [\"yes\",\"no\"]");
    CHECK_STR(errors_of("{\"enum\": [1, null, [1]]}", "1.0"), "ok");
    CHECK_STR(errors_of("{\"enum\": [1, null, [1]]}", "[1]"), "ok");
    CHECK_STR(errors_of("{\"enum\": [1, null]}", "false"), ": must be one of [1,null]");
    CHECK_STR(errors_of("{\"const\": \"v1\"}", "\"v1\""), "ok");
    CHECK_STR(errors_of("{\"const\": \"v1\"}", "\"v2\""), ": must be \"v1\"");
    CHECK_STR(errors_of("{\"const\": {\"a\": [1, 2]}}", "{\"a\": [1, 2]}"), "ok");
    CHECK_STR(errors_of("{\"const\": 0}", "false"), ": must be 0");
}

static void test_numbers(void)
{
    CHECK_STR(errors_of("{\"minimum\": 1}", "1"), "ok");
    CHECK_STR(errors_of("{\"minimum\": 1}", "0.999"), ": must be at least 1");
    CHECK_STR(errors_of("{\"maximum\": 1.5}", "1.5"), "ok");
    CHECK_STR(errors_of("{\"maximum\": 1.5}", "2"), ": must be at most 1.5");
    CHECK_STR(errors_of("{\"exclusiveMinimum\": 0}", "0"), ": must be greater than 0");
    CHECK_STR(errors_of("{\"exclusiveMinimum\": 0}", "0.001"), "ok");
    CHECK_STR(errors_of("{\"exclusiveMaximum\": 10}", "10"), ": must be less than 10");
    CHECK_STR(errors_of("{\"exclusiveMaximum\": 10}", "9"), "ok");
    /* Integers compare exactly, even beyond 2^53 where doubles could not. */
    CHECK_STR(errors_of("{\"maximum\": 9007199254740992}", "9007199254740993"),
              ": must be at most 9007199254740992");
    CHECK_STR(errors_of("{\"minimum\": -9223372036854775807}", "-9223372036854775807"), "ok");
    CHECK_STR(errors_of("{\"minimum\": 5}", "\"1\""), "ok");
}

static void test_formats(void)
{
    const char *dt = "{\"type\": \"string\", \"format\": \"date-time\"}";
    CHECK_STR(errors_of(dt, "\"2026-05-01T12:00:00Z\""), "ok");
    CHECK_STR(errors_of(dt, "\"2026-05-01t12:00:00z\""), "ok");
    CHECK_STR(errors_of(dt, "\"2026-05-01T12:00:00.123456+02:00\""), "ok");
    CHECK_STR(errors_of(dt, "\"2026-05-01T12:00:00-08:30\""), "ok");
    CHECK_STR(errors_of(dt, "\"2024-02-29T00:00:00Z\""), "ok");
    CHECK_STR(errors_of(dt, "\"2000-02-29T00:00:00Z\""), "ok");
    CHECK_STR(errors_of(dt, "\"2016-12-31T23:59:60Z\""), "ok");
    CHECK_STR(errors_of(dt, "\"2016-12-31T15:59:60-08:00\""), "ok");
    const char *bad[] = {
        "\"2026-05-01\"",                /* a date is not a date-time */
        "\"2026-05-01 12:00:00Z\"",      /* space instead of T */
        "\"2026-05-01T12:00:00\"",       /* no offset */
        "\"2026-05-01T12:00Z\"",         /* no seconds */
        "\"2026-5-01T12:00:00Z\"",       /* one-digit month */
        "\"2026-13-01T12:00:00Z\"",      /* month 13 */
        "\"2026-04-31T12:00:00Z\"",      /* April has 30 days */
        "\"2023-02-29T12:00:00Z\"",      /* not a leap year */
        "\"1900-02-29T12:00:00Z\"",      /* century, not a leap year */
        "\"2026-05-01T24:00:00Z\"",      /* hour 24 */
        "\"2026-05-01T12:60:00Z\"",      /* minute 60 */
        "\"2026-05-01T12:00:60Z\"",      /* leap second not at 23:59 UTC */
        "\"2026-05-01T12:00:00.Z\"",     /* empty fraction */
        "\"2026-05-01T12:00:00+0200\"",  /* offset without colon */
        "\"2026-05-01T12:00:00+24:00\"", /* offset hour 24 */
        "\"2026-05-01T12:00:00Zjunk\"",  /* trailing text */
        "\"\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *got = errors_of(dt, bad[i]);
        if (strcmp(got, ": must be an RFC 3339 date-time such as 2026-05-01T12:00:00Z") != 0)
            fprintf(stderr, "date-time %s: %s\n", bad[i], got);
        CHECK_STR(got, ": must be an RFC 3339 date-time such as 2026-05-01T12:00:00Z");
    }

    const char *d = "{\"format\": \"date\"}";
    CHECK_STR(errors_of(d, "\"2026-05-01\""), "ok");
    CHECK_STR(errors_of(d, "\"2024-02-29\""), "ok");
    CHECK_STR(errors_of(d, "\"2026-02-29\""), ": must be an RFC 3339 date such as 2026-05-01");
    CHECK_STR(errors_of(d, "\"2026-05-01T00:00:00Z\""),
              ": must be an RFC 3339 date such as 2026-05-01");
    CHECK_STR(errors_of(d, "\"26-05-01\""), ": must be an RFC 3339 date such as 2026-05-01");
    CHECK_STR(errors_of(d, "\"2026-00-10\""), ": must be an RFC 3339 date such as 2026-05-01");
    CHECK_STR(errors_of(d, "\"2026-01-00\""), ": must be an RFC 3339 date such as 2026-05-01");
    CHECK_STR(errors_of(d, "42"), "ok"); /* formats apply to strings only */
    CHECK_INT(rfc3339_is_date_time("2026-12-31T23:59:59.999Z"), 1);
    CHECK_INT(rfc3339_is_date_time("2026-12-31T23:59:59.999"), 0);
    CHECK_INT(rfc3339_is_date("2026-12-31"), 1);
    CHECK_INT(rfc3339_is_date("2026-12-31 "), 0);
    /* The old names members.c calls answer the same. */
    CHECK_INT(schema_is_rfc3339_date_time("2026-12-31T23:59:60Z"), 1);
    CHECK_INT(schema_is_rfc3339_date_time("2026-12-31T23:59:60+01:00"), 0);
    CHECK_INT(schema_is_rfc3339_date("2100-02-29"), 0);
}

static void test_many_errors_are_bounded(void)
{
    /* 150 wrong items give at most 100 errors. */
    char inst[2048] = "[";
    for (int i = 0; i < 150; i++)
        strcat(inst, i ? ",1" : "1");
    strcat(inst, "]");
    json_t *schema = json_pack("{s:{s:s}}", "items", "type", "string");
    json_t *value = json_loads(inst, 0, NULL);
    json_t *errors = schema_validate(schema, value);
    CHECK_INT(json_array_size(errors), 100);
    json_decref(errors);
    json_decref(value);
    json_decref(schema);
}

static void test_unique_items_scale(void)
{
    /* 200000 distinct items, then one duplicate at the end: comparing every pair
     * would take minutes; the sorted way takes milliseconds. */
    json_t *schema = json_pack("{s:b}", "uniqueItems", 1);
    json_t *items = json_array();
    for (int i = 0; i < 200000; i++)
        json_array_append_new(items, i % 2 ? json_integer(i) : json_sprintf("s%d", i));
    json_array_append_new(items, json_real(199999.0));
    json_t *errors = schema_validate(schema, items);
    CHECK_INT(json_array_size(errors), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(errors, 0), "pointer")), "/200000");
    CHECK_STR(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
              "duplicates item 199999");
    json_decref(errors);
    json_decref(items);
    json_decref(schema);
    /* Three equal items: each later one names the first. */
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[\"a\", \"b\", \"a\", \"a\"]"),
              "/2: duplicates item 0 | /3: duplicates item 0");
    /* Strings that look like numbers or objects are not confused with them. */
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[1, \"1\", [1], {\"1\": 1}, \"[1]\"]"), "ok");
    CHECK_STR(errors_of("{\"uniqueItems\": true}",
                        "[{\"a\": [1.0, {\"b\": null}]}, {\"a\": [1, {\"b\": null}]}]"),
              "/1: duplicates item 0");
    CHECK_STR(errors_of("{\"uniqueItems\": true}", "[0.5, 0.25, 0.5]"), "/2: duplicates item 0");
}

static void test_unique_first_indices(void)
{
    /* Items 2 and 5 repeat 0 and 3 (1.0 is 1; member order does not count), 4
     * repeats 1; "1" and [1] are different from 1. */
    json_t *items = json_loads("[1, \"a\", 1.0, {\"a\": 1, \"b\": [2]}, \"a\","
                               " {\"b\": [2.0], \"a\": 1}, \"1\", [1]]",
                               0, NULL);
    size_t first[8];
    CHECK_INT(json_unique_first_indices(items, first), 0);
    const size_t expected[8] = {0, 1, 0, 3, 1, 3, 6, 7};
    for (size_t i = 0; i < 8; i++)
        CHECK_INT(first[i], expected[i]);
    json_decref(items);
    json_t *empty = json_array();
    CHECK_INT(json_unique_first_indices(empty, first), 0);
    json_decref(empty);
}

static void test_text_buf(void)
{
    /* Grows past its first 64 bytes, keeps NULs inside, stays NUL-terminated. */
    text_buf b = {0};
    for (int i = 0; i < 100; i++)
        text_buf_append(&b, "ab", 2);
    text_buf_append(&b, "", 1);
    text_buf_append(&b, "z", 1);
    CHECK_INT(b.len, 202);
    CHECK_INT(b.oom, 0);
    CHECK_INT(b.s[199], 'b');
    CHECK_INT(b.s[200], '\0');
    CHECK_STR(b.s + 201, "z");
    free(b.s);
}

static void test_schema_check(void)
{
    CHECK_STR(check_of("{}"), "ok");
    CHECK_STR(check_of("true"), "ok");
    CHECK_STR(check_of("{\"type\": \"object\", \"title\": \"Settings\", \"description\": \"d\","
                       " \"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
                       " \"default\": {}, \"examples\": [{}],"
                       " \"properties\": {\"a\": {\"type\": [\"integer\", \"null\"],"
                       " \"minimum\": 0, \"maximum\": 5}, \"b\": {\"enum\": [1, \"x\"]},"
                       " \"c\": {\"const\": null}, \"d\": {\"type\": \"string\","
                       " \"format\": \"date\", \"pattern\": \"^2\", \"minLength\": 0}},"
                       " \"required\": [\"a\"], \"additionalProperties\": false}"),
              "ok");
    /* A typo in a plugin's schema is found when it loads. */
    CHECK_STR(
        check_of("{\"properties\": {\"greeting\": {\"type\": \"string\", \"maxLenght\": 5}}}"),
        "/properties/greeting/maxLenght: unknown keyword");
    CHECK_STR(check_of("{\"oneOf\": []}"), "/oneOf: unknown keyword");
    CHECK_STR(check_of("{\"properties\": {\"a/b\": {\"typo\": 1}}}"),
              "/properties/a~1b/typo: unknown keyword");
    CHECK_STR(check_of("{\"type\": \"strin\"}"), "/type: unknown type \"strin\"");
    CHECK_STR(check_of("{\"type\": []}"),
              "/type: must be a type name or a non-empty array of them");
    CHECK_STR(check_of("{\"type\": [\"string\", \"string\"]}"),
              "/type: type \"string\" is listed twice");
    CHECK_STR(check_of("{\"type\": [\"string\", 1]}"), "/type: item 1 is not a type name");
    CHECK_STR(check_of("{\"properties\": []}"), "/properties: must be an object of schemas");
    CHECK_STR(check_of("{\"properties\": {\"a\": 1}}"),
              "/properties/a: a schema must be an object or a boolean");
    CHECK_STR(check_of("{\"required\": \"a\"}"), "/required: must be an array of property names");
    CHECK_STR(check_of("{\"required\": [\"a\", \"a\"]}"), "/required: \"a\" is listed twice");
    CHECK_STR(check_of("{\"additionalProperties\": {}}"),
              "/additionalProperties: must be true or false (schemas are not supported here)");
    CHECK_STR(check_of("{\"items\": [{}]}"),
              "/items: must be one schema (tuple form is not supported)");
    CHECK_STR(check_of("{\"items\": {\"minItems\": -1}}"),
              "/items/minItems: must be a non-negative integer");
    CHECK_STR(check_of("{\"maxLength\": 1.5}"), "/maxLength: must be a non-negative integer");
    CHECK_STR(check_of("{\"uniqueItems\": 1}"), "/uniqueItems: must be true or false");
    CHECK_STR(check_of("{\"pattern\": \"(\"}"),
              "/pattern: not a POSIX extended regular expression");
    CHECK_STR(check_of("{\"pattern\": \"^(a+)\\\\1$\"}"),
              "/pattern: back-references (\\1) are not supported");
    CHECK_STR(check_of("{\"pattern\": \"^a\\\\\\\\1$\"}"), "ok"); /* an escaped backslash, then 1 */
    CHECK_STR(check_of("{\"enum\": []}"), "/enum: must be a non-empty array");
    CHECK_STR(check_of("{\"minimum\": \"1\"}"), "/minimum: must be a number");
    CHECK_STR(check_of("{\"format\": \"email\"}"),
              "/format: unsupported format \"email\" (supported: date-time, date)");
    CHECK_STR(check_of("{\"minimum\": 5, \"maximum\": 1}"), "minimum is greater than maximum");
    CHECK_STR(check_of("{\"minLength\": 5, \"maxLength\": 1}"),
              "minLength is greater than maxLength");
    CHECK_STR(check_of("{\"title\": 1}"), "/title: must be a string");
    CHECK_STR(check_of("1"), "a schema must be an object or a boolean");
    CHECK_STR(check_of("{\"a\": 1, \"a\": 2}"),
              "line 1, column 12: duplicate object key near '\"a\"'");
    CHECK_STR(check_of("{"), "line 1, column 1: string or '}' expected near end of file");
}

int main(void)
{
    test_type();
    test_objects();
    test_pointer_escaping();
    test_arrays();
    test_strings();
    test_enum_const();
    test_numbers();
    test_formats();
    test_many_errors_are_bounded();
    test_unique_items_scale();
    test_unique_first_indices();
    test_text_buf();
    test_schema_check();
    schema_free_cache();
    return unit_finish();
}
