/*
 * A JSON Schema subset validator for plugin settings and request bodies.
 *
 * Supported keywords (docs/sdk.md lists them for plugin authors):
 *   type (a name or an array of names: null boolean object array number integer string),
 *   properties, required, additionalProperties (boolean only), items (one schema),
 *   minItems, maxItems, uniqueItems, minLength, maxLength (in Unicode code points), pattern,
 *   enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers, as in
 *   draft 2020-12), format ("date-time" and "date", RFC 3339 strictly, and asserted),
 *   and the annotations title, description, default, examples, $schema, $id, $comment.
 *
 * Deliberate differences from full JSON Schema, each so that a plugin never
 * sees a value its C code would misread:
 *   - "integer" means a JSON integer literal: 3.0 and 1e2 are numbers, not integers,
 *     because json_integer_value() of a real is 0.
 *   - pattern is a POSIX extended regular expression (regcomp(3) REG_EXTENDED), not
 *     ECMA-262: use [0-9] rather than \d, and no lookarounds. Like JSON Schema's it is
 *     unanchored; write ^...$ to match the whole string. Back-references are refused,
 *     since matching them can take exponential time on a hostile string.
 *   - any keyword outside the list is refused by schema_check(), so a typo such as
 *     "maxLenght" is found when the plugin loads instead of silently validating nothing.
 *
 * Errors carry RFC 6901 JSON pointers into the instance ("/options/2"), with "~"
 * and "/" in member names escaped as "~0" and "~1".
 */
#include "schema_internal.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_unique_internal.h"
#include "rfc3339_internal.h"
#include "text_buf_internal.h"

/* A validation reports at most this many errors: enough to fix a request,
 * bounded so that a hostile body cannot make a huge answer. */
#define SCHEMA_MAX_ERRORS 100

/* ---------------------------------------------------------------------------------------- */
/* JSON pointers being built while walking a document */

/* A pointer_buf is a text_buf holding "/a/0/b". */
typedef text_buf pointer_buf;

/* Appends "/" and the member name, escaped; returns the length to pop back to. */
static size_t pointer_push(pointer_buf *p, const char *name)
{
    size_t mark = p->len;
    if (text_buf_reserve(p, 1 + 2 * strlen(name)) < 0)
        return mark;
    p->s[p->len++] = '/';
    for (const char *c = name; *c; c++) {
        if (*c == '~') {
            p->s[p->len++] = '~', p->s[p->len++] = '0';
        } else if (*c == '/') {
            p->s[p->len++] = '~', p->s[p->len++] = '1';
        } else {
            p->s[p->len++] = *c;
        }
    }
    p->s[p->len] = '\0';
    return mark;
}

static size_t pointer_push_index(pointer_buf *p, size_t index)
{
    char num[32];
    snprintf(num, sizeof(num), "%zu", index);
    return pointer_push(p, num);
}

static void pointer_pop(pointer_buf *p, size_t mark)
{
    p->len = mark;
    if (p->s)
        p->s[mark] = '\0';
}

static const char *pointer_str(const pointer_buf *p)
{
    return p->s && p->len ? p->s : "";
}

/* ---------------------------------------------------------------------------------------- */
/* Compiled patterns, cached by their text: route body schemas are validated on
 * every request, and compiling a regex each time would be wasted work. */

typedef struct pattern_entry {
    struct pattern_entry *next;
    regex_t re;
    int ok;
    char text[];
} pattern_entry;

static pattern_entry *pattern_cache;

static pattern_entry *pattern_get(const char *text)
{
    for (pattern_entry *e = pattern_cache; e; e = e->next)
        if (strcmp(e->text, text) == 0)
            return e;
    size_t n = strlen(text);
    pattern_entry *e = malloc(sizeof(*e) + n + 1);
    if (!e)
        return NULL;
    memcpy(e->text, text, n + 1);
    e->ok = regcomp(&e->re, text, REG_EXTENDED | REG_NOSUB) == 0;
    e->next = pattern_cache;
    pattern_cache = e;
    return e;
}

