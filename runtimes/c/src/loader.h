/*
 * The loader's private state and helpers (src/model.c, check.c, attrs.c,
 * data.c, build.c). The loader follows SPEC section 5 in order:
 *   steps 1-3  model.c   size, JSON (json.c), major version; the pipeline
 *   steps 4-6  check.c   schema, limits, unknown operators (attrs.c: the
 *                        attribute kinds)
 *   step 7     data.c    initializer data (base64, CRC-32)
 *   steps 8-9  build.c   the model in the arena, graph, shape inference
 *                        (each op's shape function is in ops.c)
 * Steps 1-7 run twice: once to measure (L->arena == NULL: tsr_model_size),
 * once to load. Steps 1-6 need no memory. Only build.c (and model.c's
 * pipeline) tell the two passes apart: every allocation goes through
 * ld_alloc, which in the measuring pass only counts, so both passes allocate
 * the same sizes in the same order.
 */
#ifndef TESSERA_LOADER_H
#define TESSERA_LOADER_H

#include "internal.h"
#include "json.h"

#define LIM_NAME 256

typedef struct {
    const char *s;
    size_t n;
    unsigned char *arena; /* NULL: measure mode */
    size_t cap, used;
    int newer;            /* file is 1.m with m > 1 (newer than this runtime) */
    int32_t minor;        /* the file's minor version (saturated; 1 until read) */
    char ver[40];
    tsr_error *err;
    size_t g_in, g_out, g_init, g_nodes; /* offsets of the graph's arrays */
    size_t n_in, n_out, n_init, n_nodes, n_symdims;
    int any_copy;         /* some node wants initializer copies */
    uint64_t total_init;
    tsr_model *m;
    int32_t *names_tab; size_t names_cap; /* hash of value names */
    int32_t *sym_tab; size_t sym_cap;     /* hash of symbol ids */
    int32_t *sym_first;                   /* symbol id -> input value id */
    int32_t *sym_dim;                     /* symbol id -> dim index */
    size_t syms_cap;
} ld;

/* Bump allocation in the arena with checked arithmetic; measure mode only
 * counts (and returns NULL). */
void *ld_alloc(ld *L, size_t size, size_t align);

#define NEED(p)                                                              \
    do {                                                                     \
        if (L->arena && !(p))                                                \
            return tsr_fail(L->err, TSR_E_ARENA, "arena too small");        \
    } while (0)

/* Printable ASCII copy of the JSON string at `at`, for messages. */
const char *ld_show(const ld *L, size_t at, char *buf, size_t cap);
/* Node label for messages: "node 'name' (Op)" or "node #i (Op)". */
const char *ld_node_label(const ld *L, size_t node, size_t idx, char *buf, size_t cap);
/* One pass over the object at obj: vals[j] (when vals is given) receives
 * the value of member keys[j] or TJ_NONE; returns the first member whose key
 * is not listed (TJ_NONE: the object is closed). */
size_t ld_fields(const ld *L, size_t obj, const char *const *keys, size_t *vals);
int ld_is_type(const char *s, size_t i, int t);
/* String at i matches the name (sym = 0) or symbol (sym = 1) pattern. */
int ld_str_pattern(const char *s, size_t i, int sym);

/* check.c (steps 4-6; no memory) */
tsr_code ld_schema(ld *L);
tsr_code ld_limits(ld *L);
tsr_code ld_unknown_ops(ld *L);
int ld_version(const ld *L, size_t fv, int *major1, int32_t *minor);
/* Rank, dims and element count of a shape array (E_LIMIT); counts its
 * symbols into L->n_symdims. count may be NULL. */
tsr_code ld_limit_shape(ld *L, size_t shp, const char *what, uint64_t *count);

/* attrs.c: the attribute kinds. `attrs` is the node's attrs object or
 * TJ_NONE. */
tsr_code ld_attrs_schema(ld *L, const tsr_op *op, size_t attrs, const char *who);
tsr_code ld_attrs_limits(ld *L, const tsr_op *op, size_t attrs, const char *who);
/* Parse into dst (op->attr_size bytes); symbols of TSR_A_SHAPE are interned
 * when `intern` (load mode), else stored as 0. */
void ld_attrs_parse(ld *L, const tsr_op *op, size_t attrs, void *dst, int intern);

/* data.c (step 7) */
int ld_b64_chars_ok(const char *s, size_t at);
int ld_checksum_ok(const char *s, size_t at);
extern const char *const ld_init_keys[]; /* fields of an initializer */
tsr_code ld_load_data(ld *L, size_t v, tsr_value *val, void *d, uint64_t count);
/* dtype of the JSON string at `at` (validated): TSR_FLOAT32 or TSR_INT32. */
int32_t ld_dtype(const ld *L, size_t at);

/* build.c (steps 7-9) */
tsr_code ld_build(ld *L);
tsr_code ld_graph(ld *L);
tsr_code ld_shapes(ld *L);
/* Symbol id of the JSON string at `at`, interned (load mode), or -1. */
int32_t ld_sym_id(ld *L, size_t at);

#endif
