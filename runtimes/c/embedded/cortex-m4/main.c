/* main.c: run every model of the table (models.c) once and print each output element's bits in hex,
 * through semihosting, so the host can compare them bit for bit with the Python reference:
 *
 *   model NAME status S
 *   output NAME COUNT
 *   3f800000 00000000 ...      (8 elements a line, in row-major order)
 *   end
 *
 * main's return value (0, or 1 when a model's run returned nonzero) becomes QEMU's exit status. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static void print_bits(const struct harness_output *out)
{
    uint32_t i, bits;

    printf("output %s %lu\n", out->name, (unsigned long)out->count);
    for (i = 0; i < out->count; i++) {
        memcpy(&bits, (const unsigned char *)out->data + 4 * i, 4);
        printf(i % 8 == 7 || i + 1 == out->count ? "%08lx\n" : "%08lx ", (unsigned long)bits);
    }
}

int main(void)
{
    uint32_t m, o;
    int status = 0;

    for (m = 0; m < harness_model_count; m++) {
        const struct harness_model *model = &harness_models[m];
        int rc = model->run();

        printf("model %s status %d\n", model->name, rc);
        if (rc != 0) { /* the outputs are incomplete: not printed */
            status = 1;
            continue;
        }
        for (o = 0; o < model->n_outputs; o++)
            print_bits(&model->outputs[o]);
    }
    printf("end\n");
    return status;
}
