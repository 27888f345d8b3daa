/*
 * The bare runtime: the four memory routines the module and BearSSL use
 * (firmware/runtime.h), and that the compiler itself may call. Nothing
 * else of a C library exists on this board.
 *
 * This file is compiled with -fno-builtin and
 * -fno-tree-loop-distribute-patterns (board.mk), or the compiler would
 * recognise these loops and turn them into calls to themselves.
 * Word-at-a-time when both pointers allow it: the module copies frames
 * and big-integer buffers of several KiB.
 */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define WORD sizeof(uint32_t)

static int aligned2(const void *a, const void *b)
{
    return (((uintptr_t)a | (uintptr_t)b) & (WORD - 1)) == 0;
}

/* Forward copy; also right for overlapping areas with dst below src,
 * since every word is read before anything at or above it is written. */
static void copy_forward(uint8_t *d, const uint8_t *s, size_t n)
{
    if (aligned2(d, s)) {
        for (; n >= WORD; n -= WORD, d += WORD, s += WORD)
            *(uint32_t *)(void *)d = *(const uint32_t *)(const void *)s;
    }
    while (n--)
        *d++ = *s++;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    copy_forward(dst, src, n);
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d == s || n == 0)
        return dst;
    if ((uintptr_t)d < (uintptr_t)s || (uintptr_t)d >= (uintptr_t)s + n) {
        copy_forward(d, s, n);
        return dst;
    }
    /* Overlapping with dst above src: copy backwards. */
    d += n;
    s += n;
    if (aligned2(d, s)) {
        for (; n >= WORD; n -= WORD) {
            d -= WORD;
            s -= WORD;
            *(uint32_t *)(void *)d = *(const uint32_t *)(const void *)s;
        }
    }
    while (n--)
        *--d = *--s;
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    uint8_t b = (uint8_t)c;
    for (; n > 0 && ((uintptr_t)d & (WORD - 1)) != 0; n--)
        *d++ = b;
    uint32_t w = b * 0x01010101u;
    for (; n >= WORD; n -= WORD, d += WORD)
        *(uint32_t *)(void *)d = w;
    while (n--)
        *d++ = b;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n > 0; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}
