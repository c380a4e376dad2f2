/* Run under valgrind by the test vg_header_lost: one block of each layout
 * that registers with memcheck (header by argument "header", debug by
 * "debug") is lost, another stays reachable through a global. memcheck must
 * call the first "definitely lost" and the second "still reachable", with
 * nothing "possibly lost". */
#include <zmem.h>

#include <stdio.h>
#include <string.h>

void *reachable;

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "header") && strcmp(argv[1], "debug"))) {
    fprintf(stderr, "usage: vg_lost header|debug\n");
    return 2;
  }
  zm_set_layout(argv[1][0] == 'h' ? ZM_LAYOUT_HEADER : ZM_LAYOUT_DEBUG);
  zm_set_quarantine(0); /* the debug layout keeps nothing freed */
  void *lost = zm_malloc(1000);
  memset(lost, 1, 1000);
  reachable = zm_malloc(3000);
  lost = NULL;
  return 0;
}
