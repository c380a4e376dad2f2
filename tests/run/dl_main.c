/* dlopens argv[1] and calls its allocating function. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
  void *h = dlopen(argc > 1 ? argv[1] : "", RTLD_NOW);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  long (*fn)(int) = (long (*)(int))dlsym(h, "dl_work");
  printf("dl_work: %ld\n", fn ? fn(1000) : -1L);
  dlclose(h);
  return 0;
}
