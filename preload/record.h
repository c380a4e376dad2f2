/* The record that `zmem run` and libzmem-preload.so share: one shared memory
 * object, created by the launcher before the program starts, written by every
 * profiled process, read by the launcher while they run and after they end.
 *
 * Layout (all offsets from the start of the mapping, all fixed by the
 * constants below, so that a reader never follows an offset it read):
 *
 *   zmr_header                 at 0, ZMR_HEADER_BYTES
 *   zmr_proc[ZMR_MAX_PROCS]    at ZMR_PROCS_OFFSET, ZMR_PROC_BYTES each
 *   sections                   at header.sections[i].offset (see below)
 *
 * Versioning: `magic` names the format, `version` is bumped on any change
 * that moves or retypes a field; the three sizes (header, process, slot) let
 * a reader refuse a record made by another build. Fields are only ever
 * added in the reserved space, which is zero until used.
 *
 * Extension: the header holds a directory of ZMR_MAX_SECTIONS sections
 * (kind, offset, size). The launcher lays them out after the process records
 * when it creates the object; kind 0 is an unused entry, ZMR_SECTION_PROCS
 * names the process records, and any other kind (e.g. ZMR_SECTION_SITES, a
 * deduplicated stack table) is optional: readers skip kinds they do not
 * know. Each process record also has ZMR_PROC_EXT zeroed 64-bit words
 * reserved for per-process extensions (e.g. the index of its part of a
 * section).
 *
 * Trust: the profiled program can write anywhere in its address space,
 * this object included. The launcher therefore reads it as untrusted input:
 * it copies what it reads, checks every count and string against the limits
 * below, and never uses an offset or size it read to address memory. */
#ifndef ZMR_RECORD_H
#define ZMR_RECORD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ZMR_MAGIC 0x316e75726d656d7aULL /* "zmemrun1", little-endian */
#define ZMR_VERSION 4

#define ZMR_MAX_PROCS 1024   /* processes per run; more are not recorded */
#define ZMR_MAX_SLOTS 64     /* thread slots per process; the last is shared */
#define ZMR_MAX_SECTIONS 16
#define ZMR_CMD_BYTES 256    /* command line, NUL-terminated, args joined by ' ' */
#define ZMR_MODULE_BYTES 8192 /* module list: lines "start end path\n" */
#define ZMR_HIST_BUCKETS 64  /* bucket b: requested sizes in [2^(b-1), 2^b); 0: size 0 */
#define ZMR_PROC_EXT 16

/* Words of zmr_proc.heap_rss, bytes: the kernel's figures for the process
 * (/proc/self/status, /proc/self/smaps), its mappings sorted by what glibc
 * malloc's headers in them say, read once at exit (preload/heaprss.c). */
enum {
  ZMR_HR_VALID,         /* 1: written; 0: the process never got to exit */
  ZMR_HR_RSS,           /* VmRSS */
  ZMR_HR_FILE,          /* RssFile + RssShmem */
  ZMR_HR_STACKS,        /* RSS of the main stack and of thread stacks */
  ZMR_HR_ARENAS,        /* RSS of glibc malloc's heaps ([heap], arena heaps) */
  ZMR_HR_MMAPPED_USABLE,/* usable bytes of the blocks glibc mapped on their own */
  ZMR_HR_ANON_OTHER,    /* RSS of the other anonymous read-write mappings */
  ZMR_HR_WORDS
};

/* The functions counted, in this order everywhere (record, report, JSON). */
enum zmr_fn {
  ZMR_MALLOC, ZMR_CALLOC, ZMR_REALLOC, ZMR_REALLOCARRAY, ZMR_FREE,
  ZMR_POSIX_MEMALIGN, ZMR_ALIGNED_ALLOC, ZMR_MEMALIGN, ZMR_VALLOC,
  ZMR_PVALLOC, ZMR_USABLE_SIZE, ZMR_NFN
};

/* What makes most of a process's allocations bypass the preload. */
enum zmr_bypass {
  ZMR_BYPASS_EXE_MALLOC = 1, /* the executable defines malloc itself */
  ZMR_BYPASS_PYMALLOC = 2,   /* a CPython with its small-object allocator on */
  ZMR_BYPASS_KNOWN = 3       /* every bit above */
};

enum zmr_section_kind {
  ZMR_SECTION_NONE = 0,
  ZMR_SECTION_PROCS = 1, /* the process records */
  ZMR_SECTION_SITES = 2, /* reserved: allocation sites (stack table) */
};

/* How a process came to be recorded. */
enum zmr_origin { ZMR_ORIGIN_FIRST = 0, ZMR_ORIGIN_EXEC = 1, ZMR_ORIGIN_FORK = 2 };

/* Process record states. */
enum zmr_state {
  ZMR_STATE_FREE = 0,    /* never claimed */
  ZMR_STATE_RUNNING = 1, /* claimed by a live (or killed) process */
  ZMR_STATE_EXITED = 2,  /* the process called exit/_exit; exit_code is set */
  ZMR_STATE_EXECED = 3,  /* the process image was replaced by exec */
};

