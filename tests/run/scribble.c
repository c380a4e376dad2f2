/* Overwrites zmem's shared record (its header, or with argv[1] = "procs"
 * a process record) the way a buggy program could, then exits 0. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
  const char *fd = getenv("ZMEM_RUN_FD");
  if (!fd)
    return 0;
  size_t len = 1 << 20;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, atoi(fd), 0);
  if (p == MAP_FAILED)
    return 1;
  if (argc > 1 && !strcmp(argv[1], "procs"))
    memset(p + 4096, 0x5a, 64); /* the first process record's state, pid */
  else
    memset(p, 0xff, 64);
  return 0;
}
