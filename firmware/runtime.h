/*
 * The handful of memory routines the module uses. They are implemented by
 * the board's bare runtime (board/<mcu>/runtime.c) or by the host libc; the
 * module calls them through these names so that the dependency is explicit
 * and grep-able. The compiler may also emit calls to memcpy/memset itself.
 */
#ifndef SELLO_RUNTIME_H
#define SELLO_RUNTIME_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define sello_memcpy memcpy
#define sello_memmove memmove
#define sello_memset memset
#define sello_memcmp memcmp

/* Overwrites a secret so the compiler cannot elide the store. */
static inline void sello_wipe(void *p, size_t n)
{
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}

#endif
