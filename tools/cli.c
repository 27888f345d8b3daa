/* Subcommand option helpers; contracts in cli.h. */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>

#include "commands.h"
#include "util.h"

int cli_bad_option(const char *cmd, char **argv, int ch,
                   void (*usage)(FILE *))
{
    /* getopt_long has advanced optind past the offending word. */
    const char *word = argv[optind - 1];
    if (ch == ':')
        fprintf(stderr, "sello %s: option '%s' needs an argument\n", cmd,
                word);
    else if (optopt && optopt != '?')
        fprintf(stderr, "sello %s: unknown option '-%c'\n", cmd, optopt);
    else
        fprintf(stderr, "sello %s: unknown option '%s'\n", cmd, word);
    usage(stderr);
    return EXIT_USAGE;
}

int cli_usage_error(const char *cmd, void (*usage)(FILE *), const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sello %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    usage(stderr);
    return EXIT_USAGE;
}

bool cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v)
{
    uint64_t x;
    if (!util_parse_u64(s, &x) || x < min || x > max)
        return false;
    *v = (uint32_t)x;
    return true;
}
