/* Strict, bounded JSON validator and cursor helpers. See json.h. */
#include "json.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at s[i..i+3] (bounds checked by the caller), or -1. */
static int32_t hex4(const unsigned char *s, size_t i)
{
    int32_t v = 0;
    int k;
    for (k = 0; k < 4; k++) {
        int h = hexval(s[i + (size_t)k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence at s[i] (lead byte >= 0x80), or
 * 0 if malformed: overlongs, surrogates and values above U+10FFFF fail. */
static size_t utf8_len(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len, k;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n - i < len)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return len;
}

/* Validate the string whose opening quote is at s[i]; returns the offset
 * after the closing quote, or 0 with *bad set to the violation offset. */
static size_t scan_string(const unsigned char *s, size_t n, size_t i, size_t *bad)
{
    i++;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20) {
            *bad = i;
            return 0;
        }
        if (c == '\\') {
            int32_t u;
            if (i + 1 >= n)
                break;
            c = s[i + 1];
            if (c != 'u') {
                if (!strchr("\"\\/bfnrt", c) || c == 0) {
                    *bad = i;
                    return 0;
                }
                i += 2;
                continue;
            }
            if (n - i < 6 || (u = hex4(s, i + 2)) < 0) {
                *bad = i;
                return 0;
            }
            i += 6;
            if (u >= 0xDC00 && u <= 0xDFFF) { /* lone low surrogate */
                *bad = i - 6;
                return 0;
            }
            if (u >= 0xD800 && u <= 0xDBFF) { /* needs a low surrogate */
                int32_t l;
                if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u' ||
                    (l = hex4(s, i + 2)) < 0xDC00 || l > 0xDFFF) {
                    *bad = i - 6;
                    return 0;
                }
                i += 6;
            }
            continue;
        }
        if (c >= 0x80) {
            size_t len = utf8_len(s, n, i);
            if (len == 0) {
                *bad = i;
                return 0;
            }
            i += len;
            continue;
        }
        i++;
    }
    *bad = n;
    return 0;
}

/* Validate the number at s[i]; returns the offset after it or 0. */
static size_t scan_number(const unsigned char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && is_digit(s[i]))
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i;
}

/* ---- duplicate keys: heap sort the key offsets of one object ---- */

static void sift_down(const char *s, uint32_t *a, size_t root, size_t end)
{
    for (;;) {
        size_t child = 2 * root + 1, big = root;
        uint32_t t;
        if (child < end && tj_str_cmp(s, a[child], a[big]) > 0)
            big = child;
        if (child + 1 < end && tj_str_cmp(s, a[child + 1], a[big]) > 0)
            big = child + 1;
        if (big == root)
            return;
        t = a[root];
        a[root] = a[big];
        a[big] = t;
        root = big;
    }
}

/* 1 if the keys a[0..k) hold a duplicate. Small objects: pairwise. */
static int has_dup(const char *s, uint32_t *a, size_t k)
{
    size_t i, j;
    if (k < 2)
        return 0;
    if (k <= 8) {
        for (i = 0; i < k; i++)
            for (j = i + 1; j < k; j++)
                if (tj_str_cmp(s, a[i], a[j]) == 0)
                    return 1;
        return 0;
    }
    for (i = k / 2; i-- > 0;)
        sift_down(s, a, i, k);
    for (i = k - 1; i > 0; i--) {
        uint32_t t = a[0];
        a[0] = a[i];
        a[i] = t;
        sift_down(s, a, 0, i);
    }
    for (i = 1; i < k; i++)
        if (tj_str_cmp(s, a[i - 1], a[i]) == 0)
            return 1;
    return 0;
}

typedef struct {
    const unsigned char *s;
    size_t n;
    uint32_t *keys; /* NULL in measure mode */
    size_t cap, nkeys, max_keys;
    int depth;
    char kind[TSR_JSON_MAX_DEPTH + 1];       /* 'o' or 'a' per open level */
    size_t keybase[TSR_JSON_MAX_DEPTH + 1];  /* first key of each object */
} vstate;

static tsr_code push_key(vstate *v, size_t at)
{
    if (v->keys) {
        if (v->nkeys >= v->cap)
            return TSR_E_ARENA;
        v->keys[v->nkeys] = (uint32_t)at;
    }
    v->nkeys++;
    if (v->nkeys > v->max_keys)
        v->max_keys = v->nkeys;
    return TSR_OK;
}

/* Any duplicate among the keys of the open objects (all seen so far)? */
static int open_dups(vstate *v)
{
    int d;
    if (!v->keys)
        return 0;
    for (d = v->depth; d >= 1; d--) {
        size_t end = d == v->depth ? v->nkeys : v->keybase[d + 1];
        if (v->kind[d] == 'o' &&
            has_dup((const char *)v->s, v->keys + v->keybase[d], end - v->keybase[d]))
            return 1;
    }
    return 0;
}