void schema_free_cache(void)
{
    while (pattern_cache) {
        pattern_entry *e = pattern_cache;
        pattern_cache = e->next;
        if (e->ok)
            regfree(&e->re);
        free(e);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Values */

static int is_number(const json_t *v)
{
    return json_is_integer(v) || json_is_real(v);
}

static double number_value(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* Negative, zero or positive as a < b, a == b, a > b; exact for two integers. */
static int number_compare(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = number_value(a), y = number_value(b);
    return (x > y) - (x < y);
}

/* JSON equality as JSON Schema means it: 1 equals 1.0; objects ignore order. */
static int values_equal(const json_t *a, const json_t *b)
{
    if (is_number(a) && is_number(b))
        return number_compare(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_array(a)) {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!values_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *key;
        json_t *va;
        json_object_foreach((json_t *)a, key, va)
        {
            json_t *vb = json_object_get(b, key);
            if (!vb || !values_equal(va, vb))
                return 0;
        }
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* Code points in a valid UTF-8 string of len bytes (jansson guarantees validity). */
static size_t utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* A compact JSON text of v, cut to fit out. */
static void value_text(const json_t *v, char *out, size_t outlen)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(out, outlen, "?");
        return;
    }
    if (strlen(s) >= outlen && outlen > 4)
        snprintf(out, outlen, "%.*s...", (int)(outlen - 4), s);
    else
        snprintf(out, outlen, "%s", s);
    free(s);
}

/* ---------------------------------------------------------------------------------------- */
/* Checking a schema */

static const char *const type_names[] = {"null",   "boolean", "object", "array",
                                         "number", "integer", "string"};

static int is_type_name(const char *s)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcmp(s, type_names[i]) == 0)
            return 1;
    return 0;
}

typedef struct check_ctx {
    pointer_buf ptr;
    char *err;
    size_t errlen;
} check_ctx;

static int check_fail(check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check_fail(check_ctx *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->ptr.len)
        snprintf(c->err, c->errlen, "%s: %s", pointer_str(&c->ptr), msg);
    else
        snprintf(c->err, c->errlen, "%s", msg);
    return -1;
}

static int is_count(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static int check_schema(check_ctx *c, const json_t *schema);

static int check_keyword(check_ctx *c, const char *key, const json_t *v)
{
    if (strcmp(key, "type") == 0) {
        if (json_is_string(v)) {
            if (!is_type_name(json_string_value(v)))
                return check_fail(c, "unknown type \"%s\"", json_string_value(v));
            return 0;
        }
        if (!json_is_array(v) || json_array_size(v) == 0)
            return check_fail(c, "must be a type name or a non-empty array of them");
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *t = json_array_get(v, i);
            if (!json_is_string(t) || !is_type_name(json_string_value(t)))
                return check_fail(c, "item %zu is not a type name", i);
            for (size_t j = 0; j < i; j++)
                if (json_equal((json_t *)t, json_array_get(v, j)))
                    return check_fail(c, "type \"%s\" is listed twice", json_string_value(t));
        }
        return 0;
    }
    if (strcmp(key, "properties") == 0) {
        if (!json_is_object(v))
            return check_fail(c, "must be an object of schemas");
        const char *name;
        json_t *sub;
        json_object_foreach((json_t *)v, name, sub)
        {
            size_t mark = pointer_push(&c->ptr, name);
            if (check_schema(c, sub) < 0)
                return -1;
            pointer_pop(&c->ptr, mark);
        }
        return 0;
    }
    if (strcmp(key, "required") == 0) {
        if (!json_is_array(v))
            return check_fail(c, "must be an array of property names");
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *n = json_array_get(v, i);
            if (!json_is_string(n))
                return check_fail(c, "item %zu is not a string", i);
            for (size_t j = 0; j < i; j++)
                if (json_equal((json_t *)n, json_array_get(v, j)))
                    return check_fail(c, "\"%s\" is listed twice", json_string_value(n));
        }
        return 0;
    }
    if (strcmp(key, "additionalProperties") == 0) {
        if (!json_is_boolean(v))
            return check_fail(c, "must be true or false (schemas are not supported here)");
        return 0;
    }
    if (strcmp(key, "items") == 0) {
        if (!json_is_object(v) && !json_is_boolean(v))
            return check_fail(c, "must be one schema (tuple form is not supported)");
        return check_schema(c, v);
    }
    if (strcmp(key, "minItems") == 0 || strcmp(key, "maxItems") == 0 ||
        strcmp(key, "minLength") == 0 || strcmp(key, "maxLength") == 0) {
        if (!is_count(v))
            return check_fail(c, "must be a non-negative integer");
        return 0;
    }
    if (strcmp(key, "uniqueItems") == 0) {
        if (!json_is_boolean(v))
            return check_fail(c, "must be true or false");
        return 0;
    }
    if (strcmp(key, "pattern") == 0) {
        if (!json_is_string(v))
            return check_fail(c, "must be a string");
        /* glibc accepts back-references in EREs, and matching them can take
         * exponential time on a hostile string: refuse them. */
        for (const char *b = json_string_value(v); *b; b++) {
            if (*b == '\\' && b[1] >= '1' && b[1] <= '9')
                return check_fail(c, "back-references (\\%c) are not supported", b[1]);
            if (*b == '\\' && b[1])
                b++;
        }
        pattern_entry *e = pattern_get(json_string_value(v));
        if (!e)
            return check_fail(c, "out of memory");
        if (!e->ok)
            return check_fail(c, "not a POSIX extended regular expression");
        return 0;
    }
    if (strcmp(key, "enum") == 0) {
        if (!json_is_array(v) || json_array_size(v) == 0)
            return check_fail(c, "must be a non-empty array");
        return 0;
    }
    if (strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0 ||
        strcmp(key, "exclusiveMinimum") == 0 || strcmp(key, "exclusiveMaximum") == 0) {
        if (!is_number(v))
            return check_fail(c, "must be a number");
        return 0;
    }
    if (strcmp(key, "format") == 0) {
        if (!json_is_string(v))
            return check_fail(c, "must be a string");
        const char *f = json_string_value(v);
        if (strcmp(f, "date-time") != 0 && strcmp(f, "date") != 0)
            return check_fail(c, "unsupported format \"%s\" (supported: date-time, date)", f);
        return 0;
    }
    if (strcmp(key, "title") == 0 || strcmp(key, "description") == 0 ||
        strcmp(key, "$schema") == 0 || strcmp(key, "$id") == 0 || strcmp(key, "$comment") == 0) {
        if (!json_is_string(v))
            return check_fail(c, "must be a string");
        return 0;
    }
    if (strcmp(key, "examples") == 0) {
        if (!json_is_array(v))
            return check_fail(c, "must be an array");
        return 0;
    }
    if (strcmp(key, "const") == 0 || strcmp(key, "default") == 0)
        return 0;
    return check_fail(c, "unknown keyword");
}

