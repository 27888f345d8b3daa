/*
 * The console: UART1, for reports a person reads (start-up, the stack's
 * high-water mark, faults). Frames never pass here. Safe to use from the
 * fault handler: it only polls the transmitter.
 */
#include "mps2.h"

void mps2_console_init(void)
{
    mps2_uart_init(MPS2_UART1_BASE);
}

void mps2_console_str(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\n')
            mps2_uart_put(MPS2_UART1_BASE, '\r');
        mps2_uart_put(MPS2_UART1_BASE, (uint8_t)*s);
    }
}

void mps2_console_dec(uint64_t v)
{
    char buf[21];
    size_t i = sizeof buf - 1;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    mps2_console_str(buf + i);
}

void mps2_console_hex(uint32_t v)
{
    char buf[11] = "0x";
    for (int i = 0; i < 8; i++)
        buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15u];
    buf[10] = '\0';
    mps2_console_str(buf);
}
