/*
 * Loading and checking a model (SPEC sections 1-6, 8), in the exact order of
 * SPEC section 5. Everything lives in the caller's arena; the same code runs
 * in "measure" mode (ld.arena == NULL) to report the arena size.
 */
#include <math.h> /* HUGE_VALF only: no libm function is called */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "kernels.h"

#define LIM_ELEMS 67108864LL
#define LIM_NAME 256

const char *const tsr_op_names[OP_COUNT] = {
    "MatMul", "Add", "Sub", "Mul", "Div", "Maximum", "Minimum", "Neg", "Abs",
    "Sqrt", "Relu", "Exp", "Log", "Sigmoid", "Tanh", "Softplus", "Clip",
    "Softmax", "ReduceSum", "ReduceMean", "ReduceMax", "Transpose", "Reshape"};

static const char *const code_names[] = {
    "OK", "E_PARSE", "E_SCHEMA", "E_VERSION", "E_UNKNOWN_OP", "E_GRAPH",
    "E_SHAPE", "E_DATA", "E_LIMIT", "E_INPUT", "E_ARENA"};

const char *tsr_code_name(tsr_code code)
{
    if ((int)code < 0 || (int)code > (int)TSR_E_ARENA)
        return "E_UNKNOWN";
    return code_names[code];
}

tsr_code tsr_fail(tsr_error *err, tsr_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->name = tsr_code_name(code);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- loader state ---- */
typedef struct {
    const char *s;
    size_t n;
    unsigned char *arena; /* NULL: measure mode */
    size_t cap, used;
    int newer;            /* file is 1.m with m > 0 */
    char ver[40];
    tsr_error *err;
    size_t graph, g_in, g_out, g_init, g_nodes; /* offsets of the arrays */
    size_t n_in, n_out, n_init, n_nodes, n_symdims;
    int any_tb;
    uint64_t total_init;
    tsr_model *m;
    int32_t *names_tab; size_t names_cap; /* hash of value names */
    int32_t *sym_tab; size_t sym_cap;     /* hash of symbol ids */
    int32_t *sym_first;                    /* symbol id -> input value id */
    int32_t *sym_dim;                      /* symbol id -> dim index */
    size_t syms_cap;
} ld;

/* Bump allocation with checked arithmetic. Measure mode only counts. */
static void *alloc(ld *L, size_t size, size_t align)
{
    size_t at = (L->used + (align - 1)) & ~(align - 1);
    void *p;
    if (at < L->used || size > (size_t)-1 - at) {
        L->used = (size_t)-1;
        return NULL;
    }
    if (!L->arena) {
        L->used = at + size;
        return NULL;
    }
    if (at + size > L->cap)
        return NULL;
    p = L->arena + at;
    L->used = at + size;
    return p;
}

#define NEED(p)                                                              \
    do {                                                                     \
        if (L->arena && !(p))                                                \
            return tsr_fail(L->err, TSR_E_ARENA, "arena too small");        \
    } while (0)

/* Printable ASCII copy of a JSON string, for messages. */
static const char *show(const ld *L, size_t at, char *buf, size_t cap)
{
    size_t p = at + 1, k = 0;
    int32_t c;
    if (at == TJ_NONE || tj_type(L->s, at) != TJ_STR)
        return "?";
    while ((c = tj_cp(L->s, &p)) >= 0 && k + 1 < cap)
        buf[k++] = (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') ? (char)c : '?';
    buf[k] = 0;
    return buf;
}

/* ---- small JSON predicates ---- */
/* Next code point of the JSON string body at *pi: plain ASCII bytes directly
 * (base64 text is all ASCII), escapes and the rest through tj_cp. */
static int32_t string_cp(const char *s, size_t *pi)
{
    unsigned char c = (unsigned char)s[*pi];
    if (c != '\\' && c != '"' && c < 0x80) {
        (*pi)++;
        return c;
    }
    return tj_cp(s, pi);
}

/* Base64 value of each ASCII byte, -1 for the rest; built on the caller's
 * stack (no global state), a lookup instead of a chain of range tests. */
static void b64_table(signed char t[128])
{
    int i;
    for (i = 0; i < 128; i++)
        t[i] = -1;
    for (i = 0; i < 26; i++) {
        t['A' + i] = (signed char)i;
        t['a' + i] = (signed char)(26 + i);
    }
    for (i = 0; i < 10; i++)
        t['0' + i] = (signed char)(52 + i);
    t['+'] = 62;
    t['/'] = 63;
}

#define B64VAL(t, c) ((c) >= 0 && (c) < 128 ? (t)[c] : -1)

static int is_int(double d)
{
    if (d != d || d - d != 0.0)
        return 0;
    if (d >= 4503599627370496.0 || d <= -4503599627370496.0)
        return 1;
    return (double)(int64_t)d == d;
}

/* Integral value clamped to +-2^40 (enough for every range check). */
static int64_t clamp_i(double d)
{
    if (d > 1099511627776.0)
        return 1099511627776LL;
    if (d < -1099511627776.0)
        return -1099511627776LL;
    return (int64_t)d;
}

static int is_name_char(int32_t c, int first, int sym)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
        return 1;
    if (first)
        return 0;
    if (c >= '0' && c <= '9')
        return 1;
    return !sym && (c == '.' || c == ':' || c == '/' || c == '-');
}

/* String at i matches the name (sym = 0) or symbol (sym = 1) pattern. */
static int str_pattern(const char *s, size_t i, int sym)
{
    size_t p = i + 1;
    int32_t c;
    int first = 1;
    if (tj_type(s, i) != TJ_STR)
        return 0;
    while ((c = tj_cp(s, &p)) >= 0) {
        if (!is_name_char(c, first, sym))
            return 0;
        first = 0;
    }
    return !first;
}

static int is_type(const char *s, size_t i, int t)
{
    return i != TJ_NONE && tj_type(s, i) == t;
}

static int is_bool(const char *s, size_t i)
{
    return is_type(s, i, TJ_TRUE) || is_type(s, i, TJ_FALSE);
}

/* Object at obj has only keys from the NULL-terminated list. Returns the
 * offset of the first other key, or TJ_NONE. */
/* One pass over the object at obj: vals[j] (when vals is given) receives the
 * value of member keys[j] or TJ_NONE; returns the first member whose key is
 * not listed (the object is closed when that is TJ_NONE). One pass matters:
 * every lookup skips the members before it, and tensors are megabytes. */
static size_t fields(const ld *L, size_t obj, const char *const *keys, size_t *vals)
{
    size_t it = obj, k, v, unknown = TJ_NONE, j;
    for (j = 0; vals && keys[j]; j++)
        vals[j] = TJ_NONE;
    while (tj_next(L->s, L->n, &it, 1, &k, &v)) {
        for (j = 0; keys[j]; j++)
            if (tj_str_eq(L->s, k, keys[j]))
                break;
        if (!keys[j]) {
            if (unknown == TJ_NONE)
                unknown = k;
        } else if (vals) {
            vals[j] = v;
        }
    }
    return unknown;
}

static size_t closed(const ld *L, size_t obj, const char *const *keys)
{
    return fields(L, obj, keys, NULL);
}

static int op_index(const char *s, size_t at)
{
    int o;
    if (!is_type(s, at, TJ_STR))
        return -1;
    for (o = 0; o < OP_COUNT; o++)
        if (tj_str_eq(s, at, tsr_op_names[o]))
            return o;
    return -1;
}

static int op_arity(int op)
{
    return op <= OP_MINIMUM ? 2 : 1;
}

/* Node label for messages: name if present, else "node #i". */
static const char *node_label(const ld *L, size_t node, size_t idx, char *buf, size_t cap)
{
    size_t nm = tj_get(L->s, L->n, node, "name");
    char tmp[96], opb[40];
    size_t op = tj_get(L->s, L->n, node, "op");
    if (is_type(L->s, nm, TJ_STR))
        snprintf(buf, cap, "node '%s' (%s)", show(L, nm, tmp, sizeof tmp),
                 show(L, op, opb, sizeof opb));
    else
        snprintf(buf, cap, "node #%lu (%s)", (unsigned long)idx, show(L, op, opb, sizeof opb));
    return buf;
}

/* ---- step 4: schema ---- */
#define SCHEMA(...) return tsr_fail(L->err, TSR_E_SCHEMA, __VA_ARGS__)

static tsr_code schema_shape(ld *L, size_t shp, int allow_sym, const char *what)
{
    size_t it = shp, v;
    if (!is_type(L->s, shp, TJ_ARR))
        SCHEMA("%s: shape must be an array", what);
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        if (tj_type(L->s, v) == TJ_NUM) {
            double d = tj_num(L->s, v);
            if (!is_int(d) || d < 1)
                SCHEMA("%s: dimension must be an integer >= 1", what);
        } else if (!(allow_sym && str_pattern(L->s, v, 1))) {
            SCHEMA("%s: bad dimension", what);
        }
    }
    return TSR_OK;
}

