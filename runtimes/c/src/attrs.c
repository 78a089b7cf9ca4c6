/*
 * Node attributes by kind (internal.h: TSR_A_*). An op declares its keys in
 * its row of the op table (ops.c); this file checks them (schema step,
 * E_SCHEMA), applies the limits of section 8 to them (limits step, E_LIMIT)
 * and parses them into the op's attribute struct. It knows kinds, not ops:
 * a new op needs nothing here, a new kind of attribute (say a list of
 * integers that may repeat) needs one case in each of the three switches.
 */
#include <string.h>

#include "loader.h"

#define SCHEMA(...) return tsr_fail(L->err, TSR_E_SCHEMA, __VA_ARGS__)

/* vals[j] = the value of op->attrs[j].key in the attrs object (TJ_NONE: no
 * object, or no such member); returns the first member whose key the op does
 * not declare, or TJ_NONE. One pass over the object. */
static size_t attr_fields(const ld *L, const tsr_op *op, size_t attrs, size_t *vals)
{
    const char *keys[TSR_ATTR_MAX_KEYS + 1];
    size_t j;
    for (j = 0; j < TSR_ATTR_MAX_KEYS && op->attrs[j].key; j++)
        keys[j] = op->attrs[j].key;
    keys[j] = NULL;
    if (attrs == TJ_NONE) {
        for (j = 0; keys[j]; j++)
            vals[j] = TJ_NONE;
        return TJ_NONE;
    }
    return ld_fields(L, attrs, keys, vals);
}

/* Integral value clamped to +-2^30 (enough for every range check). */
static int32_t clamp_i(double d)
{
    if (d > 1073741824.0)
        return 1073741824;
    if (d < -1073741824.0)
        return -1073741824;
    return (int32_t)d;
}

/* ---- schema step ---- */

/* Distinct numbers in array arr (uniqueItems). */
static int unique_nums(const ld *L, size_t arr)
{
    size_t it = arr, v;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        size_t it2 = it, w;
        double d = tj_num(L->s, v);
        while (tj_next(L->s, L->n, &it2, 0, NULL, &w))
            if (tj_num(L->s, w) == d)
                return 0;
    }
    return 1;
}

/* An array of integers (>= 0 when nonneg), distinct (when `unique`), with
 * min..8 entries (SPEC 6: axes, perm and Slice's arrays hold at most 8, the
 * maximum rank), so the uniqueness check stays tiny. */
static int int_array_u(const ld *L, size_t arr, int nonneg, size_t min, int unique)
{
    size_t it = arr, v, cnt = 0;
    if (!ld_is_type(L->s, arr, TJ_ARR))
        return 0;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        double d;
        if (tj_type(L->s, v) != TJ_NUM)
            return 0;
        d = tj_num(L->s, v);
        if (!tj_is_int(d) || (nonneg && d < 0))
            return 0;
        cnt++;
    }
    if (cnt < min || cnt > TSR_MAX_RANK)
        return 0;
    return !unique || unique_nums(L, arr);
}

static int int_array(const ld *L, size_t arr, int nonneg, size_t min)
{
    return int_array_u(L, arr, nonneg, min, 1);
}

/* One present value of kind `kind` under key `key`. */
static tsr_code schema_kind(ld *L, int32_t kind, const char *key, size_t a, const char *who)
{
    const char *s = L->s;
    switch (kind) {
    case TSR_A_BOOL:
        if (!ld_is_type(s, a, TJ_TRUE) && !ld_is_type(s, a, TJ_FALSE))
            SCHEMA("%s: %s must be a boolean", who, key);
        break;
    case TSR_A_INT:
        if (!(ld_is_type(s, a, TJ_NUM) && tj_is_int(tj_num(s, a))))
            SCHEMA("%s: %s must be an integer", who, key);
        break;
    case TSR_A_F32: {
        float f;
        if (!ld_is_type(s, a, TJ_NUM))
            SCHEMA("%s: %s must be a number", who, key);
        f = (float)tj_num(s, a);
        if (f - f != 0.0f)
            SCHEMA("%s: %s must be finite after rounding to float32", who, key);
        break;
    }
    case TSR_A_AXES:
        if (!int_array(L, a, 0, 1))
            SCHEMA("%s: %s must be a non-empty array of distinct integers", who, key);
        break;
    case TSR_A_PERM:
        if (!int_array(L, a, 1, 0))
            SCHEMA("%s: %s must be an array of distinct integers >= 0", who, key);
        break;
    case TSR_A_INTS:
        if (!int_array_u(L, a, 0, 1, 0))
            SCHEMA("%s: %s must be an array of 1 to 8 integers", who, key);
        break;
    case TSR_A_DTYPE:
        if (!ld_is_type(s, a, TJ_STR) || !(tj_str_eq(s, a, "float32") || tj_str_eq(s, a, "int32")))
            SCHEMA("%s: %s must be \"float32\" or \"int32\"", who, key);
        break;
    case TSR_A_SHAPE: {
        size_t it = a, v;
        int negs = 0;
        if (!ld_is_type(s, a, TJ_ARR))
            SCHEMA("%s: %s must be an array", who, key);
        while (tj_next(s, L->n, &it, 0, NULL, &v)) {
            if (tj_type(s, v) == TJ_NUM) {
                double d = tj_num(s, v);
                if (d == -1.0)
                    negs++;
                else if (!tj_is_int(d) || d < 1)
                    SCHEMA("%s: bad %s entry", who, key);
            } else if (!ld_str_pattern(s, v, 1)) {
                SCHEMA("%s: bad %s entry", who, key);
            }
        }
        if (negs > 1)
            SCHEMA("%s: -1 may appear at most once in %s", who, key);
        break;
    }
    default:
        break;
    }
    return TSR_OK;
}

