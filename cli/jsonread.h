/* A small strict JSON reader for files zmem wrote and reads back (`zmem
 * report`, `zmem diff`): RFC 8259 syntax only (no comments, no trailing
 * commas, no leading zeros), nesting at most ZMC_JSON_MAX_DEPTH, input at
 * most ZMC_JSON_MAX_BYTES. The input is untrusted: every failure is a
 * one-line reason with its line and column, never a crash. */
#ifndef ZMC_JSONREAD_H
#define ZMC_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZMC_JSON_MAX_DEPTH 64
#define ZMC_JSON_MAX_BYTES ((size_t)1 << 30)

enum { ZMC_J_NULL, ZMC_J_BOOL, ZMC_J_NUM, ZMC_J_STR, ZMC_J_ARR, ZMC_J_OBJ };

typedef struct zmc_jv {
  int kind;
  bool b;           /* ZMC_J_BOOL */
  bool integer;     /* ZMC_J_NUM written without fraction or exponent */
  bool neg;         /* ... and with a minus sign */
  uint64_t mag;     /* ... its magnitude, when it fits 64 bits (else integer false) */
  double num;       /* ZMC_J_NUM, always */
  char *str;        /* ZMC_J_STR (decoded, NUL-terminated; no NUL inside) */
  char **keys;      /* ZMC_J_OBJ: n keys */
  struct zmc_jv *v; /* ZMC_J_ARR, ZMC_J_OBJ: n values */
  uint32_t n, cap;
} zmc_jv;

/* Parses buf[0..len) into a tree; NULL with the reason in err. */
zmc_jv *zmc_json_parse(const char *buf, size_t len, char *err, size_t errlen);

/* Reads a whole file (at most ZMC_JSON_MAX_BYTES) and parses it; NULL with
 * the reason in err. */
zmc_jv *zmc_json_load(const char *path, char *err, size_t errlen);

void zmc_json_free(zmc_jv *v);

/* The member key of object o (the first one when repeated), or NULL. */
const zmc_jv *zmc_json_get(const zmc_jv *o, const char *key);

/* v as a number of each kind: false when it is not one, or out of range. */
bool zmc_json_u64(const zmc_jv *v, uint64_t *out);
bool zmc_json_i64(const zmc_jv *v, int64_t *out);
bool zmc_json_f64(const zmc_jv *v, double *out);

#endif
