/*
 * Questions to the operator at the controlling terminal (/dev/tty), never
 * stdin: stdin may be a pipe carrying data, and a passphrase must not be
 * read from wherever a script happened to connect it.
 */
#ifndef SELLO_TOOLS_PROMPT_H
#define SELLO_TOOLS_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

/* True when there is a controlling terminal to ask. Callers check this
 * before starting anything that prompting would leave half done. */
bool prompt_have_tty(void);

/*
 * Writes `prompt` to the terminal and reads one line (without its line
 * end) into buf[0..cap) as a NUL-terminated string of *len octets. With
 * echo false the terminal does not show what is typed, and is restored
 * even if the process is interrupted meanwhile. False after printing why:
 * no terminal, end of input, or a line of cap octets or more (the buffer
 * is wiped then, as it may hold part of a secret).
 */
bool prompt_line(const char *prompt, bool echo, char *buf, size_t cap,
                 size_t *len);

#endif
