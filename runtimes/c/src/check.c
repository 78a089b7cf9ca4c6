/*
 * SPEC section 5, steps 4-6: schema (E_SCHEMA), limits (E_LIMIT), unknown
 * operators (E_UNKNOWN_OP). These steps read the validated JSON text in
 * place and need no memory, so tsr_model_size runs them too. Attributes are
 * checked by kind in attrs.c; an op is known by its row of the op table.
 */
#include <stdio.h>
#include <string.h>

#include "loader.h"

/* ---- step 4: schema ---- */
#define SCHEMA(...) return tsr_fail(L->err, TSR_E_SCHEMA, __VA_ARGS__)

static tsr_code schema_shape(ld *L, size_t shp, int allow_sym, const char *what)
{
    size_t it = shp, v;
    if (!ld_is_type(L->s, shp, TJ_ARR))
        SCHEMA("%s: shape must be an array", what);
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        if (tj_type(L->s, v) == TJ_NUM) {
            double d = tj_num(L->s, v);
            if (!tj_is_int(d) || d < 1)
                SCHEMA("%s: dimension must be an integer >= 1", what);
        } else if (!(allow_sym && ld_str_pattern(L->s, v, 1))) {
            SCHEMA("%s: bad dimension", what);
        }
    }
    return TSR_OK;
}

static const char *const value_keys[] = {"name", "dtype", "shape", NULL};

static tsr_code schema_value(ld *L, size_t v, int init, size_t idx, const char *kind)
{
    char what[320], nb[280];
    size_t f[6], nm, dt, sh, data, b64, ck, k;
    snprintf(what, sizeof what, "%s #%lu", kind, (unsigned long)idx);
    if (!ld_is_type(L->s, v, TJ_OBJ))
        SCHEMA("%s must be an object", what);
    k = ld_fields(L, v, init ? ld_init_keys : value_keys, f);
    nm = f[0], dt = f[1], sh = f[2];
    if (nm != TJ_NONE)
        snprintf(what, sizeof what, "%s '%s'", kind, ld_show(L, nm, nb, sizeof nb));
    if (k != TJ_NONE)
        SCHEMA("%s: unknown field '%s'", what, ld_show(L, k, nb, 64));
    if (nm == TJ_NONE || dt == TJ_NONE || sh == TJ_NONE)
        SCHEMA("%s: name, dtype and shape are required", what);
    if (!ld_str_pattern(L->s, nm, 0))
        SCHEMA("%s: bad name", what);
    if (!ld_is_type(L->s, dt, TJ_STR) || !(tj_str_eq(L->s, dt, "float32") || tj_str_eq(L->s, dt, "int32")))
        SCHEMA("%s: dtype must be \"float32\" or \"int32\"", what);
    if (schema_shape(L, sh, !init, what))
        return TSR_E_SCHEMA;
    if (!init)
        return TSR_OK;
    data = f[3], b64 = f[4], ck = f[5];
    if ((data == TJ_NONE) == (b64 == TJ_NONE))
        SCHEMA("%s: exactly one of data and data_b64 is required", what);
    if (data != TJ_NONE) {
        size_t it = data, e;
        if (!ld_is_type(L->s, data, TJ_ARR))
            SCHEMA("%s: data must be an array", what);
        while (tj_next(L->s, L->n, &it, 0, NULL, &e))
            if (tj_type(L->s, e) != TJ_NUM)
                SCHEMA("%s: data holds a non-number", what);
    } else {
        if (!ld_is_type(L->s, b64, TJ_STR))
            SCHEMA("%s: data_b64 must be a string", what);
        if (!ld_b64_chars_ok(L->s, b64))
            SCHEMA("%s: data_b64 has characters outside base64", what);
    }
    if (ck != TJ_NONE) {
        if (!ld_is_type(L->s, ck, TJ_STR))
            SCHEMA("%s: checksum must be a string", what);
        if (!ld_checksum_ok(L->s, ck))
            SCHEMA("%s: checksum must be crc32: and 8 lowercase hex digits", what);
    }
    return TSR_OK;
}

