/* zbench_adapters: what each adapter in include/zmem/ costs against the
 * library's own default allocator, on the workload of its test
 * (tests/adapters/).
 *
 *   zbench_adapters LIB MODE
 *
 * LIB   sqlite    100k rows inserted, indexed, queried (in memory)
 *       libevent  3000 HTTP requests, evhttp server and client, 127.0.0.1
 *       lua       a 1M-entry table and 200k strings built and collected
 *       zlib      4 MiB compressed (level 9) and decompressed
 *       openssl   SHA-256 and AES-256-GCM over 1 MiB, a P-256 key, a
 *                 self-signed certificate, a TLS handshake over 127.0.0.1
 *       expat     a 5 MiB generated document parsed in 64 KiB pieces
 *       pcre2     three patterns counted over a 1 MiB subject and a
 *                 backtracking match 20000 frames deep
 *       jansson   20000 objects built, dumped, parsed back and compared
 *       curl      500 HTTP requests on one handle to a server thread on
 *                 127.0.0.1
 * MODE  default   the library's own allocator (no hook installed)
 *       zmem      the adapter, under a tag (tags on: the header layout)
 *
 * Prints "lib=L mode=M seconds=S tag_peak=P". Only the workload is timed
 * (set-up and process start are not); bench/adapters.sh counts its
 * instructions with callgrind through --toggle-collect='zba_work_*'. */
#define _GNU_SOURCE /* memmem */
#include <zmem.h>
#include <zmem/curl.h>
#include <zmem/expat.h>
#include <zmem/jansson.h>
#include <zmem/libevent.h>
#include <zmem/pcre2.h>
#include <zmem/lua.h>
#include <zmem/openssl.h>
#include <zmem/sqlite.h>
#include <zmem/zlib.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <lauxlib.h>
#include <lualib.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static bool use_zmem;
static zm_tag tag;

static void die(const char *what) {
  fprintf(stderr, "zbench_adapters: %s\n", what);
  exit(2);
}