/* One thread's counters: written only by the thread that owns the slot
 * (relaxed load + store, no locked instruction), read by the launcher.
 * The last slot of a process is shared by threads beyond ZMR_MAX_SLOTS - 1
 * and updated with atomic read-modify-writes. "live" figures are net: a
 * block freed by another thread than its allocator's goes negative there;
 * only their sum over slots means something. */
typedef struct zmr_slot {
  _Alignas(64) _Atomic uint64_t calls[ZMR_NFN];
  _Atomic uint64_t bytes[ZMR_NFN];    /* requested bytes (free: bytes freed) */
  _Atomic uint64_t failures[ZMR_NFN];
  _Atomic uint64_t realloc_in_place, realloc_moved, realloc_shrunk;
  _Atomic uint64_t total_requested, total_held; /* allocated, cumulative */
  _Atomic int64_t live_requested, live_held, live_blocks;
  /* The peak: the live figures when the thread last published to the
   * process's shared total (owner only; live - mark is unpublished), and
   * the highest "published + unpublished" it saw. */
  _Atomic int64_t mark_requested, mark_held;
  _Atomic int64_t cand_requested, cand_held;
  _Atomic uint64_t hist[ZMR_HIST_BUCKETS]; /* allocations by requested size */
  /* Frees (free, and the old block of realloc) of blocks zmem never saw
   * allocated: a double free, a block the C library handed out while zmem
   * let a call through uncounted (inside zmem's own code, e.g. from a
   * signal handler that interrupted it), a pointer that is no block, or a
   * block whose size zmem had no memory left to keep. They are counted
   * here (and among the calls), never in the live or freed figures, and
   * passed to the C library untouched. */
  _Atomic uint64_t unseen_frees;
} zmr_slot;

typedef struct zmr_proc {
  _Alignas(64) _Atomic uint32_t state; /* enum zmr_state */
  int32_t pid, ppid;
  int32_t exit_code;       /* valid in ZMR_STATE_EXITED */
  uint32_t origin;         /* enum zmr_origin */
  uint32_t parent_index;   /* record of the parent process, or UINT32_MAX */
  uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC; end_ns 0 until exit */
  uint64_t rss_peak;       /* bytes, the kernel's VmHWM at exit; 0 unknown */
  char command[ZMR_CMD_BYTES];
  _Atomic uint32_t nslots; /* slots handed out (may exceed ZMR_MAX_SLOTS) */
  /* Processes that wrote into this record without being its process:
   * children made by clone() without CLONE_VM run no fork handlers and go
   * on counting in their parent's slots. Each adds 1 when it exits (exit,
   * _exit); this record's figures then include theirs. */
  _Atomic uint32_t shared_by;
  /* Live figures the process was born with (a fork child's inherited heap). */
  int64_t base_requested, base_held, base_blocks;
  /* Allocators that serve the program's requests without calling the
   * preload (ZMR_BYPASS_* bits), as found at start (preload/bypass.c). */
  uint32_t bypass;
  /* Shared part of the peak: one atomic add per ZMR_GRANULE bytes a thread
   * moves, never per call. */
  _Alignas(64) _Atomic int64_t published_requested, published_held;
  _Atomic int64_t peak_requested, peak_held;
  _Alignas(64) uint64_t ext[ZMR_PROC_EXT]; /* reserved, zero */
  /* Heap against RSS, read by the process itself when it exits
   * (ZMR_HR_*, heaprss.h); heap_rss[ZMR_HR_VALID] is 1 once written. */
  uint64_t heap_rss[ZMR_HR_WORDS];
  char modules[ZMR_MODULE_BYTES];
  zmr_slot slots[ZMR_MAX_SLOTS];
} zmr_proc;

typedef struct zmr_section {
  uint32_t kind, flags;
  uint64_t offset, size;
} zmr_section;

enum { ZMR_FLAG_NO_CHILDREN = 1 };

typedef struct zmr_header {
  uint64_t magic;
  uint32_t version;
  uint32_t header_size, proc_size, slot_size;
  uint32_t max_procs, max_slots;
  uint64_t token;       /* random; also in ZMEM_RUN_TOKEN */
  uint64_t total_size;  /* of the whole object */
  uint32_t flags;       /* ZMR_FLAG_* */
  int32_t launcher_pid;
  uint64_t start_ns;    /* CLOCK_MONOTONIC when the launcher started the program */
  _Atomic uint32_t nprocs; /* records claimed (may exceed max_procs) */
  uint32_t pad0;
  zmr_section sections[ZMR_MAX_SECTIONS];
  /* Processes that found the descriptor ZMR_ENV_FD names closed, or open
   * on something else than this record (a descendant that inherited the
   * variables, not the descriptor), and reopened the record through the
   * launcher's /proc/PID/fd entry (ZMR_ENV_ID). One that cannot reopen it
   * runs unprofiled and cannot be counted. */
  _Atomic uint64_t reattached;
  uint64_t reserved[31];
} zmr_header;

