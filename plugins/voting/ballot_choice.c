/* What a ballot says, per method: validation with JSON pointers, the canonical form that is
 * stored and hashed, and the translation into tally input. Pure (jansson and tally only), so
 * the close reads stored ballots with exactly the code that accepted them.
 *
 * Ballot bodies:
 *   yesno     {"choice": "yes" | "no" | "abstain"}
 *   approval  {"approve": ["key", ...]}            any number of options, zero included
 *   ranked    {"ranking": [["a"], ["b", "c"]]}     tiers, best first; options in one tier are
 *                                                  tied; options left out rank below all, tied
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "voting_internal.h"

static const char *const method_field[] = {
    [TALLY_METHOD_YESNO] = "choice",
    [TALLY_METHOD_APPROVAL] = "approve",
    [TALLY_METHOD_RANKED] = "ranking",
};

static void add_error(json_t *errors, const char *message, const char *pointer_fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(json_t *errors, const char *message, const char *pointer_fmt, ...)
{
    char pointer[96];
    va_list ap;
    va_start(ap, pointer_fmt);
    vsnprintf(pointer, sizeof(pointer), pointer_fmt, ap);
    va_end(ap);
    coop_invalid_add(errors, pointer, message);
}

/* Appends name to a JSON pointer (RFC 6901: '~' is written ~0 and '/' ~1). */
static void pointer_for_member(char *pointer, size_t size, const char *name)
{
    size_t o = 0;
    if (o + 1 < size)
        pointer[o++] = '/';
    for (const char *c = name; *c && o + 3 < size; c++) {
        if (*c == '~' || *c == '/') {
            pointer[o++] = '~';
            pointer[o++] = *c == '~' ? '0' : '1';
        } else {
            pointer[o++] = *c;
        }
    }
    pointer[o] = '\0';
}

static int option_index(const char *const *keys, size_t option_count, const char *key)
{
    for (size_t i = 0; i < option_count; i++)
        if (strcmp(keys[i], key) == 0)
            return (int)i;
    return -1;
}

/* Reads one option key at pointer base/index; returns its index or -1 (error added). seen
 * marks options already named on this ballot. */
static int read_option(const char *const *keys, size_t option_count, const json_t *value,
                       bool *seen, json_t *errors, const char *pointer)
{
    if (!json_is_string(value)) {
        coop_invalid_add(errors, pointer, "must be an option key (a string)");
        return -1;
    }
    int idx = option_index(keys, option_count, json_string_value(value));
    if (idx < 0) {
        coop_invalid_add(errors, pointer, "names no option of this proposal");
        return -1;
    }
    if (seen[idx]) {
        coop_invalid_add(errors, pointer, "names an option this ballot already names");
        return -1;
    }
    seen[idx] = true;
    return idx;
}

static int read_yesno(const json_t *value, json_t *errors, struct ballot_choice *out)
{
    const char *s = json_string_value(value);
    if (s && strcmp(s, "yes") == 0)
        out->yesno = TALLY_CHOICE_YES;
    else if (s && strcmp(s, "no") == 0)
        out->yesno = TALLY_CHOICE_NO;
    else if (s && strcmp(s, "abstain") == 0)
        out->yesno = TALLY_CHOICE_ABSTAIN;
    else {
        coop_invalid_add(errors, "/choice", "must be \"yes\", \"no\" or \"abstain\"");
        return -COOP_EINVAL;
    }
    out->canonical = json_pack("{s:s}", "choice", s);
    return out->canonical ? 0 : -COOP_ENOMEM;
}

static int read_approval(const char *const *keys, size_t option_count, const json_t *value,
                         json_t *errors, struct ballot_choice *out)
{
    if (!json_is_array(value)) {
        coop_invalid_add(errors, "/approve", "must be an array of option keys");
        return -COOP_EINVAL;
    }
    bool seen[TALLY_MAX_OPTIONS] = {false};
    bool bad = false;
    size_t i;
    const json_t *item;
    json_array_foreach(value, i, item)
    {
        char pointer[48];
        snprintf(pointer, sizeof(pointer), "/approve/%zu", i);
        if (read_option(keys, option_count, item, seen, errors, pointer) < 0)
            bad = true;
    }
    if (bad)
        return -COOP_EINVAL;

    json_t *approve = json_array();
    for (size_t k = 0; k < option_count; k++) {
        out->approved[k] = seen[k];
        if (seen[k])
            json_array_append_new(approve, json_string(keys[k]));
    }
    out->canonical = json_pack("{s:o}", "approve", approve);
    return out->canonical ? 0 : -COOP_ENOMEM;
}