#define NEED(cond)                                                         \
  do {                                                                     \
    if (!(cond))                                                           \
      die(#cond);                                                          \
  } while (0)

/* --------------------------------------------------------------- SQLite */

static void sq_exec(sqlite3 *db, const char *sql) {
  NEED(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
}

static sqlite3_int64 sq_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  NEED(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
  NEED(sqlite3_step(st) == SQLITE_ROW);
  sqlite3_int64 v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

NOINLINE static void zba_work_sqlite(void) {
  if (use_zmem)
    NEED(zm_sqlite_install(tag) == SQLITE_OK);
  NEED(sqlite3_initialize() == SQLITE_OK);
  sqlite3 *db;
  NEED(sqlite3_open(":memory:", &db) == SQLITE_OK);
  sq_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL)");
  sq_exec(db, "BEGIN");
  sqlite3_stmt *st;
  NEED(sqlite3_prepare_v2(db, "INSERT INTO t(id, name, v) VALUES(?, ?, ?)",
                          -1, &st, NULL) == SQLITE_OK);
  char name[48];
  for (int i = 1; i <= 100000; i++) {
    snprintf(name, sizeof name, "name-%d-%x", i % 977, (unsigned)i * 2654435761u);
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, i * 0.5);
    NEED(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sq_exec(db, "COMMIT");
  sq_exec(db, "CREATE INDEX t_name ON t(name)");
  NEED(sq_int(db, "SELECT count(*) FROM t") == 100000);
  sq_int(db, "SELECT CAST(sum(v) * 2 AS INTEGER) FROM t");
  sq_int(db, "SELECT count(*) FROM t WHERE name >= 'name-5-' AND name < 'name-5.'");
  NEED(sq_int(db, "SELECT count(*) FROM (SELECT name FROM t GROUP BY id % 977)") == 977);
  NEED(sqlite3_close(db) == SQLITE_OK);
  NEED(sqlite3_shutdown() == SQLITE_OK);
}

/* ------------------------------------------------------------- libevent */

#define REQUESTS 3000
static struct event_base *ev_base;
static struct evhttp_connection *ev_conn;
static int ev_done;

static void ev_serve(struct evhttp_request *req, void *arg) {
  (void)arg;
  long n = strtol(evhttp_request_get_uri(req) + 1, NULL, 10);
  struct evbuffer *body = evbuffer_new();
  NEED(body);
  for (long i = 0; i < n; i++)
    evbuffer_add(body, &"0123456789abcdef"[i % 16], 1);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                    "text/plain");
  evhttp_send_reply(req, HTTP_OK, "OK", body);
  evbuffer_free(body);
}

static void ev_request(void);

static void ev_answered(struct evhttp_request *req, void *arg) {
  (void)arg;
  NEED(req && evhttp_request_get_response_code(req) == HTTP_OK);
  if (++ev_done < REQUESTS)
    ev_request();
  else
    event_base_loopbreak(ev_base);
}

static void ev_request(void) {
  struct evhttp_request *req = evhttp_request_new(ev_answered, NULL);
  NEED(req);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
  char uri[32];
  snprintf(uri, sizeof uri, "/%d", (ev_done * 37) % 20000);
  NEED(evhttp_make_request(ev_conn, req, EVHTTP_REQ_GET, uri) == 0);
}

NOINLINE static void zba_work_libevent(void) {
  if (use_zmem)
    NEED(zm_event_install(tag) == 0);
  ev_base = event_base_new();
  struct evhttp *http = evhttp_new(ev_base);
  NEED(ev_base && http);
  evhttp_set_gencb(http, ev_serve, NULL);
  struct evhttp_bound_socket *s =
      evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
  NEED(s);
  int fd = evhttp_bound_socket_get_fd(s), one = 1;
  NEED(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
  struct sockaddr_in sin;
  socklen_t len = sizeof sin;
  NEED(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
  ev_conn = evhttp_connection_base_new(ev_base, NULL, "127.0.0.1",
                                       ntohs(sin.sin_port));
  NEED(ev_conn);
  ev_request();
  NEED(event_base_dispatch(ev_base) == 0 && ev_done == REQUESTS);
  evhttp_connection_free(ev_conn);
  evhttp_free(http);
  event_base_free(ev_base);
  libevent_global_shutdown();
}

/* ------------------------------------------------------------------ Lua */

NOINLINE static void zba_work_lua(void) {
  lua_State *L = use_zmem ? zm_lua_newstate(tag) : luaL_newstate();
  NEED(L);
  luaL_openlibs(L);
  NEED(luaL_dostring(L,
      "big = {} for i = 1, 1000000 do big[i] = i * 2 end "
      "names = {} for i = 1, 200000 do names['k' .. i] = string.rep('x', i % 64) end "
      "assert(#big == 1000000) big = nil names = nil "
      "collectgarbage() collectgarbage()") == LUA_OK);
  lua_close(L);
}

/* ----------------------------------------------------------------- zlib */

#define ZINPUT (4u << 20)
#define ZCHUNK (64u << 10)
static unsigned char *z_in, *z_packed, *z_back;

static void z_streams(z_stream *d, z_stream *i) {
  memset(d, 0, sizeof *d);
  memset(i, 0, sizeof *i);
  if (use_zmem) {
    zm_zlib_use(d, tag);
    zm_zlib_use(i, tag);
  }
}

NOINLINE static void zba_work_zlib(void) {
  z_stream d, in;
  z_streams(&d, &in);
  NEED(deflateInit2(&d, 9, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  d.next_out = z_packed;
  d.avail_out = (uInt)compressBound(ZINPUT);
  for (size_t off = 0; off < ZINPUT; off += ZCHUNK) {
    d.next_in = z_in + off;
    d.avail_in = ZCHUNK;
    NEED(deflate(&d, off + ZCHUNK < ZINPUT ? Z_NO_FLUSH : Z_FINISH) != Z_STREAM_ERROR);
  }
  NEED(inflateInit(&in) == Z_OK);
  in.next_in = z_packed;
  in.avail_in = (uInt)d.total_out;
  int rc = Z_OK;
  for (size_t off = 0; rc == Z_OK; off += ZCHUNK) {
    in.next_out = z_back + off;
    in.avail_out = ZCHUNK;
    rc = inflate(&in, Z_NO_FLUSH);
  }
  NEED(rc == Z_STREAM_END && in.total_out == ZINPUT);
  deflateEnd(&d);
  inflateEnd(&in);
}

static void zlib_setup(void) {
  static const char *words[] = {"memory ", "block ", "tag ", "zlib ",
                                "allocator ", "stream ", "window ", "hash "};
  z_in = malloc(ZINPUT);
  z_packed = malloc(compressBound(ZINPUT));
  z_back = malloc(ZINPUT + ZCHUNK);
  NEED(z_in && z_packed && z_back);
  unsigned seed = 12345;
  for (size_t n = 0; n < ZINPUT;) {
    seed = seed * 1103515245u + 12345u;
    for (const char *w = words[(seed >> 16) % 8]; *w && n < ZINPUT; w++)
      z_in[n++] = (unsigned char)*w;
  }
}

/* -------------------------------------------------------------- OpenSSL */

static void ssl_evp(void) {
  static unsigned char buf[1 << 20], out[1 << 20];
  unsigned char md[EVP_MAX_MD_SIZE], key[32] = {7}, iv[12] = {9}, gcm[16];
  unsigned mdlen;
  int len, fin;
  NEED(EVP_Digest(buf, sizeof buf, md, &mdlen, EVP_sha256(), NULL) == 1);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  NEED(c && EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), key, iv, NULL) == 1);
  NEED(EVP_EncryptUpdate(c, out, &len, buf, sizeof buf) == 1);
  NEED(EVP_EncryptFinal_ex(c, out + len, &fin) == 1);
  NEED(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, gcm) == 1);
  EVP_CIPHER_CTX_free(c);
}

static X509 *ssl_cert(EVP_PKEY *key) {
  X509 *x = X509_new();
  NEED(x && X509_set_version(x, 2) == 1);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  NEED(X509_sign(x, key, EVP_sha256()) > 0);
  return x;
}

static void tcp_pair(int *server, int *client) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  NEED(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0);
  NEED(listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&a, &len) == 0);
  *client = socket(AF_INET, SOCK_STREAM, 0);
  NEED(connect(*client, (struct sockaddr *)&a, sizeof a) == 0);
  *server = accept(l, NULL, NULL);
  NEED(*server >= 0);
  close(l);
  fcntl(*server, F_SETFL, O_NONBLOCK);
  fcntl(*client, F_SETFL, O_NONBLOCK);
}

static int ssl_pending(SSL *s, int rc) {
  if (rc == 1)
    return 0;
  int e = SSL_get_error(s, rc);
  NEED(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
  return 1;
}

static void ssl_handshake(void) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  NEED(key);
  X509 *cert = ssl_cert(key);
  SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
  NEED(sctx && cctx && SSL_CTX_use_certificate(sctx, cert) == 1 &&
       SSL_CTX_use_PrivateKey(sctx, key) == 1);
  NEED(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), cert) == 1);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
  int sfd, cfd;
  tcp_pair(&sfd, &cfd);
  SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
  NEED(srv && cli && SSL_set_fd(srv, sfd) == 1 && SSL_set_fd(cli, cfd) == 1);
  int s_wait = 1, c_wait = 1;
  for (int round = 0; s_wait || c_wait; round++) {
    NEED(round < 1000);
    if (c_wait)
      c_wait = ssl_pending(cli, SSL_connect(cli));
    if (s_wait)
      s_wait = ssl_pending(srv, SSL_accept(srv));
    struct pollfd p[2] = {{sfd, POLLIN, 0}, {cfd, POLLIN, 0}};
    if (s_wait || c_wait)
      poll(p, 2, 100);
  }
  SSL_free(srv);
  SSL_free(cli);
  close(sfd);
  close(cfd);
  SSL_CTX_free(sctx);
  SSL_CTX_free(cctx);
  X509_free(cert);
  EVP_PKEY_free(key);
}