#define ZMR_HEADER_BYTES 4096
#define ZMR_PROC_BYTES (((sizeof(zmr_proc) + 4095) / 4096) * 4096)
#define ZMR_PROCS_OFFSET ZMR_HEADER_BYTES
#define ZMR_PROCS_END (ZMR_PROCS_OFFSET + (uint64_t)ZMR_MAX_PROCS * ZMR_PROC_BYTES)

/* Bytes a thread moves before it publishes them to its process's shared
 * total: the peak is exact with one thread and low by at most this much per
 * other thread. */
#define ZMR_GRANULE ((int64_t)64 << 10)

/* The environment the launcher hands to the program. */
#define ZMR_ENV_FD "ZMEM_RUN_FD"       /* the shared memory's descriptor */
#define ZMR_ENV_TOKEN "ZMEM_RUN_TOKEN" /* header.token, in hex */
/* The record's identity, "PID:DEV:INO": the launcher's pid (decimal) and
 * the memfd's st_dev and st_ino (hex). The preload maps the descriptor
 * only if it is that file (and sealed, of the size and with the token the
 * header states); otherwise it reopens /proc/PID/fd/FD. */
#define ZMR_ENV_ID "ZMEM_RUN_ID"
/* Fault injection (`zmem run --fail/--fail-p`, `zmem sweep`): options in
 * the ZMEM_OPTIONS syntax, fault keys only, e.g. "fault=7:0" or
 * "fault_seed=3,fault_p=0.01". */
#define ZMR_ENV_FAULT "ZMEM_RUN_FAULT"
/* `zmem sweep`'s site census, "FRAMES:PATH": with a fault setting, each
 * process notes the call site (the hash of its innermost FRAMES frames,
 * 1 to ZMR_CENSUS_MAX_FRAMES, with sites on) of every request it numbers,
 * and at exit appends one zmr_census_entry per site to the file PATH. */
#define ZMR_ENV_CENSUS "ZMEM_RUN_CENSUS"
#define ZMR_CENSUS_MAX_FRAMES 16
#define ZMR_CENSUS_SAMPLES 8 /* the site's calls 2, 4, 8, ..., 256 */
typedef struct zmr_census_entry {
  uint64_t hash;                        /* of the site's stack; never 0 */
  uint64_t first, last, calls;          /* request numbers, and how many */
  uint64_t sample[ZMR_CENSUS_SAMPLES];  /* request number of call 2^(i+1); 0: none */
} zmr_census_entry;

/* Words of zmr_proc.ext that fault injection writes (ext[0] is the sites
 * slot, sites_record.h). The stack of the first injected failure is
 * recorded only when the run has allocation sites. */
enum {
  ZMR_EXT_FAULT_HITS = 1,  /* failures injected in this process */
  ZMR_EXT_FAULT_FIRST = 2, /* number of the first injected request; 0: none */
  ZMR_EXT_FAULT_REQUESTS = 3, /* requests numbered when the process exited */
  ZMR_EXT_FAULT_NPCS = 4,  /* return addresses recorded below */
  ZMR_EXT_FAULT_PCS = 5,   /* first of them, innermost first */
  /* The most bytes the preload's table of live blocks (requested sizes and
   * sites) had mapped in the process: the memory zmem adds to it, beside
   * the shared record. */
  ZMR_EXT_TABLE_PEAK = 15,
  ZMR_FAULT_MAX_PCS = ZMR_EXT_TABLE_PEAK - ZMR_EXT_FAULT_PCS
};

_Static_assert(sizeof(zmr_header) <= ZMR_HEADER_BYTES, "header fits its page");
_Static_assert(offsetof(zmr_proc, published_requested) == 384 &&
                   offsetof(zmr_proc, ext) == 512,
               "the fields added after base_blocks fit the padding");

/* A header as the launcher writes it: this build's format and sizes, the
 * token, and the process records' section; flags and times left zero. */
static inline void zmr_header_init(zmr_header *h, uint64_t token) {
  *h = (zmr_header){.magic = ZMR_MAGIC,
                    .version = ZMR_VERSION,
                    .header_size = ZMR_HEADER_BYTES,
                    .proc_size = (uint32_t)ZMR_PROC_BYTES,
                    .slot_size = (uint32_t)sizeof(zmr_slot),
                    .max_procs = ZMR_MAX_PROCS,
                    .max_slots = ZMR_MAX_SLOTS,
                    .token = token,
                    .total_size = ZMR_PROCS_END};
  h->sections[0] = (zmr_section){ZMR_SECTION_PROCS, 0, ZMR_PROCS_OFFSET,
                                 ZMR_PROCS_END - ZMR_PROCS_OFFSET};
}

static inline zmr_proc *zmr_proc_at(void *base, uint32_t i) {
  return (zmr_proc *)((char *)base + ZMR_PROCS_OFFSET + (uint64_t)i * ZMR_PROC_BYTES);
}

static inline unsigned zmr_bucket(uint64_t n) {
  return n ? 64u - (unsigned)__builtin_clzll(n) : 0u; /* 1 -> 1, 2..3 -> 2 */
}

#endif
