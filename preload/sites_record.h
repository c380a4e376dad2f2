/* The allocation-sites section of the record (ZMR_SECTION_SITES), shared by
 * `zmem run --sites` and libzmem-preload.so.
 *
 *   zms_dir                      at the section's offset, ZMS_DIR_BYTES
 *   ntables slots of slot_bytes  each: zms_modules, then a stack table
 *                                (preload/stacktab.h) of table_bytes
 *
 * A process claims the next free slot when it starts (also after exec and
 * in a fork child) and writes the slot's number + 1 into its process
 * record's ext[ZMS_EXT_SLOT]. Processes beyond ntables have no sites.
 *
 * The module list is appended to before any stack that names a module is
 * counted (a library loaded where an unloaded one was gets an entry of its
 * own, with a later era: see ZM__ST_ERA_TAG in stacktab.h), so that a program killed at any moment can still be
 * symbolised. Like the rest of the record it is untrusted input for the
 * launcher. */
#ifndef ZMS_RECORD_H
#define ZMS_RECORD_H

#include <stdatomic.h>
#include <stdint.h>

#define ZMS_MAGIC 0x3173657469736d7aULL /* "zmsites1", little-endian */
#define ZMS_VERSION 2
#define ZMS_DIR_BYTES 4096
#define ZMS_EXT_SLOT 0          /* index into zmr_proc.ext */
#define ZMS_MAX_MODULES 512     /* modules per process; more are left out */
#define ZMS_PATH_BYTES 240

typedef struct zms_dir {
  uint64_t magic;
  uint32_t version, dir_size;
  uint32_t ntables;        /* slots */
  uint32_t depth;          /* frames per stack */
  uint32_t mode;           /* zm__unwind_mode */
  uint32_t capacity;       /* stack-table entries */
  uint64_t sample_rate;    /* bytes; 0: every allocation */
  uint64_t frames_cap;     /* stack-table frame pool */
  uint64_t table_bytes;    /* zm__stacktab_size(capacity, depth, frames_cap) */
  uint64_t slot_bytes;     /* sizeof(zms_modules) + table_bytes, 64-aligned */
  _Atomic uint32_t next;   /* slots claimed (may exceed ntables) */
} zms_dir;

typedef struct zms_module {
  uint64_t base, lo, hi;   /* load bias; executable range */
  uint32_t era;            /* unloads seen when it was listed (stacktab.h) */
  uint32_t build_id_len;
  uint8_t build_id[20];
  char path[ZMS_PATH_BYTES]; /* NUL-terminated; the main program's real path */
} zms_module;

typedef struct zms_modules {
  _Atomic uint32_t count;  /* entries written (published with release) */
  uint32_t pad[15];
  zms_module m[ZMS_MAX_MODULES];
} zms_modules;

_Static_assert(sizeof(zms_dir) <= ZMS_DIR_BYTES, "directory fits its page");
_Static_assert(sizeof(zms_modules) % 64 == 0, "the table after it stays aligned");

static inline uint64_t zms_slot_offset(uint64_t section, uint64_t slot_bytes, uint32_t k) {
  return section + ZMS_DIR_BYTES + (uint64_t)k * slot_bytes;
}

#endif
