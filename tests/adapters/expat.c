/* Expat through zmem/expat.h: a generated document of several MiB parsed in
 * chunks, every element and attribute counted; the tag is 0 after
 * XML_ParserFree; under a tag limit Expat reports XML_ERROR_NO_MEMORY and
 * the OOM handler is never called. */
#include "check.h"

#include <zmem/expat.h>

#include <string.h>

#define ITEMS 60000

static zm_tag tag;
static long elements, attributes, text_bytes;
static int oom_calls;

static void count_oom(size_t size, void *arg) {
  (void)size;
  (void)arg;
  oom_calls++;
}

static void XMLCALL on_start(void *ud, const XML_Char *name,
                             const XML_Char **atts) {
  (void)ud;
  (void)name;
  elements++;
  for (; atts[0]; atts += 2)
    attributes++;
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  (void)ud;
  (void)name;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
  (void)ud;
  (void)s;
  text_bytes += len;
}

/* <doc><item id=".." kind="..">text</item>...</doc>, with entity refs. */
static char *make_doc(size_t *len) {
  size_t cap = (size_t)ITEMS * 160 + 64, n = 0;
  char *doc = malloc(cap);
  CHECK(doc);
  n += (size_t)sprintf(doc + n, "<?xml version=\"1.0\"?>\n<doc>\n");
  for (int i = 0; i < ITEMS; i++)
    n += (size_t)sprintf(doc + n,
                         "<item id=\"%d\" kind=\"k%d\" name=\"n-%x\">"
                         "value %d &amp; more <b>bold %d</b></item>\n",
                         i, i % 17, (unsigned)i * 2654435761u, i, i);
  n += (size_t)sprintf(doc + n, "</doc>\n");
  *len = n;
  return doc;
}

static XML_Parser parser(void) {
  XML_Parser p = zm_expat_parser_create(NULL, NULL);
  CHECK(p);
  XML_SetElementHandler(p, on_start, on_end);
  XML_SetCharacterDataHandler(p, on_text);
  return p;
}

/* Feeds doc in 64 KiB pieces; the parser's status at the end. */
static enum XML_Status feed(XML_Parser p, const char *doc, size_t len) {
  for (size_t off = 0; off < len; off += 65536) {
    size_t n = len - off < 65536 ? len - off : 65536;
    if (XML_Parse(p, doc + off, (int)n, off + n == len) != XML_STATUS_OK)
      return XML_STATUS_ERROR;
  }
  return XML_STATUS_OK;
}

int main(void) {
  tags_on();
  zm_set_oom_handler(count_oom, NULL);
  tag = zm_tag_new("expat");
  zm_expat_use(tag);
  size_t len;
  char *doc = make_doc(&len);

  XML_Parser p = parser();
  CHECK(zm_tag_used(tag) > 0);
  CHECK(feed(p, doc, len) == XML_STATUS_OK);
  printf("parsed %zu bytes: %ld elements, %ld attributes; tag used %zu, "
         "peak %zu\n", len, elements, attributes, zm_tag_used(tag),
         tag_info(tag).peak);
  CHECK_EQ(elements, 1 + 2 * ITEMS);
  CHECK_EQ(attributes, 3 * ITEMS);
  CHECK(text_bytes > ITEMS * 10);
  XML_ParserFree(p);
  CHECK_EQ(zm_tag_used(tag), 0);

  /* A limit below what a parser needs for long names: NO_MEMORY, cleanly. */
  char *big = malloc(300000);
  CHECK(big);
  memcpy(big, "<", 1);
  memset(big + 1, 'x', 299990);
  memcpy(big + 299991, " a='1'/>", 9);
  CHECK(zm_tag_set_limit(tag, 64 << 10) == 0);
  p = parser();
  CHECK(XML_Parse(p, big, (int)strlen(big), 1) == XML_STATUS_ERROR);
  printf("under a 64 KiB tag limit: \"%s\"\n",
         XML_ErrorString(XML_GetErrorCode(p)));
  CHECK(XML_GetErrorCode(p) == XML_ERROR_NO_MEMORY);
  XML_ParserFree(p);
  CHECK_EQ(zm_tag_used(tag), 0);
  CHECK(tag_info(tag).failures > 0);
  CHECK_EQ(oom_calls, 0);
  free(big);
  free(doc);
  return 0;
}
