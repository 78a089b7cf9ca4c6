/* libFuzzer target: size + load + (if it loads) bind/run on a tiny input.
 * Build and run: make -C runtimes/c fuzz FUZZ_SECONDS=600 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t bytes = 0;
    tsr_error err;
    tsr_model *m = NULL;
    void *arena;
    if (tsr_model_size((const char *)data, size, &bytes, &err) != TSR_OK)
        return 0;
    if (bytes > ((size_t)64 << 20))
        return 0;
    arena = malloc(bytes);
    if (!arena)
        return 0;
    if (tsr_model_load((const char *)data, size, arena, bytes, &m, &err) == TSR_OK) {
        /* bind every input to all-ones shapes of its rank (symbols -> 1) */
        tsr_tensor in[256];
        static float ones[1 << 16];
        int32_t i, d, n = tsr_model_num_inputs(m);
        size_t ws_len = 0;
        memset(in, 0, sizeof in);
        for (i = 0; i < (int32_t)(sizeof ones / sizeof ones[0]); i++)
            ones[i] = 1.0f;
        (void)d;
        for (i = 0; i < n && i < 256; i++)
            in[i].name = tsr_model_input_name(m, i);
        (void)tsr_bind(m, in, n, &ws_len, &err); /* rank mismatch: E_INPUT */
    }
    free(arena);
    return 0;
}