static const char *const value_keys[] = {"name", "dtype", "shape", NULL};
static const char *const init_keys[] = {"name", "dtype", "shape", "data", "data_b64", "checksum", NULL};

static tsr_code schema_value(ld *L, size_t v, int init, size_t idx, const char *kind)
{
    char what[320], nb[280];
    size_t f[6], nm, dt, sh, data, b64, ck, k;
    snprintf(what, sizeof what, "%s #%lu", kind, (unsigned long)idx);
    if (!is_type(L->s, v, TJ_OBJ))
        SCHEMA("%s must be an object", what);
    k = fields(L, v, init ? init_keys : value_keys, f);
    nm = f[0], dt = f[1], sh = f[2];
    if (nm != TJ_NONE)
        snprintf(what, sizeof what, "%s '%s'", kind, show(L, nm, nb, sizeof nb));
    if (k != TJ_NONE)
        SCHEMA("%s: unknown field '%s'", what, show(L, k, nb, 64));
    if (nm == TJ_NONE || dt == TJ_NONE || sh == TJ_NONE)
        SCHEMA("%s: name, dtype and shape are required", what);
    if (!str_pattern(L->s, nm, 0))
        SCHEMA("%s: bad name", what);
    if (!is_type(L->s, dt, TJ_STR) || !tj_str_eq(L->s, dt, "float32"))
        SCHEMA("%s: dtype must be \"float32\"", what);
    if (schema_shape(L, sh, !init, what))
        return TSR_E_SCHEMA;
    if (!init)
        return TSR_OK;
    data = f[3], b64 = f[4], ck = f[5];
    if ((data == TJ_NONE) == (b64 == TJ_NONE))
        SCHEMA("%s: exactly one of data and data_b64 is required", what);
    if (data != TJ_NONE) {
        size_t it = data, e;
        if (!is_type(L->s, data, TJ_ARR))
            SCHEMA("%s: data must be an array", what);
        while (tj_next(L->s, L->n, &it, 0, NULL, &e))
            if (tj_type(L->s, e) != TJ_NUM)
                SCHEMA("%s: data holds a non-number", what);
    } else {
        size_t p, pads = 0;
        int32_t c;
        signed char val[128];
        if (!is_type(L->s, b64, TJ_STR))
            SCHEMA("%s: data_b64 must be a string", what);
        b64_table(val);
        for (p = b64 + 1; (c = string_cp(L->s, &p)) >= 0;) {
            int ok = B64VAL(val, c) >= 0;
            if (c == '=')
                pads++;
            else if (!ok || pads)
                SCHEMA("%s: data_b64 has characters outside base64", what);
        }
        if (pads > 2)
            SCHEMA("%s: data_b64 has characters outside base64", what);
    }
    if (ck != TJ_NONE) {
        static const char hex[] = "0123456789abcdef";
        size_t p;
        int32_t c;
        int cnt = 0;
        if (!is_type(L->s, ck, TJ_STR))
            SCHEMA("%s: checksum must be a string", what);
        for (p = ck + 1; (c = tj_cp(L->s, &p)) >= 0; cnt++) {
            if (cnt < 6 ? c != "crc32:"[cnt] : (c == 0 || c > 127 || !strchr(hex, (int)c)))
                SCHEMA("%s: checksum must be crc32: and 8 lowercase hex digits", what);
        }
        if (cnt != 14)
            SCHEMA("%s: checksum must be crc32: and 8 lowercase hex digits", what);
    }
    return TSR_OK;
}

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

/* An array of integers (>= 0 when nonneg), distinct, with min..8 entries
 * (SPEC 6: axes and perm hold at most 8, the maximum rank), so the
 * uniqueness check below stays tiny. */
static int int_array(const ld *L, size_t arr, int nonneg, size_t min)
{
    size_t it = arr, v, cnt = 0;
    if (!is_type(L->s, arr, TJ_ARR))
        return 0;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        double d;
        if (tj_type(L->s, v) != TJ_NUM)
            return 0;
        d = tj_num(L->s, v);
        if (!is_int(d) || (nonneg && d < 0))
            return 0;
        cnt++;
    }
    if (cnt < min || cnt > 8)
        return 0;
    return unique_nums(L, arr);
}

static tsr_code schema_attrs(ld *L, int op, size_t attrs, const char *who)
{
    static const char *const none[] = {NULL};
    static const char *const mm[] = {"transpose_a", "transpose_b", NULL};
    static const char *const clip[] = {"min", "max", NULL};
    static const char *const sm[] = {"axis", NULL};
    static const char *const red[] = {"axes", "keepdims", NULL};
    static const char *const tr[] = {"perm", NULL};
    static const char *const rs[] = {"shape", NULL};
    const char *const *keys = none;
    size_t k, a, b;
    char kb[64];
    if (attrs == TJ_NONE) {
        if (op == OP_RESHAPE)
            SCHEMA("%s: attribute 'shape' is required", who);
        return TSR_OK;
    }
    switch (op) {
    case OP_MATMUL: keys = mm; break;
    case OP_CLIP: keys = clip; break;
    case OP_SOFTMAX: keys = sm; break;
    case OP_RSUM: case OP_RMEAN: case OP_RMAX: keys = red; break;
    case OP_TRANSPOSE: keys = tr; break;
    case OP_RESHAPE: keys = rs; break;
    default: break;
    }
    if ((k = closed(L, attrs, keys)) != TJ_NONE)
        SCHEMA("%s: unknown attribute '%s'", who, show(L, k, kb, sizeof kb));
    switch (op) {
    case OP_MATMUL:
        a = tj_get(L->s, L->n, attrs, "transpose_a");
        b = tj_get(L->s, L->n, attrs, "transpose_b");
        if ((a != TJ_NONE && !is_bool(L->s, a)) || (b != TJ_NONE && !is_bool(L->s, b)))
            SCHEMA("%s: transpose_a/transpose_b must be booleans", who);
        break;
    case OP_CLIP: {
        float lo = -HUGE_VALF, hi = HUGE_VALF;
        a = tj_get(L->s, L->n, attrs, "min");
        b = tj_get(L->s, L->n, attrs, "max");
        if ((a != TJ_NONE && !is_type(L->s, a, TJ_NUM)) || (b != TJ_NONE && !is_type(L->s, b, TJ_NUM)))
            SCHEMA("%s: min/max must be numbers", who);
        if (a != TJ_NONE)
            lo = (float)tj_num(L->s, a);
        if (b != TJ_NONE)
            hi = (float)tj_num(L->s, b);
        if ((a != TJ_NONE && lo - lo != 0.0f) || (b != TJ_NONE && hi - hi != 0.0f))
            SCHEMA("%s: min/max must be finite after rounding to float32", who);
        if (!(lo <= hi))
            SCHEMA("%s: min > max", who);
        break;
    }
    case OP_SOFTMAX:
        a = tj_get(L->s, L->n, attrs, "axis");
        if (a != TJ_NONE && !(is_type(L->s, a, TJ_NUM) && is_int(tj_num(L->s, a))))
            SCHEMA("%s: axis must be an integer", who);
        break;
    case OP_RSUM: case OP_RMEAN: case OP_RMAX:
        a = tj_get(L->s, L->n, attrs, "axes");
        b = tj_get(L->s, L->n, attrs, "keepdims");
        if (a != TJ_NONE && !int_array(L, a, 0, 1))
            SCHEMA("%s: axes must be a non-empty array of distinct integers", who);
        if (b != TJ_NONE && !is_bool(L->s, b))
            SCHEMA("%s: keepdims must be a boolean", who);
        break;
    case OP_TRANSPOSE:
        a = tj_get(L->s, L->n, attrs, "perm");
        if (a != TJ_NONE && !int_array(L, a, 1, 0))
            SCHEMA("%s: perm must be an array of distinct integers >= 0", who);
        break;
    case OP_RESHAPE: {
        size_t it, v;
        int negs = 0;
        a = tj_get(L->s, L->n, attrs, "shape");
        if (a == TJ_NONE)
            SCHEMA("%s: attribute 'shape' is required", who);
        if (!is_type(L->s, a, TJ_ARR))
            SCHEMA("%s: shape must be an array", who);
        it = a;
        while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
            if (tj_type(L->s, v) == TJ_NUM) {
                double d = tj_num(L->s, v);
                if (d == -1.0)
                    negs++;
                else if (!is_int(d) || d < 1)
                    SCHEMA("%s: bad shape entry", who);
            } else if (!str_pattern(L->s, v, 1)) {
                SCHEMA("%s: bad shape entry", who);
            }
        }
        if (negs > 1)
            SCHEMA("%s: -1 may appear at most once in shape", who);
        break;
    }
    default:
        break;
    }
    return TSR_OK;
}

