/* The flame graph, drawn by zmem itself: see flame.h. */
#include "flame.h"

#include "escape.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ROW 17        /* pixels per level */
#define TOP 50        /* room for the title */
#define FONT 11       /* pixels */
#define CHAR_W 6.6    /* pixels per character of the monospace font */

typedef struct node {
  const char *name;
  int64_t value;
  struct node *child, *next; /* first callee, next sibling */
} node;

static node *new_node(const char *name) {
  node *n = calloc(1, sizeof *n);
  if (n)
    n->name = name;
  return n;
}

static void free_tree(node *n) {
  while (n) {
    node *next = n->next;
    free_tree(n->child);
    free(n);
    n = next;
  }
}

static node *child_named(node *parent, const char *name) {
  node **at = &parent->child;
  for (; *at; at = &(*at)->next)
    if (strcmp((*at)->name, name) == 0)
      return *at;
  return *at = new_node(name);
}

/* The tree of figure k; NULL on ENOMEM. */
static node *build(const zm__prof *p, int k) {
  node *root = new_node("all");
  if (!root)
    return NULL;
  for (uint32_t i = 0; i < p->nstacks; i++) {
    const zm__prof_stack *s = &p->stacks[i];
    if (s->v[k] <= 0)
      continue;
    root->value += s->v[k];
    node *at = root;
    for (uint32_t d = s->depth ? s->depth : 1; d-- > 0;) {
      const char *nm = p->locs[s->loc[d]].name;
      if (!(at = child_named(at, nm ? nm : "?"))) {
        free_tree(root);
        return NULL;
      }
      at->value += s->v[k];
    }
  }
  return root;
}

static int depth_of(const node *n) {
  int best = 0;
  for (const node *c = n->child; c; c = c->next) {
    int d = depth_of(c);
    best = d > best ? d : best;
  }
  return best + 1;
}

char *zm__flame_size(int64_t b, char *buf, size_t len) {
  static const char *u[] = {"KiB", "MiB", "GiB", "TiB"};
  if (b < 1024 && b > -1024) {
    snprintf(buf, len, "%" PRId64 " B", b);
    return buf;
  }
  double v = (double)b;
  int i = -1;
  while ((v >= 1024 || v <= -1024) && i < 3) {
    v /= 1024;
    i++;
  }
  snprintf(buf, len, "%.1f %s", v, u[i]);
  return buf;
}

/* s as XML text: markup escaped, control characters as blanks and bytes
 * that are not UTF-8 as '?' (XML allows neither). */
static void xml(FILE *out, const char *s, size_t max) {
  size_t len = strnlen(s, max);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    size_t u = c >= 0x80 ? zmc_utf8_len((const unsigned char *)s + i, len - i) : 0;
    if (u) {
      fwrite(s + i, 1, u, out);
      i += u - 1;
    } else if (c >= 0x80)
      putc('?', out);
    else if (c == '<')
      fputs("&lt;", out);
    else if (c == '>')
      fputs("&gt;", out);
    else if (c == '&')
      fputs("&amp;", out);
    else if (c == '"')
      fputs("&quot;", out);
    else if (c < 0x20 || c == 0x7f)
      putc(' ', out);
    else
      putc(c, out);
  }
}

/* A warm colour from the name, so that a function keeps its colour. */
static void colour(const char *name, int *r, int *g, int *b) {
  uint32_t h = 2166136261u;
  for (const char *s = name; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  *r = 205 + (int)(h % 50);
  *g = 90 + (int)((h >> 8) % 140);
  *b = 30 + (int)((h >> 16) % 45);
}

typedef struct draw {
  FILE *out;
  double scale; /* pixels per unit */
  int64_t total;
  int height;   /* of the drawing */
  bool bytes;
} draw;

static void box(const draw *d, const node *n, double x, int level) {
  double w = (double)n->value * d->scale;
  if (w < 0.1)
    return;
  int y = d->height - (level + 1) * ROW;
  int r, g, b;
  colour(n->name, &r, &g, &b);
  char size[32];
  if (d->bytes)
    zm__flame_size(n->value, size, sizeof size);
  else
    snprintf(size, sizeof size, "%" PRId64, n->value);
  fputs("<g><title>", d->out);
  xml(d->out, n->name, SIZE_MAX);
  fprintf(d->out, " \xe2\x80\x94 %s (%.2f%%)</title>", size,
          d->total ? 100.0 * (double)n->value / (double)d->total : 0.0);
  fprintf(d->out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
          "fill=\"rgb(%d,%d,%d)\" rx=\"2\"/>", x, y, w, ROW - 1, r, g, b);
  size_t fits = (size_t)((w - 6) / CHAR_W);
  if (fits >= 3) {
    fprintf(d->out, "<text x=\"%.2f\" y=\"%d\">", x + 3, y + ROW - 5);
    size_t len = strlen(n->name);
    xml(d->out, n->name, len <= fits ? len : fits - 2);
    if (len > fits)
      fputs("..", d->out);
    fputs("</text>", d->out);
  }
  fputs("</g>\n", d->out);
  double cx = x;
  for (const node *c = n->child; c; c = c->next) {
    box(d, c, cx, level + 1);
    cx += (double)c->value * d->scale;
  }
}

int zm__flame_write(const zm__prof *p, int k, FILE *out, const zm__flame_opts *o) {
  node *root = build(p, k);
  if (!root) {
    errno = ENOMEM;
    return -1;
  }
  int width = o && o->width > 0 ? o->width : 1200;
  const char *title = o && o->title ? o->title : "Flame graph";
  bool bytes = !o || !o->unit || strcmp(o->unit, "count") != 0;
  int levels = depth_of(root);
  int height = TOP + levels * ROW + 30;
  fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\">\n", width, height, width, height);
  fprintf(out, "<style>text{font-family:monospace;font-size:%dpx;fill:#000}"
          "rect:hover{stroke:#000;stroke-width:1}"
          ".t{font-family:sans-serif;font-size:17px}.s{font-family:sans-serif;font-size:12px;fill:#555}"
          "</style>\n", FONT);
  fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fdf6e3\"/>\n",
          width, height);
  char total[32];
  if (bytes)
    zm__flame_size(root->value, total, sizeof total);
  else
    snprintf(total, sizeof total, "%" PRId64, root->value);
  fprintf(out, "<text class=\"t\" x=\"%d\" y=\"24\" text-anchor=\"middle\">", width / 2);
  xml(out, title, SIZE_MAX);
  fprintf(out, "</text>\n<text class=\"s\" x=\"%d\" y=\"42\" text-anchor=\"middle\">",
          width / 2);
  if (o && o->total) {
    xml(out, o->total, SIZE_MAX);
    fputs("; width is the share of it; hover a box for its figure</text>\n", out);
  } else
    fprintf(out, "total %s; width is the share of the total; hover a box for its figure"
            "</text>\n", total);
  draw d = {out, root->value > 0 ? (double)(width - 20) / (double)root->value : 0,
            root->value, height - 20, bytes};
  if (root->value > 0)
    box(&d, root, 10, 0);
  fputs("</svg>\n", out);
  free_tree(root);
  if (ferror(out)) {
    if (!errno)
      errno = EIO;
    return -1;
  }
  return 0;
}
