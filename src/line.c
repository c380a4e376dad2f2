/* Lines for stderr without allocation; see line.h. */
#include "line.h"
#include "oom.h"
#include "prim/prim.h"

void zm__line_str(zm__line *l, const char *s) {
  for (; *s && l->n < sizeof l->s - 1; s++)
    l->s[l->n++] = *s;
}

void zm__line_name(zm__line *l, const char *s) {
  for (size_t i = 0; s && s[i] && i < 32 && l->n < sizeof l->s - 1; i++)
    l->s[l->n++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
}

void zm__line_num(zm__line *l, unsigned long long v) {
  char num[21];
  size_t n = zm__utoa(v, num);
  for (size_t i = 0; i < n && l->n < sizeof l->s - 1; i++)
    l->s[l->n++] = num[i];
}

void zm__line_hex(zm__line *l, unsigned long long v) {
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  zm__line_str(l, "0x");
  while (n && l->n < sizeof l->s - 1)
    l->s[l->n++] = tmp[--n];
}

void zm__line_bytes(zm__line *l, const char *label, unsigned long long v) {
  zm__line_str(l, label);
  zm__line_num(l, v);
  zm__line_str(l, " bytes");
}

void zm__line_flush(zm__line *l) {
  l->s[l->n++] = '\n';
  zm__prim_write_stderr(l->s, l->n);
  l->n = 0;
}