static const char *const node_keys[] = {"name", "op", "inputs", "outputs", "attrs", NULL};

static tsr_code schema_node(ld *L, size_t nd, size_t idx)
{
    char who[200], kb[64];
    size_t k, op, ins, outs, attrs, nm, it, v, cnt = 0;
    int o;
    if (!is_type(L->s, nd, TJ_OBJ))
        SCHEMA("node #%lu must be an object", (unsigned long)idx);
    node_label(L, nd, idx, who, sizeof who);
    if ((k = closed(L, nd, node_keys)) != TJ_NONE)
        SCHEMA("%s: unknown field '%s'", who, show(L, k, kb, sizeof kb));
    op = tj_get(L->s, L->n, nd, "op");
    ins = tj_get(L->s, L->n, nd, "inputs");
    outs = tj_get(L->s, L->n, nd, "outputs");
    attrs = tj_get(L->s, L->n, nd, "attrs");
    nm = tj_get(L->s, L->n, nd, "name");
    if (op == TJ_NONE || ins == TJ_NONE || outs == TJ_NONE)
        SCHEMA("%s: op, inputs and outputs are required", who);
    if (nm != TJ_NONE && !is_type(L->s, nm, TJ_STR))
        SCHEMA("%s: name must be a string", who);
    if (!is_type(L->s, op, TJ_STR))
        SCHEMA("%s: op must be a string", who);
    {
        size_t p = op + 1;
        int32_t c;
        int first = 1;
        while ((c = tj_cp(L->s, &p)) >= 0) {
            int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (!first && ((c >= '0' && c <= '9') || c == '_'));
            if (!ok)
                SCHEMA("%s: bad op name", who);
            first = 0;
        }
        if (first)
            SCHEMA("%s: bad op name", who);
    }
    if (!is_type(L->s, ins, TJ_ARR) || !is_type(L->s, outs, TJ_ARR))
        SCHEMA("%s: inputs and outputs must be arrays", who);
    it = ins;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        if (!str_pattern(L->s, v, 0))
            SCHEMA("%s: bad input name", who);
        cnt++;
    }
    if (tj_count(L->s, L->n, outs) != 1)
        SCHEMA("%s: exactly one output is required", who);
    it = outs;
    tj_next(L->s, L->n, &it, 0, NULL, &v);
    if (!str_pattern(L->s, v, 0))
        SCHEMA("%s: bad output name", who);
    if (attrs != TJ_NONE && !is_type(L->s, attrs, TJ_OBJ))
        SCHEMA("%s: attrs must be an object", who);
    o = op_index(L->s, op);
    if (o < 0)
        return TSR_OK; /* unknown ops pass the schema (E_UNKNOWN_OP later) */
    if (cnt != (size_t)op_arity(o))
        SCHEMA("%s: takes %d inputs, got %lu", who, op_arity(o), (unsigned long)cnt);
    return schema_attrs(L, o, attrs, who);
}

static tsr_code schema_array(ld *L, size_t arr, const char *what, size_t min,
                             tsr_code (*each)(ld *, size_t, size_t, const char *),
                             const char *kind)
{
    size_t it = arr, v, i = 0;
    if (!is_type(L->s, arr, TJ_ARR))
        SCHEMA("graph.%s must be an array", what);
    if (tj_count(L->s, L->n, arr) < min)
        SCHEMA("graph.%s must not be empty", what);
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        tsr_code rc = each(L, v, i, kind);
        if (rc)
            return rc;
        i++;
    }
    return TSR_OK;
}

static tsr_code each_value(ld *L, size_t v, size_t i, const char *kind)
{
    return schema_value(L, v, 0, i, kind);
}

static tsr_code each_init(ld *L, size_t v, size_t i, const char *kind)
{
    return schema_value(L, v, 1, i, kind);
}

static tsr_code each_node(ld *L, size_t v, size_t i, const char *kind)
{
    (void)kind;
    return schema_node(L, v, i);
}

static const char *const top_keys[] = {"format", "format_version", "producer", "metadata", "graph", NULL};
static const char *const graph_keys[] = {"inputs", "outputs", "initializers", "nodes", NULL};
static const char *const prod_keys[] = {"name", "version", NULL};

/* format_version matches ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ; sets *major1
 * (major is exactly "1") and *minor0 (minor is exactly "0"). */
static int version_ok(const ld *L, size_t fv, int *major1, int *minor0)
{
    size_t p = fv + 1;
    int32_t c;
    int part = 0, digits[2] = {0, 0}, lead0[2] = {0, 0}, val1[2] = {1, 1};
    char firstc[2] = {0, 0};
    if (!is_type(L->s, fv, TJ_STR))
        return 0;
    while ((c = tj_cp(L->s, &p)) >= 0) {
        if (c == '.' && part == 0) {
            part = 1;
            continue;
        }
        if (c < '0' || c > '9')
            return 0;
        if (digits[part] == 0) {
            firstc[part] = (char)c;
            lead0[part] = c == '0';
        } else if (lead0[part]) {
            return 0;
        }
        digits[part]++;
    }
    if (part != 1 || !digits[0] || !digits[1])
        return 0;
    val1[0] = digits[0] == 1 && firstc[0] == '1';
    val1[1] = digits[1] == 1 && firstc[1] == '0';
    *major1 = val1[0];
    *minor0 = val1[1];
    return 1;
}

