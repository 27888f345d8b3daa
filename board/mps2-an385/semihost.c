/*
 * ARM semihosting: the emulator's services to the program it runs (a BKPT
 * 0xAB with an operation in r0 and a parameter block in r1). This board
 * uses them for what a real security processor has on chip and QEMU's
 * AN385 does not: non-volatile storage, a device secret, entropy
 * (see nv.c). Needs `-semihosting-config enable=on,target=native`.
 */
#include "mps2.h"

enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_FLEN = 0x0c,
    SYS_REMOVE = 0x0e,
    SYS_RENAME = 0x0f,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static bool ready;

static long semihost(uint32_t op, const void *param)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = param;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (long)(int32_t)r0;
}

static size_t length(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

/*
 * Without semihosting, BKPT is a debug event that escalates to HardFault.
 * There is no way to ask first, so the probe is the first real call
 * (reading the command line) and the board requires it to work: a build
 * that runs without it has no storage and must not pretend otherwise.
 */
bool mps2_semihosting_probe(void)
{
    char buf[8];
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, sizeof buf};
    (void)semihost(SYS_GET_CMDLINE, block);
    ready = true;
    return ready;
}

bool mps2_semihosting_ready(void)
{
    return ready;
}

int mps2_sh_open(const char *path, int mode)
{
    uint32_t block[3] = {(uint32_t)(uintptr_t)path, (uint32_t)mode,
                         (uint32_t)length(path)};
    long h = semihost(SYS_OPEN, block);
    return h < 0 ? -1 : (int)h;
}

bool mps2_sh_close(int handle)
{
    uint32_t block[1] = {(uint32_t)handle};
    return semihost(SYS_CLOSE, block) == 0;
}

bool mps2_sh_write(int handle, const uint8_t *p, size_t n)
{
    uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)p,
                         (uint32_t)n};
    return semihost(SYS_WRITE, block) == 0; /* octets NOT written */
}

long mps2_sh_read(int handle, uint8_t *p, size_t n)
{
    uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)p,
                         (uint32_t)n};
    long left = semihost(SYS_READ, block); /* octets NOT read */
    if (left < 0 || (size_t)left > n)
        return -1;
    return (long)(n - (size_t)left);
}

long mps2_sh_flen(int handle)
{
    uint32_t block[1] = {(uint32_t)handle};
    return semihost(SYS_FLEN, block);
}

bool mps2_sh_remove(const char *path)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)path, (uint32_t)length(path)};
    return semihost(SYS_REMOVE, block) == 0;
}

bool mps2_sh_rename(const char *from, const char *to)
{
    uint32_t block[4] = {(uint32_t)(uintptr_t)from, (uint32_t)length(from),
                         (uint32_t)(uintptr_t)to, (uint32_t)length(to)};
    return semihost(SYS_RENAME, block) == 0;
}

bool mps2_sh_cmdline(char *buf, size_t cap)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap};
    if (cap == 0 || semihost(SYS_GET_CMDLINE, block) != 0)
        return false;
    if (block[1] >= cap)
        return false;
    buf[block[1]] = '\0';
    return true;
}

void mps2_sh_exit(int status)
{
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)semihost(SYS_EXIT_EXTENDED, block);
    /* An emulator without the extended call: plain exit (status lost). */
    (void)semihost(SYS_EXIT, (const void *)(uintptr_t)ADP_STOPPED_APPLICATION_EXIT);
    for (;;)
        __asm__ volatile("wfi");
}