/* Read `"key" :` at i (after whitespace). Returns offset after ':' or 0. */
static size_t scan_key(vstate *v, size_t i, size_t *bad, tsr_code *rc)
{
    size_t e;
    if (i >= v->n || v->s[i] != '"') {
        *bad = i;
        return 0;
    }
    e = scan_string(v->s, v->n, i, bad);
    if (!e)
        return 0;
    if ((*rc = push_key(v, i)) != TSR_OK)
        return 0;
    e = tj_ws((const char *)v->s, v->n, e);
    if (e >= v->n || v->s[e] != ':') {
        *bad = e;
        return 0;
    }
    return tj_ws((const char *)v->s, v->n, e + 1);
}

tsr_code tsr_json_validate(const char *text, size_t n, uint32_t *scratch,
                           size_t scratch_cap, size_t *max_keys, size_t *err_pos)
{
    vstate v;
    size_t i = 0, bad = 0;
    tsr_code rc = TSR_OK;
    int want_value = 1; /* else: just after a value */

    memset(&v, 0, sizeof v);
    v.s = (const unsigned char *)text;
    v.n = n;
    v.keys = scratch;
    v.cap = scratch_cap;
    i = tj_ws(text, n, 0);
    for (;;) {
        if (want_value) {
            unsigned char c;
            size_t e;
            if (i >= n) {
                bad = i;
                goto parse_error;
            }
            c = v.s[i];
            if (c == '{' || c == '[') {
                if (v.depth >= TSR_JSON_MAX_DEPTH) {
                    *err_pos = i;
                    return open_dups(&v) ? TSR_E_PARSE : TSR_E_LIMIT;
                }
                v.depth++;
                v.kind[v.depth] = c == '{' ? 'o' : 'a';
                v.keybase[v.depth] = v.nkeys;
                i = tj_ws(text, n, i + 1);
                if (i < n && v.s[i] == (c == '{' ? '}' : ']')) {
                    v.depth--;
                    i++;
                    want_value = 0;
                } else if (c == '{') {
                    i = scan_key(&v, i, &bad, &rc);
                    if (!i)
                        goto fail;
                }
                continue;
            }
            if (c == '"') {
                e = scan_string(v.s, n, i, &bad);
            } else if (c == '-' || is_digit(c)) {
                e = scan_number(v.s, n, i);
                bad = i;
            } else if (c == 't' && n - i >= 4 && !memcmp(v.s + i, "true", 4)) {
                e = i + 4;
            } else if (c == 'f' && n - i >= 5 && !memcmp(v.s + i, "false", 5)) {
                e = i + 5;
            } else if (c == 'n' && n - i >= 4 && !memcmp(v.s + i, "null", 4)) {
                e = i + 4;
            } else {
                e = 0;
                bad = i;
            }
            if (!e)
                goto parse_error;
            i = e;
            want_value = 0;
            continue;
        }
        /* after a value */
        i = tj_ws(text, n, i);
        if (v.depth == 0) {
            if (i != n) {
                bad = i;
                goto parse_error;
            }
            break;
        }
        if (i >= n) {
            bad = i;
            goto parse_error;
        }
        if (v.s[i] == ',') {
            i = tj_ws(text, n, i + 1);
            if (v.kind[v.depth] == 'o') {
                i = scan_key(&v, i, &bad, &rc);
                if (!i)
                    goto fail;
            }
            want_value = 1;
            continue;
        }
        if (v.s[i] == (v.kind[v.depth] == 'o' ? '}' : ']')) {
            if (v.kind[v.depth] == 'o') {
                size_t base = v.keybase[v.depth];
                if (v.keys && has_dup(text, v.keys + base, v.nkeys - base)) {
                    bad = i;
                    goto parse_error;
                }
                v.nkeys = base;
            }
            v.depth--;
            i++;
            continue;
        }
        bad = i;
        goto parse_error;
    }
    if (max_keys)
        *max_keys = v.max_keys;
    *err_pos = 0;
    return TSR_OK;
fail:
    if (rc != TSR_OK) {
        *err_pos = bad;
        return rc;
    }
parse_error:
    *err_pos = bad;
    return TSR_E_PARSE;
}

/* ---- cursor helpers on validated text ---- */

size_t tj_ws(const char *s, size_t n, size_t i)
{
    while (i < n && is_ws((unsigned char)s[i]))
        i++;
    return i;
}

