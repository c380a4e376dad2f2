/* Symbols for the return addresses of a finished process, in the launcher
 * (never in the target): function, source file and line through elfutils'
 * libdwfl, by module. A module is opened from the path recorded while the
 * program ran and accepted only when its build-id is the one recorded; its
 * debug information may also come from a separate debug file found by
 * build-id (/usr/lib/debug/.build-id/...).
 *
 * Names are never guessed: a function name comes from a symbol whose
 * extent (st_value, st_size) holds the address, the one libdwfl's
 * dwfl_module_addrinfo chooses, found by a binary search over the module's
 * symbols sorted once (libdwfl scans them all per address); file:line
 * comes from the module's DWARF line table. Where neither is known (no symbols, a file
 * that changed since the run, an address outside every module) the frame
 * is shown as module+offset, or as the bare address. */
#ifndef ZM_CLI_SYMBOLIZE_H
#define ZM_CLI_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

/* A module as the preload recorded it. */
typedef struct zm__sym_module {
  const char *path;        /* absolute path; the main program's included */
  const uint8_t *build_id; /* may be NULL (then not checked) */
  size_t build_id_len;
  uint64_t base;           /* load bias */
  uint64_t lo, hi;         /* executable range at run time */
  uint32_t era;            /* unloads before it was listed (stacktab.h) */
} zm__sym_module;

/* One frame, resolved as far as possible. Strings are NUL-terminated and
 * cut to the buffer. */
typedef struct zm__sym_frame {
  char func[256];   /* "" when unknown */
  uint64_t func_start; /* the function's run-time address, when func is known */
  char file[512];   /* "" when unknown */
  int line;         /* 0 when unknown */
  char module[256]; /* the module's file name (no directory), "" when none */
  uint64_t offset;  /* pc - base within the module (the ELF address) */
  int status;       /* ZM__SYM_* */
} zm__sym_frame;

enum {
  ZM__SYM_OK,          /* function known (file:line may still be missing) */
  ZM__SYM_NO_SYMBOL,   /* in a module, no symbol holds the address */
  ZM__SYM_NO_FILE,     /* the module's file cannot be opened */
  ZM__SYM_WRONG_ID,    /* the file's build-id is not the recorded one */
  ZM__SYM_NO_MODULE,   /* the address is in no recorded module */
};

typedef struct zm__symtab zm__symtab;

/* A symbol table for one process; NULL with errno ENOMEM. */
zm__symtab *zm__sym_open(void);
void zm__sym_close(zm__symtab *s);

/* Records a module. 0, or -1 with errno EINVAL (no path, empty range) or
 * ENOSPC (more than 4096 modules). The file is opened on first use. */
int zm__sym_add_module(zm__symtab *s, const zm__sym_module *m);

/* The key of return address pc in a stack of that era (0: counted before
 * any unload): pc itself, unless modules loaded one after another at the
 * same addresses hold it; then pc with the load it ran in (the last one
 * listed in that era or before) in the bits above ZM__SYM_KEY_SHIFT. A
 * key is looked up like an address. */
#define ZM__SYM_KEY_SHIFT 48
#define ZM__SYM_ADDR(key) ((key) & ((UINT64_C(1) << ZM__SYM_KEY_SHIFT) - 1))
uint64_t zm__sym_key(const zm__symtab *s, uint64_t pc, uint32_t era);

/* The recorded module that holds an address or key (its build_id valid
 * until the next zm__sym_add_module) into *out; 0, or -1 when none. */
int zm__sym_module_at(zm__symtab *s, uint64_t pc, zm__sym_module *out);

/* Resolves a return address (looked up as pc - 1, the call instruction)
 * into *out; returns out->status. */
int zm__sym_lookup(zm__symtab *s, uint64_t pc, zm__sym_frame *out);

/* "func file:line", "func (module+0xoff)", "module+0xoff" or "0xaddr" into
 * buf; returns buf. */
char *zm__sym_format(const zm__sym_frame *f, char *buf, size_t len);

#endif
