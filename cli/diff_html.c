/* zmem diff --html FILE: the comparison as one page that works offline:
 * the text view, each change coloured (growth red, shrinkage green, new
 * and gone marked), and the --json comparison as a data blob
 * (<script type="application/json" id="zmem-diff">) for scripts. */
#define _GNU_SOURCE /* open_memstream, memmem */
#include "diff_out.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

static void put_html(FILE *f, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '<')
      fputs("&lt;", f);
    else if (s[i] == '>')
      fputs("&gt;", f);
    else if (s[i] == '&')
      fputs("&amp;", f);
    else
      putc(s[i], f);
  }
}

/* The class of one line of the text: a figure's change after its "->"
 * ("+..." grew, "-..." shrank), or a process or site only in one run. */
static const char *line_class(const char *s, size_t len) {
  const char *arrow = memmem(s, len, " -> ", 4);
  if (memmem(s, len, " [new]", 6))
    return "new";
  if (memmem(s, len, " [gone", 6))
    return "gone";
  if (!arrow || arrow[-1] != 'B') /* a figure line's old value ends in B */
    return NULL;
  const char *end = s + len;
  if (memmem(arrow, (size_t)(end - arrow), " +", 2))
    return "up";
  const char *minus = memmem(arrow + 4, (size_t)(end - arrow - 4), " -", 2);
  return minus && minus + 2 < end && minus[2] >= '0' && minus[2] <= '9' ? "down" : NULL;
}

static void text_view(FILE *f, const char *text, size_t len) {
  fputs("<pre>", f);
  for (const char *s = text, *end = text + len; s < end;) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
    const char *cls = line_class(s, n);
    if (cls)
      fprintf(f, "<span class=\"%s\">", cls);
    put_html(f, s, n);
    fputs(cls ? "</span>\n" : "\n", f);
    s += n + 1;
  }
  fputs("</pre>\n", f);
}

/* What a writer makes of df, in a buffer; NULL when it failed. */
static char *rendered(int (*write)(FILE *, const zmc_diff *), const zmc_diff *df,
                      size_t *len) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  if (!f)
    return NULL;
  int r = write(f, df);
  if (fclose(f) != 0 || r != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

int zmc_diff_write_html(FILE *f, const zmc_diff *df) {
  size_t tlen, jlen;
  char *text = rendered(zmc_diff_write_text, df, &tlen);
  char *json = text ? rendered(zmc_diff_write_json, df, &jlen) : NULL;
  if (!json) {
    free(text);
    return -1;
  }
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>zmem diff: ",
        f);
  put_html(f, df->path[0], strlen(df->path[0]));
  fputs(" -&gt; ", f);
  put_html(f, df->path[1], strlen(df->path[1]));
  fputs("</title>\n<style>body{font:14px system-ui,sans-serif;margin:1.5em}"
        "pre{font:13px ui-monospace,monospace;line-height:1.35}"
        ".up{color:#b3261e}.down{color:#1e7b34}.new{color:#b3261e;font-weight:bold}"
        ".gone{color:#1e7b34;font-weight:bold}</style></head><body>\n", f);
  text_view(f, text, tlen);
  fputs("<script type=\"application/json\" id=\"zmem-diff\">", f);
  zmc_html_script_safe(f, json, jlen);
  fputs("</script>\n</body></html>\n", f);
  free(text);
  free(json);
  return ferror(f) ? -1 : 0;
}
