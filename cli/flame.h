/* A flame graph of the sites as a standalone SVG file: the stacks merged
 * into a tree by function name, the root ("all") at the bottom, each
 * function a box as wide as its share of figure k, its callees stacked on
 * it. Boxes wide enough carry their name; every box carries a tooltip
 * (an SVG <title>, shown by browsers on hover) with the name, the figure
 * and its share of the total. Boxes narrower than 0.1 pixel are not drawn
 * (their figure still counts in their caller's width). */
#ifndef ZM_CLI_FLAME_H
#define ZM_CLI_FLAME_H

#include "profile.h"

#include <stdio.h>

typedef struct zm__flame_opts {
  const char *title;   /* drawn at the top; NULL: "Flame graph" */
  const char *unit;    /* "bytes" (sizes as KiB/MiB/GiB) or "count" */
  int width;           /* pixels; 0: 1200 */
  const char *total;   /* what the whole width is, with its figure; NULL: "total N" */
} zm__flame_opts;

/* Writes the flame graph of figure k. 0, or -1 with errno. */
int zm__flame_write(const zm__prof *p, int k, FILE *out, const zm__flame_opts *o);

/* A size as the reports show it ("512 B", "1.5 KiB", "12.0 MiB"). */
char *zm__flame_size(int64_t bytes, char *buf, size_t len);

#endif
