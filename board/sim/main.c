/*
 * sello-sim: the Sello module as a process. Serves the module ABI on a UNIX
 * socket and keeps the module's non-volatile records in a directory.
 * Simulation only: its entropy and device secret are those of the host.
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

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sello-sim --socket PATH --state DIR [options]\n"
            "  --socket PATH         UNIX socket to serve the module ABI on\n"
            "  --state DIR           directory of the module's records\n"
            "  --device-secret FILE  device-unique secret (created on first\n"
            "                        use; default: DIR.secret beside DIR)\n"
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
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *socket_path = NULL, *state = NULL, *secret = NULL;
    bool stats = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': socket_path = optarg; break;
        case 'd': state = optarg; break;
        case 'k': secret = optarg; break;
        case 'p': sim_set_drift_ppm((uint32_t)strtoul(optarg, NULL, 10)); break;
        case 'S': sim_transport_stats(optarg); stats = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!socket_path || !state) {
        usage(stderr);
        return 2;
    }
    char secret_buf[4096];
    if (!secret) {
        snprintf(secret_buf, sizeof secret_buf, "%s.secret", state);
        secret = secret_buf;
    }
    if (sim_nv_open(state, secret) != 0) {
        perror("sello-sim: state directory or device secret");
        return 1;
    }
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
        return 1;
    }
    fprintf(stderr, "sello-sim: serving on %s, state in %s\n", socket_path,
            state);
    sello_module_serve(&module);
    sim_transport_close();
    unlink(socket_path);
    return 0;
}
