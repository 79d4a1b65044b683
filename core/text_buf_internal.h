/* A growable NUL-terminated text (owner: text_buf.c), for texts built piece by
 * piece: the JSON pointer a schema walk is at, the canonical texts uniqueItems
 * sorts. Failure is sticky: once an allocation fails, oom stays set and later
 * appends do nothing, so a caller checks oom once, at the end. */
#ifndef COOP_TEXT_BUF_INTERNAL_H
#define COOP_TEXT_BUF_INTERNAL_H

#include <stddef.h>

typedef struct text_buf {
    char *s;    /* NULL until the first append; the caller frees it with free() */
    size_t len; /* bytes in s before its terminating NUL */
    size_t cap;
    int oom;
} text_buf;

/* Makes room for extra more bytes and a NUL after len. Returns 0, or -1 (and
 * sets oom) when out of memory or after an earlier failure. */
int text_buf_reserve(text_buf *b, size_t extra);

/* Appends the n bytes at s (which may hold NULs) and keeps s NUL-terminated. */
void text_buf_append(text_buf *b, const char *s, size_t n);

#endif