static int check_schema(check_ctx *c, const json_t *schema)
{
    if (json_is_boolean(schema))
        return 0;
    if (!json_is_object(schema))
        return check_fail(c, "a schema must be an object or a boolean");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)schema, key, v)
    {
        size_t mark = pointer_push(&c->ptr, key);
        if (c->ptr.oom)
            return check_fail(c, "out of memory");
        if (check_keyword(c, key, v) < 0)
            return -1;
        pointer_pop(&c->ptr, mark);
    }
    const json_t *lo = json_object_get(schema, "minimum"), *hi = json_object_get(schema, "maximum");
    if (lo && hi && number_compare(lo, hi) > 0)
        return check_fail(c, "minimum is greater than maximum");
    lo = json_object_get(schema, "minLength"), hi = json_object_get(schema, "maxLength");
    if (lo && hi && number_compare(lo, hi) > 0)
        return check_fail(c, "minLength is greater than maxLength");
    lo = json_object_get(schema, "minItems"), hi = json_object_get(schema, "maxItems");
    if (lo && hi && number_compare(lo, hi) > 0)
        return check_fail(c, "minItems is greater than maxItems");
    return 0;
}

int schema_check(const json_t *schema, char *err, size_t errlen)
{
    check_ctx c = {.err = err, .errlen = errlen};
    int rc = schema ? check_schema(&c, schema) : check_fail(&c, "no schema");
    free(c.ptr.s);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Validating an instance */

typedef struct validation {
    pointer_buf ptr;
    json_t *errors;
} validation;

static void invalid(validation *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void invalid(validation *v, const char *fmt, ...)
{
    if (json_array_size(v->errors) >= SCHEMA_MAX_ERRORS)
        return;
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(v->errors,
                          json_pack("{s:s, s:s}", "pointer", pointer_str(&v->ptr), "message", msg));
}

static int instance_has_type(const json_t *inst, const char *type)
{
    switch (type[0]) {
    case 'n':
        return strcmp(type, "null") == 0 ? json_is_null(inst) : is_number(inst);
    case 'b':
        return json_is_boolean(inst);
    case 'o':
        return json_is_object(inst);
    case 'a':
        return json_is_array(inst);
    case 'i':
        return json_is_integer(inst);
    case 's':
        return json_is_string(inst);
    }
    return 0;
}

/* 1 when inst fits "type"; otherwise reports "expected a or b" and returns 0. */
static int validate_type(validation *v, const json_t *type, const json_t *inst)
{
    if (json_is_string(type)) {
        if (instance_has_type(inst, json_string_value(type)))
            return 1;
        invalid(v, "expected %s", json_string_value(type));
        return 0;
    }
    char names[128] = "";
    size_t n = json_array_size(type);
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(type, i));
        if (instance_has_type(inst, t))
            return 1;
        size_t len = strlen(names);
        snprintf(names + len, sizeof(names) - len, "%s%s",
                 i == 0 ? "" : (i + 1 == n ? " or " : ", "), t);
    }
    invalid(v, "expected %s", names);
    return 0;
}

