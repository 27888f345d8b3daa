/* Terminal prompts; contracts in prompt.h. */
#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "util.h"

static int tty_open(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0 && !isatty(fd)) {
        close(fd);
        return -1;
    }
    return fd;
}

bool prompt_have_tty(void)
{
    int fd = tty_open();
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* The terminal to put back as it was if a signal ends the process while
 * echo is off; otherwise the operator's shell would stay blind. */
static volatile sig_atomic_t restore_fd = -1;
static struct termios restore_mode;

static void restore_on_signal(int sig)
{
    if (restore_fd >= 0)
        tcsetattr(restore_fd, TCSAFLUSH, &restore_mode);
    signal(sig, SIG_DFL);
    raise(sig);
}

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_FATAL (sizeof fatal_signals / sizeof fatal_signals[0])

static void write_str(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

bool prompt_line(const char *prompt, bool echo, char *buf, size_t cap,
                 size_t *len)
{
    int fd = tty_open();
    if (fd < 0) {
        util_err("no terminal to ask on (/dev/tty)");
        return false;
    }
    struct termios old, quiet;
    struct sigaction saved[N_FATAL];
    bool muted = false;
    if (!echo) {
        if (tcgetattr(fd, &old) != 0) {
            util_err("/dev/tty: %s", strerror(errno));
            close(fd);
            return false;
        }
        restore_mode = old;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = restore_on_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < N_FATAL; i++)
            sigaction(fatal_signals[i], &sa, &saved[i]);
        restore_fd = fd;
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
        quiet.c_lflag |= ICANON;
        if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
            util_err("/dev/tty: cannot turn echo off: %s", strerror(errno));
            goto fail;
        }
        muted = true;
    }
    write_str(fd, prompt);
    size_t n = 0;
    bool ok = false, too_long = false;
    char c = 0;
    for (;;) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            util_err("/dev/tty: end of input");
            break;
        }
        if (c == '\n') {
            ok = !too_long;
            break;
        }
        if (n + 1 >= cap)
            too_long = true;
        else
            buf[n++] = c;
    }
    sodium_memzero(&c, sizeof c); /* it held the secret's last character */
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (muted) {
        /* Echo was off, so the operator's Enter did not move the cursor. */
        write_str(fd, "\n");
        tcsetattr(fd, TCSAFLUSH, &old);
    }
    if (too_long)
        util_err("the answer is too long (at most %zu characters)", cap - 1);
    if (!ok) {
        sodium_memzero(buf, cap);
        n = 0;
    }
    *len = n;
    if (!echo) {
        restore_fd = -1;
        for (size_t i = 0; i < N_FATAL; i++)
            sigaction(fatal_signals[i], &saved[i], NULL);
    }
    close(fd);
    return ok;
fail:
    restore_fd = -1;
    for (size_t i = 0; i < N_FATAL; i++)
        sigaction(fatal_signals[i], &saved[i], NULL);
    close(fd);
    return false;
}
