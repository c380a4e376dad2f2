/* zmem/pcre2.h: PCRE2 on zmem, one tag per general context.
 *
 *   pcre2_general_context *g = zm_pcre2_context(zm_tag_new("pcre2"));
 *   pcre2_compile_context *cc = pcre2_compile_context_create(g);
 *   pcre2_code *re = pcre2_compile(pattern, len, 0, &err, &off, cc);
 *   pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, g);
 *   pcre2_match(re, subject, n, 0, 0, md, NULL);
 *   ... pcre2_match_data_free(md); pcre2_code_free(re);
 *   pcre2_compile_context_free(cc); pcre2_general_context_free(g);
 *
 * Header-only: libzmem does not depend on PCRE2. The tag travels in the
 * context's memory_data pointer. Compiled patterns take their allocator from
 * the compile context, match data blocks (which also hold pcre2_match's
 * backtracking frames) from the context given to them. Allocation uses the
 * try path: PCRE2 receives NULL and returns PCRE2_ERROR_NOMEMORY (or a
 * compile error); zmem's OOM handler is never called. JIT code memory is
 * mapped by PCRE2 itself, not through these functions.
 *
 * PCRE2_CODE_UNIT_WIDTH is 8 unless defined before this header. */
#ifndef ZMEM_PCRE2_H
#define ZMEM_PCRE2_H

#include <zmem.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <stddef.h>
#include <stdint.h>

static inline void *zm__pcre2_malloc(PCRE2_SIZE n, void *tag) {
  return zm_try_malloc_tag((zm_tag)(uintptr_t)tag, n);
}

static inline void zm__pcre2_free(void *p, void *tag) {
  (void)tag;
  zm_free(p);
}

/* A general context whose allocations, and those of every context, pattern
 * and match data block made from it, count under `tag`. NULL when it cannot
 * be allocated. Free with pcre2_general_context_free. */
static inline pcre2_general_context *zm_pcre2_context(zm_tag tag) {
  return pcre2_general_context_create(zm__pcre2_malloc, zm__pcre2_free,
                                      (void *)(uintptr_t)tag);
}

#endif /* ZMEM_PCRE2_H */
