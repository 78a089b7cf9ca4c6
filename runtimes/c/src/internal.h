/*
 * Internal types shared by the library's files: the model (it lives entirely
 * in the caller's arena), the row type of the operator table (src/ops.c) and
 * the run-time plan.
 */
#ifndef TESSERA_INTERNAL_H
#define TESSERA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tessera.h"

/* The format version this runtime implements (SPEC 2): 1.TSR_FORMAT_MINOR. A new minor changes
 * these two lines and the `since` of the rows it adds, nothing else in the loader. */
#define TSR_FORMAT_MINOR 2
#define TSR_FORMAT_VERSION "1.2"

/* A dim > 0 is concrete; a dim < 0 is symbol number (-dim - 1). */
typedef struct {
    int32_t rank;
    int32_t dim[TSR_MAX_RANK];
} tsr_shape;

enum { V_INPUT, V_INIT, V_NODE };

typedef struct {
    const char *name;
    int kind;
    int32_t dtype;     /* TSR_FLOAT32 or TSR_INT32: declared, or inferred */
    tsr_shape shape;   /* declared (inputs, initializers) or inferred */
    const void *data;  /* initializers: float or int32_t elements by dtype */
    void *copy;        /* initializers, when some node's op asks for it
                          (tsr_op.copies_init): room for one load-time copy
                          of the data, e.g. MatMul's B transposed */
    int32_t reuses;    /* node outputs: 1 + id of the value whose workspace
                          buffer this one overwrites in place (ld_in_place), or 0 */
} tsr_value;

typedef struct tsr_op tsr_op;

typedef struct {
    const tsr_op *op;  /* the node's row of the op table */
    const char *label; /* node name, or NULL */
    int32_t index;
    int32_t nin;
    int32_t *in;       /* nin value ids */
    int32_t out;
    void *attr;        /* the op's attribute struct (op->attr_size bytes), or NULL */
} tsr_node;

struct tsr_model {
    int32_t n_values, n_nodes, n_inputs, n_outputs, n_syms;
    tsr_value *values;
    tsr_node *nodes;
    int32_t *inputs;  /* value ids */
    int32_t *outputs; /* value ids */
    const char **syms;
    int32_t *sym_first, *sym_dim; /* symbol -> (input index, dim) binding it */
    int owned; /* allocated by tsr_model_load_alloc */
};

/* ---- attributes ----
 * Each op declares its attribute keys (tsr_attr_def, below) and a struct
 * that holds them once parsed; every node of the op gets one such struct in
 * the arena (tsr_node.attr), so a node costs only what its own op needs.
 * The loader knows attribute *kinds*, never ops (src/attrs.c): a kind fixes
 * the JSON check (E_SCHEMA), the limits check (E_LIMIT) and the C type the
 * value is stored as, at `offset` in the op's struct:
 *   TSR_A_BOOL   true/false                                     -> int32_t 0/1
 *   TSR_A_INT    an integer                                     -> int32_t, clamped to +-2^30
 *   TSR_A_F32    a number finite after rounding to float32      -> float
 *   TSR_A_AXES   1 to 8 distinct integers                       -> tsr_ints (clamped)
 *   TSR_A_PERM   0 to 8 distinct integers >= 0                  -> tsr_ints (clamped)
 *   TSR_A_SHAPE  integers >= 1, symbols, at most one -1; limits
 *                as a declared shape (SPEC 5 row 5)             -> tsr_dims
 *   TSR_A_INTS   1 to 8 integers (may repeat)                   -> tsr_ints (clamped)
 *   TSR_A_DTYPE  "float32" or "int32"                           -> int32_t tsr_dtype
 * Absent keys take `dflt` (BOOL, INT, F32) or n = -1 (AXES, PERM); a
 * `required` key must be present. Clamping keeps every range check exact
 * (ranks are at most 8 and dims at most 2^26). */
enum { TSR_A_BOOL, TSR_A_INT, TSR_A_F32, TSR_A_AXES, TSR_A_PERM, TSR_A_SHAPE, TSR_A_INTS, TSR_A_DTYPE };

typedef struct {
    int32_t n; /* -1: absent */
    int32_t v[TSR_MAX_RANK];
} tsr_ints;

typedef struct {
    tsr_shape s; /* symbols as in tsr_shape; the -1 entry is -1 too */
    int32_t neg; /* index of the -1 entry, or -1 */
} tsr_dims;

typedef struct {
    const char *key; /* NULL ends an op's list */
    int32_t kind;    /* TSR_A_* */
    int32_t required;
    size_t offset;   /* offsetof(the op's attribute struct, field) */
    double dflt;
} tsr_attr_def;

/* Largest attribute struct and most keys of one op (the schema step parses
 * attributes into a stack buffer of this size; checked at compile time in
 * src/ops.c and by tests/unit.c). */
