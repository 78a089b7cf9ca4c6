/*
 * Tessera C runtime: load a format 1.x model (schema/SPEC.md; this runtime
 * implements format 1.2), check it, run it with the strict float32
 * arithmetic of SPEC section 7 and exact int32 operations.
 *
 * Memory: the library never allocates except in tsr_model_load_alloc.
 *   1. tsr_model_size()   bytes an arena needs to load this model file
 *   2. tsr_model_load()   parse + check + load into the caller's arena; the
 *                         JSON text may be freed afterwards
 *   3. tsr_bind()         bind input shapes, report the workspace bytes
 *   4. tsr_run()          run into the caller's workspace, no allocation
 * Every entry point returns TSR_OK or a SPEC error code and fills *err (if
 * err is not NULL) with the code, its name ("E_SHAPE") and a message that
 * names the offending node or tensor. No entry point aborts or exits.
 *
 * Numbers in the text are converted exactly (nearest double, then float32):
 * short decimals by a built-in fast path, the rest by strtod, for which the
 * C locale's decimal point ('.') is assumed.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_MAX_RANK 8
#define TSR_MAX_ELEMENTS 67108864L /* 2^26, SPEC section 8 */
#define TSR_MAX_FILE_BYTES 268435456UL /* 256 MiB */

typedef enum {
    TSR_OK = 0,
    TSR_E_PARSE,
    TSR_E_SCHEMA,
    TSR_E_VERSION,
    TSR_E_UNKNOWN_OP,
    TSR_E_GRAPH,
    TSR_E_SHAPE,
    TSR_E_DATA,
    TSR_E_LIMIT,
    TSR_E_INPUT,
    TSR_E_ARENA /* caller's buffer too small (not a SPEC code; API misuse) */
} tsr_code;

typedef struct {
    tsr_code code;
    const char *name; /* "E_SHAPE", ...; "OK" when code == TSR_OK */
    char message[256];
} tsr_error;

typedef struct tsr_model tsr_model;

/* Element types (format 1.1): float32 (the only one of format 1.0) and
 * int32 (indices, class ids, booleans as 0/1). */
typedef enum {
    TSR_FLOAT32 = 0,
    TSR_INT32 = 1
} tsr_dtype;

/* A tensor passed to or returned from tsr_run. For inputs, name/rank/shape
 * and the data of the tensor's dtype are set by the caller (count = product
 * of shape); a float32 input sets `data` and leaves dtype 0 (TSR_FLOAT32),
 * as a zero-initialised struct does, so float-only code needs no change; an
 * int32 input sets dtype = TSR_INT32 and `idata`. The dtype must be the one
 * the model declares for that input (else E_INPUT). For outputs, the
 * runtime fills every field: `data` (float32) or `idata` (int32), the other
 * one NULL; they point into the workspace (or the model for an output that
 * is an initializer) and stay valid until the next tsr_run with that
 * workspace. */
typedef struct {
    const char *name;
    int32_t rank;
    int32_t shape[TSR_MAX_RANK];
    const float *data;    /* float32 elements */
    int32_t dtype;        /* tsr_dtype */
    const int32_t *idata; /* int32 elements */
} tsr_tensor;

const char *tsr_code_name(tsr_code code);

/* Bytes of arena needed by tsr_model_load for this JSON text. Validates what
 * it can without memory (syntax, depth, version, schema, limits, ops); a
 * text it accepts can still be rejected by tsr_model_load, which performs
 * every check of SPEC section 5, in order. When it rejects a well-formed
 * text, the duplicate-key check (which needs memory, and comes first in
 * SPEC section 5) has not run yet: *bytes is then the arena with which
 * tsr_model_load gives the authoritative code (0 when the text is not JSON). */
tsr_code tsr_model_size(const char *json, size_t len, size_t *bytes, tsr_error *err);

/* Load into arena[0 .. arena_len). *model points into the arena. The arena
 * must be aligned to at least 8 bytes (malloc'ed memory is). */
tsr_code tsr_model_load(const char *json, size_t len, void *arena, size_t arena_len,
                        tsr_model **model, tsr_error *err);

/* Convenience: tsr_model_size + malloc + tsr_model_load. Free with
 * tsr_model_free. */
tsr_code tsr_model_load_alloc(const char *json, size_t len, tsr_model **model,
                              tsr_error *err);
void tsr_model_free(tsr_model *model);

/* Graph interface, in declaration order. */
int32_t tsr_model_num_inputs(const tsr_model *model);
int32_t tsr_model_num_outputs(const tsr_model *model);
const char *tsr_model_input_name(const tsr_model *model, int32_t i);
const char *tsr_model_output_name(const tsr_model *model, int32_t i);
/* The declared dtype (tsr_dtype) of input / output i, or -1 out of range. */
int32_t tsr_model_input_dtype(const tsr_model *model, int32_t i);
int32_t tsr_model_output_dtype(const tsr_model *model, int32_t i);

/* Bind the shapes of `inputs` (data is not read; any order, each graph input
 * exactly once) and report the workspace bytes tsr_run needs (E_INPUT,
 * E_LIMIT as SPEC section 5 rows 10-11). */
tsr_code tsr_bind(const tsr_model *model, const tsr_tensor *inputs, int32_t n_inputs,
                  size_t *workspace_bytes, tsr_error *err);

/* Run. outputs must have room for tsr_model_num_outputs entries. The
 * workspace must be 8-byte aligned and at least what tsr_bind reported for
 * the same input shapes. Allocates nothing. */
tsr_code tsr_run(const tsr_model *model, const tsr_tensor *inputs, int32_t n_inputs,
                 tsr_tensor *outputs, void *workspace, size_t workspace_len,
                 tsr_error *err);

/* The operators this runtime implements (SPEC section 6), in the order of
 * its op table; i runs from 0 to tsr_op_count() - 1. Out of range: NULL, or
 * -1 for the counts.
 *   tsr_op_name        "MatMul", ...
 *   tsr_op_arity       number of inputs (the minimum; *max_inputs, if not
 *                      NULL, receives the maximum, -1 for no limit)
 *   tsr_op_attr_count  number of attribute keys the op accepts
 *   tsr_op_attr_name   key j, in table order (not sorted) */
int tsr_op_count(void);
const char *tsr_op_name(int i);
int tsr_op_arity(int i, int *max_inputs);
int tsr_op_attr_count(int i);
const char *tsr_op_attr_name(int i, int j);

#ifdef __cplusplus
}
#endif
#endif /* TESSERA_H */