tsr_code ld_attrs_schema(ld *L, const tsr_op *op, size_t attrs, const char *who)
{
    size_t vals[TSR_ATTR_MAX_KEYS], k, j;
    char kb[64];
    /* The parsed struct, for the op's own check; aligned for any field. */
    union { double d; void *p; int64_t i; unsigned char b[TSR_ATTR_MAX_BYTES]; } buf;
    if ((k = attr_fields(L, op, attrs, vals)) != TJ_NONE)
        SCHEMA("%s: unknown attribute '%s'", who, ld_show(L, k, kb, sizeof kb));
    /* the values given first, then the required keys missing (both
     * E_SCHEMA; the message names the first bad key either way) */
    for (j = 0; j < TSR_ATTR_MAX_KEYS && op->attrs[j].key; j++)
        if (vals[j] != TJ_NONE && schema_kind(L, op->attrs[j].kind, op->attrs[j].key, vals[j], who))
            return TSR_E_SCHEMA;
    for (j = 0; j < TSR_ATTR_MAX_KEYS && op->attrs[j].key; j++)
        if (vals[j] == TJ_NONE && op->attrs[j].required)
            SCHEMA("%s: attribute '%s' is required", who, op->attrs[j].key);
    if (!op->check && !op->copies_init)
        return TSR_OK;
    ld_attrs_parse(L, op, attrs, &buf, 0);
    if (op->check) {
        const char *msg = op->check(&buf);
        if (msg)
            SCHEMA("%s: %s", who, msg);
    }
    if (op->copies_init && op->copies_init(&buf))
        L->any_copy = 1;
    return TSR_OK;
}

/* ---- limits step ---- */
tsr_code ld_attrs_limits(ld *L, const tsr_op *op, size_t attrs, const char *who)
{
    size_t vals[TSR_ATTR_MAX_KEYS], j;
    attr_fields(L, op, attrs, vals);
    for (j = 0; j < TSR_ATTR_MAX_KEYS && op->attrs[j].key; j++)
        if (op->attrs[j].kind == TSR_A_SHAPE && vals[j] != TJ_NONE &&
            ld_limit_shape(L, vals[j], who, NULL))
            return TSR_E_LIMIT;
    return TSR_OK;
}

/* ---- parsing (values already checked) ---- */
static void parse_ints(const ld *L, size_t a, tsr_ints *out)
{
    size_t it = a, v;
    out->n = a == TJ_NONE ? -1 : 0;
    if (a == TJ_NONE)
        return;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v) && out->n < TSR_MAX_RANK)
        out->v[out->n++] = clamp_i(tj_num(L->s, v));
}

static void parse_dims(ld *L, size_t a, tsr_dims *out, int intern)
{
    size_t it = a, v;
    out->s.rank = 0;
    out->neg = -1;
    if (a == TJ_NONE)
        return;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v) && out->s.rank < TSR_MAX_RANK) {
        int32_t d;
        if (tj_type(L->s, v) == TJ_NUM) {
            d = clamp_i(tj_num(L->s, v)); /* > 2^26: E_LIMIT (limits step) */
            if (d == -1)
                out->neg = out->s.rank;
        } else {
            d = intern ? -ld_sym_id(L, v) - 1 : 0;
        }
        out->s.dim[out->s.rank++] = d;
    }
}

void ld_attrs_parse(ld *L, const tsr_op *op, size_t attrs, void *dst, int intern)
{
    size_t vals[TSR_ATTR_MAX_KEYS], j;
    attr_fields(L, op, attrs, vals);
    for (j = 0; j < TSR_ATTR_MAX_KEYS && op->attrs[j].key; j++) {
        const tsr_attr_def *a = &op->attrs[j];
        unsigned char *at = (unsigned char *)dst + a->offset;
        size_t v = vals[j];
        switch (a->kind) {
        case TSR_A_BOOL: {
            int32_t b = v == TJ_NONE ? (int32_t)a->dflt : tj_type(L->s, v) == TJ_TRUE;
            memcpy(at, &b, sizeof b);
            break;
        }
        case TSR_A_INT: {
            int32_t i = clamp_i(v == TJ_NONE ? a->dflt : tj_num(L->s, v));
            memcpy(at, &i, sizeof i);
            break;
        }
        case TSR_A_F32: {
            float f = (float)(v == TJ_NONE ? a->dflt : tj_num(L->s, v));
            memcpy(at, &f, sizeof f);
            break;
        }
        case TSR_A_DTYPE: {
            int32_t t = v == TJ_NONE ? (int32_t)a->dflt : ld_dtype(L, v);
            memcpy(at, &t, sizeof t);
            break;
        }
        case TSR_A_AXES: case TSR_A_PERM: case TSR_A_INTS: {
            tsr_ints t;
            parse_ints(L, v, &t);
            memcpy(at, &t, sizeof t);
            break;
        }
        case TSR_A_SHAPE: {
            tsr_dims t;
            parse_dims(L, v, &t, intern);
            memcpy(at, &t, sizeof t);
            break;
        }
        default:
            break;
        }
    }
}
