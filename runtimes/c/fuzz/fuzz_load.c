/* libFuzzer target: size + load + (if it loads) bind and run on small
 * inputs. Every graph input gets its declared shape with each symbol bound to
 * 2 and data of its dtype (float32: ones, NaN, -0, ...; int32: small
 * integers, some negative and some past any dimension, so Gather's run-time
 * index check and its error path run too); the run happens when the
 * workspace is at most 1 MiB.
 * Build and run: make -C runtimes/c fuzz FUZZ_SECONDS=600 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* the declared input shapes (tsr_model) */
#include "tessera.h"

#define FUZZ_ELEMS (1 << 14)

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
        static tsr_tensor in[256], out[256];
        static float fdata[FUZZ_ELEMS];
        static int32_t idata[FUZZ_ELEMS];
        static const float fpat[8] = {1.0f, -0.0f, 0.5f, -3.0f, 1e30f, 0.0f, 2.0f, -1.0f};
        int32_t i, d, n = tsr_model_num_inputs(m), small = 1;
        size_t ws_len = 0;
        memset(in, 0, sizeof in);
        for (i = 0; i < FUZZ_ELEMS; i++) {
            fdata[i] = fpat[i % 8];
            idata[i] = (int32_t)(i % 11) - 4 + (i % 97 == 96 ? 1000 : 0);
        }
        for (i = 0; i < n && i < 256; i++) {
            const tsr_value *v = &m->values[m->inputs[i]];
            int64_t count = 1;
            in[i].name = v->name;
            in[i].rank = v->shape.rank;
            for (d = 0; d < v->shape.rank; d++) {
                in[i].shape[d] = v->shape.dim[d] > 0 ? v->shape.dim[d] : 2;
                count *= in[i].shape[d];
                if (count > FUZZ_ELEMS)
                    small = 0, count = FUZZ_ELEMS;
            }
            in[i].dtype = v->dtype;
            in[i].data = fdata;
            in[i].idata = idata;
        }
        if (tsr_bind(m, in, n, &ws_len, &err) == TSR_OK && small && ws_len <= ((size_t)1 << 20)) {
            void *ws = malloc(ws_len ? ws_len : 8);
            if (ws)
                (void)tsr_run(m, in, n, out, ws, ws_len, &err); /* E_INPUT from Gather is fine */
            free(ws);
        }
    }
    free(arena);
    return 0;
}