static tsr_code schema_top(ld *L)
{
    size_t top = tj_ws(L->s, L->n, 0), k, g, f, fv, pr, md, tf[5], gf[4];
    int a, b;
    char kb[64];
    if (!is_type(L->s, top, TJ_OBJ))
        SCHEMA("the document must be an object");
    if ((k = fields(L, top, top_keys, tf)) != TJ_NONE)
        SCHEMA("unknown top-level field '%s'", show(L, k, kb, sizeof kb));
    f = tf[0], fv = tf[1], pr = tf[2], md = tf[3], g = tf[4];
    if (f == TJ_NONE || fv == TJ_NONE || pr == TJ_NONE || g == TJ_NONE)
        SCHEMA("format, format_version, producer and graph are required");
    if (!is_type(L->s, f, TJ_STR) || !tj_str_eq(L->s, f, "tessera"))
        SCHEMA("format must be \"tessera\"");
    if (!version_ok(L, fv, &a, &b))
        SCHEMA("format_version must be MAJOR.MINOR");
    if (!is_type(L->s, pr, TJ_OBJ) || closed(L, pr, prod_keys) != TJ_NONE ||
        !is_type(L->s, tj_get(L->s, L->n, pr, "name"), TJ_STR) ||
        !is_type(L->s, tj_get(L->s, L->n, pr, "version"), TJ_STR))
        SCHEMA("producer must be {\"name\": string, \"version\": string}");
    if (md != TJ_NONE && !is_type(L->s, md, TJ_OBJ))
        SCHEMA("metadata must be an object");
    if (!is_type(L->s, g, TJ_OBJ))
        SCHEMA("graph must be an object");
    if ((k = fields(L, g, graph_keys, gf)) != TJ_NONE)
        SCHEMA("unknown graph field '%s'", show(L, k, kb, sizeof kb));
    L->g_in = gf[0], L->g_out = gf[1], L->g_init = gf[2], L->g_nodes = gf[3];
    if (L->g_in == TJ_NONE || L->g_out == TJ_NONE || L->g_init == TJ_NONE || L->g_nodes == TJ_NONE)
        SCHEMA("graph needs inputs, outputs, initializers and nodes");
    if (schema_array(L, L->g_in, "inputs", 1, each_value, "input") ||
        schema_array(L, L->g_out, "outputs", 1, each_value, "output") ||
        schema_array(L, L->g_init, "initializers", 0, each_init, "initializer") ||
        schema_array(L, L->g_nodes, "nodes", 1, each_node, ""))
        return TSR_E_SCHEMA;
    return TSR_OK;
}

/* ---- step 5: limits ---- */
#define LIMIT(...) return tsr_fail(L->err, TSR_E_LIMIT, __VA_ARGS__)

static size_t name_bytes(const ld *L, size_t at)
{
    int ascii;
    return tj_str_len(L->s, at, &ascii); /* names are ASCII by schema */
}

/* Rank, dims and integer element count of one declared shape. */
static tsr_code limit_shape(ld *L, size_t shp, const char *what, uint64_t *count)
{
    size_t it = shp, v, rank = 0;
    uint64_t c = 1;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        rank++;
        if (tj_type(L->s, v) == TJ_NUM) {
            double d = tj_num(L->s, v);
            if (d > (double)LIM_ELEMS)
                LIMIT("%s: dimension above 2^26", what);
            if (d < 1)
                continue; /* Reshape's -1 */
            c *= (uint64_t)d;
            if (c > (uint64_t)LIM_ELEMS)
                LIMIT("%s: element count above 2^26", what);
        } else {
            L->n_symdims++;
        }
    }
    if (rank > TSR_MAX_RANK)
        LIMIT("%s: more than 8 dimensions", what);
    if (count)
        *count = c;
    return TSR_OK;
}

static tsr_code limit_values(ld *L, size_t arr, const char *kind, int init)
{
    size_t it = arr, v, i = 0;
    char what[300], nb[280];
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        size_t nm = tj_get(L->s, L->n, v, "name");
        uint64_t c = 0;
        snprintf(what, sizeof what, "%s '%.200s'", kind, show(L, nm, nb, sizeof nb));
        if (name_bytes(L, nm) > LIM_NAME)
            LIMIT("%s #%lu: name longer than 256 bytes", kind, (unsigned long)i);
        if (limit_shape(L, tj_get(L->s, L->n, v, "shape"), what, &c))
            return TSR_E_LIMIT;
        if (init) {
            L->total_init += c;
            if (L->total_init > (uint64_t)LIM_ELEMS)
                LIMIT("initializers hold more than 2^26 elements in total (at %s)", what);
        }
        i++;
    }
    return TSR_OK;
}

static tsr_code limit_nodes(ld *L)
{
    size_t it = L->g_nodes, nd, i = 0;
    char who[200];
    while (tj_next(L->s, L->n, &it, 0, NULL, &nd)) {
        size_t it2 = tj_get(L->s, L->n, nd, "inputs"), v, at;
        while (tj_next(L->s, L->n, &it2, 0, NULL, &v))
            if (name_bytes(L, v) > LIM_NAME)
                LIMIT("%s: input name longer than 256 bytes", node_label(L, nd, i, who, sizeof who));
        it2 = tj_get(L->s, L->n, nd, "outputs");
        tj_next(L->s, L->n, &it2, 0, NULL, &v);
        if (name_bytes(L, v) > LIM_NAME)
            LIMIT("%s: output name longer than 256 bytes", node_label(L, nd, i, who, sizeof who));
        at = tj_get(L->s, L->n, nd, "attrs");
        if (op_index(L->s, tj_get(L->s, L->n, nd, "op")) == OP_RESHAPE &&
            limit_shape(L, tj_get(L->s, L->n, at, "shape"), node_label(L, nd, i, who, sizeof who), NULL))
            return TSR_E_LIMIT;
        if (op_index(L->s, tj_get(L->s, L->n, nd, "op")) == OP_MATMUL && at != TJ_NONE &&
            is_type(L->s, tj_get(L->s, L->n, at, "transpose_b"), TJ_TRUE))
            L->any_tb = 1;
        i++;
    }
    return TSR_OK;
}

static tsr_code limits(ld *L)
{
    L->n_in = tj_count(L->s, L->n, L->g_in);
    L->n_out = tj_count(L->s, L->n, L->g_out);
    L->n_init = tj_count(L->s, L->n, L->g_init);
    L->n_nodes = tj_count(L->s, L->n, L->g_nodes);
    if (L->n_in > 256 || L->n_out > 256)
        LIMIT("more than 256 graph inputs or outputs");
    if (L->n_nodes > 65536 || L->n_init > 65536)
        LIMIT("more than 65536 nodes or initializers");
    if (limit_values(L, L->g_in, "input", 0) || limit_values(L, L->g_out, "output", 0) ||
        limit_values(L, L->g_init, "initializer", 1))
        return TSR_E_LIMIT;
    return limit_nodes(L);
}

/* ---- step 6: unknown operators ---- */
static tsr_code unknown_ops(ld *L)
{
    size_t it = L->g_nodes, nd, i = 0;
    char who[200];
    while (tj_next(L->s, L->n, &it, 0, NULL, &nd)) {
        if (op_index(L->s, tj_get(L->s, L->n, nd, "op")) < 0)
            return tsr_fail(L->err, TSR_E_UNKNOWN_OP, "%s: unknown operator",
                            node_label(L, nd, i, who, sizeof who));
        i++;
    }
    return TSR_OK;
}

/* ---- names and symbols: open-addressing hash tables in the arena ---- */
static uint32_t hash_str(const char *p, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < 2 * n)
        c *= 2;
    return c;
}

/* Copy the (ASCII, schema-checked) string at json offset `at` to the arena. */
static const char *copy_str(ld *L, size_t at)
{
    int ascii;
    size_t len = tj_str_len(L->s, at, &ascii), p = at + 1, k = 0;
    char *d = (char *)alloc(L, len + 1, 1);
    int32_t c;
    if (!d)
        return NULL;
    while ((c = tj_cp(L->s, &p)) >= 0)
        d[k++] = (char)c;
    d[k] = 0;
    return d;
}

/* Find value id by name, or -1. */
static int32_t find_name(const ld *L, const char *name)
{
    size_t mask = L->names_cap - 1, h = hash_str(name, strlen(name)) & mask;
    while (L->names_tab[h] >= 0) {
        if (!strcmp(L->m->values[L->names_tab[h]].name, name))
            return L->names_tab[h];
        h = (h + 1) & mask;
    }
    return -1;
}

