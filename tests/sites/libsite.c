/* A small library for the symbol tests: built with debug information, and
 * again stripped of its symbol table and DWARF. */
#include <stdint.h>

__attribute__((noinline)) static int site_hidden(int x) {
  __asm__ volatile("" ::: "memory");
  return x * 3 + 1;
}

uintptr_t site_hidden_addr(void);
uintptr_t site_hidden_addr(void) { return (uintptr_t)site_hidden; }

int site_exported(int x);
int site_exported(int x) { return site_hidden(x) + 1; }
