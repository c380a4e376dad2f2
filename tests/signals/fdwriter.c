/* Writes a line to every descriptor from 3 to 255 but the record's
 * (ZMEM_RUN_FD, which zmem hands down on purpose), then prints the
 * descriptors it found open besides 0, 1, 2 and the record: with zmem,
 * as without, none when the caller closed all of its own. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  const char *rec = getenv("ZMEM_RUN_FD");
  int record = rec ? atoi(rec) : -1;
  static const char line[] = "zmem-fd-leak: the program wrote here\n";
  for (int fd = 3; fd < 256; fd++)
    if (fd != record)
      (void)!write(fd, line, sizeof line - 1);
  free(malloc(100));
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return 2;
  printf("open:");
  struct dirent *e;
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd > 2 && fd != record && fd != dirfd(d))
      printf(" %d", fd);
  }
  printf("\n");
  closedir(d);
  return 0;
}