static int insert_name(ld *L, int32_t id)
{
    const char *name = L->m->values[id].name;
    size_t mask = L->names_cap - 1, h = hash_str(name, strlen(name)) & mask;
    while (L->names_tab[h] >= 0) {
        if (!strcmp(L->m->values[L->names_tab[h]].name, name))
            return 0;
        h = (h + 1) & mask;
    }
    L->names_tab[h] = id;
    return 1;
}

/* Symbol id for the string at json offset `at`, interning it. */
static int32_t sym_id(ld *L, size_t at)
{
    size_t mask = L->sym_cap - 1, h, p = at + 1, k = 0;
    char buf[1024];
    int32_t c;
    while ((c = tj_cp(L->s, &p)) >= 0 && k + 1 < sizeof buf)
        buf[k++] = (char)c;
    buf[k] = 0;
    h = hash_str(buf, k) & mask;
    while (L->sym_tab[h] >= 0) {
        if (!strcmp(L->m->syms[L->sym_tab[h]], buf))
            return L->sym_tab[h];
        h = (h + 1) & mask;
    }
    if ((size_t)L->m->n_syms >= L->syms_cap)
        return -1;
    {
        char *d = (char *)alloc(L, k + 1, 1);
        if (!d)
            return -1;
        memcpy(d, buf, k + 1);
        L->m->syms[L->m->n_syms] = d;
    }
    L->sym_tab[h] = L->m->n_syms;
    return L->m->n_syms++;
}

/* Parse a declared shape into sh (symbols interned). */
static int read_shape(ld *L, size_t shp, tsr_shape *sh)
{
    size_t it = shp, v;
    sh->rank = 0;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        int32_t d;
        if (tj_type(L->s, v) == TJ_NUM) {
            d = (int32_t)tj_num(L->s, v);
        } else {
            int32_t id = sym_id(L, v);
            if (id < 0)
                return 0;
            d = -id - 1;
        }
        sh->dim[sh->rank++] = d;
    }
    return 1;
}

/* ---- step 7: initializer data ---- */
/* CRC-32 (IEEE, reflected) four bits at a time: a 16-entry table built on
 * the stack by the caller (crc32_table), 4x fewer steps than bit by bit. */
static void crc32_table(uint32_t t[16])
{
    uint32_t i, c;
    int k;
    for (i = 0; i < 16; i++) {
        c = i;
        for (k = 0; k < 4; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        t[i] = c;
    }
}

static uint32_t crc32_update(const uint32_t t[16], uint32_t crc, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        crc = (crc >> 4) ^ t[(crc ^ p[i]) & 15u];
        crc = (crc >> 4) ^ t[(crc ^ ((unsigned)p[i] >> 4)) & 15u];
    }
    return crc;
}

/* Decode base64 (RFC 4648, '=' padding required) into out[0..cap). Returns
 * the decoded length, or (size_t)-1 if malformed or not exactly cap bytes. */
size_t tsr_b64_decode(const char *s, size_t at, unsigned char *out, size_t cap);
size_t tsr_b64_decode(const char *s, size_t at, unsigned char *out, size_t cap)
{
    size_t p = at + 1, o = 0, pads = 0;
    int32_t c, q[4];
    int nq = 0;
    signed char val[128];
    b64_table(val);
    while ((c = string_cp(s, &p)) >= 0) {
        if (c == '=') {
            pads++;
            q[nq++] = 0;
        } else {
            if (pads || B64VAL(val, c) < 0)
                return (size_t)-1;
            q[nq++] = val[c];
        }
        if (nq == 4) {
            unsigned char b[3];
            size_t nb = 3 - pads, j;
            uint32_t w = ((uint32_t)q[0] << 18) | ((uint32_t)q[1] << 12) | ((uint32_t)q[2] << 6) | (uint32_t)q[3];
            if (pads > 2)
                return (size_t)-1; /* unused trailing bits are ignored (SPEC 3) */
            b[0] = (unsigned char)(w >> 16);
            b[1] = (unsigned char)(w >> 8);
            b[2] = (unsigned char)w;
            for (j = 0; j < nb; j++) {
                if (o >= cap)
                    return (size_t)-1;
                if (out)
                    out[o] = b[j];
                o++;
            }
            nq = 0;
        } else if (pads) {
            /* padding only in the last quantum: checked when it completes */
        }
    }
    if (nq != 0 || o != cap)
        return (size_t)-1;
    return o;
}

static tsr_code load_data(ld *L, size_t v, tsr_value *val, uint64_t count)
{
    size_t f[6], data, ck;
    float *d = (float *)alloc(L, (size_t)count * sizeof(float), 16);
    size_t i;
    NEED(d || count == 0);
    val->data = d;
    if (!L->arena)
        return TSR_OK;
    fields(L, v, init_keys, f);
    data = f[3], ck = f[5];
    if (data != TJ_NONE) { /* numbers only (schema step): one scan, parsing as it goes */
        size_t e = tj_ws(L->s, L->n, data + 1), end;
        i = 0;
        while (L->s[e] != ']') {
            double x = tj_num_end(L->s, e, &end);
            if (i < count)
                d[i] = (float)x;
            i++;
            e = tj_ws(L->s, L->n, end);
            if (L->s[e] == ',')
                e = tj_ws(L->s, L->n, e + 1);
        }
        if (i != count)
            return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': data has %lu values, shape needs %lu",
                            val->name, (unsigned long)i, (unsigned long)count);
    } else {
        if (tsr_b64_decode(L->s, f[4], (unsigned char *)d, (size_t)count * 4) == (size_t)-1)
            return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': data_b64 malformed or not 4 x %lu bytes",
                            val->name, (unsigned long)count);
        for (i = 0; i < count; i++) { /* little-endian bytes -> host floats */
            unsigned char *p = (unsigned char *)(d + i);
            uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
            memcpy(p, &u, 4);
        }
    }
    for (i = 0; i < count; i++)
        if (d[i] - d[i] != 0.0f)
            return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': element %lu is not finite",
                            val->name, (unsigned long)i);
    if (ck != TJ_NONE) {
        uint32_t crc = 0xFFFFFFFFu, want = 0, table[16];
        size_t p = ck + 1 + 6;
        int k;
        crc32_table(table);
        for (i = 0; i < count; i++) {
            uint32_t u;
            unsigned char b[4];
            memcpy(&u, d + i, 4);
            b[0] = (unsigned char)u; b[1] = (unsigned char)(u >> 8);
            b[2] = (unsigned char)(u >> 16); b[3] = (unsigned char)(u >> 24);
            crc = crc32_update(table, crc, b, 4);
        }
        for (k = 0; k < 8; k++) {
            int32_t c = tj_cp(L->s, &p);
            want = want * 16 + (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        if ((crc ^ 0xFFFFFFFFu) != want)
            return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': checksum mismatch", val->name);
    }
    return TSR_OK;
}

/* ---- building the model in the arena (steps 7-9) ---- */
static void read_attrs(ld *L, size_t nd, tsr_node *N)
{
    size_t at = tj_get(L->s, L->n, nd, "attrs"), a, it, v;
    N->lo = -HUGE_VALF;
    N->hi = HUGE_VALF;
    N->axis = -1;
    N->nperm = -1;
    N->rs_neg = -1;
    if (at == TJ_NONE)
        return;
    N->ta = is_type(L->s, tj_get(L->s, L->n, at, "transpose_a"), TJ_TRUE);
    N->tb = is_type(L->s, tj_get(L->s, L->n, at, "transpose_b"), TJ_TRUE);
    N->keepdims = is_type(L->s, tj_get(L->s, L->n, at, "keepdims"), TJ_TRUE);
    if ((a = tj_get(L->s, L->n, at, "min")) != TJ_NONE)
        N->lo = (float)tj_num(L->s, a);
    if ((a = tj_get(L->s, L->n, at, "max")) != TJ_NONE)
        N->hi = (float)tj_num(L->s, a);
    if ((a = tj_get(L->s, L->n, at, "axis")) != TJ_NONE)
        N->axis = clamp_i(tj_num(L->s, a));
    if ((a = tj_get(L->s, L->n, at, "axes")) != TJ_NONE) {
        it = a;
        while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
            if (N->naxes < TSR_MAX_RANK)
                N->axes[N->naxes] = clamp_i(tj_num(L->s, v));
            N->naxes++; /* may exceed 8: a shape error later */
        }
    }
    if ((a = tj_get(L->s, L->n, at, "perm")) != TJ_NONE) {
        N->nperm = 0;
        it = a;
        while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
            if (N->nperm < TSR_MAX_RANK)
                N->perm[N->nperm] = clamp_i(tj_num(L->s, v));
            N->nperm++;
        }
    }
    if (N->op == OP_RESHAPE && (a = tj_get(L->s, L->n, at, "shape")) != TJ_NONE) {
        it = a;
        while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
            int32_t d;
            if (tj_type(L->s, v) == TJ_NUM) {
                d = (int32_t)tj_num(L->s, v);
                if (d == -1)
                    N->rs_neg = N->rshape.rank;
            } else {
                d = -sym_id(L, v) - 1;
            }
            N->rshape.dim[N->rshape.rank++] = d;
        }
    }
}