#define TSR_ATTR_MAX_BYTES 256
#define TSR_ATTR_MAX_KEYS 16

/* ---- running ---- */
/* Concrete shapes and data of every value for one tsr_run (workspace). */
typedef struct {
    const void **data;  /* per value: float or int32_t elements by its dtype */
    tsr_shape *shape;   /* per value, concrete */
    float *scratch;     /* the largest tsr_op.scratch of any node */
    tsr_error *err;     /* run-time errors (Gather's indices: E_INPUT) */
    const tsr_model *m; /* value dtypes */
} tsr_plan;

/* Input shapes bound by tsr_bind/tsr_run, before the workspace exists. */
typedef struct {
    const tsr_model *m;
    const tsr_tensor *in;
    const int32_t *slot; /* graph input j -> in[slot[j]] */
} tsr_binding;

/* Concrete shape of symbolic shape s under binding b; returns the element
 * count, or -1 when it exceeds 2^26 (src/run.c). */
int64_t tsr_bound_shape(const tsr_binding *b, const tsr_shape *s, tsr_shape *out);

/* What a shape function needs: the model (value shapes and data, symbol
 * names), where to report, and the node's label for messages. */
typedef struct {
    tsr_model *m;
    tsr_error *err;
    const char *who;
} tsr_infer;

/* ---- the operator table (src/ops.c): one row per op ---- */
struct tsr_op {
    const char *name;
    int32_t min_in, max_in;     /* number of inputs (max -1: no limit) */
    const tsr_attr_def *attrs;  /* allowed keys, {NULL}-terminated */
    size_t attr_size;           /* bytes of the op's attribute struct, 0 if none */
    /* Schema step, after every key passed its kind check: a message for
     * attributes wrong together (Clip: "min > max"), or NULL. May be NULL. */
    const char *(*check)(const void *attr);
    /* Shape step (SPEC 5 row 9), in node order, at load only: checks the
     * operand shapes (E_SHAPE via tsr_fail), writes the output shape,
     * normalises the attributes for run (defaults, negative axes), and may
     * prepare load-time data (MatMul: B transposed into its copy). */
    tsr_code (*shape)(const tsr_infer *c, tsr_node *N, tsr_shape *out);
    /* Runs the node: reads p->data[N->in[k]], writes p->data[N->out].
     * Returns TSR_OK, or a run-time error (E_INPUT, via tsr_fail on p->err)
     * found before the node wrote anything. */
    tsr_code (*run)(const tsr_node *N, const tsr_plan *p);
    /* For the shared run functions of a family (run_unary, run_binary,
     * run_reduce): the array kernel, or the kernel's op code. */
    void (*kernel)(const float *x, float *y, int32_t n);
    int32_t kop;
    /* Optional: nonzero when this node wants a load-time copy of an
     * initializer operand (the loader then reserves one per initializer). */
    int (*copies_init)(const void *attr);
    /* Optional: floats of run-time scratch this node needs (workspace). */
    int64_t (*scratch)(const tsr_node *N, const tsr_binding *b);
    /* Operand dtypes (TSR_DT_*), checked before the shape function (E_SHAPE
     * naming the operand), and the output dtype they give. */
    int32_t dt;
    /* The format minor version that added the op (0: 1.0, 1: 1.1). A file
     * stamped with an older minor that uses it is E_VERSION. */
    int32_t since; /* the minor version that added the op (format 1.since) */
};

enum {
    TSR_DT_F32,    /* every operand float32; output float32 */
    TSR_DT_SAME,   /* operands of one dtype, either; output that dtype */
    TSR_DT_CMP,    /* two operands of one dtype, either; output int32 */
    TSR_DT_I32,    /* every operand int32; output int32 */
    TSR_DT_CUSTOM  /* the shape function checks and sets them */
};

/* The op whose name is the JSON string at offset `at` of text s (validated),
 * or NULL. */
const tsr_op *tsr_op_find(const char *s, size_t at);

/* ---- shared helpers ---- */
tsr_code tsr_fail(tsr_error *err, tsr_code code, const char *fmt, ...);
/* Names (sym = 0: ^[A-Za-z_][A-Za-z0-9_.:/-]*$) and symbols (sym = 1:
 * ^[A-Za-z_][A-Za-z0-9_]*$), one character at a time. */
int tsr_name_char(int32_t c, int first, int sym);
/* Decode base64 (RFC 4648, '=' padding required) of the JSON string at
 * offset `at` into out[0..cap) (out may be NULL to only check). Returns the
 * decoded length, or (size_t)-1 if malformed or not exactly cap bytes. */
size_t tsr_b64_decode(const char *s, size_t at, unsigned char *out, size_t cap);

#endif
