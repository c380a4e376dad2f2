/* PCRE2 through zmem/pcre2.h: patterns compiled and matched over a 1 MiB
 * subject, with a backtracking match whose frames live in the match data;
 * everything under the tag, which is 0 after the frees; under a tag limit
 * pcre2_match returns PCRE2_ERROR_NOMEMORY. */
#include "check.h"

#include <zmem/pcre2.h>

#include <string.h>

#define SUBJECT (1u << 20)

static zm_tag tag;
static pcre2_general_context *gen;
static pcre2_compile_context *cctx;

static pcre2_code *compile(const char *pattern) {
  int err;
  PCRE2_SIZE off;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0,
                                 &err, &off, cctx);
  CHECK(re);
  return re;
}

/* Matches of `pattern` in the whole subject. */
static long count_matches(const char *pattern, const char *s, size_t n) {
  pcre2_code *re = compile(pattern);
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, gen);
  CHECK(md);
  long count = 0;
  PCRE2_SIZE at = 0;
  while (at < n && pcre2_match(re, (PCRE2_SPTR)s, n, at, 0, md, NULL) > 0) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    count++;
    at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
  }
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  return count;
}

/* (.)*x over n characters without an x: one backtracking frame per
 * character, held in the match data's heap vector. */
static int deep_match(size_t n) {
  char *s = malloc(n);
  CHECK(s);
  memset(s, 'a', n);
  pcre2_code *re = compile("(.)*x");
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, gen);
  CHECK(md);
  int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, PCRE2_ANCHORED, md, NULL);
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  free(s);
  return rc;
}

int main(void) {
  tags_on();
  tag = zm_tag_new("pcre2");
  gen = zm_pcre2_context(tag);
  CHECK(gen);
  cctx = pcre2_compile_context_create(gen);
  CHECK(cctx);

  char *s = malloc(SUBJECT + 1);
  CHECK(s);
  for (size_t i = 0; i < SUBJECT; i++)
    s[i] = (i % 64 == 63) ? '\n' : (char)('a' + (i * 7) % 26);
  s[SUBJECT] = '\0';
  CHECK_EQ(count_matches("^[a-z]+$", s, SUBJECT), 0); /* one line only */
  CHECK_EQ(count_matches("(?m)^[a-z]{63}$", s, SUBJECT), SUBJECT / 64);
  CHECK(count_matches("([a-f])([g-m])\\1?", s, SUBJECT) > 1000);

  size_t before = zm_tag_used(tag);
  CHECK_EQ(deep_match(20000), PCRE2_ERROR_NOMATCH);
  zm_tag_info t = tag_info(tag);
  printf("deep match over 20000 characters: tag peak %zu, used after %zu\n",
         t.peak, t.used);
  CHECK(t.peak > before + 20000 * 64); /* the frames were on zmem */
  CHECK_EQ(t.used, before);

  CHECK(zm_tag_set_limit(tag, before + (256 << 10)) == 0);
  int rc = deep_match(20000);
  printf("under a 256 KiB limit: %d (PCRE2_ERROR_NOMEMORY is %d)\n", rc,
         PCRE2_ERROR_NOMEMORY);
  CHECK_EQ(rc, PCRE2_ERROR_NOMEMORY);
  CHECK(tag_info(tag).failures > 0);
  CHECK(zm_tag_set_limit(tag, 0) == 0);

  pcre2_compile_context_free(cctx);
  pcre2_general_context_free(gen);
  t = tag_info(tag);
  printf("after the frees: tag used %zu, blocks %zu, calls %llu\n", t.used,
         t.live_blocks, (unsigned long long)t.calls);
  CHECK_EQ(t.used, 0);
  CHECK_EQ(t.live_blocks, 0);
  free(s);
  return 0;
}