int tj_type(const char *s, size_t i)
{
    switch (s[i]) {
    case '{': return TJ_OBJ;
    case '[': return TJ_ARR;
    case '"': return TJ_STR;
    case 't': return TJ_TRUE;
    case 'f': return TJ_FALSE;
    case 'n': return TJ_NULL;
    default: return TJ_NUM;
    }
}

/* Past the closing quote of the validated string at i. memchr finds quote
 * candidates fast (base64 tensors are megabyte strings skipped many times);
 * a quote preceded by an odd run of backslashes is escaped. */
static size_t skip_str(const char *s, size_t n, size_t i)
{
    const char *p = s + i + 1;
    for (;;) {
        const char *q = (const char *)memchr(p, '"', (size_t)(s + n - p));
        size_t bs = 0;
        while (q[-1 - (ptrdiff_t)bs] == '\\') /* stops at the opening quote at worst */
            bs++;
        if (bs % 2 == 0)
            return (size_t)(q - s) + 1;
        p = q + 1;
    }
}

/* Bytes that matter when skipping a container: quotes and brackets. */
static int is_structural(unsigned char c)
{
    return c == '"' || c == '[' || c == ']' || c == '{' || c == '}';
}

/* Nonzero when some byte of w equals b (the classic has-zero-byte test). */
static uint64_t has_byte(uint64_t w, unsigned char b)
{
    uint64_t x = w ^ (0x0101010101010101u * b);
    return (x - 0x0101010101010101u) & ~x & 0x8080808080808080u;
}

/* The next structural byte at or after i. Eight bytes at a time while they
 * hold none: number arrays (decimal tensors) are skipped many times. */
static size_t next_structural(const char *s, size_t n, size_t i)
{
#if defined(__GNUC__) || defined(__clang__)
    /* 16 bytes at a time with GNU vectors (one compare instruction each on
     * SSE2 / NEON / wasm simd128; plain code elsewhere). c | 0x20 maps
     * '[' to '{' and ']' to '}' and nothing else to either. */
    typedef unsigned char v16 __attribute__((vector_size(16)));
    const v16 case_bit = (v16){0} + 0x20, quote = (v16){0} + '"', open = (v16){0} + '{',
              close = (v16){0} + '}';
    while (i + 16 <= n) {
        v16 w, hit;
        uint64_t h[2];
        memcpy(&w, s + i, 16);
        hit = (v16)((w == quote) | ((w | case_bit) == open) | ((w | case_bit) == close));
        memcpy(h, &hit, 16);
        if (h[0] | h[1])
            break;
        i += 16;
    }
#endif
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (has_byte(w, '"') | has_byte(w, '[') | has_byte(w, ']') | has_byte(w, '{') | has_byte(w, '}'))
            break;
        i += 8;
    }
    while (!is_structural((unsigned char)s[i])) /* the container's closing bracket stops it */
        i++;
    return i;
}