/* Allocate everything; in load mode also fill values and decode data. */
static tsr_code build(ld *L)
{
    size_t nv = L->n_in + L->n_init + L->n_nodes, it, v, i, id = 0;
    tsr_model *m = (tsr_model *)alloc(L, sizeof *m, 16);
    tsr_code rc;
    NEED(m);
    L->m = m;
    L->names_cap = pow2_at_least(nv);
    L->syms_cap = L->n_symdims + 1;
    L->sym_cap = pow2_at_least(L->syms_cap);
    {
        tsr_value *vals = (tsr_value *)alloc(L, nv * sizeof *vals, 16);
        tsr_node *nodes = (tsr_node *)alloc(L, L->n_nodes * sizeof *nodes, 16);
        int32_t *ins = (int32_t *)alloc(L, L->n_in * 4, 4);
        int32_t *outs = (int32_t *)alloc(L, L->n_out * 4, 4);
        const char **syms = (const char **)alloc(L, L->syms_cap * sizeof(char *), 16);
        int32_t *tab = (int32_t *)alloc(L, L->names_cap * 4, 4);
        int32_t *stab = (int32_t *)alloc(L, pow2_at_least(L->syms_cap) * 4, 4);
        int32_t *sf = (int32_t *)alloc(L, L->syms_cap * 4, 4);
        int32_t *sd = (int32_t *)alloc(L, L->syms_cap * 4, 4);
        NEED(vals && nodes && ins && outs && syms && tab && stab && sf && sd);
        if (L->arena) {
            memset(m, 0, sizeof *m);
            memset(vals, 0, nv * sizeof *vals);
            memset(nodes, 0, L->n_nodes * sizeof *nodes);
            memset(tab, 0xFF, L->names_cap * 4);
            memset(stab, 0xFF, pow2_at_least(L->syms_cap) * 4);
            memset(sf, 0xFF, L->syms_cap * 4);
            m->values = vals;
            m->nodes = nodes;
            m->inputs = ins;
            m->outputs = outs;
            m->syms = syms;
            m->n_values = (int32_t)nv;
            m->n_nodes = (int32_t)L->n_nodes;
            m->n_inputs = (int32_t)L->n_in;
            m->n_outputs = (int32_t)L->n_out;
            L->names_tab = tab;
            L->sym_tab = stab;
            L->sym_first = sf;
            L->sym_dim = sd;
        }
    }
    /* names and strings: sized exactly in both modes */
    for (i = 0; i < 3; i++) {
        size_t arr = i == 0 ? L->g_in : i == 1 ? L->g_init : L->g_nodes;
        it = arr;
        while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
            size_t nm;
            if (i == 2) {
                size_t o = tj_get(L->s, L->n, v, "outputs");
                tj_next(L->s, L->n, &o, 0, NULL, &nm);
            } else {
                nm = tj_get(L->s, L->n, v, "name");
            }
            if (!L->arena) {
                int ascii;
                alloc(L, tj_str_len(L->s, nm, &ascii) + 1, 1);
                if (i == 2 && (nm = tj_get(L->s, L->n, v, "name")) != TJ_NONE)
                    alloc(L, tj_str_len(L->s, nm, &ascii) + 1, 1);
                continue;
            }
            m->values[id].name = copy_str(L, nm);
            NEED(m->values[id].name);
            m->values[id].kind = i == 0 ? V_INPUT : i == 1 ? V_INIT : V_NODE;
            if (i == 2) {
                tsr_node *N = &m->nodes[id - L->n_in - L->n_init];
                nm = tj_get(L->s, L->n, v, "name");
                if (nm != TJ_NONE) {
                    /* labels are free text: keep a printable copy */
                    char tmp[200];
                    size_t len;
                    char *d;
                    show(L, nm, tmp, sizeof tmp);
                    len = strlen(tmp);
                    d = (char *)alloc(L, len + 1, 1);
                    NEED(d);
                    memcpy(d, tmp, len + 1);
                    N->label = d;
                }
            }
            id++;
        }
    }
    if (!L->arena) {
        /* symbol strings (upper bound: every occurrence distinct) */
        alloc(L, L->n_symdims * 1025, 1);
    }
    /* shapes of inputs (symbols interned first, in order) and initializers */
    if (L->arena) {
        id = 0;
        it = L->g_in;
        while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
            tsr_value *val = &m->values[id];
            int32_t d;
            if (!read_shape(L, tj_get(L->s, L->n, v, "shape"), &val->shape))
                return tsr_fail(L->err, TSR_E_ARENA, "arena too small");
            for (d = 0; d < val->shape.rank; d++) {
                int32_t sid = -val->shape.dim[d] - 1;
                if (sid >= 0 && L->sym_first[sid] < 0) {
                    L->sym_first[sid] = (int32_t)id;
                    L->sym_dim[sid] = d;
                }
            }
            m->inputs[id] = (int32_t)id;
            id++;
        }
    }
    {
        uint64_t count;
        size_t k = 0;
        it = L->g_init;
        while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
            tsr_value *val = L->arena ? &m->values[L->n_in + k] : NULL;
            tsr_shape sh;
            size_t sit = tj_get(L->s, L->n, v, "shape"), e;
            count = 1;
            sh.rank = 0;
            while (tj_next(L->s, L->n, &sit, 0, NULL, &e)) {
                sh.dim[sh.rank] = (int32_t)tj_num(L->s, e);
                count *= (uint64_t)sh.dim[sh.rank++];
            }
            if (val)
                val->shape = sh;
            {
                tsr_value dummy;
                memset(&dummy, 0, sizeof dummy);
                rc = load_data(L, v, val ? val : &dummy, count);
                if (rc)
                    return rc;
            }
            if (L->any_tb) { /* room for a transposed copy (MatMul transpose_b) */
                float *t = (float *)alloc(L, (size_t)count * sizeof(float), 16);
                NEED(t || count == 0);
                if (val)
                    val->tbuf = t;
            }
            k++;
        }
    }
    return TSR_OK;
}

