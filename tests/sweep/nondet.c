/* A program whose number of allocation requests is not the same from one
 * run to the next, for `zmem sweep` to flag as not reproducible:
 *   nondet random  1 to 512 requests, the count read from /dev/urandom;
 *                  every request is checked (exit 1 when one fails);
 *   nondet once F  3 checked requests, and one more, unchecked, only in the
 *                  run that creates the file F (the first run to get there):
 *                  a sweep whose steps never make it must not say that
 *                  every request was failed. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int requests(unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    void *p = malloc(32);
    if (!p)
      return 1;
    free(p);
  }
  return 0;
}

static unsigned random_count(void) {
  unsigned short r = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, &r, sizeof r) != (ssize_t)sizeof r)
    _exit(2);
  close(fd);
  return 1 + r % 512;
}

static int once(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (requests(3))
    return 1;
  if (fd >= 0) { /* the first run only */
    char *p = malloc(64); /* unchecked */
    p[0] = 1;
    free(p);
    close(fd);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "random"))
    return requests(random_count());
  if (argc == 3 && !strcmp(argv[1], "once"))
    return once(argv[2]);
  return 2;
}
