/* Option-handling helpers shared by the subcommands (see commands.h). */
#ifndef SELLO_TOOLS_CLI_H
#define SELLO_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Reports what getopt_long (run with opterr = 0 and an optstring that
 * starts with ':') returned for a bad option: `ch` is '?' for an unknown
 * option and ':' for a missing argument. Prints the usage to stderr and
 * returns EXIT_USAGE.
 */
int cli_bad_option(const char *cmd, char **argv, int ch,
                   void (*usage)(FILE *));

/* Prints "sello CMD: message", the usage, and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, void (*usage)(FILE *), const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

/* Parses a decimal u32 in [min, max]; false on junk or range. */
bool cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v);

#endif
