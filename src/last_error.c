/* The calling thread's zm_last_error message. See last_error.h. */
#include "last_error.h"
#include "zmem.h"

#include <string.h>

static _Thread_local char last_error[ZM__ERROR_MAX];

const char *zm_last_error(void) { return last_error; }

void zm__set_last_error(const char *msg) {
  size_t n = strlen(msg);
  n = n < sizeof last_error - 1 ? n : sizeof last_error - 1;
  memcpy(last_error, msg, n);
  last_error[n] = '\0';
}
