/* C++ names made readable (_ZN6toplev4mainEiPPc -> toplev::main(int,
 * char**)) through the C++ runtime's own demangler, __cxa_demangle,
 * loaded from libstdc++ when first needed: the command has no link-time
 * dependency on a C++ library, and a program with C++ names has one
 * installed. Without it names stay as they are. */
#ifndef ZM_CLI_DEMANGLE_H
#define ZM_CLI_DEMANGLE_H

#include <stddef.h>

/* The demangled form of name in a string of its own (to free), or NULL
 * when name is not a C++ name or cannot be demangled. */
char *zm__demangle(const char *name);

#endif
