/* harness.h: what main.c needs to know about the models it runs. A second file, models.c, defines
 * the table: for each model its inputs (compiled in), its output buffers and a function that calls
 * the generated NAME_run on them. tests/embedded/test_cortex_m4.py writes models.c from a model and
 * its inputs; for your own model it is a few lines (README.md shows one). */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdint.h>

struct harness_output {
    const char *name;
    const void *data;   /* float32 or int32: 4-byte elements, printed as their bits */
    uint32_t count;
};

struct harness_model {
    const char *name;
    int (*run)(void);   /* NAME_run on the compiled-in inputs: 0, or 1 (run-time E_INPUT) */
    const struct harness_output *outputs;
    uint32_t n_outputs;
};

extern const struct harness_model harness_models[];
extern const uint32_t harness_model_count;

#endif
