/*
 * Text helpers that the pool (db.c) and the start-up migrations (migrate.c)
 * share: libpq's messages made one line, and SQL identifiers quoted.
 */
#include <string.h>

#include "db_internal.h"

void db_first_line(const char *msg, char *out, size_t outlen)
{
    size_t n = strcspn(msg ? msg : "", "\n");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, msg ? msg : "", n);
    out[n] = '\0';
}

int db_quote_identifier(const char *name, char *out, size_t outlen)
{
    size_t k = 0;
    if (outlen < 3)
        return -1;
    out[k++] = '"';
    for (const char *in = name; *in; in++) {
        if (k + (*in == '"' ? 2 : 1) + 2 > outlen)
            return -1;
        if (*in == '"')
            out[k++] = '"';
        out[k++] = *in;
    }
    out[k++] = '"';
    out[k] = '\0';
    return 0;
}
