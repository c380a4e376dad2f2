/* A process's allocation sites as the command renders them: the distinct
 * stacks read back from the stack table (duplicates merged), each with six
 * figures, and the distinct return addresses (locations) they are made
 * of, with their symbols. The pprof, folded-stack, flame-graph and
 * top-sites writers all read this. */
#ifndef ZM_CLI_PROFILE_H
#define ZM_CLI_PROFILE_H

#include "symbolize.h"

#include <stdint.h>
#include <stdio.h>

/* The figures of a stack. */
enum {
  ZM__PV_ALLOC_COUNT, /* blocks allocated in total */
  ZM__PV_ALLOC_BYTES, /* bytes allocated in total */
  ZM__PV_LIVE_COUNT,  /* blocks live at the end (leaked at exit) */
  ZM__PV_LIVE_BYTES,
  ZM__PV_PEAK_COUNT,  /* blocks live at the peak */
  ZM__PV_PEAK_BYTES,
  ZM__PV_N
};

typedef struct zm__prof_loc {
  uint64_t pc;  /* return address */
  char *name;   /* function (C++ names demangled), or module+0xoffset, or 0xaddress */
  char *sysname; /* the symbol's own name where it differs (mangled), or NULL */
  char *file;   /* "" when unknown */
  int line;     /* 0 when unknown */
  int status;   /* ZM__SYM_* of the lookup */
} zm__prof_loc;

typedef struct zm__prof_stack {
  uint32_t depth;  /* 0: stacks the table had no room for */
  uint32_t *loc;   /* depth location indices, innermost first */
  int64_t v[ZM__PV_N];
} zm__prof_stack;

typedef struct zm__prof {
  zm__prof_loc *locs;
  uint32_t nlocs, loc_cap;
  zm__prof_stack *stacks;
  uint32_t nstacks, stack_cap;
  int64_t peak;     /* the table's peak of live bytes */
  int weighted;     /* figures are sampled estimates */
  uint64_t turned_away;
  uint32_t table_entries; /* entries the table used */
  uint64_t table_frames;  /* frames its pool used */
  /* pc -> location index, open addressing */
  uint64_t *map_pc;
  uint32_t *map_ix;
  uint32_t map_cap;
  /* stack hash -> stack index + 1, open addressing */
  uint32_t *smap;
  uint32_t smap_cap;
  uint64_t synthetic; /* location keys handed out by zm__prof_merge */
  const zm__symtab *keys; /* set: zm__prof_read_table keys frames by load */
} zm__prof;

/* Name of the overflow stack's one frame. */
#define ZM__PROF_OTHER "[other stacks: the stack table was full]"

void zm__prof_init(zm__prof *p);
void zm__prof_free(zm__prof *p);

/* Adds the figures of a stack (pcs innermost first), merging it with an
 * equal stack already there. 0, or -1 with errno ENOMEM. */
int zm__prof_add(zm__prof *p, const uintptr_t *pcs, uint32_t depth,
                 const int64_t v[ZM__PV_N]);

/* Reads a stack table (see preload/stacktab.h) into p; a stack's era tag
 * is taken off, and with p->keys set its frames become zm__sym_key's keys. 0, or -1 with a
 * one-line reason in err. */
int zm__prof_read_table(zm__prof *p, const void *region, size_t len, char *err,
                        size_t errlen);

/* Names every location through sym (NULL: addresses only). 0, or -1 with
 * errno ENOMEM. */
int zm__prof_symbolize(zm__prof *p, zm__symtab *sym);

/* Adds every stack of src to dst, below an outermost frame named root
 * (NULL: none), copying the names of src's locations (src and dst may come
 * from different address spaces, so dst gets locations of its own). 0, or
 * -1 with errno ENOMEM. */
int zm__prof_merge(zm__prof *dst, const zm__prof *src, const char *root);

/* The sum of figure k over every stack. */
int64_t zm__prof_total(const zm__prof *p, int k);

/* Indices of the n stacks with the largest figure k (ties: by order of
 * appearance), largest first, into out; returns how many (stacks whose
 * figure is 0 are left out). */
uint32_t zm__prof_top(const zm__prof *p, int k, uint32_t *out, uint32_t n);

/* Name of figure k as the text report and the tools show it. */
const char *zm__prof_value_name(int k);

#endif
