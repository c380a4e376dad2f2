/* Text that came from the program (its command line, paths, symbol names,
 * its output) made safe for a terminal: control characters (C0, DEL, C1)
 * and bytes that are not UTF-8 are written as \xNN, a backslash as \\, so
 * that no byte of it can move the cursor, ring the bell or set a title. */
#ifndef ZMC_ESCAPE_H
#define ZMC_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* The first max bytes of s (SIZE_MAX: all of it), escaped, to f. */
void zmc_put_escaped(FILE *f, const char *s, size_t max);

/* s escaped into buf (cap bytes, NUL-terminated; an escape that does not
 * fit whole is left out with the rest). Returns buf. */
const char *zmc_escaped(char *buf, size_t cap, const char *s);

/* A command line as a reader would type it again: each of the first 8
 * arguments after a space, escaped, and in single quotes when it is empty
 * or holds a character the shell treats specially (a ' inside as '\''),
 * then " ..." when there are more. */
void zmc_put_argv(FILE *f, char *const *argv, int argc);

/* Length of the valid UTF-8 sequence for one character at s (avail bytes
 * there), or 0 when it is not one or is a C1 control (U+0080..U+009F). */
size_t zmc_utf8_len(const unsigned char *s, size_t avail);

#endif
