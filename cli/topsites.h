/* The "top sites" part of the text report: the stacks that held the most
 * at the peak, that allocated the most in total, and that were still live
 * at exit, each shown as its innermost frames (function file:line), and
 * the short form the budget gates print. */
#ifndef ZM_CLI_TOPSITES_H
#define ZM_CLI_TOPSITES_H

#include "profile.h"

#include <stdio.h>

/* Writes the three lists, at most n stacks each and `frames` frames per
 * stack. Lists with nothing in them say so in one line. */
void zm__topsites_write(const zm__prof *p, FILE *out, unsigned n, unsigned frames);

/* One line per stack for the n stacks with the largest figure k:
 * "  1. 12.0 MiB  parse_line parse.c:88 < read_file io.c:12"; for the
 * messages of --max-peak and --max-leaked. */
void zm__topsites_brief(const zm__prof *p, int k, FILE *out, unsigned n);

#endif
