/* startup.c: vector table and reset handler of a bare-metal Cortex-M4F (ARMv7E-M with FPv4-SP).
 *
 * The core reads the first two words of the vector table at reset: the initial stack pointer and
 * the reset handler's address. The reset handler gives C what it assumes (initialised .data,
 * zeroed .bss, an enabled FPU), opens newlib's semihosting console and runs main(). The symbols
 * come from the linker script (mps2_an386.ld). */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t __stack_top;                 /* end of RAM: the stack grows down from here */
extern uint32_t __data_load;                 /* .data's initial values, in the code memory */
extern uint32_t __data_start, __data_end;    /* .data in RAM */
extern uint32_t __bss_start, __bss_end;      /* .bss in RAM */

/* newlib (librdimon): opens stdin/stdout/stderr on the debugger's (here QEMU's) console. */
extern void initialise_monitor_handles(void);
int main(void);

/* Coprocessor Access Control Register: CP10 and CP11 are the FPU. */
#define CPACR (*(volatile uint32_t *)0xE000ED88u)
#define CPACR_CP10_CP11_FULL (0xFu << 20)

void Reset_Handler(void);
void Fault_Handler(void);

void Reset_Handler(void)
{
    uint32_t *src, *dst;

    /* First, before any floating-point instruction: the FPU is off at reset and the first one
     * would fault (UsageFault, NOCP). FPSCR keeps its reset value, so flush-to-zero (FZ) stays
     * clear: the strict profile needs subnormals. */
    CPACR |= CPACR_CP10_CP11_FULL;
    __asm volatile("dsb\n\tisb" ::: "memory");

    for (src = &__data_load, dst = &__data_start; dst < &__data_end;)
        *dst++ = *src++;
    for (dst = &__bss_start; dst < &__bss_end;)
        *dst++ = 0;

    initialise_monitor_handles();
    exit(main()); /* semihosting exit: QEMU ends with main's status */
}

/* Any fault (a bad pointer, an undefined instruction, a disabled FPU) ends the run with status 3
 * instead of hanging until the host's timeout. */
void Fault_Handler(void)
{
    _Exit(3);
}

typedef void (*handler_t)(void);

/* The ARMv7-M vector table: the initial stack pointer, then the 15 system exceptions. No device
 * interrupt is enabled, so none is listed. Placed at address 0 by the linker script. */
struct vector_table {
    uint32_t *initial_sp;
    handler_t exceptions[15];
};

__attribute__((section(".vectors"), used)) const struct vector_table vector_table = {
    &__stack_top,
    {
        Reset_Handler,
        Fault_Handler, /* NMI */
        Fault_Handler, /* HardFault */
        Fault_Handler, /* MemManage */
        Fault_Handler, /* BusFault */
        Fault_Handler, /* UsageFault */
        0, 0, 0, 0,    /* reserved */
        Fault_Handler, /* SVCall */
        Fault_Handler, /* DebugMonitor */
        0,             /* reserved */
        Fault_Handler, /* PendSV */
        Fault_Handler, /* SysTick */
    },
};
