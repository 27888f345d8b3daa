/*
 * `sello`: the operator's and relying party's command line for a Sello
 * time-stamping unit. This file only dispatches; see commands.h.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const sello_command commands[] = {
    {"init", cmd_init, usage_init,
     "key ceremony: TSU key in the module, shares to custodians"},
    {"csr", cmd_csr, usage_csr, "fetch the module's PKCS#10 request"},
    {"cert-load", cmd_cert_load, usage_cert_load,
     "load the TSU certificate (and its issuer)"},
    {"certs", cmd_certs, usage_certs, "fetch the loaded certificates"},
    {"status", cmd_status, usage_status, "show the module status"},
    {"activate", cmd_activate, usage_activate,
     "unlock the key with a quorum of custodians' shares"},
    {"deactivate", cmd_deactivate, usage_deactivate,
     "lock the key (no shares needed)"},
    {"recalibrate", cmd_recalibrate, usage_recalibrate,
     "calibrate the clock to a proposed time, with a quorum"},
    {"leap", cmd_leap, usage_leap,
     "announce (or cancel) a leap second, with a quorum"},
    {"destroy", cmd_destroy, usage_destroy,
     "zeroise the key and records, with a quorum"},
    {"audit", cmd_audit, usage_audit,
     "verify the audit log, list the tokens of a time window"},
    {"stamp", cmd_stamp, usage_stamp,
     "time-stamp a file over HTTP and verify the reply"},
    {"verify", cmd_verify, usage_verify,
     "verify a time-stamp response or token"},
    /* Retired: explains what replaced it and exits 2; not listed. */
    {"set-time", cmd_set_time, usage_set_time, NULL},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: sello COMMAND [OPTIONS]\n"
               "       sello help [COMMAND]   (or sello COMMAND --help)\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (commands[i].summary)
            fprintf(f, "  %-12s %s\n", commands[i].name,
                    commands[i].summary);
    fprintf(f, "\nAll commands but stamp and verify talk to the relay's "
               "administrative socket:\n--admin PATH, else $SELLO_ADMIN, "
               "else build/demo/admin.sock.\n");
}

static const sello_command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 ||
        strcmp(name, "-h") == 0) {
        if (argc > 2) {
            const sello_command *c = find(argv[2]);
            if (!c) {
                fprintf(stderr, "sello: unknown command '%s'\n", argv[2]);
                return EXIT_USAGE;
            }
            c->usage(stdout);
            return EXIT_OK;
        }
        usage(stdout);
        return EXIT_OK;
    }
    const sello_command *c = find(name);
    if (!c) {
        fprintf(stderr, "sello: unknown command '%s'\n\n", name);
        usage(stderr);
        return EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