static int read_ranking(const char *const *keys, size_t option_count, const json_t *value,
                        json_t *errors, struct ballot_choice *out)
{
    if (!json_is_array(value)) {
        coop_invalid_add(errors, "/ranking", "must be an array of tiers (arrays of option keys)");
        return -COOP_EINVAL;
    }
    if (json_array_size(value) > option_count) {
        coop_invalid_add(errors, "/ranking", "has more tiers than the proposal has options");
        return -COOP_EINVAL;
    }
    bool seen[TALLY_MAX_OPTIONS] = {false};
    bool bad = false;
    size_t t;
    const json_t *tier;
    json_array_foreach(value, t, tier)
    {
        if (!json_is_array(tier) || json_array_size(tier) == 0) {
            add_error(errors, "must be a non-empty array of option keys", "/ranking/%zu", t);
            bad = true;
            continue;
        }
        size_t i;
        const json_t *item;
        json_array_foreach(tier, i, item)
        {
            char pointer[64];
            snprintf(pointer, sizeof(pointer), "/ranking/%zu/%zu", t, i);
            int idx = read_option(keys, option_count, item, seen, errors, pointer);
            if (idx < 0)
                bad = true;
            else
                out->ranks[idx] = (unsigned)t + 1;
        }
    }
    if (bad)
        return -COOP_EINVAL;

    json_t *ranking = json_array();
    for (size_t r = 1; r <= json_array_size(value); r++) {
        json_t *canonical_tier = json_array();
        for (size_t k = 0; k < option_count; k++)
            if (out->ranks[k] == r)
                json_array_append_new(canonical_tier, json_string(keys[k]));
        json_array_append_new(ranking, canonical_tier);
    }
    out->canonical = json_pack("{s:o}", "ranking", ranking);
    return out->canonical ? 0 : -COOP_ENOMEM;
}

int ballot_choice_read(enum tally_method method, const char *const *keys, size_t option_count,
                       const json_t *body, json_t *errors, struct ballot_choice *out)
{
    memset(out, 0, sizeof(*out));
    if (option_count > TALLY_MAX_OPTIONS || (size_t)method >= 3)
        return -COOP_EINVAL;
    if (!json_is_object(body)) {
        coop_invalid_add(errors, "", "must be an object");
        return -COOP_EINVAL;
    }

    /* A ballot carries exactly the one field of its method. */
    const char *wanted = method_field[method];
    bool bad = false;
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)body, name, value)
    {
        if (strcmp(name, wanted) != 0) {
            char message[96];
            char pointer[96];
            snprintf(message, sizeof(message), "does not fit a %s proposal, which takes \"%s\"",
                     tally_method_name(method), wanted);
            pointer_for_member(pointer, sizeof(pointer), name);
            coop_invalid_add(errors, pointer, message);
            bad = true;
        }
    }
    value = json_object_get(body, wanted);
    if (!value) {
        char message[64];
        snprintf(message, sizeof(message), "is required for a %s proposal",
                 tally_method_name(method));
        add_error(errors, message, "/%s", wanted);
        return -COOP_EINVAL;
    }
    if (bad)
        return -COOP_EINVAL;

    switch (method) {
    case TALLY_METHOD_YESNO:
        return read_yesno(value, errors, out);
    case TALLY_METHOD_APPROVAL:
        return read_approval(keys, option_count, value, errors, out);
    case TALLY_METHOD_RANKED:
        return read_ranking(keys, option_count, value, errors, out);
    }
    return -COOP_EINVAL;
}

int ballot_choice_count(struct tally *tally, enum tally_method method,
                        const struct ballot_choice *choice)
{
    switch (method) {
    case TALLY_METHOD_YESNO:
        return tally_add_yesno(tally, choice->yesno);
    case TALLY_METHOD_APPROVAL:
        return tally_add_approval(tally, choice->approved);
    case TALLY_METHOD_RANKED:
        return tally_add_ranked(tally, choice->ranks);
    }
    return -COOP_EINVAL;
}