static const char *const node_keys[] = {"name", "op", "inputs", "outputs", "attrs", NULL};

static tsr_code schema_node(ld *L, size_t nd, size_t idx)
{
    char who[200], kb[64];
    size_t k, op, ins, outs, attrs, nm, it, v, cnt = 0;
    const tsr_op *o;
    if (!ld_is_type(L->s, nd, TJ_OBJ))
        SCHEMA("node #%lu must be an object", (unsigned long)idx);
    ld_node_label(L, nd, idx, who, sizeof who);
    if ((k = ld_fields(L, nd, node_keys, NULL)) != TJ_NONE)
        SCHEMA("%s: unknown field '%s'", who, ld_show(L, k, kb, sizeof kb));
    op = tj_get(L->s, L->n, nd, "op");
    ins = tj_get(L->s, L->n, nd, "inputs");
    outs = tj_get(L->s, L->n, nd, "outputs");
    attrs = tj_get(L->s, L->n, nd, "attrs");
    nm = tj_get(L->s, L->n, nd, "name");
    if (op == TJ_NONE || ins == TJ_NONE || outs == TJ_NONE)
        SCHEMA("%s: op, inputs and outputs are required", who);
    if (nm != TJ_NONE && !ld_is_type(L->s, nm, TJ_STR))
        SCHEMA("%s: name must be a string", who);
    if (!ld_is_type(L->s, op, TJ_STR))
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
    if (!ld_is_type(L->s, ins, TJ_ARR) || !ld_is_type(L->s, outs, TJ_ARR))
        SCHEMA("%s: inputs and outputs must be arrays", who);
    it = ins;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        if (!ld_str_pattern(L->s, v, 0))
            SCHEMA("%s: bad input name", who);
        cnt++;
    }
    if (tj_count(L->s, L->n, outs) != 1)
        SCHEMA("%s: exactly one output is required", who);
    it = outs;
    tj_next(L->s, L->n, &it, 0, NULL, &v);
    if (!ld_str_pattern(L->s, v, 0))
        SCHEMA("%s: bad output name", who);
    if (attrs != TJ_NONE && !ld_is_type(L->s, attrs, TJ_OBJ))
        SCHEMA("%s: attrs must be an object", who);
    o = tsr_op_find(L->s, op);
    if (!o || o->since > L->minor)
        return TSR_OK; /* unknown ops pass the schema (E_UNKNOWN_OP later), and so
                          do ops newer than the file's version (E_VERSION there) */
    if (cnt < (size_t)o->min_in || (o->max_in >= 0 && cnt > (size_t)o->max_in)) {
        if (o->min_in == o->max_in)
            SCHEMA("%s: takes %d inputs, got %lu", who, (int)o->min_in, (unsigned long)cnt);
        if (o->max_in < 0)
            SCHEMA("%s: takes at least %d inputs, got %lu", who, (int)o->min_in, (unsigned long)cnt);
        SCHEMA("%s: takes %d to %d inputs, got %lu", who, (int)o->min_in, (int)o->max_in, (unsigned long)cnt);
    }
    return ld_attrs_schema(L, o, attrs, who);
}

static tsr_code schema_array(ld *L, size_t arr, const char *what, size_t min, int kind)
{
    static const char *const names[] = {"input", "output", "initializer"};
    size_t it = arr, v, i = 0;
    if (!ld_is_type(L->s, arr, TJ_ARR))
        SCHEMA("graph.%s must be an array", what);
    if (tj_count(L->s, L->n, arr) < min)
        SCHEMA("graph.%s must not be empty", what);
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        tsr_code rc = kind < 0 ? schema_node(L, v, i) : schema_value(L, v, kind == 2, i, names[kind]);
        if (rc)
            return rc;
        i++;
    }
    return TSR_OK;
}

static const char *const top_keys[] = {"format", "format_version", "producer", "metadata", "graph", NULL};
static const char *const graph_keys[] = {"inputs", "outputs", "initializers", "nodes", NULL};
static const char *const prod_keys[] = {"name", "version", NULL};

