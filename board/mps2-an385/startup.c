/*
 * Reset and exceptions: the vector table, the C run-time set-up (.data
 * copied from flash, .bss zeroed, the stack painted so that its high-water
 * mark can be measured), and the fault handler that reports and halts.
 */
#include <stdint.h>

#include "mps2.h"

/* From ldscripts/mps2-an385.ld. */
extern uint32_t __sello_stack_limit[], __sello_stack_top[];
extern uint32_t __sello_data_start[], __sello_data_end[], __sello_data_load[];
extern uint32_t __sello_bss_start[], __sello_bss_end[];

int main(void);
void mps2_reset(void);
void mps2_fault(void);
void mps2_fault_report(const uint32_t *frame, uint32_t exc_return);
void mps2_timer0_irq(void);
void mps2_uart0_rx_irq(void);

/* What an unused stack word holds. */
#define STACK_PAINT 0x5e110c0du

typedef void (*mps2_vector)(void);

/* The 16 exceptions of the M3 and the AN385's 32 interrupts. Everything
 * this port does not expect is a fault too: it halts rather than carry on
 * after something it does not understand. */
__attribute__((section(".vectors"), used)) static const mps2_vector
    vectors[16 + 32] = {
        [0] = (mps2_vector)(uintptr_t)__sello_stack_top,
        [1] = mps2_reset,
        [2 ... 15] = mps2_fault, /* NMI, HardFault, MemManage, ... */
        [16 + MPS2_UART0_RX_IRQ] = mps2_uart0_rx_irq,
        [16 + MPS2_UART0_RX_IRQ + 1 ... 16 + MPS2_TIMER0_IRQ - 1] = mps2_fault,
        [16 + MPS2_TIMER0_IRQ] = mps2_timer0_irq,
        [16 + MPS2_TIMER0_IRQ + 1 ... 16 + 31] = mps2_fault,
};

/*
 * Runs on the stack the M3 loaded from the vector table. Everything is done
 * with volatile word loops: memcpy/memset would be the bare runtime's,
 * which is fine, but the compiler must not move these stores before the
 * painting's stack-pointer reading.
 */
void mps2_reset(void)
{
    volatile uint32_t *dst = __sello_data_start;
    const volatile uint32_t *src = __sello_data_load;
    while (dst < __sello_data_end)
        *dst++ = *src++;
    for (dst = __sello_bss_start; dst < __sello_bss_end;)
        *dst++ = 0;

    /* Paint from the bottom of the stack up to a little below this
     * function's own frame. */
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (dst = __sello_stack_limit; (uintptr_t)dst < sp - 64u;)
        *dst++ = STACK_PAINT;

    /* Divide by zero and unaligned multi-word accesses are faults, not
     * silent results; MemManage, BusFault and UsageFault get their own
     * report instead of escalating to HardFault. */
    *(volatile uint32_t *)0xe000ed14u |= (1u << 4); /* CCR.DIV_0_TRP */
    MPS2_SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18);

    main();
    mps2_console_str("sello-mps2: main returned; halting\n");
    if (mps2_semihosting_ready())
        mps2_sh_exit(0);
    for (;;)
        __asm__ volatile("wfi");
}

size_t mps2_stack_size(void)
{
    return (size_t)((uintptr_t)__sello_stack_top -
                    (uintptr_t)__sello_stack_limit);
}

size_t mps2_stack_high_water(void)
{
    const volatile uint32_t *p = __sello_stack_limit;
    while (p < __sello_stack_top && *p == STACK_PAINT)
        p++;
    return (size_t)((uintptr_t)__sello_stack_top - (uintptr_t)p);
}

/* Hands the stacked exception frame (on whichever stack was in use) and
 * EXC_RETURN to the report. */
__attribute__((naked)) void mps2_fault(void)
{
    __asm__ volatile("tst lr, #4\n"
                     "ite eq\n"
                     "mrseq r0, msp\n"
                     "mrsne r0, psp\n"
                     "mov r1, lr\n"
                     "b mps2_fault_report\n");
}

static const char *fault_name(uint32_t exception)
{
    switch (exception) {
    case 2:
        return "NMI";
    case 3:
        return "HardFault";
    case 4:
        return "MemManage";
    case 5:
        return "BusFault";
    case 6:
        return "UsageFault";
    default:
        return exception >= 16 ? "unexpected interrupt" : "unexpected exception";
    }
}

/*
 * Reports the fault on the console and halts. Under emulation it also ends
 * the emulator with a failure status, so that whoever runs it sees the
 * module is gone instead of a link that no longer answers; on a real chip
 * it stops here until reset. The frame pointer is only read if it points
 * into the stack.
 */
__attribute__((noreturn, used)) void mps2_fault_report(const uint32_t *frame,
                                                         uint32_t exc_return)
{
    uint32_t exception = MPS2_SCB_ICSR & 0x1ffu;
    mps2_console_str("\nsello-mps2: FAULT: ");
    mps2_console_str(fault_name(exception));
    mps2_console_str(" (exception ");
    mps2_console_dec(exception);
    mps2_console_str(")\n  CFSR ");
    mps2_console_hex(MPS2_SCB_CFSR);
    mps2_console_str(" HFSR ");
    mps2_console_hex(MPS2_SCB_HFSR);
    mps2_console_str(" MMFAR ");
    mps2_console_hex(MPS2_SCB_MMFAR);
    mps2_console_str(" BFAR ");
    mps2_console_hex(MPS2_SCB_BFAR);
    mps2_console_str(" EXC_RETURN ");
    mps2_console_hex(exc_return);
    mps2_console_str("\n");
    uintptr_t f = (uintptr_t)frame;
    if (f >= (uintptr_t)__sello_stack_limit &&
        f + 8 * sizeof(uint32_t) <= (uintptr_t)__sello_stack_top) {
        static const char *const names[8] = {"r0",  "r1", "r2", "r3",
                                             "r12", "lr", "pc", "xpsr"};
        for (unsigned i = 0; i < 8; i++) {
            mps2_console_str(i == 0 ? "  " : " ");
            mps2_console_str(names[i]);
            mps2_console_str(" ");
            mps2_console_hex(frame[i]);
        }
        mps2_console_str("\n");
    } else {
        mps2_console_str("  (stack pointer outside the stack: no frame)\n");
    }
    mps2_console_str("  stack high-water ");
    mps2_console_dec(mps2_stack_high_water());
    mps2_console_str(" of ");
    mps2_console_dec(mps2_stack_size());
    mps2_console_str(" octets; halted\n");
    if (mps2_semihosting_ready())
        mps2_sh_exit(70); /* EX_SOFTWARE */
    for (;;)
        __asm__ volatile("cpsid i\n wfi");
}
