/* One line of text built in a caller's stack buffer and written to stderr
 * with a single write(2): no allocation, no stdio, and the line stays whole
 * when other threads write too. For the OOM path, soft-limit and option
 * messages, and anything else that may run inside a failing allocator. */
#ifndef ZM_LINE_H
#define ZM_LINE_H

#include <stddef.h>

typedef struct zm__line {
  char s[256];
  size_t n;
} zm__line;

void zm__line_str(zm__line *l, const char *s);
/* A user string: printable ASCII kept, other bytes shown as '?'; at most
 * 32 bytes. */
void zm__line_name(zm__line *l, const char *s);
void zm__line_num(zm__line *l, unsigned long long v);
/* v in hexadecimal, with 0x. */
void zm__line_hex(zm__line *l, unsigned long long v);
/* label, then v, then " bytes". */
void zm__line_bytes(zm__line *l, const char *label, unsigned long long v);
/* Appends a newline, writes the line, and empties it. */
void zm__line_flush(zm__line *l);

#endif
