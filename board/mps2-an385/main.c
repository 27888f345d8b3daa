/*
 * sello-mps2: the Sello module on an ARM MPS2 AN385 board (Cortex-M3), as
 * QEMU emulates it (`qemu-system-arm -M mps2-an385`). The same firmware/
 * as the simulator, freestanding, with this board's contract:
 *
 *   host link      UART0, serial link framing (transport.c)
 *   console        UART1, reports only (console.c)
 *   ticks          CMSDK timer 0 at 25 MHz, 64-bit by its wrap interrupt
 *   storage        host files through semihosting (nv.c)
 *   entropy,       the host's, through semihosting: SIMULATION ONLY;
 *   device secret  the module then initialises test units only
 *   key token      none: the key lives in module storage
 *
 * Options come from the emulator's command line for the program (QEMU:
 * -semihosting-config enable=on,target=native,arg=sello-mps2,arg=--state,
 * arg=DIR,...), separated by spaces, so paths cannot contain spaces:
 *
 *   --state DIR      the module's records; DIR.counter and DIR.secret
 *                    beside it (DIR must exist)
 *   --drift-ppm N    declared worst-case tick drift (default 100)
 */
#include <sello/module.h>

#include "mps2.h"

#define CMDLINE_MAX 256u
#define DRIFT_PPM_DEFAULT 100u
#define DRIFT_PPM_MAX 100000u

static sello_module_storage module_context;

/* Splits the command line in place; returns the number of words. */
static unsigned split_words(char *line, char *words[], unsigned max)
{
    unsigned n = 0;
    char *p = line;
    while (*p != '\0') {
        while (*p == ' ')
            *p++ = '\0';
        if (*p == '\0')
            break;
        if (n == max)
            return max + 1;
        words[n++] = p;
        while (*p != '\0' && *p != ' ')
            p++;
    }
    return n;
}

static bool same(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b)
        a++, b++;
    return *a == *b;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    uint32_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint32_t)(*s - '0')) / 10u)
            return false;
        v = v * 10u + (uint32_t)(*s - '0');
    }
    *out = v;
    return true;
}

__attribute__((noreturn)) static void halt(const char *why)
{
    mps2_console_str("sello-mps2: ");
    mps2_console_str(why);
    mps2_console_str("; halted\n");
    mps2_sh_exit(78); /* EX_CONFIG */
}

int main(void)
{
    mps2_console_init();
    mps2_console_str("sello-mps2: Sello module on MPS2 AN385 (Cortex-M3); "
                     "SIMULATION board: entropy and device secret are the "
                     "emulator host's\n");
    (void)mps2_semihosting_probe();

    static char line[CMDLINE_MAX];
    char *words[12];
    if (!mps2_sh_cmdline(line, sizeof line))
        halt("cannot read the command line (semihosting)");
    unsigned n = split_words(line, words, 12);
    if (n > 12)
        halt("too many words on the command line");
    const char *state = NULL;
    uint32_t drift_ppm = DRIFT_PPM_DEFAULT;
#ifdef SELLO_MPS2_TEST_HOOKS
    bool fault_test = false;
#endif
    /* words[0] is the program's name. */
    for (unsigned i = 1; i < n; i++) {
        if (same(words[i], "--state") && i + 1 < n) {
            state = words[++i];
        } else if (same(words[i], "--drift-ppm") && i + 1 < n) {
            if (!parse_u32(words[++i], DRIFT_PPM_MAX, &drift_ppm))
                halt("--drift-ppm: not a number from 0 to 100000");
#ifdef SELLO_MPS2_TEST_HOOKS
        } else if (same(words[i], "--fault-test")) {
            fault_test = true;
#endif
        } else {
            mps2_console_str("sello-mps2: unknown option ");
            mps2_console_str(words[i]);
            halt(" (usage: --state DIR [--drift-ppm N])");
        }
    }
    if (state == NULL)
        halt("--state DIR is required");

    mps2_ticks_init(drift_ppm);
#ifdef SELLO_MPS2_TEST_HOOKS
    if (fault_test)
        __asm__ volatile("udf #0"); /* an undefined instruction */
#endif
    if (!mps2_nv_open(state))
        halt("the state files cannot be used");
    mps2_link_init();

    sello_status st = sello_module_start(&module_context);
    mps2_console_str("sello-mps2: module started: ");
    mps2_console_str(sello_status_str(st));
    mps2_console_str("; serving on UART0\n");
    st = sello_module_serve(&module_context);
    mps2_console_str("sello-mps2: link gone: ");
    mps2_console_str(sello_status_str(st));
    mps2_console_str("\n");
    return 0;
}
