/*
 * CMSDK APB UART driver, polled. Polling is enough here: the module does
 * one thing at a time, and a received octet waits in the UART (QEMU's
 * socket chardev holds further input back until it is read), so nothing is
 * lost while the module works. The receive interrupt only wakes the core
 * from WFI while it waits for input, so that an idle module sleeps instead
 * of spinning (under emulation: instead of taking a host CPU).
 */
#include "mps2.h"

#define UART_DATA(base) (*(volatile uint32_t *)((base) + 0x00u))
#define UART_STATE(base) (*(volatile uint32_t *)((base) + 0x04u))
#define UART_CTRL(base) (*(volatile uint32_t *)((base) + 0x08u))
#define UART_INT(base) (*(volatile uint32_t *)((base) + 0x0cu))
#define UART_BAUDDIV(base) (*(volatile uint32_t *)((base) + 0x10u))

#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define CTRL_TX_EN (1u << 0)
#define CTRL_RX_EN (1u << 1)
#define CTRL_RX_IRQ_EN (1u << 3)
#define INT_RX (1u << 1)

/* The fastest rate the CMSDK UART allows (divider >= 16): 1.5625 Mbit/s
 * at 25 MHz. Under emulation the rate does not pace anything. */
#define UART_BAUDDIV_MIN 16u

void mps2_uart_init(uint32_t base)
{
    UART_CTRL(base) = 0;
    UART_BAUDDIV(base) = UART_BAUDDIV_MIN;
    UART_CTRL(base) = CTRL_TX_EN | CTRL_RX_EN;
    /* A read tells the emulator the receiver takes octets now: QEMU asks
     * its chardev for input again only when DATA is read, so octets that
     * arrived while the receiver was off (before this point) would
     * otherwise wait until something else woke its main loop. */
    (void)UART_DATA(base);
}

void mps2_uart_put(uint32_t base, uint8_t b)
{
    while (UART_STATE(base) & STATE_TX_FULL)
        ;
    UART_DATA(base) = b;
}

void mps2_uart_wake_on_rx(uint32_t base, unsigned irq)
{
    UART_CTRL(base) |= CTRL_RX_IRQ_EN;
    MPS2_NVIC_ISER0 = 1u << irq;
}

void mps2_uart_rx_irq_clear(uint32_t base)
{
    UART_INT(base) = INT_RX;
}

bool mps2_uart_get(uint32_t base, uint8_t *b)
{
    if (!(UART_STATE(base) & STATE_RX_FULL))
        return false;
    *b = (uint8_t)UART_DATA(base);
    return true;
}