NOINLINE static void zba_work_openssl(void) {
  if (use_zmem)
    NEED(zm_openssl_install(tag) == 0);
  ssl_evp();
  ssl_handshake();
  OPENSSL_cleanup();
}

/* ---------------------------------------------------------------- Expat */

#define XITEMS 60000
static char *x_doc;
static size_t x_len;
static long x_elements;

static void XMLCALL x_start(void *ud, const XML_Char *name, const XML_Char **a) {
  (void)ud;
  (void)name;
  (void)a;
  x_elements++;
}

static void expat_setup(void) {
  x_doc = malloc((size_t)XITEMS * 160 + 64);
  NEED(x_doc);
  x_len += (size_t)sprintf(x_doc, "<?xml version=\"1.0\"?>\n<doc>\n");
  for (int i = 0; i < XITEMS; i++)
    x_len += (size_t)sprintf(x_doc + x_len,
                             "<item id=\"%d\" kind=\"k%d\" name=\"n-%x\">"
                             "value %d &amp; more <b>bold %d</b></item>\n",
                             i, i % 17, (unsigned)i * 2654435761u, i, i);
  x_len += (size_t)sprintf(x_doc + x_len, "</doc>\n");
}

NOINLINE static void zba_work_expat(void) {
  if (use_zmem)
    zm_expat_use(tag);
  XML_Parser p = use_zmem ? zm_expat_parser_create(NULL, NULL)
                          : XML_ParserCreate(NULL);
  NEED(p);
  XML_SetStartElementHandler(p, x_start);
  for (size_t off = 0; off < x_len; off += 65536) {
    size_t n = x_len - off < 65536 ? x_len - off : 65536;
    NEED(XML_Parse(p, x_doc + off, (int)n, off + n == x_len) == XML_STATUS_OK);
  }
  NEED(x_elements == 1 + 2 * XITEMS);
  XML_ParserFree(p);
}

