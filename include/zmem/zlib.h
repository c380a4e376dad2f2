/* zmem/zlib.h: zlib's stream allocator on zmem, one tag per stream.
 *
 *   z_stream s = {0};
 *   zm_zlib_use(&s, tag);     (before deflateInit* / inflateInit*)
 *   deflateInit(&s, 6); ... deflateEnd(&s);
 *
 * Header-only: libzmem does not depend on zlib. The tag travels in the
 * stream's `opaque` pointer, so each stream may have its own. Allocation
 * uses the try path: zlib gets Z_NULL and returns Z_MEM_ERROR itself; zmem's
 * OOM handler is never called. The gz* file functions (gzopen, ...) do not
 * take allocation functions; they use the C library's malloc. */
#ifndef ZMEM_ZLIB_H
#define ZMEM_ZLIB_H

#include <zmem.h>

#include <zlib.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* zalloc: items * size bytes under the tag in `opaque`. A product that does
 * not fit in size_t is Z_NULL (errno ENOMEM), never a short block. */
static inline voidpf zm_zlib_alloc(voidpf opaque, uInt items, uInt size) {
  if (size != 0 && items > SIZE_MAX / size) {
    errno = ENOMEM;
    return Z_NULL;
  }
  return zm_try_malloc_tag((zm_tag)(uintptr_t)opaque,
                           (size_t)items * (size_t)size);
}

static inline void zm_zlib_free(voidpf opaque, voidpf address) {
  (void)opaque;
  zm_free(address);
}

/* Points the stream's zalloc/zfree at zmem and its opaque at `tag`. Call it
 * on a zeroed stream before deflateInit* or inflateInit*. */
static inline void zm_zlib_use(z_stream *strm, zm_tag tag) {
  strm->zalloc = zm_zlib_alloc;
  strm->zfree = zm_zlib_free;
  strm->opaque = (voidpf)(uintptr_t)tag;
}

#endif /* ZMEM_ZLIB_H */
