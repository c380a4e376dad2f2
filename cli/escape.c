/* Escaping for terminals: see escape.h. */
#include "escape.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s that is not a C1 control
 * (U+0080..U+009F), or 0. Overlong forms and surrogates count as invalid. */
size_t zmc_utf8_len(const unsigned char *s, size_t avail) {
  unsigned c = s[0];
  size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (n == 0 || n > avail)
    return 0;
  for (size_t k = 1; k < n; k++)
    if ((s[k] & 0xc0) != 0x80)
      return 0;
  if (n == 2 && c == 0xc2 && s[1] < 0xa0)
    return 0; /* C1 controls: some terminals obey them */
  if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
    return 0;
  if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
    return 0;
  return n;
}

/* The escaped form of the text at s: writes it to out (room for 5 bytes)
 * and returns its length; *used: bytes of s it stands for. */
static size_t one(const unsigned char *s, size_t avail, char *out, size_t *used) {
  static const char hex[] = "0123456789abcdef";
  unsigned c = s[0];
  *used = 1;
  if (c == '\\') {
    memcpy(out, "\\\\", 2);
    return 2;
  }
  if (c >= 0x20 && c < 0x7f) {
    out[0] = (char)c;
    return 1;
  }
  size_t n = c >= 0x80 ? zmc_utf8_len(s, avail) : 0;
  if (n) {
    memcpy(out, s, n);
    *used = n;
    return n;
  }
  out[0] = '\\', out[1] = 'x', out[2] = hex[c >> 4], out[3] = hex[c & 15];
  return 4;
}

void zmc_put_escaped(FILE *f, const char *s, size_t max) {
  size_t len = strnlen(s, max);
  for (size_t i = 0; i < len;) {
    char out[8];
    size_t used, n = one((const unsigned char *)s + i, len - i, out, &used);
    fwrite(out, 1, n, f);
    i += used;
  }
}

const char *zmc_escaped(char *buf, size_t cap, const char *s) {
  size_t at = 0, len = strlen(s);
  if (!cap)
    return buf;
  for (size_t i = 0; i < len;) {
    char out[8];
    size_t used, n = one((const unsigned char *)s + i, len - i, out, &used);
    if (at + n >= cap)
      break;
    memcpy(buf + at, out, n);
    at += n;
    i += used;
  }
  buf[at] = 0;
  return buf;
}

/* Whether the shell reads arg as one word, as it stands. */
static bool plain_word(const char *arg) {
  if (!*arg)
    return false;
  for (const unsigned char *c = (const unsigned char *)arg; *c; c++)
    if (*c < 0x80 && !isalnum(*c) && !strchr("_@%+=:,./-", *c))
      return false;
  return true;
}

static void put_arg(FILE *f, const char *arg) {
  if (plain_word(arg)) {
    zmc_put_escaped(f, arg, SIZE_MAX);
    return;
  }
  fputc('\'', f);
  for (const char *q; (q = strchr(arg, '\'')); arg = q + 1) {
    zmc_put_escaped(f, arg, (size_t)(q - arg));
    fputs("'\\''", f);
  }
  zmc_put_escaped(f, arg, SIZE_MAX);
  fputc('\'', f);
}

void zmc_put_argv(FILE *f, char *const *argv, int argc) {
  for (int i = 0; i < argc && i < 8; i++) {
    fputc(' ', f);
    put_arg(f, argv[i]);
  }
  if (argc > 8)
    fputs(" ...", f);
}
