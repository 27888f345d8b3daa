/*
 * The MPS2 AN385 board (Cortex-M3) as QEMU emulates it: register map of
 * the parts the port uses, and the board's internal interfaces between
 * its files. Addresses and interrupt numbers are from ARM's AN385
 * application note (and QEMU's hw/arm/mps2.c, which follows it).
 */
#ifndef SELLO_MPS2_H
#define SELLO_MPS2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MPS2_SYSCLK_HZ 25000000u

/* CMSDK APB UARTs. UART0 carries the host link, UART1 the console. */
#define MPS2_UART0_BASE 0x40004000u
#define MPS2_UART0_RX_IRQ 0u
#define MPS2_UART1_BASE 0x40005000u

/* CMSDK APB timer 0: the tick source. IRQ 8. */
#define MPS2_TIMER0_BASE 0x40000000u
#define MPS2_TIMER0_IRQ 8u

/* System control block and NVIC of the M3. */
#define MPS2_SCB_ICSR (*(volatile uint32_t *)0xe000ed04u)
#define MPS2_SCB_SHCSR (*(volatile uint32_t *)0xe000ed24u)
#define MPS2_SCB_CFSR (*(volatile uint32_t *)0xe000ed28u)
#define MPS2_SCB_HFSR (*(volatile uint32_t *)0xe000ed2cu)
#define MPS2_SCB_MMFAR (*(volatile uint32_t *)0xe000ed34u)
#define MPS2_SCB_BFAR (*(volatile uint32_t *)0xe000ed38u)
#define MPS2_NVIC_ISER0 (*(volatile uint32_t *)0xe000e100u)

/* ---- console (UART1): reports for a person, never frames --------------- */

void mps2_console_init(void);
void mps2_console_str(const char *s);
void mps2_console_dec(uint64_t v);
void mps2_console_hex(uint32_t v); /* 0x and eight digits */

/* ---- UART driver --------------------------------------------------------- */

void mps2_uart_init(uint32_t base);
/* Blocks until the octet is in the transmitter. */
void mps2_uart_put(uint32_t base, uint8_t b);
/* An octet if one has arrived. */
bool mps2_uart_get(uint32_t base, uint8_t *b);
/* Lets received octets raise `irq`, whose handler must clear it. */
void mps2_uart_wake_on_rx(uint32_t base, unsigned irq);
void mps2_uart_rx_irq_clear(uint32_t base);

/* ---- ticks --------------------------------------------------------------- */

void mps2_ticks_init(uint32_t drift_ppm);

/* ---- semihosting (QEMU's -semihosting): the host's files ----------------- */

/* True once a first call has come back: the emulator serves semihosting.
 * Without it, a semihosting call would be a fault, so nothing else here
 * may be called before this returned true. */
bool mps2_semihosting_probe(void);
bool mps2_semihosting_ready(void);
/* fopen() modes by their semihosting number. */
#define MPS2_SH_MODE_RB 1
#define MPS2_SH_MODE_WB 5
int mps2_sh_open(const char *path, int mode);        /* handle, or -1 */
bool mps2_sh_close(int handle);
bool mps2_sh_write(int handle, const uint8_t *p, size_t n); /* all of it */
/* Octets read (fewer only at the end of the file), or -1. */
long mps2_sh_read(int handle, uint8_t *p, size_t n);
long mps2_sh_flen(int handle);
bool mps2_sh_remove(const char *path);
bool mps2_sh_rename(const char *from, const char *to);
/* The emulator's command line for the program (QEMU: -semihosting-config
 * arg=...), NUL-terminated, or false. */
bool mps2_sh_cmdline(char *buf, size_t cap);
/* Ends the emulation with `status` (0: success). Does not return. */
__attribute__((noreturn)) void mps2_sh_exit(int status);

/* ---- storage over semihosting -------------------------------------------- */

/* Opens the state directory DIR (records), DIR.counter and DIR.secret;
 * creates the device secret on first use. False after reporting why. */
bool mps2_nv_open(const char *state_dir);

/* ---- the host link (UART0) ----------------------------------------------- */

void mps2_link_init(void);

/* ---- stack --------------------------------------------------------------- */

/* Octets of the stack ever used since reset (painted at reset). */
size_t mps2_stack_high_water(void);
size_t mps2_stack_size(void);

#endif
