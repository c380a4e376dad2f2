/* zlib through zmem/zlib.h: 4 MiB compressed and decompressed, each stream
 * under its own tag (children of a "zlib" tag), each back to 0 after its
 * End call; a limit makes deflateInit fail cleanly with Z_MEM_ERROR. */
#include "check.h"

#include <zmem/zlib.h>

#include <limits.h>
#include <string.h>

#define INPUT (4u << 20)
#define CHUNK (64u << 10)

static int oom_calls;
static void count_oom(size_t size, void *arg) {
  (void)size;
  (void)arg;
  oom_calls++;
}

/* Text-like data: words from a small vocabulary, pseudo-random order. */
static unsigned char *make_input(void) {
  static const char *words[] = {"memory ", "block ", "tag ", "zlib ",
                                "allocator ", "stream ", "window ", "hash "};
  unsigned char *in = malloc(INPUT);
  CHECK(in);
  unsigned seed = 12345;
  for (size_t n = 0; n < INPUT;) {
    seed = seed * 1103515245u + 12345u;
    const char *w = words[(seed >> 16) % 8];
    for (size_t i = 0; w[i] && n < INPUT; i++)
      in[n++] = (unsigned char)w[i];
  }
  return in;
}

static size_t compress_all(zm_tag t, const unsigned char *in, unsigned char *out,
                           size_t cap) {
  z_stream s;
  memset(&s, 0, sizeof s);
  zm_zlib_use(&s, t);
  CHECK(deflateInit2(&s, 9, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  /* window 2 * 32 KiB, prev 64 KiB, head 2 * 2^(9+7), pending 4 * 2^(9+6) */
  printf("deflate stream: tag used %zu\n", zm_tag_used(t));
  CHECK(zm_tag_used(t) >= (384u << 10));
  s.next_out = out;
  s.avail_out = (uInt)cap;
  for (size_t off = 0; off < INPUT; off += CHUNK) {
    s.next_in = (unsigned char *)in + off;
    s.avail_in = CHUNK;
    CHECK(deflate(&s, off + CHUNK < INPUT ? Z_NO_FLUSH : Z_FINISH) != Z_STREAM_ERROR);
    CHECK(s.avail_out > 0);
  }
  size_t len = s.total_out;
  CHECK(deflateEnd(&s) == Z_OK);
  CHECK_EQ(zm_tag_used(t), 0);
  return len;
}

static void decompress_all(zm_tag t, const unsigned char *packed, size_t len,
                           unsigned char *out) {
  z_stream s;
  memset(&s, 0, sizeof s);
  zm_zlib_use(&s, t);
  CHECK(inflateInit(&s) == Z_OK);
  s.next_in = (unsigned char *)packed;
  s.avail_in = (uInt)len;
  int rc = Z_OK;
  for (size_t off = 0; rc == Z_OK; off += CHUNK) { /* small output chunks */
    CHECK(off < INPUT + CHUNK);
    s.next_out = out + off;
    s.avail_out = CHUNK;
    rc = inflate(&s, Z_NO_FLUSH);
    if (off == 0)
      printf("inflate stream: tag used %zu\n", zm_tag_used(t));
  }
  CHECK(rc == Z_STREAM_END);
  CHECK_EQ(s.total_out, INPUT);
  CHECK(zm_tag_used(t) >= (32u << 10)); /* the 32 KiB window */
  CHECK(inflateEnd(&s) == Z_OK);
  CHECK_EQ(zm_tag_used(t), 0);
}

/* A limit too small for the deflate state: zlib gets NULL, frees what it
 * had and reports Z_MEM_ERROR; the OOM handler is not called. */
static void refused(zm_tag t) {
  CHECK(zm_tag_set_limit(t, 100u << 10) == 0);
  z_stream s;
  memset(&s, 0, sizeof s);
  zm_zlib_use(&s, t);
  CHECK(deflateInit2(&s, 9, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY) == Z_MEM_ERROR);
  CHECK_EQ(zm_tag_used(t), 0);
  CHECK(tag_info(t).failures > 0);
  CHECK(zm_tag_set_limit(t, 0) == 0);
}

/* items * size: the largest product is refused, not truncated. */
static void huge_request(zm_tag t) {
  volatile uInt most = UINT_MAX; /* unknown to the compiler */
  errno = 0;
  CHECK(zm_zlib_alloc((voidpf)(uintptr_t)t, most, most) == Z_NULL);
  CHECK_EQ(errno, ENOMEM);
  void *p = zm_zlib_alloc((voidpf)(uintptr_t)t, 1000, 3);
  CHECK(p && zm_usable_size(p) >= 3000 && zm_tag_of(p) == t);
  zm_zlib_free((voidpf)(uintptr_t)t, p);
  CHECK_EQ(zm_tag_used(t), 0);
}

int main(void) {
  tags_on();
  zm_set_oom_handler(count_oom, NULL);
  zm_tag root = zm_tag_new("zlib");
  zm_tag dtag = zm_tag_new_child(root, "deflate");
  zm_tag itag = zm_tag_new_child(root, "inflate");
  CHECK(root != ZM_TAG_INVALID && dtag != ZM_TAG_INVALID && itag != ZM_TAG_INVALID);

  unsigned char *in = make_input();
  size_t cap = compressBound(INPUT);
  unsigned char *packed = malloc(cap), *back = malloc(INPUT + CHUNK);
  CHECK(packed && back);
  size_t len = compress_all(dtag, in, packed, cap);
  printf("compressed %u bytes to %zu\n", INPUT, len);
  CHECK(len < INPUT / 3);
  decompress_all(itag, packed, len, back);
  CHECK(memcmp(in, back, INPUT) == 0);

  zm_tag_info r = tag_info(root);
  printf("zlib tag: used %zu, peak %zu, calls %llu\n", r.used, r.peak,
         (unsigned long long)r.calls);
  CHECK_EQ(r.used, 0);
  CHECK(r.peak >= (384u << 10));
  CHECK(tag_info(dtag).calls > 0 && tag_info(itag).calls > 0);
  refused(dtag);
  huge_request(itag);
  CHECK_EQ(oom_calls, 0);
  CHECK_EQ(tag_info(root).live_blocks, 0);
  free(in);
  free(packed);
  free(back);
  return 0;
}
