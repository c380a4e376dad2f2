/* A program whose one allocation site is a function named like markup
 * (an assembler name in quotes), for the HTML report's test: the name
 * must show as text and must not end the page's data element. */
#include <stdlib.h>
#include <string.h>

void *hostile(size_t n) __asm__("\"</script><!--<script>hostile\"");

__attribute__((noinline)) void *hostile(size_t n) {
  void *p = malloc(n);
  if (p)
    memset(p, 1, n);
  return p;
}

int main(void) {
  return hostile(100000) == NULL; /* left live: a leak as well */
}
