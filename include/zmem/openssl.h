/* zmem/openssl.h: OpenSSL 3's allocator on zmem, under one tag.
 *
 *   zm_tag tag = zm_tag_new("openssl");
 *   if (zm_openssl_install(tag) != 0) ...   (before any other OpenSSL call)
 *
 * Header-only: libzmem does not depend on OpenSSL. Every block libcrypto and
 * libssl allocate goes to `tag` on the try path: OpenSSL receives NULL and
 * reports its own error; zmem's OOM handler is never called.
 *
 * CRYPTO_set_mem_functions takes no user pointer, so the tag lives in a
 * static variable of the file that calls zm_openssl_install (the functions
 * installed are that file's copies).
 *
 * OpenSSL refuses new functions once it has allocated anything, so the call
 * must come before any other OpenSSL call of the process, including those of
 * other libraries that use OpenSSL. Then zm_openssl_install fails with EBUSY
 * and OpenSSL keeps its own allocator: nothing is counted under the tag.
 * Cleaning up with OPENSSL_cleanup() frees OpenSSL's global state, after
 * which the tag is back to 0. */
#ifndef ZMEM_OPENSSL_H
#define ZMEM_OPENSSL_H

#include <zmem.h>

#include <openssl/crypto.h>

#include <errno.h>
#include <stddef.h>

static zm_tag zm__openssl_tag;

static inline void *zm__openssl_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  return zm_try_malloc_tag(zm__openssl_tag, n);
}

/* realloc(NULL, n) allocates under the tag; realloc(p, 0) frees p and
 * returns NULL, as OpenSSL's own CRYPTO_realloc does. */
static inline void *zm__openssl_realloc(void *p, size_t n, const char *file,
                                        int line) {
  (void)file;
  (void)line;
  return p ? zm_try_realloc(p, n) : zm_try_malloc_tag(zm__openssl_tag, n);
}

static inline void zm__openssl_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  zm_free(p);
}

/* Makes zmem OpenSSL's allocator, every block under `tag`. 0, or -1 with
 * errno EBUSY when OpenSSL has already allocated memory (it then keeps its
 * own allocator). Not thread-safe: call it at start-up. */
static inline int zm_openssl_install(zm_tag tag) {
  zm_tag prev = zm__openssl_tag;
  zm__openssl_tag = tag;
  if (!CRYPTO_set_mem_functions(zm__openssl_malloc, zm__openssl_realloc,
                                zm__openssl_free)) {
    zm__openssl_tag = prev;
    errno = EBUSY;
    return -1;
  }
  return 0;
}

#endif /* ZMEM_OPENSSL_H */
