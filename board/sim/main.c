/*
 * sello-sim: the Sello module as a process. Serves the module ABI on a UNIX
 * socket and keeps the module's non-volatile records in a directory, its
 * monotonic counter in a file beside it, and optionally its key in a
 * PKCS#11 token. Simulation only: its entropy and device secret are those
 * of the host.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sello/module.h>

#include "sim.h"

volatile sig_atomic_t sim_stopping;

static sello_module_storage module;

static void on_signal(int sig)
{
    (void)sig;
    sim_stopping = 1;
}

static void on_stats_signal(int sig)
{
    (void)sig;
    sim_stats_requested = 1;
}

/*
 * dir + suffix, with dir's trailing slashes dropped first: "state/" must
 * give "state.counter" beside the directory, not "state/.counter" inside
 * it. -1 when it does not fit.
 */
static int beside_dir(const char *dir, const char *suffix, char *out,
                      size_t cap)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    int n = snprintf(out, cap, "%.*s%s", (int)len, dir, suffix);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sello-sim --socket PATH --state DIR [options]\n"
            "  --socket PATH         UNIX socket to serve the module ABI on\n"
            "  --state DIR           directory of the module's records\n"
            "  --device-secret FILE  device-unique secret (created on first\n"
            "                        use; default: DIR.secret beside DIR)\n"
            "  --counter FILE        monotonic counter, outside DIR so that\n"
            "                        restoring DIR does not restore it\n"
            "                        (default: DIR.counter beside DIR)\n"
            "  --pkcs11-module PATH  PKCS#11 library holding the key token\n"
            "  --pkcs11-token LABEL  label of the token to use\n"
            "  --pkcs11-so-pin-file FILE\n"
            "                        the token's initial SO PIN (first line),\n"
            "                        replaced by the module at INIT\n"
            "                        (the three --pkcs11-* go together; without\n"
            "                        them the unit has no key token)\n"
            "  --drift-ppm N         declared tick drift (default 100)\n"
            "  --stats PATH          bench aid: on SIGUSR1, write the CPU time\n"
            "                        the module spent on frames to PATH\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "state", required_argument, NULL, 'd' },
        { "device-secret", required_argument, NULL, 'k' },
        { "drift-ppm", required_argument, NULL, 'p' },
        { "stats", required_argument, NULL, 'S' },
        { "counter", required_argument, NULL, 'c' },
        { "pkcs11-module", required_argument, NULL, 'M' },
        { "pkcs11-token", required_argument, NULL, 'T' },
        { "pkcs11-so-pin-file", required_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *socket_path = NULL, *state = NULL, *secret = NULL;
    const char *counter = NULL;
    const char *p11_module = NULL, *p11_token = NULL, *p11_so_pin_file = NULL;
    bool stats = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': socket_path = optarg; break;
        case 'd': state = optarg; break;
        case 'k': secret = optarg; break;
        case 'p': sim_set_drift_ppm((uint32_t)strtoul(optarg, NULL, 10)); break;
        case 'S': sim_transport_stats(optarg); stats = true; break;
        case 'c': counter = optarg; break;
        case 'M': p11_module = optarg; break;
        case 'T': p11_token = optarg; break;
        case 'P': p11_so_pin_file = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!socket_path || !state) {
        usage(stderr);
        return 2;
    }
    int p11_given = !!p11_module + !!p11_token + !!p11_so_pin_file;
    if (p11_given != 0 && p11_given != 3) {
        fprintf(stderr, "sello-sim: --pkcs11-module, --pkcs11-token and "
                        "--pkcs11-so-pin-file go together\n");
        usage(stderr);
        return 2;
    }
    char secret_buf[4096];
    if (!secret) {
        if (beside_dir(state, ".secret", secret_buf, sizeof secret_buf) != 0) {
            fprintf(stderr, "sello-sim: --state path too long\n");
            return 1;
        }
        secret = secret_buf;
    }
    if (sim_nv_open(state, secret) != 0) {
        perror("sello-sim: state directory or device secret");
        return 1;
    }
    char counter_buf[4096];
    if (!counter) {
        if (beside_dir(state, ".counter", counter_buf, sizeof counter_buf) !=
            0) {
            fprintf(stderr, "sello-sim: --state path too long\n");
            return 1;
        }
        counter = counter_buf;
    }
    if (sim_counter_open(counter, state) != 0)
        return 1;
    /* Before the module starts, which may already use the token. */
    if (p11_given &&
        sim_token_open(p11_module, p11_token, p11_so_pin_file) != 0)
        return 1;
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (stats) {
        struct sigaction su = { .sa_handler = on_stats_signal };
        sigaction(SIGUSR1, &su, NULL);
    }

    sello_status st = sello_module_start(&module);
    if (st != SELLO_OK)
        fprintf(stderr, "sello-sim: module start failed: %s (serving in the "
                        "error state)\n", sello_status_str(st));
    if (sim_transport_listen(socket_path) != 0) {
        perror("sello-sim: socket");
        sim_token_close();
        return 1;
    }
    fprintf(stderr, "sello-sim: serving on %s, state in %s\n", socket_path,
            state);
    sello_module_serve(&module);
    sim_transport_close();
    sim_token_close();
    unlink(socket_path);
    return 0;
}
