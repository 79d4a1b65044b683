/* Catching what a unit test's code under test writes to stderr (coopd's log),
 * so that a test can check the line it logs. Header-only, for tests/unit. */
#ifndef COOP_TEST_STDERR_CAPTURE_H
#define COOP_TEST_STDERR_CAPTURE_H

#include <stdio.h>
#include <unistd.h>

typedef struct stderr_capture {
    FILE *tmp;
    int saved; /* the real stderr, restored by stderr_capture_end() */
} stderr_capture;

/* From here on, stderr goes to a temporary file. */
static inline void stderr_capture_begin(stderr_capture *c)
{
    fflush(stderr);
    c->tmp = tmpfile();
    c->saved = dup(STDERR_FILENO);
    if (c->tmp)
        dup2(fileno(c->tmp), STDERR_FILENO);
}

/* Restores stderr and copies what was written since begin into out (cut to
 * outlen - 1 bytes, NUL-terminated). */
static inline void stderr_capture_end(stderr_capture *c, char *out, size_t outlen)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    size_t n = 0;
    if (c->tmp) {
        rewind(c->tmp);
        n = fread(out, 1, outlen - 1, c->tmp);
        fclose(c->tmp);
    }
    out[n] = '\0';
}

#endif