static void number_text(const json_t *n, char *out, size_t outlen)
{
    if (json_is_integer(n))
        snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
    else
        snprintf(out, outlen, "%.17g", json_real_value(n));
}

static void validate_node(validation *v, const json_t *schema, const json_t *inst);

/* uniqueItems: reports each item that repeats an earlier one, at the item's
 * pointer, naming the first. */
static void validate_unique(validation *v, const json_t *inst)
{
    size_t n = json_array_size(inst);
    if (n < 2)
        return;
    size_t *first = malloc(n * sizeof(*first));
    if (!first || json_unique_first_indices(inst, first) < 0) {
        invalid(v, "out of memory");
        free(first);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (first[i] != i) {
            size_t mark = pointer_push_index(&v->ptr, i);
            invalid(v, "duplicates item %zu", first[i]);
            pointer_pop(&v->ptr, mark);
        }
    }
    free(first);
}

static void validate_string(validation *v, const json_t *schema, const json_t *inst)
{
    const char *s = json_string_value(inst);
    size_t bytes = json_string_length(inst);
    const json_t *k;
    if ((k = json_object_get(schema, "minLength")) || json_object_get(schema, "maxLength")) {
        size_t len = utf8_length(s, bytes);
        if (k && len < (size_t)json_integer_value(k))
            invalid(v, "must be at least %" JSON_INTEGER_FORMAT " character%s long",
                    json_integer_value(k), json_integer_value(k) == 1 ? "" : "s");
        k = json_object_get(schema, "maxLength");
        if (k && len > (size_t)json_integer_value(k))
            invalid(v, "must be at most %" JSON_INTEGER_FORMAT " character%s long",
                    json_integer_value(k), json_integer_value(k) == 1 ? "" : "s");
    }
    if ((k = json_object_get(schema, "pattern"))) {
        pattern_entry *e = pattern_get(json_string_value(k));
        /* A string with a NUL inside cannot be matched whole by regexec: refuse it. */
        if (!e || !e->ok || strlen(s) != bytes || regexec(&e->re, s, 0, NULL, 0) != 0)
            invalid(v, "must match the pattern %s", json_string_value(k));
    }
    if ((k = json_object_get(schema, "format"))) {
        const char *f = json_string_value(k);
        int embedded_nul = strlen(s) != bytes;
        if (strcmp(f, "date-time") == 0 && (embedded_nul || !rfc3339_is_date_time(s)))
            invalid(v, "must be an RFC 3339 date-time such as 2026-05-01T12:00:00Z");
        else if (strcmp(f, "date") == 0 && (embedded_nul || !rfc3339_is_date(s)))
            invalid(v, "must be an RFC 3339 date such as 2026-05-01");
    }
}

static void validate_number(validation *v, const json_t *schema, const json_t *inst)
{
    char num[48];
    const json_t *k;
    if ((k = json_object_get(schema, "minimum")) && number_compare(inst, k) < 0) {
        number_text(k, num, sizeof(num));
        invalid(v, "must be at least %s", num);
    }
    if ((k = json_object_get(schema, "maximum")) && number_compare(inst, k) > 0) {
        number_text(k, num, sizeof(num));
        invalid(v, "must be at most %s", num);
    }
    if ((k = json_object_get(schema, "exclusiveMinimum")) && number_compare(inst, k) <= 0) {
        number_text(k, num, sizeof(num));
        invalid(v, "must be greater than %s", num);
    }
    if ((k = json_object_get(schema, "exclusiveMaximum")) && number_compare(inst, k) >= 0) {
        number_text(k, num, sizeof(num));
        invalid(v, "must be less than %s", num);
    }
}

