/* zmem/curl.h: libcurl on zmem, under one tag.
 *
 *   if (zm_curl_install(zm_tag_new("curl"), CURL_GLOBAL_DEFAULT) != 0) ...
 *   ... curl_easy_init, curl_easy_perform ... curl_global_cleanup();
 *
 * Header-only: libzmem does not depend on libcurl. zm_curl_install is
 * curl_global_init_mem with zmem's functions: every block libcurl allocates
 * (handles, buffers, headers, connection caches) goes to the tag on the try
 * path: libcurl receives NULL and returns CURLE_OUT_OF_MEMORY; zmem's OOM
 * handler is never called. The TLS library under libcurl (OpenSSL, ...)
 * keeps its own allocator; for OpenSSL, see zmem/openssl.h, installed before
 * this call.
 *
 * curl_global_init_mem takes no user pointer, so the tag lives in a static
 * variable of the file that calls zm_curl_install (the functions installed
 * are that file's copies). */
#ifndef ZMEM_CURL_H
#define ZMEM_CURL_H

#include <zmem.h>

#include <curl/curl.h>
#include <curl/mprintf.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

static zm_tag zm__curl_tag;

static inline void *zm__curl_malloc(size_t n) {
  return zm_try_malloc_tag(zm__curl_tag, n);
}

static inline void zm__curl_free(void *p) { zm_free(p); }

static inline void *zm__curl_realloc(void *p, size_t n) {
  return p ? zm_try_realloc(p, n) : zm_try_malloc_tag(zm__curl_tag, n);
}

static inline char *zm__curl_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = zm_try_malloc_tag(zm__curl_tag, n);
  return p ? memcpy(p, s, n) : NULL;
}

static inline void *zm__curl_calloc(size_t count, size_t size) {
  return zm_try_calloc_tag(zm__curl_tag, count, size);
}

/* curl_global_init_mem(flags, zmem's functions), every block under `tag`.
 * 0; -1 with errno EBUSY when libcurl was already initialised (libcurl then
 * keeps the functions it had and counts one more init, so the
 * curl_global_cleanup calls still pair up; detected with tags on only); -1 with errno EIO when
 * curl_global_init_mem itself failed. Not thread-safe, like
 * curl_global_init: call it at start-up. */
static inline int zm_curl_install(zm_tag tag, long flags) {
  zm_tag prev = zm__curl_tag;
  zm__curl_tag = tag;
  if (curl_global_init_mem(flags, zm__curl_malloc, zm__curl_free,
                           zm__curl_realloc, zm__curl_strdup,
                           zm__curl_calloc) != CURLE_OK) {
    zm__curl_tag = prev;
    errno = EIO;
    return -1;
  }
  /* An earlier init wins silently: ask libcurl to allocate and see (with
   * tags on; with tags off there is no per-tag count to look at). */
  if (!zm_tags_enabled())
    return 0;
  zm_tag_info before = {.size = sizeof before}, after = {.size = sizeof after};
  zm_tag_stats(tag, &before);
  char *probe = curl_maprintf("%s", "zmem");
  zm_tag_stats(tag, &after);
  curl_free(probe);
  if (probe && after.calls == before.calls) {
    zm__curl_tag = prev;
    errno = EBUSY;
    return -1;
  }
  return 0;
}

#endif /* ZMEM_CURL_H */