/* format_version matches ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ; sets *major1
 * (major is exactly "1") and *minor (the minor number, saturated at 1000). */
int ld_version(const ld *L, size_t fv, int *major1, int32_t *minor)
{
    size_t p = fv + 1;
    int32_t c, mv = 0;
    int part = 0, digits[2] = {0, 0}, lead0[2] = {0, 0};
    char firstc = 0;
    if (!ld_is_type(L->s, fv, TJ_STR))
        return 0;
    while ((c = tj_cp(L->s, &p)) >= 0) {
        if (c == '.' && part == 0) {
            part = 1;
            continue;
        }
        if (c < '0' || c > '9')
            return 0;
        if (digits[part] == 0) {
            if (part == 0)
                firstc = (char)c;
            lead0[part] = c == '0';
        } else if (lead0[part]) {
            return 0;
        }
        if (part == 1 && mv < 1000)
            mv = mv * 10 + (c - '0');
        digits[part]++;
    }
    if (part != 1 || !digits[0] || !digits[1])
        return 0;
    *major1 = digits[0] == 1 && firstc == '1';
    *minor = mv < 1000 ? mv : 1000;
    return 1;
}

/* SPEC 2: at the end of the schema step, a file stamped 1.0 that declares
 * an int32 value or initializer is E_VERSION. */
static tsr_code older_dtypes(ld *L)
{
    static const char *const kinds[] = {"input", "output", "initializer"};
    size_t arr[3], it, v;
    char nb[280];
    int k;
    arr[0] = L->g_in, arr[1] = L->g_out, arr[2] = L->g_init;
    for (k = 0; k < 3; k++) {
        it = arr[k];
        while (tj_next(L->s, L->n, &it, 0, NULL, &v))
            if (tj_str_eq(L->s, tj_get(L->s, L->n, v, "dtype"), "int32"))
                return tsr_fail(L->err, TSR_E_VERSION, "%s '%s': dtype int32 needs format 1.1; the file is stamped %s",
                                kinds[k], ld_show(L, tj_get(L->s, L->n, v, "name"), nb, sizeof nb), L->ver);
    }
    return TSR_OK;
}

tsr_code ld_schema(ld *L)
{
    size_t top = tj_ws(L->s, L->n, 0), k, g, f, fv, pr, md, tf[5], gf[4];
    int a;
    int32_t b;
    char kb[64];
    if (!ld_is_type(L->s, top, TJ_OBJ))
        SCHEMA("the document must be an object");
    if ((k = ld_fields(L, top, top_keys, tf)) != TJ_NONE)
        SCHEMA("unknown top-level field '%s'", ld_show(L, k, kb, sizeof kb));
    f = tf[0], fv = tf[1], pr = tf[2], md = tf[3], g = tf[4];
    if (f == TJ_NONE || fv == TJ_NONE || pr == TJ_NONE || g == TJ_NONE)
        SCHEMA("format, format_version, producer and graph are required");
    if (!ld_is_type(L->s, f, TJ_STR) || !tj_str_eq(L->s, f, "tessera"))
        SCHEMA("format must be \"tessera\"");
    if (!ld_version(L, fv, &a, &b))
        SCHEMA("format_version must be MAJOR.MINOR");
    if (!ld_is_type(L->s, pr, TJ_OBJ) || ld_fields(L, pr, prod_keys, NULL) != TJ_NONE ||
        !ld_is_type(L->s, tj_get(L->s, L->n, pr, "name"), TJ_STR) ||
        !ld_is_type(L->s, tj_get(L->s, L->n, pr, "version"), TJ_STR))
        SCHEMA("producer must be {\"name\": string, \"version\": string}");
    if (md != TJ_NONE && !ld_is_type(L->s, md, TJ_OBJ))
        SCHEMA("metadata must be an object");
    if (!ld_is_type(L->s, g, TJ_OBJ))
        SCHEMA("graph must be an object");
    if ((k = ld_fields(L, g, graph_keys, gf)) != TJ_NONE)
        SCHEMA("unknown graph field '%s'", ld_show(L, k, kb, sizeof kb));
    L->g_in = gf[0], L->g_out = gf[1], L->g_init = gf[2], L->g_nodes = gf[3];
    if (L->g_in == TJ_NONE || L->g_out == TJ_NONE || L->g_init == TJ_NONE || L->g_nodes == TJ_NONE)
        SCHEMA("graph needs inputs, outputs, initializers and nodes");
    if (schema_array(L, L->g_in, "inputs", 1, 0) || schema_array(L, L->g_out, "outputs", 1, 1) ||
        schema_array(L, L->g_init, "initializers", 0, 2) || schema_array(L, L->g_nodes, "nodes", 1, -1))
        return TSR_E_SCHEMA;
    return L->minor < 1 ? older_dtypes(L) : TSR_OK;
}

