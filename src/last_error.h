/* The calling thread's zm_last_error message, at the bottom of the library:
 * the backend, the layout and the options all set it when they refuse a
 * set-up call. */
#ifndef ZM_LAST_ERROR_H
#define ZM_LAST_ERROR_H

/* Longest message zm_last_error can return, NUL included. */
#define ZM__ERROR_MAX 160

/* Sets the calling thread's zm_last_error message (cut to fit). */
void zm__set_last_error(const char *msg);

#endif
