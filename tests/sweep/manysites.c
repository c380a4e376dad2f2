/* 3000 checked requests from one call site (checked_block, called from
 * one line of a loop), then one unchecked request from another site (the
 * planted bug, marked below). A sweep per request needs 3002 steps to find
 * it; `--by-site` needs one step per site. Output goes through write(2),
 * which allocates nothing. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCKS 3000

static void *blocks[BLOCKS];

static void give_up(int held) {
  while (held > 0)
    free(blocks[--held]);
  static const char msg[] = "manysites: out of memory\n";
  (void)!write(2, msg, sizeof msg - 1);
  exit(1);
}

static void *__attribute__((noinline)) checked_block(int i) {
  void *p = malloc(16 + (size_t)i % 7);
  if (!p)
    give_up(i);
  return p;
}

int main(void) {
  for (int i = 0; i < BLOCKS; i++)
    blocks[i] = checked_block(i);
  char *last = malloc(32); /* PLANTED: the one unchecked request */
  strcpy(last, "manysites: done\n");
  (void)!write(1, last, strlen(last));
  free(last);
  for (int i = 0; i < BLOCKS; i++)
    free(blocks[i]);
  return 0;
}