/* ---------------------------------------------------------------- PCRE2 */

static char *p_subject, *p_deep;
static pcre2_general_context *p_gen;

static long p_count(const char *pattern, const char *s, size_t n,
                    uint32_t opts) {
  int err;
  PCRE2_SIZE off;
  pcre2_compile_context *cc = pcre2_compile_context_create(p_gen);
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                 0, &err, &off, cc);
  pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, p_gen) : NULL;
  NEED(md);
  long count = 0;
  PCRE2_SIZE at = 0;
  int rc;
  while (at < n && (rc = pcre2_match(re, (PCRE2_SPTR)s, n, at, opts, md, NULL)) > 0) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    count++;
    at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
  }
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  pcre2_compile_context_free(cc);
  return count;
}

static void pcre2_setup(void) {
  p_subject = malloc((1u << 20) + 1);
  p_deep = malloc(20000);
  NEED(p_subject && p_deep);
  for (size_t i = 0; i < (1u << 20); i++)
    p_subject[i] = (i % 64 == 63) ? '\n' : (char)('a' + (i * 7) % 26);
  memset(p_deep, 'a', 20000);
}

NOINLINE static void zba_work_pcre2(void) {
  p_gen = use_zmem ? zm_pcre2_context(tag) : NULL;
  NEED(!use_zmem || p_gen);
  NEED(p_count("^[a-z]+$", p_subject, 1u << 20, 0) == 0);
  NEED(p_count("(?m)^[a-z]{63}$", p_subject, 1u << 20, 0) == (1 << 20) / 64);
  NEED(p_count("([a-f])([g-m])\\1?", p_subject, 1u << 20, 0) > 1000);
  /* anchored: otherwise PCRE2 sees that no x exists and skips the work */
  NEED(p_count("(.)*x", p_deep, 20000, PCRE2_ANCHORED) == 0);
  pcre2_general_context_free(p_gen);
}

/* -------------------------------------------------------------- Jansson */

NOINLINE static void zba_work_jansson(void) {
  if (use_zmem)
    zm_jansson_install(tag);
  json_t *root = json_object(), *items = json_array();
  NEED(root && items);
  for (int i = 0; i < 20000; i++) {
    char name[32];
    snprintf(name, sizeof name, "item-%d", i);
    json_t *o = json_pack("{s:i, s:s, s:f, s:[i,i,i], s:b}", "id", i, "name",
                          name, "score", i * 0.25, "dims", i, i + 1, i + 2,
                          "odd", i & 1);
    NEED(o && json_array_append_new(items, o) == 0);
  }
  NEED(json_object_set_new(root, "items", items) == 0);
  char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
  json_error_t err;
  json_t *back = text ? json_loads(text, 0, &err) : NULL;
  NEED(back && json_equal(root, back));
  json_decref(back);
  json_decref(root);
  if (use_zmem)
    zm_free(text);
  else
    free(text);
}