static void validate_object(validation *v, const json_t *schema, const json_t *inst)
{
    const json_t *required = json_object_get(schema, "required");
    for (size_t i = 0; i < json_array_size(required); i++) {
        const char *name = json_string_value(json_array_get(required, i));
        if (!json_object_get(inst, name)) {
            size_t mark = pointer_push(&v->ptr, name);
            invalid(v, "is required");
            pointer_pop(&v->ptr, mark);
        }
    }
    const json_t *properties = json_object_get(schema, "properties");
    int closed = json_is_false(json_object_get(schema, "additionalProperties"));
    const char *name;
    json_t *member;
    json_object_foreach((json_t *)inst, name, member)
    {
        const json_t *sub = json_object_get(properties, name);
        size_t mark = pointer_push(&v->ptr, name);
        if (sub)
            validate_node(v, sub, member);
        else if (closed)
            invalid(v, "unknown property");
        pointer_pop(&v->ptr, mark);
    }
}

static void validate_array(validation *v, const json_t *schema, const json_t *inst)
{
    size_t n = json_array_size(inst);
    const json_t *k;
    if ((k = json_object_get(schema, "minItems")) && n < (size_t)json_integer_value(k))
        invalid(v, "must have at least %" JSON_INTEGER_FORMAT " item%s", json_integer_value(k),
                json_integer_value(k) == 1 ? "" : "s");
    if ((k = json_object_get(schema, "maxItems")) && n > (size_t)json_integer_value(k))
        invalid(v, "must have at most %" JSON_INTEGER_FORMAT " item%s", json_integer_value(k),
                json_integer_value(k) == 1 ? "" : "s");
    if (json_is_true(json_object_get(schema, "uniqueItems")))
        validate_unique(v, inst);
    if ((k = json_object_get(schema, "items"))) {
        for (size_t i = 0; i < n; i++) {
            size_t mark = pointer_push_index(&v->ptr, i);
            validate_node(v, k, json_array_get(inst, i));
            pointer_pop(&v->ptr, mark);
        }
    }
}

static void validate_node(validation *v, const json_t *schema, const json_t *inst)
{
    if (json_is_true(schema))
        return;
    if (json_is_false(schema) || !json_is_object(schema)) {
        invalid(v, "is not allowed");
        return;
    }
    const json_t *k;
    /* A value of the wrong type makes every other complaint about it noise. */
    if ((k = json_object_get(schema, "type")) && !validate_type(v, k, inst))
        return;
    if ((k = json_object_get(schema, "const")) && !values_equal(k, inst)) {
        char text[200];
        value_text(k, text, sizeof(text));
        invalid(v, "must be %s", text);
        return;
    }
    if ((k = json_object_get(schema, "enum"))) {
        int found = 0;
        for (size_t i = 0; i < json_array_size(k) && !found; i++)
            found = values_equal(json_array_get(k, i), inst);
        if (!found) {
            char text[240];
            value_text(k, text, sizeof(text));
            invalid(v, "must be one of %s", text);
            return;
        }
    }
    if (json_is_string(inst))
        validate_string(v, schema, inst);
    else if (is_number(inst))
        validate_number(v, schema, inst);
    else if (json_is_object(inst))
        validate_object(v, schema, inst);
    else if (json_is_array(inst))
        validate_array(v, schema, inst);
}

json_t *schema_validate(const json_t *schema, const json_t *instance)
{
    validation v = {.errors = json_array()};
    if (!v.errors)
        return NULL;
    validate_node(&v, schema, instance);
    if (v.ptr.oom)
        json_array_append_new(v.errors,
                              json_pack("{s:s, s:s}", "pointer", "", "message", "out of memory"));
    free(v.ptr.s);
    return v.errors;
}

json_t *schema_parse(const char *text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *schema = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!schema) {
        snprintf(err, errlen, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (schema_check(schema, err, errlen) < 0) {
        json_decref(schema);
        return NULL;
    }
    return schema;
}
