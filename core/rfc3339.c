/*
 * RFC 3339 (section 5.6) dates and date-times, checked strictly: the grammar
 * exactly, and a date that exists on the calendar.
 */
#include "rfc3339_internal.h"

#include <string.h>

/* Reads n decimal digits at s into out; 0 when one of them is not a digit. */
static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* full-date = date-fullyear "-" date-month "-" date-mday, at s (10 bytes). */
static int full_date(const char *s)
{
    int y, m, d;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return 0;
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

int rfc3339_is_date(const char *s)
{
    return strlen(s) == 10 && full_date(s);
}

/* date-time = full-date "T" full-time; full-time = partial-time time-offset;
 * partial-time = HH ":" MM ":" SS ["." 1*DIGIT]; time-offset = "Z" / ("+" / "-") HH ":" MM.
 * "T" and "Z" may be lower case (RFC 3339 5.6). A leap second (:60) is valid only
 * where it can occur: at 23:59 UTC. */
int rfc3339_is_date_time(const char *s)
{
    size_t len = strlen(s);
    if (len < 20 || !full_date(s) || (s[10] != 'T' && s[10] != 't'))
        return 0;
    int hh, mm, ss;
    const char *t = s + 11;
    if (!digits(t, 2, &hh) || t[2] != ':' || !digits(t + 3, 2, &mm) || t[5] != ':' ||
        !digits(t + 6, 2, &ss))
        return 0;
    if (hh > 23 || mm > 59 || ss > 60)
        return 0;
    const char *p = t + 8;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int offset_minutes = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return 0;
        offset_minutes = (*p == '+' ? 1 : -1) * (oh * 60 + om);
        p += 6;
    } else {
        return 0;
    }
    if (*p != '\0')
        return 0;
    if (ss == 60) {
        int utc = ((hh * 60 + mm - offset_minutes) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return 0;
    }
    return 1;
}
