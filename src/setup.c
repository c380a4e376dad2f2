/* Set-up state: the set-up lock, the frozen flag and the mode word. See
 * setup.h. */
#include "fork.h"
#include "setup.h"

#include <pthread.h>

_Atomic int zm__mode;
zm_layout zm__layout_wanted;

static pthread_mutex_t setup_mutex = PTHREAD_MUTEX_INITIALIZER;

void zm__setup_lock(void) { pthread_mutex_lock(&setup_mutex); }
void zm__setup_unlock(void) { pthread_mutex_unlock(&setup_mutex); }

bool zm__setup_frozen(void) {
  return (atomic_load_explicit(&zm__mode, memory_order_relaxed) &
          ZM__MODE_LAYOUT) != 0;
}

void zm__mode_set_flag(int flag, bool on) {
  if (on)
    atomic_fetch_or(&zm__mode, flag);
  else
    atomic_fetch_and(&zm__mode, ~flag);
}

void zm__mode_set_limits(bool on) { zm__mode_set_flag(ZM__MODE_LIMITS, on); }

void zm__setup_fork_lock(void) { zm__setup_lock(); }
void zm__setup_fork_unlock(void) { zm__setup_unlock(); }
