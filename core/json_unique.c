/*
 * uniqueItems in O(n log n): a body of a megabyte can hold hundreds of thousands
 * of items, and comparing every pair would stall the loop. Each item gets a
 * canonical text (object keys sorted, an integral real written as the integer it
 * equals, so that 1 and 1.0 agree as JSON Schema wants); sorting the texts brings
 * equal items side by side.
 */
#include "json_unique_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_buf_internal.h"

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canonical_text(text_buf *b, const json_t *v)
{
    char num[40];
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        text_buf_append(b, num, strlen(num));
        return;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9.2e18)
            snprintf(num, sizeof(num), "%lld", (long long)d);
        else
            snprintf(num, sizeof(num), "%.17g", d);
        text_buf_append(b, num, strlen(num));
        return;
    }
    case JSON_STRING: {
        char *quoted = json_dumps(v, JSON_ENCODE_ANY);
        if (!quoted) {
            b->oom = 1;
            return;
        }
        text_buf_append(b, quoted, strlen(quoted));
        free(quoted);
        return;
    }
    case JSON_ARRAY: {
        text_buf_append(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                text_buf_append(b, ",", 1);
            canonical_text(b, json_array_get(v, i));
        }
        text_buf_append(b, "]", 1);
        return;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = malloc((n ? n : 1) * sizeof(*keys));
        if (!keys) {
            b->oom = 1;
            return;
        }
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member) keys[i++] = key;
        qsort(keys, n, sizeof(*keys), compare_keys);
        text_buf_append(b, "{", 1);
        for (i = 0; i < n; i++) {
            json_t *k = json_string(keys[i]);
            if (i)
                text_buf_append(b, ",", 1);
            if (k)
                canonical_text(b, k);
            else
                b->oom = 1;
            json_decref(k);
            text_buf_append(b, ":", 1);
            canonical_text(b, json_object_get(v, keys[i]));
        }
        text_buf_append(b, "}", 1);
        free(keys);
        return;
    }
    case JSON_TRUE:
        text_buf_append(b, "true", 4);
        return;
    case JSON_FALSE:
        text_buf_append(b, "false", 5);
        return;
    default:
        text_buf_append(b, "null", 4);
        return;
    }
}

typedef struct unique_item {
    size_t offset; /* of the item's canonical text in the shared buffer */
    size_t index;
} unique_item;

/* Orders items by canonical text, then by index, so that among equal items the
 * first comes first. texts is the shared buffer, passed through qsort_r so that
 * two validations on two threads never share it. */
static int compare_unique_items(const void *a, const void *b, void *texts)
{
    const unique_item *x = a, *y = b;
    const char *s = texts;
    int c = strcmp(s + x->offset, s + y->offset);
    if (c)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

int json_unique_first_indices(const json_t *array, size_t *first)
{
    size_t n = json_array_size(array);
    text_buf texts = {0};
    unique_item *items = malloc((n ? n : 1) * sizeof(*items));
    if (!items)
        return -1;
    for (size_t i = 0; i < n && !texts.oom; i++) {
        items[i].offset = texts.len;
        items[i].index = i;
        canonical_text(&texts, json_array_get(array, i));
        /* The NUL that ends this item's text stays: the next text starts after it. */
        text_buf_append(&texts, "", 1);
    }
    int rc = texts.oom ? -1 : 0;
    if (rc == 0) {
        qsort_r(items, n, sizeof(*items), compare_unique_items, texts.s);
        for (size_t i = 0; i < n; i++) {
            int same =
                i > 0 && strcmp(texts.s + items[i].offset, texts.s + items[i - 1].offset) == 0;
            first[items[i].index] = same ? first[items[i - 1].index] : items[i].index;
        }
    }
    free(texts.s);
    free(items);
    return rc;
}