/* ---- step 8: graph ---- */
static tsr_code graph(ld *L)
{
    tsr_model *m = L->m;
    size_t it, nd, v, k = 0;
    int32_t i, j;
    for (i = 0; i < (int32_t)(L->n_in + L->n_init); i++)
        if (!insert_name(L, i))
            return tsr_fail(L->err, TSR_E_GRAPH, "duplicate name '%s'", m->values[i].name);
    it = L->g_nodes;
    while (tj_next(L->s, L->n, &it, 0, NULL, &nd)) {
        tsr_node *N = &m->nodes[k];
        size_t in = tj_get(L->s, L->n, nd, "inputs");
        char who[200], nb[280];
        N->index = (int32_t)k;
        N->op = op_index(L->s, tj_get(L->s, L->n, nd, "op"));
        N->out = (int32_t)(L->n_in + L->n_init + k);
        node_label(L, nd, k, who, sizeof who);
        while (tj_next(L->s, L->n, &in, 0, NULL, &v)) {
            int32_t id;
            show(L, v, nb, sizeof nb);
            id = find_name(L, nb);
            if (id < 0)
                return tsr_fail(L->err, TSR_E_GRAPH, "%s: input '%s' is not defined before use", who, nb);
            N->in[N->nin++] = id;
        }
        read_attrs(L, nd, N);
        if (!insert_name(L, N->out))
            return tsr_fail(L->err, TSR_E_GRAPH, "%s: duplicate name '%s'", who, m->values[N->out].name);
        k++;
    }
    it = L->g_out;
    k = 0;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        char nb[280];
        int32_t id;
        show(L, tj_get(L->s, L->n, v, "name"), nb, sizeof nb);
        id = find_name(L, nb);
        if (id < 0)
            return tsr_fail(L->err, TSR_E_GRAPH, "output '%s' is not defined", nb);
        for (j = 0; j < (int32_t)k; j++)
            if (m->outputs[j] == id)
                return tsr_fail(L->err, TSR_E_GRAPH, "output '%s' listed twice", nb);
        m->outputs[k++] = id;
    }
    return TSR_OK;
}

/* ---- step 9: shapes ---- */
#define SHAPE(...) return tsr_fail(L->err, TSR_E_SHAPE, __VA_ARGS__)

static const char *nlabel(const tsr_node *N, char *buf, size_t cap)
{
    if (N->label)
        snprintf(buf, cap, "node '%s' (%s)", N->label, tsr_op_names[N->op]);
    else
        snprintf(buf, cap, "node #%ld (%s)", (long)N->index, tsr_op_names[N->op]);
    return buf;
}

static int norm_axis(int64_t a, int32_t r, int32_t *out)
{
    if (a < -(int64_t)r || a >= r)
        return 0;
    *out = (int32_t)(a < 0 ? a + r : a);
    return 1;
}

static tsr_code infer(ld *L, tsr_node *N, tsr_shape *o)
{
    const tsr_shape *a = &L->m->values[N->in[0]].shape;
    const tsr_shape *b = N->nin > 1 ? &L->m->values[N->in[1]].shape : a;
    char who[200];
    int32_t d, r = a->rank;
    nlabel(N, who, sizeof who);
    *o = *a;
    switch (N->op) {
    case OP_MATMUL: {
        int32_t M, K1, K2, Nn;
        if (a->rank != 2 || b->rank != 2)
            SHAPE("%s: operands must be rank 2", who);
        M = N->ta ? a->dim[1] : a->dim[0];
        K1 = N->ta ? a->dim[0] : a->dim[1];
        K2 = N->tb ? b->dim[1] : b->dim[0];
        Nn = N->tb ? b->dim[0] : b->dim[1];
        if (K1 != K2)
            SHAPE("%s: inner dimensions differ", who);
        o->rank = 2;
        o->dim[0] = M;
        o->dim[1] = Nn;
        return TSR_OK;
    }
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM:
        o->rank = a->rank > b->rank ? a->rank : b->rank;
        for (d = 0; d < o->rank; d++) {
            int32_t ia = d - (o->rank - a->rank), ib = d - (o->rank - b->rank);
            int32_t x = ia >= 0 ? a->dim[ia] : 1, y = ib >= 0 ? b->dim[ib] : 1;
            if (x != y && x != 1 && y != 1)
                SHAPE("%s: shapes do not broadcast (axis %ld)", who, (long)d);
            o->dim[d] = x == 1 ? y : x;
        }
        return TSR_OK;
    case OP_SOFTMAX:
        if (r < 1 || !norm_axis(N->axis, r, &d))
            SHAPE("%s: axis out of range", who);
        return TSR_OK;
    case OP_RSUM: case OP_RMEAN: case OP_RMAX: {
        int32_t red[TSR_MAX_RANK] = {0}, k;
        if (N->naxes > r)
            SHAPE("%s: more axes than dimensions", who);
        for (k = 0; k < N->naxes; k++) {
            if (!norm_axis(N->axes[k], r, &d) || red[d])
                SHAPE("%s: axis out of range or repeated", who);
            red[d] = 1;
        }
        o->rank = 0;
        for (d = 0; d < r; d++) {
            int reduced = N->naxes == 0 || red[d];
            if (!reduced)
                o->dim[o->rank++] = a->dim[d];
            else if (N->keepdims)
                o->dim[o->rank++] = 1;
        }
        return TSR_OK;
    }
    case OP_TRANSPOSE: {
        int32_t seen[TSR_MAX_RANK] = {0};
        if (N->nperm < 0) {
            N->nperm = r;
            for (d = 0; d < r; d++)
                N->perm[d] = r - 1 - d;
        }
        if (N->nperm != r)
            SHAPE("%s: perm does not match rank %ld", who, (long)r);
        for (d = 0; d < r; d++) {
            if (N->perm[d] < 0 || N->perm[d] >= r || seen[N->perm[d]])
                SHAPE("%s: perm is not a permutation of 0..%ld", who, (long)r - 1);
            seen[N->perm[d]] = 1;
            o->dim[d] = a->dim[N->perm[d]];
        }
        return TSR_OK;
    }
    case OP_RESHAPE: {
        int64_t P = 1, Q = 1;
        int32_t k, j, ca, cb;
        for (d = 0; d < r; d++) {
            if (a->dim[d] > 0) {
                P *= a->dim[d];
                continue;
            }
            ca = cb = 0;
            for (j = 0; j < r; j++)
                ca += a->dim[j] == a->dim[d];
            for (j = 0; j < N->rshape.rank; j++)
                cb += j != N->rs_neg && N->rshape.dim[j] == a->dim[d];
            if (ca != cb)
                SHAPE("%s: symbol '%s' must occur as often in shape as in the input", who,
                      L->m->syms[-a->dim[d] - 1]);
        }
        for (k = 0; k < N->rshape.rank; k++) {
            int32_t e = N->rshape.dim[k];
            if (e > 0) {
                Q *= e;
            } else if (e < -1 || (e == -1 && k != N->rs_neg)) {
                for (j = 0, ca = 0; j < r; j++)
                    ca += a->dim[j] == e;
                if (!ca)
                    SHAPE("%s: shape names a symbol the input does not have", who);
            }
            if (Q > LIM_ELEMS)
                SHAPE("%s: shape has more elements than the input", who);
        }
        if (N->rs_neg >= 0) {
            if (P % Q != 0)
                SHAPE("%s: cannot infer -1 (%ld elements into %ld)", who, (long)P, (long)Q);
            N->rshape.dim[N->rs_neg] = (int32_t)(P / Q);
        } else if (P != Q) {
            SHAPE("%s: element counts differ (%ld vs %ld)", who, (long)P, (long)Q);
        }
        *o = N->rshape;
        return TSR_OK;
    }
    default:
        return TSR_OK; /* elementwise unary: same shape */
    }
}

static int shape_eq(const tsr_shape *a, const tsr_shape *b)
{
    int32_t d;
    if (a->rank != b->rank)
        return 0;
    for (d = 0; d < a->rank; d++)
        if (a->dim[d] != b->dim[d])
            return 0;
    return 1;
}

