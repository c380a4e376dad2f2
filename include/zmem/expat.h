/* zmem/expat.h: Expat parsers on zmem, under one tag.
 *
 *   zm_expat_use(zm_tag_new("expat"));
 *   XML_Parser p = zm_expat_parser_create(NULL, NULL);   (XML_ParserCreate_MM)
 *   ... XML_Parse ... XML_ParserFree(p);
 *
 * Header-only: libzmem does not depend on Expat. Every block a parser made
 * this way allocates goes to the tag on the try path: Expat receives NULL
 * and reports XML_ERROR_NO_MEMORY; zmem's OOM handler is never called.
 *
 * Expat's XML_Memory_Handling_Suite takes no user pointer, so the tag lives
 * in a static variable of the file that includes this header: every parser
 * that file makes with zm_expat_parser_create counts under the tag given to
 * that file's zm_expat_use (ZM_TAG_DEFAULT before any call). Parsers made
 * with XML_ParserCreate keep using the C library's malloc. */
#ifndef ZMEM_EXPAT_H
#define ZMEM_EXPAT_H

#include <zmem.h>

#include <expat.h>

#include <stddef.h>

static zm_tag zm__expat_tag;

static inline void *zm__expat_malloc(size_t n) {
  return zm_try_malloc_tag(zm__expat_tag, n);
}

static inline void *zm__expat_realloc(void *p, size_t n) {
  return p ? zm_try_realloc(p, n) : zm_try_malloc_tag(zm__expat_tag, n);
}

static inline void zm__expat_free(void *p) { zm_free(p); }

/* Sets the tag of the parsers this file makes from now on. Set it before
 * making parsers: a parser's later blocks take the tag in force then. */
static inline void zm_expat_use(zm_tag tag) { zm__expat_tag = tag; }

/* XML_ParserCreate_MM with zmem's functions; encoding and
 * namespace_separator as there (NULL for none). NULL when the parser
 * cannot be allocated. Free it with XML_ParserFree. */
static inline XML_Parser zm_expat_parser_create(const XML_Char *encoding,
                                                const XML_Char *namespace_separator) {
  static const XML_Memory_Handling_Suite suite = {
      zm__expat_malloc, zm__expat_realloc, zm__expat_free};
  return XML_ParserCreate_MM(encoding, &suite, namespace_separator);
}

#endif /* ZMEM_EXPAT_H */
