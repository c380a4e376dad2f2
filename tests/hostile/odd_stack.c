/* Allocates with %rbp holding a number that is no frame address, on a
 * stack that is not the thread's: "altstack", in a signal handler on an
 * alternate stack; "coroutine", on a makecontext stack. Under
 * `--unwind fp` the frame walk must stop, never read there. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#if defined(__x86_64__)
/* malloc(n) called with %rbp = bp; returns the block. */
void *malloc_with_rbp(size_t n, uintptr_t bp);
__asm__(".text\n"
        ".globl malloc_with_rbp\n"
        ".type malloc_with_rbp, @function\n"
        "malloc_with_rbp:\n"
        "  push %rbp\n"
        "  mov %rsi, %rbp\n"
        "  call malloc@PLT\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size malloc_with_rbp, .-malloc_with_rbp\n");
#endif

/* 64 MiB below main's frame: above the heap and the alternate or
 * coroutine stack (malloc'd, small: in the heap), below the thread's
 * stack, and unmapped (the kernel keeps the mappings more than 128 MiB
 * below the main stack), so a walk that reads there faults. */
static uintptr_t garbage;
static long got;

static void allocate(void) {
#if defined(__x86_64__)
  for (int i = 0; i < 100; i++) {
    char *p = malloc_with_rbp(32 + (size_t)i, garbage + 16 * (uintptr_t)i);
    p[0] = 1;
    got += p[0];
    free(p);
  }
#endif
}

static void on_usr1(int sig) {
  (void)sig;
  allocate();
}

static ucontext_t main_ctx, co_ctx;

static void coroutine(void) { allocate(); }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "altstack";
  garbage = ((uintptr_t)__builtin_frame_address(0) - ((uintptr_t)64 << 20)) & ~(uintptr_t)15;
  size_t size = 64 << 10;
  char *stack = malloc(size);
  if (strcmp(mode, "altstack") == 0) {
    stack_t ss = {.ss_sp = stack, .ss_size = size};
    sigaltstack(&ss, NULL);
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    for (int i = 0; i < 5; i++)
      raise(SIGUSR1);
  } else {
    getcontext(&co_ctx);
    co_ctx.uc_stack.ss_sp = stack;
    co_ctx.uc_stack.ss_size = size;
    co_ctx.uc_link = &main_ctx;
    makecontext(&co_ctx, coroutine, 0);
    for (int i = 0; i < 5; i++) {
      swapcontext(&main_ctx, &co_ctx);
      makecontext(&co_ctx, coroutine, 0);
    }
  }
  printf("allocated %ld\n", got);
  return 0;
}
