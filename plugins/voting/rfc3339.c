/* RFC 3339 date-times, parsed without the C library's time zone machinery. Pure. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "voting_internal.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil),
 * so that parsing depends on neither the process's time zone nor timegm(). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool read_digits(const char **p, int count, unsigned *out)
{
    unsigned value = 0;
    for (int i = 0; i < count; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        value = value * 10 + (unsigned)((*p)[i] - '0');
    }
    *p += count;
    *out = value;
    return true;
}

static bool expect_char(const char **p, const char *allowed)
{
    if (**p == '\0' || !strchr(allowed, **p))
        return false;
    (*p)++;
    return true;
}

bool rfc3339_parse(const char *text, int64_t *epoch_ms)
{
    static const unsigned month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!text)
        return false;
    const char *p = text;
    unsigned year, month, day, hour, minute, second, millis = 0;
    if (!read_digits(&p, 4, &year) || !expect_char(&p, "-") || !read_digits(&p, 2, &month) ||
        !expect_char(&p, "-") || !read_digits(&p, 2, &day) || !expect_char(&p, "Tt") ||
        !read_digits(&p, 2, &hour) || !expect_char(&p, ":") || !read_digits(&p, 2, &minute) ||
        !expect_char(&p, ":") || !read_digits(&p, 2, &second))
        return false;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        for (unsigned scale = 100; *p >= '0' && *p <= '9'; p++, scale /= 10)
            millis += (unsigned)(*p - '0') * scale;
    }
    int offset_minutes = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        unsigned oh, om;
        p++;
        if (!read_digits(&p, 2, &oh) || !expect_char(&p, ":") || !read_digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return false;
        offset_minutes = sign * (int)(oh * 60 + om);
    } else {
        return false;
    }
    if (*p != '\0' || year < 1 || month < 1 || month > 12 || day < 1 ||
        day > month_days[month - 1] || hour > 23 || minute > 59 || second > 59)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap)
        return false;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      second - (int64_t)offset_minutes * 60;
    int64_t ms = seconds * 1000 + millis;
    /* The offset may carry a time past 9999 or before 0001 in UTC, which the API could not
     * write back in RFC 3339 (PostgreSQL would print year 10000). */
    if (ms < RFC3339_MIN_MS || ms > RFC3339_MAX_MS)
        return false;
    *epoch_ms = ms;
    return true;
}
