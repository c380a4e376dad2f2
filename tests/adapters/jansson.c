/* Jansson through zmem/jansson.h: a JSON document of 20k objects built,
 * dumped, parsed back and compared; the tag is 0 after the last decref;
 * under a tag limit json_loads returns NULL. */
#include "check.h"

#include <zmem/jansson.h>

#include <string.h>

#define ITEMS 20000

static int oom_calls;
static void count_oom(size_t size, void *arg) {
  (void)size;
  (void)arg;
  oom_calls++;
}

static json_t *build(void) {
  json_t *root = json_object(), *items = json_array();
  CHECK(root && items);
  for (int i = 0; i < ITEMS; i++) {
    char name[32];
    snprintf(name, sizeof name, "item-%d", i);
    json_t *o = json_pack("{s:i, s:s, s:f, s:[i,i,i], s:b}", "id", i, "name",
                          name, "score", i * 0.25, "dims", i, i + 1, i + 2,
                          "odd", i & 1);
    CHECK(o && json_array_append_new(items, o) == 0);
  }
  CHECK(json_object_set_new(root, "items", items) == 0);
  CHECK(json_object_set_new(root, "count", json_integer(ITEMS)) == 0);
  return root;
}

int main(void) {
  tags_on();
  zm_set_oom_handler(count_oom, NULL);
  zm_tag tag = zm_tag_new("jansson");
  zm_jansson_install(tag);

  json_t *doc = build();
  size_t built = zm_tag_used(tag);
  char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  CHECK(text && zm_tag_of(text) == tag);
  size_t len = strlen(text);
  json_error_t err;
  json_t *back = json_loads(text, 0, &err);
  CHECK(back);
  CHECK(json_equal(doc, back));
  CHECK_EQ(json_integer_value(json_object_get(back, "count")), ITEMS);
  printf("%d objects, %zu bytes of JSON; tag used %zu after build, peak %zu\n",
         ITEMS, len, built, tag_info(tag).peak);
  CHECK(built > (size_t)ITEMS * 200);
  json_decref(back);
  json_decref(doc);

  /* Parsing again under a limit far below what the document needs. */
  CHECK(zm_tag_set_limit(tag, zm_tag_used(tag) + (256 << 10)) == 0);
  back = json_loads(text, 0, &err);
  printf("under a 256 KiB tag limit: %s (\"%s\")\n", back ? "parsed" : "NULL",
         err.text);
  CHECK(back == NULL);
  CHECK(tag_info(tag).failures > 0);
  CHECK(zm_tag_set_limit(tag, 0) == 0);
  zm_free(text); /* json_dumps' buffer comes from the installed malloc */
  CHECK_EQ(oom_calls, 0);
  zm_tag_info t = tag_info(tag);
  printf("after the last decref: tag used %zu, blocks %zu\n", t.used,
         t.live_blocks);
  CHECK_EQ(t.used, 0);
  CHECK_EQ(t.live_blocks, 0);
  return 0;
}
