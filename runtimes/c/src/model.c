/*
 * Loading a model: the pipeline of SPEC section 5 (steps 1-3 here, the
 * rest in check.c, data.c and build.c; see loader.h), the loader's shared
 * helpers, and the public API. Everything lives in the caller's arena; the
 * same pipeline runs in "measure" mode (L->arena == NULL) to report the
 * arena size.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

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

int tsr_name_char(int32_t c, int first, int sym)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
        return 1;
    if (first)
        return 0;
    if (c >= '0' && c <= '9')
        return 1;
    return !sym && (c == '.' || c == ':' || c == '/' || c == '-');
}

/* ---- loader helpers (loader.h) ---- */
void *ld_alloc(ld *L, size_t size, size_t align)
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

const char *ld_show(const ld *L, size_t at, char *buf, size_t cap)
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

int ld_is_type(const char *s, size_t i, int t)
{
    return i != TJ_NONE && tj_type(s, i) == t;
}

int ld_str_pattern(const char *s, size_t i, int sym)
{
    size_t p = i + 1;
    int32_t c;
    int first = 1;
    if (tj_type(s, i) != TJ_STR)
        return 0;
    while ((c = tj_cp(s, &p)) >= 0) {
        if (!tsr_name_char(c, first, sym))
            return 0;
        first = 0;
    }
    return !first;
}

/* One pass matters: every lookup skips the members before it, and tensors
 * are megabytes. */
size_t ld_fields(const ld *L, size_t obj, const char *const *keys, size_t *vals)
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

const char *ld_node_label(const ld *L, size_t node, size_t idx, char *buf, size_t cap)
{
    size_t nm = tj_get(L->s, L->n, node, "name");
    char tmp[96], opb[40];
    size_t op = tj_get(L->s, L->n, node, "op");
    if (ld_is_type(L->s, nm, TJ_STR))
        snprintf(buf, cap, "node '%s' (%s)", ld_show(L, nm, tmp, sizeof tmp),
                 ld_show(L, op, opb, sizeof opb));
    else
        snprintf(buf, cap, "node #%lu (%s)", (unsigned long)idx, ld_show(L, op, opb, sizeof opb));
    return buf;
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
    return tsr_fail(L->err, TSR_E_VERSION, "file is format %s; this runtime implements " TSR_FORMAT_VERSION ": %s",
                    L->ver, msg);
}

static tsr_code pipeline(ld *L, size_t *scratch_need)
{
    size_t pos = 0, max_keys = 0;
    tsr_code rc;
    int major1 = 0;
    int32_t minor = 1;
    size_t top, fv;
    if (L->n > TSR_MAX_FILE_BYTES) /* step 1 */
        return tsr_fail(L->err, TSR_E_LIMIT, "file is larger than 256 MiB");
    rc = tsr_json_validate(L->s, L->n, L->arena ? (uint32_t *)(void *)L->arena : NULL, /* step 2 */
                           L->arena ? L->cap / 4 : 0, &max_keys, &pos);
    if (rc == TSR_E_ARENA)
        return tsr_fail(L->err, rc, "arena too small");
    if (rc)
        return tsr_fail(L->err, rc, rc == TSR_E_LIMIT ? "nesting deeper than 64 at byte %lu"
                                                      : "invalid JSON at byte %lu", (unsigned long)pos);
    if (scratch_need)
        *scratch_need = max_keys * 4;
    top = tj_ws(L->s, L->n, 0); /* step 3 */
    if (tj_type(L->s, top) == TJ_OBJ && (fv = tj_get(L->s, L->n, top, "format_version")) != TJ_NONE &&
        ld_version(L, fv, &major1, &minor)) {
        ld_show(L, fv, L->ver, sizeof L->ver);
        if (!major1)
            return tsr_fail(L->err, TSR_E_VERSION, "file is format %s; this runtime implements " TSR_FORMAT_VERSION,
                            L->ver);
        L->newer = minor > TSR_FORMAT_MINOR;
        L->minor = minor;
    }
    if ((rc = newer_minor_as_version(L, ld_schema(L), TSR_E_SCHEMA)) != TSR_OK)
        return rc;
    if ((rc = ld_limits(L)) != TSR_OK)
        return rc;
    if ((rc = newer_minor_as_version(L, ld_unknown_ops(L), TSR_E_UNKNOWN_OP)) != TSR_OK)
        return rc;
    L->used = 0; /* the validator's scratch is no longer needed */
    if ((rc = ld_build(L)) != TSR_OK) /* step 7 (and the arena) */
        return rc;
    if (!L->arena)
        return TSR_OK;
    if ((rc = ld_graph(L)) != TSR_OK || (rc = ld_shapes(L)) != TSR_OK)
        return rc;
    L->m->sym_first = L->sym_first;
    L->m->sym_dim = L->sym_dim;
    return TSR_OK;
}

static void ld_init(ld *L, const char *json, size_t len, tsr_error *err)
{
    memset(L, 0, sizeof *L);
    L->s = json;
    L->n = len;
    L->err = err;
    L->minor = 1;
}

/* ---- public API ---- */
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
int32_t tsr_model_input_dtype(const tsr_model *m, int32_t i)
{
    return i >= 0 && i < m->n_inputs ? m->values[m->inputs[i]].dtype : -1;
}
int32_t tsr_model_output_dtype(const tsr_model *m, int32_t i)
{
    return i >= 0 && i < m->n_outputs ? m->values[m->outputs[i]].dtype : -1;
}
