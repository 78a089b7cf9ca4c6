/* Prints the kernel path the shipped C library takes on this CPU (its run-time dispatch:
 * AVX-512F, else AVX2, else the baseline ISA), by asking the library which paths it can force. */
#include <stdio.h>

#include "kernels.h"

int main(void)
{
#if defined(TSR_K_DISPATCH)
    if (tsr_k_set_path(TSR_K_PATH_AVX512))
        puts("AVX-512F");
    else if (tsr_k_set_path(TSR_K_PATH_AVX2))
        puts("AVX2");
    else
        puts("baseline ISA");
    tsr_k_set_path(-1);
#else
    puts("baseline ISA (library built without run-time dispatch)");
#endif
    return 0;
}