/* ---- step 5: limits ---- */
#define LIMIT(...) return tsr_fail(L->err, TSR_E_LIMIT, __VA_ARGS__)

static size_t name_bytes(const ld *L, size_t at)
{
    int ascii;
    return tj_str_len(L->s, at, &ascii); /* names are ASCII by schema */
}

tsr_code ld_limit_shape(ld *L, size_t shp, const char *what, uint64_t *count)
{
    size_t it = shp, v, rank = 0;
    uint64_t c = 1;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        rank++;
        if (tj_type(L->s, v) == TJ_NUM) {
            double d = tj_num(L->s, v);
            if (d > (double)TSR_MAX_ELEMENTS)
                LIMIT("%s: dimension above 2^26", what);
            if (d < 1)
                continue; /* Reshape's -1 */
            c *= (uint64_t)d;
            if (c > (uint64_t)TSR_MAX_ELEMENTS)
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
        snprintf(what, sizeof what, "%s '%.200s'", kind, ld_show(L, nm, nb, sizeof nb));
        if (name_bytes(L, nm) > LIM_NAME)
            LIMIT("%s #%lu: name longer than 256 bytes", kind, (unsigned long)i);
        if (ld_limit_shape(L, tj_get(L->s, L->n, v, "shape"), what, &c))
            return TSR_E_LIMIT;
        if (init) {
            L->total_init += c;
            if (L->total_init > (uint64_t)TSR_MAX_ELEMENTS)
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
        size_t it2 = tj_get(L->s, L->n, nd, "inputs"), v;
        const tsr_op *op;
        while (tj_next(L->s, L->n, &it2, 0, NULL, &v))
            if (name_bytes(L, v) > LIM_NAME)
                LIMIT("%s: input name longer than 256 bytes", ld_node_label(L, nd, i, who, sizeof who));
        it2 = tj_get(L->s, L->n, nd, "outputs");
        tj_next(L->s, L->n, &it2, 0, NULL, &v);
        if (name_bytes(L, v) > LIM_NAME)
            LIMIT("%s: output name longer than 256 bytes", ld_node_label(L, nd, i, who, sizeof who));
        op = tsr_op_find(L->s, tj_get(L->s, L->n, nd, "op"));
        if (op && op->since <= L->minor && ld_attrs_limits(L, op, tj_get(L->s, L->n, nd, "attrs"), ld_node_label(L, nd, i, who, sizeof who)))
            return TSR_E_LIMIT;
        i++;
    }
    return TSR_OK;
}

tsr_code ld_limits(ld *L)
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
tsr_code ld_unknown_ops(ld *L)
{
    size_t it = L->g_nodes, nd, i = 0;
    char who[200];
    while (tj_next(L->s, L->n, &it, 0, NULL, &nd)) {
        const tsr_op *op = tsr_op_find(L->s, tj_get(L->s, L->n, nd, "op"));
        if (!op)
            return tsr_fail(L->err, TSR_E_UNKNOWN_OP, "%s: unknown operator",
                            ld_node_label(L, nd, i, who, sizeof who));
        if (op->since > L->minor) /* SPEC 2: known, but not in the file's version */
            return tsr_fail(L->err, TSR_E_VERSION, "op %s needs format 1.%d; the file is stamped %s", op->name,
                            (int)op->since, L->ver);
        i++;
    }
    return TSR_OK;
}
