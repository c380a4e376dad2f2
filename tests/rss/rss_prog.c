/* Programs with known RSS figures, for tests/rss.
 *   rss_prog child MIB       allocates and touches MIB MiB, then exits 0
 *   rss_prog parent MIB      runs "child MIB" (fork + exec), waits, exits 0
 *   rss_prog parent-kill MIB the same, then kills itself with SIGKILL
 *   rss_prog mix             64 MiB mmap'd and touched; 4 MiB in one block
 *                            (glibc maps it on its own) and 32 MiB in 64 KiB
 *                            blocks held by malloc, every other one of those
 *                            freed (16 MiB retained by glibc); exits 0
 *   rss_prog hog MIB         allocates and touches 1 MiB blocks up to MIB MiB
 *                            (a memory cgroup's OOM killer ends it) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

static void touch(char *p, size_t n) {
  for (size_t i = 0; i < n; i += 4096)
    p[i] = 1;
}

static int child(size_t mib) {
  char *p = malloc(mib * MIB);
  if (!p)
    return 2;
  touch(p, mib * MIB);
  free(p);
  return 0;
}

static int parent(const char *self, const char *mib, int kill_self) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(self, self, "child", mib, (char *)NULL);
    _exit(127);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
    return 3;
  if (kill_self)
    raise(SIGKILL);
  return 0;
}

static int mix(void) {
  char *map = mmap(NULL, 64 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (map == MAP_FAILED)
    return 2;
  touch(map, 64 * MIB);
  char *big = malloc(4 * MIB);
  if (!big)
    return 2;
  touch(big, 4 * MIB);
  enum { N = 512, BLOCK = 64 << 10 };
  static char *blocks[N];
  for (int i = 0; i < N; i++) {
    blocks[i] = malloc(BLOCK);
    if (!blocks[i])
      return 2;
    memset(blocks[i], 1, BLOCK);
  }
  for (int i = 0; i < N; i += 2)
    free(blocks[i]);
  printf("%p %p\n", (void *)blocks[1], (void *)big);
  return 0;
}

static int hog(size_t mib) {
  for (size_t i = 0; i < mib; i++) {
    char *p = malloc(MIB);
    if (!p)
      return 2;
    touch(p, MIB);
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
  if (!strcmp(mode, "child"))
    return child(mib);
  if (!strcmp(mode, "parent") || !strcmp(mode, "parent-kill"))
    return parent(argv[0], argc > 2 ? argv[2] : "0", !strcmp(mode, "parent-kill"));
  if (!strcmp(mode, "mix"))
    return mix();
  if (!strcmp(mode, "hog"))
    return hog(mib);
  fprintf(stderr, "usage: rss_prog child|parent|parent-kill|mix|hog [MIB]\n");
  return 2;
}
