/*
 * The host link: module ABI frames over UART0 in the serial link framing
 * of <sello/serial_link.h> (COBS, CRC-32, 0x00 delimiters). A damaged
 * message is answered with a NAK in the place of its answer; the relay
 * then starts afresh. The link never goes away for good (a UART has no
 * "closed"), so sello_board_frame_recv never fails.
 *
 * Frames are decoded straight into the module's buffer and sent straight
 * from its answer: the link costs no RAM beyond the decoder's state.
 *
 * After each answer the console reports the stack's high-water mark when
 * it has grown, which is how `make size` measures it.
 */
#include <sello/board.h>
#include <sello/serial_link.h>

#include "mps2.h"

void mps2_uart0_rx_irq(void);

static sello_link_rx rx;
static size_t stack_reported;

void mps2_uart0_rx_irq(void)
{
    mps2_uart_rx_irq_clear(MPS2_UART0_BASE);
}

void mps2_link_init(void)
{
    mps2_uart_init(MPS2_UART0_BASE);
    mps2_uart_wake_on_rx(MPS2_UART0_BASE, MPS2_UART0_RX_IRQ);
}

/* The next octet from the host; sleeps while there is none. */
static uint8_t link_get(void)
{
    uint8_t b;
    for (;;) {
        /* Masked, so that an octet arriving between the test and WFI
         * still ends the WFI (a pending interrupt wakes it even masked). */
        __asm__ volatile("cpsid i" ::: "memory");
        bool got = mps2_uart_get(MPS2_UART0_BASE, &b);
        if (!got)
            __asm__ volatile("wfi");
        __asm__ volatile("cpsie i" ::: "memory");
        if (got)
            return b;
    }
}

static void link_put(void *arg, const uint8_t *p, size_t n)
{
    (void)arg;
    while (n--)
        mps2_uart_put(MPS2_UART0_BASE, *p++);
}

sello_status sello_board_frame_recv(uint8_t *buf, size_t cap, size_t *len)
{
    /* The module hands the same buffer every time; another one would only
     * cost being out of step until the host's next delimiter. */
    if (rx.buf != buf || rx.cap != cap)
        sello_link_rx_init(&rx, buf, cap);
    for (;;) {
        uint8_t b = link_get();
        int result;
        (void)sello_link_rx_feed(&rx, &b, 1, &result);
        if (result == SELLO_LINK_MESSAGE) {
            *len = rx.len;
            return SELLO_OK;
        }
        if (result == SELLO_LINK_BAD) {
            const uint8_t nak[SELLO_LINK_NAK_LEN] = {SELLO_LINK_NAK, rx.why};
            sello_link_encode(nak, sizeof nak, link_put, NULL);
        }
    }
}

void sello_board_frame_send(const uint8_t *frame, size_t len)
{
    sello_link_encode(frame, len, link_put, NULL);
    size_t used = mps2_stack_high_water();
    if (used > stack_reported) {
        stack_reported = used;
        mps2_console_str("sello-mps2: stack high-water ");
        mps2_console_dec(used);
        mps2_console_str(" of ");
        mps2_console_dec(mps2_stack_size());
        mps2_console_str(" octets\n");
    }
}
