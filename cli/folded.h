/* The sites as folded stacks (Brendan Gregg's collapsed format, which
 * flamegraph.pl, speedscope and Perfetto read): one line per stack,
 * outermost function first, names joined by ';', then a space and the
 * stack's figure, e.g. "main;parse;xstrdup 4096". Stacks whose figure is 0
 * are left out, so the weights add up to zm__prof_total(p, k) exactly. ';'
 * and line breaks inside a name become ':' and ' '. */
#ifndef ZM_CLI_FOLDED_H
#define ZM_CLI_FOLDED_H

#include "profile.h"

#include <stdio.h>

/* Writes figure k (ZM__PV_*) of every stack. 0, or -1 with errno. */
int zm__folded_write(const zm__prof *p, int k, FILE *out);

#endif