size_t tj_skip(const char *s, size_t n, size_t i)
{
    size_t depth = 0;
    switch (tj_type(s, i)) {
    case TJ_STR: return skip_str(s, n, i);
    case TJ_TRUE: return i + 4;
    case TJ_FALSE: return i + 5;
    case TJ_NULL: return i + 4;
    case TJ_NUM: return scan_number((const unsigned char *)s, n, i);
    default: break;
    }
    do { /* container: count brackets outside strings */
        char c;
        i = next_structural(s, n, i);
        c = s[i];
        if (c == '"') {
            i = skip_str(s, n, i);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        i++;
    } while (depth > 0);
    return i;
}

int tj_next(const char *s, size_t n, size_t *it, int is_obj, size_t *key, size_t *val)
{
    size_t i = *it;
    if (s[i] == '{' || s[i] == '[') {
        i = tj_ws(s, n, i + 1);
        if (s[i] == '}' || s[i] == ']')
            return 0;
    } else {
        i = tj_ws(s, n, i);
        if (s[i] != ',')
            return 0;
        i = tj_ws(s, n, i + 1);
    }
    if (is_obj) {
        if (key)
            *key = i;
        i = tj_ws(s, n, skip_str(s, n, i));
        i = tj_ws(s, n, i + 1); /* ':' */
    }
    *val = i;
    *it = tj_skip(s, n, i);
    return 1;
}

size_t tj_count(const char *s, size_t n, size_t i)
{
    size_t it = i, k, v, c = 0;
    int is_obj = s[i] == '{';
    while (tj_next(s, n, &it, is_obj, &k, &v))
        c++;
    return c;
}

int32_t tj_cp(const char *str, size_t *pi)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = *pi;
    unsigned char c = s[i];
    int32_t u;
    if (c == '"') {
        *pi = i + 1;
        return -1;
    }
    if (c == '\\') {
        c = s[i + 1];
        *pi = i + 2;
        switch (c) {
        case 'b': return 8;
        case 'f': return 12;
        case 'n': return 10;
        case 'r': return 13;
        case 't': return 9;
        case 'u': break;
        default: return c;
        }
        u = hex4(s, i + 2);
        *pi = i + 6;
        if (u >= 0xD800 && u <= 0xDBFF) {
            int32_t l = hex4(s, i + 8);
            *pi = i + 12;
            u = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
        }
        return u;
    }
    if (c < 0x80) {
        *pi = i + 1;
        return c;
    }
    if (c < 0xE0) {
        *pi = i + 2;
        return ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    }
    if (c < 0xF0) {
        *pi = i + 3;
        return ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    }
    *pi = i + 4;
    return ((int32_t)(c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) |
           ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}

int tj_str_eq(const char *s, size_t i, const char *lit)
{
    size_t p = i + 1;
    for (;;) {
        int32_t c = tj_cp(s, &p);
        if (c < 0)
            return *lit == 0;
        if (*lit == 0 || c != (unsigned char)*lit)
            return 0;
        lit++;
    }
}

size_t tj_str_len(const char *s, size_t i, int *ascii)
{
    size_t p = i + 1, len = 0;
    int32_t c;
    *ascii = 1;
    while ((c = tj_cp(s, &p)) >= 0) {
        if (c >= 0x80)
            *ascii = 0;
        len++;
    }
    return len;
}

int tj_str_cmp(const char *s, size_t a, size_t b)
{
    size_t pa = a + 1, pb = b + 1;
    for (;;) {
        int32_t ca = tj_cp(s, &pa), cb = tj_cp(s, &pb);
        if (ca != cb)
            return ca < cb ? -1 : 1;
        if (ca < 0)
            return 0;
    }
}

size_t tj_get(const char *s, size_t n, size_t obj, const char *key)
{
    size_t it = obj, k, v;
    while (tj_next(s, n, &it, 1, &k, &v))
        if (tj_str_eq(s, k, key))
            return v;
    return TJ_NONE;
}

/* Clinger's fast path: an integer of at most 15 digits and 10^k for
 * k <= 22 are exact doubles, so one multiplication or division rounds the
 * exact value correctly, the same double strtod gives. It covers what the
 * exporter writes (float32 values, at most 9 significant digits). Needs
 * double arithmetic without extended precision (FLT_EVAL_METHOD == 0). */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define TJ_FAST_NUM 1
static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The value of the validated number at p into *out and the end of the
 * number into *endp, or 0 if it needs strtod. */
static int num_fast(const char *p, double *out, const char **endp)
{
    uint64_t m = 0;
    int neg = *p == '-', digits = 0, frac = 0, e10 = 0;
    double d;
    p += neg;
    for (;; p++) {
        if (is_digit((unsigned char)*p)) {
            if ((m || *p != '0') && ++digits > 15)
                return 0;
            m = m * 10 + (uint64_t)(*p - '0');
            e10 -= frac;
        } else if (*p == '.') {
            frac = 1;
        } else {
            break;
        }
    }
    if (*p == 'e' || *p == 'E') {
        int eneg = 0, ev = 0, n = 0;
        p++;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        for (; is_digit((unsigned char)*p); p++)
            if (++n > 4) /* huge exponents: strtod (overflow, underflow) */
                return 0;
            else
                ev = ev * 10 + (*p - '0');
        e10 += eneg ? -ev : ev;
    }
    *endp = p;
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 1;
    }
    if (e10 < -22 || e10 > 22)
        return 0;
    d = (double)m;
    d = e10 < 0 ? d / k_pow10[-e10] : d * k_pow10[e10];
    *out = neg ? -d : d;
    return 1;
}
#endif

double tj_num_end(const char *s, size_t i, size_t *end)
{
    char *stop;
    double d;
#if TJ_FAST_NUM
    const char *p;
    if (num_fast(s + i, &d, &p)) {
        *end = (size_t)(p - s);
        return d;
    }
#endif
    /* The validated number is always followed by a delimiter inside the text
     * (numbers are read only inside containers), so strtod stops there. */
    d = strtod(s + i, &stop);
    *end = (size_t)(stop - s);
    return d;
}

double tj_num(const char *s, size_t i)
{
    size_t end;
    return tj_num_end(s, i, &end);
}

int tj_is_int(double d)
{
    if (d != d || d - d != 0.0)
        return 0;
    if (d >= 4503599627370496.0 || d <= -4503599627370496.0)
        return 1;
    return (double)(int64_t)d == d;
}
