/* Which items of a JSON array repeat an earlier one, as JSON Schema's
 * uniqueItems means equal (owner: json_unique.c). */
#ifndef COOP_JSON_UNIQUE_INTERNAL_H
#define COOP_JSON_UNIQUE_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

/* For each item i of array (borrowed), sets first[i] to the index of the first
 * item equal to it: 1 equals 1.0, and objects are equal whatever their member
 * order. So first[i] == i exactly when no earlier item equals item i. first
 * belongs to the caller and has room for json_array_size(array) indices.
 * Returns 0, or -1 when out of memory (first is then unspecified).
 * Takes O(n log n) comparisons for n items. */
int json_unique_first_indices(const json_t *array, size_t *first);

#endif
