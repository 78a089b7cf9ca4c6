/* Internal model representation (lives entirely in the caller's arena). */
#ifndef TESSERA_INTERNAL_H
#define TESSERA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tessera.h"

/* A dim > 0 is concrete; a dim < 0 is symbol number (-dim - 1). */
typedef struct {
    int32_t rank;
    int32_t dim[TSR_MAX_RANK];
} tsr_shape;

enum { OP_MATMUL, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAXIMUM, OP_MINIMUM,
       OP_NEG, OP_ABS, OP_SQRT, OP_RELU, OP_EXP, OP_LOG, OP_SIGMOID, OP_TANH,
       OP_SOFTPLUS, OP_CLIP, OP_SOFTMAX, OP_RSUM, OP_RMEAN, OP_RMAX,
       OP_TRANSPOSE, OP_RESHAPE, OP_COUNT };

enum { V_INPUT, V_INIT, V_NODE };

typedef struct {
    const char *name;
    int kind;
    tsr_shape shape;   /* declared (inputs, initializers) or inferred */
    const float *data; /* initializers */
    float *tbuf;       /* initializers: room for a transposed copy */
} tsr_value;

typedef struct {
    int op;
    const char *label; /* node name, or NULL */
    int32_t index;
    int32_t nin;
    int32_t in[2];
    int32_t out;
    /* attributes, parsed */
    int32_t ta, tb, keepdims;
    float lo, hi;
    int64_t axis;
    int32_t naxes; /* 0 = default */
    int64_t axes[TSR_MAX_RANK];
    int32_t nperm; /* -1 = default */
    int64_t perm[TSR_MAX_RANK];
    tsr_shape rshape;   /* Reshape target after -1 resolution */
    int32_t rs_neg;     /* index of -1 entry or -1 */
    const float *bt;    /* pre-transposed initializer B of MatMul(tb) */
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

tsr_code tsr_fail(tsr_error *err, tsr_code code, const char *fmt, ...);
extern const char *const tsr_op_names[OP_COUNT];

#endif
