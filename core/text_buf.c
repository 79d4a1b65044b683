/* A growable NUL-terminated text, doubling its room as it grows. */
#include "text_buf_internal.h"

#include <stdlib.h>
#include <string.h>

int text_buf_reserve(text_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *grown = realloc(b->s, cap);
    if (!grown) {
        b->oom = 1;
        return -1;
    }
    b->s = grown;
    b->cap = cap;
    return 0;
}

void text_buf_append(text_buf *b, const char *s, size_t n)
{
    if (text_buf_reserve(b, n) < 0)
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}