/* ---------------------------------------------------------------- curl */

static int c_listener;

static void *c_serve(void *arg) {
  (void)arg;
  int fd = accept(c_listener, NULL, NULL);
  NEED(fd >= 0);
  static char req[8192], reply[128 + 20000];
  size_t have = 0;
  for (;;) {
    char *end = memmem(req, have, "\r\n\r\n", 4);
    if (!end) {
      ssize_t got = read(fd, req + have, sizeof req - have);
      if (got <= 0)
        break;
      have += (size_t)got;
      continue;
    }
    long n = strtol(req + 5, NULL, 10) % 20000;
    int hl = snprintf(reply, 128,
                      "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n", n);
    memset(reply + hl, 'z', (size_t)n);
    NEED(write(fd, reply, (size_t)hl + (size_t)n) == hl + n);
    size_t used = (size_t)(end + 4 - req);
    memmove(req, req + used, have - used);
    have -= used;
  }
  close(fd);
  return NULL;
}

static size_t c_data(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  *(size_t *)ud += n;
  return size * n;
}

NOINLINE static void zba_work_curl(void) {
  if (use_zmem)
    NEED(zm_curl_install(tag, CURL_GLOBAL_DEFAULT) == 0);
  else
    NEED(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  c_listener = socket(AF_INET, SOCK_STREAM, 0);
  NEED(c_listener >= 0 && bind(c_listener, (struct sockaddr *)&a, sizeof a) == 0);
  NEED(listen(c_listener, 1) == 0 &&
       getsockname(c_listener, (struct sockaddr *)&a, &alen) == 0);
  pthread_t server;
  NEED(pthread_create(&server, NULL, c_serve, NULL) == 0);
  CURL *h = curl_easy_init();
  size_t got = 0;
  NEED(h);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, c_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
  for (int i = 0; i < 500; i++) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%d", ntohs(a.sin_port),
             (i * 37) % 20000);
    curl_easy_setopt(h, CURLOPT_URL, url);
    NEED(curl_easy_perform(h) == CURLE_OK);
  }
  curl_easy_cleanup(h);
  NEED(pthread_join(server, NULL) == 0);
  close(c_listener);
  curl_global_cleanup();
}

/* ----------------------------------------------------------------- main */

static const struct {
  const char *name;
  void (*setup)(void);
  void (*work)(void);
} libs[] = {
    {"sqlite", NULL, zba_work_sqlite}, {"libevent", NULL, zba_work_libevent},
    {"lua", NULL, zba_work_lua},       {"zlib", zlib_setup, zba_work_zlib},
    {"openssl", NULL, zba_work_openssl}, {"expat", expat_setup, zba_work_expat},
    {"pcre2", pcre2_setup, zba_work_pcre2},   {"jansson", NULL, zba_work_jansson},
    {"curl", NULL, zba_work_curl},
};

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[2], "default") && strcmp(argv[2], "zmem")))
    die("usage: zbench_adapters sqlite|libevent|lua|zlib|openssl|expat|pcre2|"
        "jansson|curl default|zmem");
  use_zmem = strcmp(argv[2], "zmem") == 0;
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    if (strcmp(argv[1], libs[i].name))
      continue;
    if (use_zmem)
      tag = zm_tag_new(libs[i].name); /* before anything allocates */
    if (libs[i].setup)
      libs[i].setup();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    libs[i].work();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    zm_tag_info info = {.size = sizeof info};
    if (use_zmem && (zm_tag_stats(tag, &info) != 0 || info.used != 0))
      die("the tag is not back to 0 after the workload");
    printf("lib=%s mode=%s seconds=%.6f tag_peak=%zu\n", libs[i].name,
           argv[2], (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
           use_zmem ? info.peak : 0);
    return 0;
  }
  die("unknown library");
}