static tsr_code shapes(ld *L)
{
    tsr_model *m = L->m;
    int32_t i, d;
    size_t it, v, k = 0;
    for (i = 0; i < m->n_nodes; i++) {
        tsr_node *N = &m->nodes[i];
        tsr_shape o;
        int64_t c = 1;
        char who[200];
        tsr_code rc = infer(L, N, &o);
        if (rc)
            return rc;
        for (d = 0; d < o.rank; d++)
            if (o.dim[d] > 0)
                c *= o.dim[d];
        if (c > LIM_ELEMS) /* every binding would exceed the limit */
            return tsr_fail(L->err, TSR_E_LIMIT, "%s: result has more than 2^26 elements",
                            nlabel(N, who, sizeof who));
        m->values[N->out].shape = o;
    }
    it = L->g_out;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        tsr_shape decl;
        if (!read_shape(L, tj_get(L->s, L->n, v, "shape"), &decl))
            return tsr_fail(L->err, TSR_E_ARENA, "arena too small");
        if (!shape_eq(&decl, &m->values[m->outputs[k]].shape))
            return tsr_fail(L->err, TSR_E_SHAPE, "output '%s': declared shape differs from the inferred one",
                            m->values[m->outputs[k]].name);
        k++;
    }
    return TSR_OK;
}

/* Pre-transpose initializer B operands of MatMul(transpose_b) once, so the
 * run uses the fast i-k-j kernel. Same values, same k order: exact. */
static void pretranspose(ld *L)
{
    int32_t i;
    for (i = 0; i < L->m->n_nodes; i++) {
        tsr_node *N = &L->m->nodes[i];
        tsr_value *b;
        if (N->op != OP_MATMUL || !N->tb)
            continue;
        b = &L->m->values[N->in[1]];
        if (b->kind != V_INIT || !b->tbuf)
            continue;
        if (b->shape.dim[0] > 0 && b->data != b->tbuf) {
            int32_t perm[2] = {1, 0};
            tsr_k_transpose(b->data, b->tbuf, 2, b->shape.dim, perm);
        }
        N->bt = b->tbuf;
    }
}

/* ---- the pipeline ---- */

/* SPEC 2: in a file of a newer minor, a schema violation or an unknown
 * operator may be something that minor added, so it becomes E_VERSION. */
static tsr_code newer_minor_as_version(ld *L, tsr_code rc, tsr_code code)
{
    char msg[256];
    if (rc != code || !L->newer)
        return rc;
    memcpy(msg, L->err->message, sizeof msg);
    msg[200] = 0;
    return tsr_fail(L->err, TSR_E_VERSION, "file is format %s; this runtime implements 1.0: %s", L->ver, msg);
}

static tsr_code pipeline(ld *L, size_t *scratch_need)
{
    size_t pos = 0, max_keys = 0;
    tsr_code rc;
    int major1 = 0, minor0 = 1;
    size_t top, fv;
    if (L->n > TSR_MAX_FILE_BYTES)
        return tsr_fail(L->err, TSR_E_LIMIT, "file is larger than 256 MiB");
    rc = tsr_json_validate(L->s, L->n, L->arena ? (uint32_t *)(void *)L->arena : NULL,
                           L->arena ? L->cap / 4 : 0, &max_keys, &pos);
    if (rc == TSR_E_ARENA)
        return tsr_fail(L->err, rc, "arena too small");
    if (rc)
        return tsr_fail(L->err, rc, rc == TSR_E_LIMIT ? "nesting deeper than 64 at byte %lu"
                                                      : "invalid JSON at byte %lu", (unsigned long)pos);
    if (scratch_need)
        *scratch_need = max_keys * 4;
    top = tj_ws(L->s, L->n, 0);
    if (tj_type(L->s, top) == TJ_OBJ && (fv = tj_get(L->s, L->n, top, "format_version")) != TJ_NONE &&
        version_ok(L, fv, &major1, &minor0)) {
        show(L, fv, L->ver, sizeof L->ver);
        if (!major1)
            return tsr_fail(L->err, TSR_E_VERSION, "file is format %s; this runtime implements 1.0", L->ver);
        L->newer = !minor0;
    }
    if ((rc = newer_minor_as_version(L, schema_top(L), TSR_E_SCHEMA)) != TSR_OK)
        return rc;
    if ((rc = limits(L)) != TSR_OK)
        return rc;
    if ((rc = newer_minor_as_version(L, unknown_ops(L), TSR_E_UNKNOWN_OP)) != TSR_OK)
        return rc;
    L->used = 0; /* the validator's scratch is no longer needed */
    if ((rc = build(L)) != TSR_OK)
        return rc;
    if (!L->arena)
        return TSR_OK;
    if ((rc = graph(L)) != TSR_OK || (rc = shapes(L)) != TSR_OK)
        return rc;
    L->m->sym_first = L->sym_first;
    L->m->sym_dim = L->sym_dim;
    pretranspose(L);
    return TSR_OK;
}

static void ld_init(ld *L, const char *json, size_t len, tsr_error *err)
{
    memset(L, 0, sizeof *L);
    L->s = json;
    L->n = len;
    L->err = err;
}

tsr_code tsr_model_size(const char *json, size_t len, size_t *bytes, tsr_error *err)
{
    ld L;
    tsr_error local;
    size_t scratch = 0;
    tsr_code rc;
    if (!err)
        err = &local;
    ld_init(&L, json, len, err);
    *bytes = 0;
    rc = pipeline(&L, &scratch);
    if (rc) {
        if (scratch) /* well-formed JSON: room for tsr_model_load's duplicate-key check */
            *bytes = scratch + 256;
        return rc;
    }
    if (L.used == (size_t)-1)
        return tsr_fail(err, TSR_E_LIMIT, "model size overflows size_t");
    /* slack for alignment differences between measuring and loading */
    *bytes = (L.used > scratch ? L.used : scratch) + 256;
    tsr_fail(err, TSR_OK, "ok");
    return TSR_OK;
}

tsr_code tsr_model_load(const char *json, size_t len, void *arena, size_t arena_len,
                        tsr_model **model, tsr_error *err)
{
    ld L;
    tsr_error local;
    tsr_code rc;
    if (!err)
        err = &local;
    ld_init(&L, json, len, err);
    L.arena = (unsigned char *)arena;
    L.cap = arena_len;
    *model = NULL;
    if (!arena || ((uintptr_t)arena & 7u))
        return tsr_fail(err, TSR_E_ARENA, "arena missing or not 8-byte aligned");
    rc = pipeline(&L, NULL);
    if (rc)
        return rc;
    *model = L.m;
    tsr_fail(err, TSR_OK, "ok");
    return TSR_OK;
}

tsr_code tsr_model_load_alloc(const char *json, size_t len, tsr_model **model, tsr_error *err)
{
    size_t bytes = 0;
    void *mem;
    tsr_error first, local;
    tsr_code rc = tsr_model_size(json, len, &bytes, &first), rc_size = rc;
    if (!err)
        err = &local;
    *model = NULL;
    if (rc && bytes == 0)
        return *err = first, rc;
    mem = malloc(bytes);
    if (!mem)
        return tsr_fail(err, TSR_E_LIMIT, "cannot allocate %lu bytes", (unsigned long)bytes);
    /* After a measuring failure this run only decides the code: a duplicate key outranks it. */
    rc = tsr_model_load(json, len, mem, bytes, model, err);
    if (rc_size && (rc == TSR_OK || rc == TSR_E_ARENA))
        rc = rc_size, *err = first;
    if (rc) {
        free(mem);
        *model = NULL;
        return rc;
    }
    (*model)->owned = 1;
    return TSR_OK;
}

void tsr_model_free(tsr_model *model)
{
    if (model && model->owned)
        free(model); /* the model struct is the first allocation of its arena */
}

int32_t tsr_model_num_inputs(const tsr_model *m) { return m->n_inputs; }
int32_t tsr_model_num_outputs(const tsr_model *m) { return m->n_outputs; }
const char *tsr_model_input_name(const tsr_model *m, int32_t i)
{
    return i >= 0 && i < m->n_inputs ? m->values[m->inputs[i]].name : NULL;
}
const char *tsr_model_output_name(const tsr_model *m, int32_t i)
{
    return i >= 0 && i < m->n_outputs ? m->values[m->outputs[i]].name : NULL;
}
