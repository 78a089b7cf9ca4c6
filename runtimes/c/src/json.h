/*
 * Strict RFC 8259 JSON for Tessera (internal).
 *
 * Two layers:
 *  - tsr_json_validate(): one left-to-right pass, no recursion, depth limit
 *    64 (SPEC 8), rejects duplicate keys (needs scratch: 4 bytes per key of
 *    the currently open objects), bad UTF-8, bad escapes, lone surrogates,
 *    leading zeros, control characters, BOM, trailing garbage. Linear time
 *    except the duplicate check (n log n per object, heap sort, no recursion).
 *  - cursor helpers (tj_*) that walk an already validated text by byte
 *    offsets without building a tree: nothing is allocated, every helper is
 *    linear in what it skips, and none reads past the text because the text
 *    is known to be well formed.
 */
#ifndef TESSERA_JSON_H
#define TESSERA_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "tessera.h"

#define TSR_JSON_MAX_DEPTH 64

/* scratch == NULL: measure mode, duplicates are not checked and *max_keys
 * receives the scratch entries a checking run needs. Returns TSR_OK,
 * TSR_E_PARSE, TSR_E_LIMIT (depth) or TSR_E_ARENA (scratch too small);
 * *err_pos is the byte offset of the violation. */
tsr_code tsr_json_validate(const char *s, size_t n, uint32_t *scratch,
                           size_t scratch_cap, size_t *max_keys, size_t *err_pos);

/* Value kinds by first byte. */
enum { TJ_OBJ = 'o', TJ_ARR = 'a', TJ_STR = 's', TJ_NUM = 'n',
       TJ_TRUE = 't', TJ_FALSE = 'f', TJ_NULL = 'z' };

size_t tj_ws(const char *s, size_t n, size_t i);
int tj_type(const char *s, size_t i);
size_t tj_skip(const char *s, size_t n, size_t i);
/* Iterate an object (is_obj = 1) or array. *it starts at the '{' / '['.
 * Returns 1 and sets *key (object only, offset of the key's '"') and *val,
 * or 0 at the end. */
int tj_next(const char *s, size_t n, size_t *it, int is_obj, size_t *key, size_t *val);
/* Number of elements of the array / members of the object at i. */
size_t tj_count(const char *s, size_t n, size_t i);
/* Decoded code points of the string whose '"' is at *i: call with *i at
 * the opening quote first (returns -2 and steps inside), then each call
 * returns the next code point, or -1 after consuming the closing quote. */
int32_t tj_cp(const char *s, size_t *i);
/* Decoded string at i equals the ASCII literal lit. */
int tj_str_eq(const char *s, size_t i, const char *lit);
/* Decoded length in code points, and whether every code point is ASCII. */
size_t tj_str_len(const char *s, size_t i, int *ascii);
/* Compare two decoded strings (code point order). */
int tj_str_cmp(const char *s, size_t a, size_t b);
/* Member of object at obj with the given key, or (size_t)-1. */
size_t tj_get(const char *s, size_t n, size_t obj, const char *key);
/* Number value of the validated decimal, correctly rounded to double (a
 * fast path for short decimals, else strtod). */
double tj_num(const char *s, size_t i);
/* The same value, and in *end the index just past the number (one scan of
 * it instead of two when walking a long number array). */
double tj_num_end(const char *s, size_t i, size_t *end);

/* d is an integer (SPEC 3: finite and integral; every double of magnitude
 * 2^52 or more is). */
int tj_is_int(double d);

#define TJ_NONE ((size_t)-1)

#endif /* TESSERA_JSON_H */
