/*
 * The `sello` subcommands. Each takes the arguments after the command
 * name (argv[0] is the command name itself, as getopt_long expects) and
 * returns the process exit status: 0 success, 1 failure (including a
 * module status other than SELLO_OK or a failed verification), 2 usage.
 */
#ifndef SELLO_TOOLS_COMMANDS_H
#define SELLO_TOOLS_COMMANDS_H

#include <stdio.h>

/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *f);
    const char *summary; /* NULL: a retired command, not listed */
} sello_command;

/* Admin commands (cmd_admin.c): they talk to the relay admin socket
 * (set-time is retired and talks to nothing). */
int cmd_init(int argc, char **argv);
int cmd_csr(int argc, char **argv);
int cmd_cert_load(int argc, char **argv);
int cmd_certs(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_set_time(int argc, char **argv);
void usage_init(FILE *f);
void usage_csr(FILE *f);
void usage_cert_load(FILE *f);
void usage_certs(FILE *f);
void usage_status(FILE *f);
void usage_set_time(FILE *f);

/* Dual-control commands (cmd_custody.c): custodians' shares and the
 * module's quorum sessions, over the admin socket. */
int cmd_activate(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_recalibrate(int argc, char **argv);
int cmd_leap(int argc, char **argv);
int cmd_deactivate(int argc, char **argv);
void usage_activate(FILE *f);
void usage_destroy(FILE *f);
void usage_recalibrate(FILE *f);
void usage_leap(FILE *f);
void usage_deactivate(FILE *f);

/* The audit log (cmd_audit.c): verify the relay's log, list tokens. */
int cmd_audit(int argc, char **argv);
void usage_audit(FILE *f);

/* Time-stamp commands (cmd_tsp.c): RFC 3161 over HTTP and verification. */
int cmd_stamp(int argc, char **argv);
int cmd_verify(int argc, char **argv);
void usage_stamp(FILE *f);
void usage_verify(FILE *f);

#endif
