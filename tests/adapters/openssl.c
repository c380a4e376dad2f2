/* OpenSSL 3 through zmem/openssl.h: EVP hashing and encryption, then a TLS
 * handshake and an exchange over 127.0.0.1 between a server and a client in
 * this process, with a self-signed key made here. Every block OpenSSL
 * allocated is under the tag, which is back to 0 after OPENSSL_cleanup.
 *   adapter_openssl           the above
 *   adapter_openssl refused   after OpenSSL has allocated, the install
 *                             fails with EBUSY and changes nothing */
#include "check.h"

#include <zmem/openssl.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static zm_tag tag;

static void ssl_fail(const char *what) {
  fprintf(stderr, "%s failed:\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

/* SHA-256 of "abc" (FIPS 180-2's example) and of 1 MiB. */
static void hash(void) {
  static const unsigned char abc[32] = {
      0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
      0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
      0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_MD *sha = EVP_MD_fetch(NULL, "SHA2-256", NULL);
  CHECK(sha);
  CHECK(EVP_Digest("abc", 3, md, &len, sha, NULL) == 1);
  CHECK(len == 32 && memcmp(md, abc, 32) == 0);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  CHECK(ctx && EVP_DigestInit_ex(ctx, sha, NULL) == 1);
  static unsigned char block[4096];
  for (int i = 0; i < 256; i++)
    CHECK(EVP_DigestUpdate(ctx, block, sizeof block) == 1);
  CHECK(EVP_DigestFinal_ex(ctx, md, &len) == 1);
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(sha);
}

/* AES-256-GCM: 1 MiB encrypted and decrypted, the tag verified. */
static void encrypt(void) {
  enum { N = 1 << 20 };
  unsigned char key[32], iv[12], gcm[16];
  memset(key, 7, sizeof key);
  memset(iv, 9, sizeof iv);
  unsigned char *plain = zm_malloc(N), *sealed = zm_malloc(N), *opened = zm_malloc(N);
  for (int i = 0; i < N; i++)
    plain[i] = (unsigned char)(i * 31);
  int len = 0, fin = 0;
  EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  CHECK(aes && c);
  CHECK(EVP_EncryptInit_ex2(c, aes, key, iv, NULL) == 1);
  CHECK(EVP_EncryptUpdate(c, sealed, &len, plain, N) == 1 && len == N);
  CHECK(EVP_EncryptFinal_ex(c, sealed + len, &fin) == 1);
  CHECK(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, gcm) == 1);
  CHECK(EVP_DecryptInit_ex2(c, aes, key, iv, NULL) == 1);
  CHECK(EVP_DecryptUpdate(c, opened, &len, sealed, N) == 1 && len == N);
  CHECK(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, gcm) == 1);
  CHECK(EVP_DecryptFinal_ex(c, opened + len, &fin) == 1);
  CHECK(memcmp(plain, opened, N) == 0 && memcmp(plain, sealed, N) != 0);
  EVP_CIPHER_CTX_free(c);
  EVP_CIPHER_free(aes);
  zm_free(plain);
  zm_free(sealed);
  zm_free(opened);
}

/* A P-256 key and a self-signed certificate for "localhost". */
static X509 *self_signed(EVP_PKEY **key) {
  *key = EVP_EC_gen("P-256");
  CHECK(*key);
  X509 *x = X509_new();
  CHECK(x);
  CHECK(X509_set_version(x, 2) == 1);
  CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
  CHECK(X509_gmtime_adj(X509_getm_notBefore(x), -60));
  CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
  X509_NAME *name = X509_get_subject_name(x);
  CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"localhost", -1, -1,
                                   0) == 1);
  CHECK(X509_set_issuer_name(x, name) == 1);
  CHECK(X509_set_pubkey(x, *key) == 1);
  if (!X509_sign(x, *key, EVP_sha256()))
    ssl_fail("X509_sign");
  return x;
}

static void nonblocking(int fd) {
  CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
}

/* A connected pair of TCP sockets over 127.0.0.1. */
static void tcp_pair(int *server, int *client) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&a, &len) == 0);
  *client = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(*client >= 0 && connect(*client, (struct sockaddr *)&a, sizeof a) == 0);
  *server = accept(l, NULL, NULL);
  CHECK(*server >= 0);
  close(l);
  nonblocking(*server);
  nonblocking(*client);
}

/* 1 while a non-blocking handshake step waits for the peer, 0 once done. */
static int pending(SSL *s, int rc) {
  if (rc == 1)
    return 0;
  int e = SSL_get_error(s, rc);
  if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
    ssl_fail("TLS handshake");
  return 1;
}

static void handshake(SSL *srv, SSL *cli, int sfd, int cfd) {
  int s_wait = 1, c_wait = 1;
  for (int round = 0; s_wait || c_wait; round++) {
    CHECK(round < 1000);
    if (c_wait)
      c_wait = pending(cli, SSL_connect(cli));
    if (s_wait)
      s_wait = pending(srv, SSL_accept(srv));
    struct pollfd p[2] = {{sfd, POLLIN, 0}, {cfd, POLLIN, 0}};
    if (s_wait || c_wait)
      poll(p, 2, 100);
  }
}

/* Writes msg on `from` and reads it on `to`. */
static void exchange(SSL *from, SSL *to, const char *msg) {
  size_t n = strlen(msg);
  CHECK(SSL_write(from, msg, (int)n) == (int)n);
  char buf[64] = {0};
  int got = -1;
  for (int round = 0; round < 1000 && got <= 0; round++) {
    got = SSL_read(to, buf, sizeof buf - 1);
    if (got <= 0) {
      CHECK(SSL_get_error(to, got) == SSL_ERROR_WANT_READ);
      usleep(1000);
    }
  }
  CHECK(got == (int)n && strcmp(buf, msg) == 0);
}

static void tls(void) {
  EVP_PKEY *key;
  X509 *cert = self_signed(&key);
  SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
  CHECK(sctx && cctx);
  CHECK(SSL_CTX_use_certificate(sctx, cert) == 1);
  CHECK(SSL_CTX_use_PrivateKey(sctx, key) == 1);
  /* The client trusts exactly this certificate and checks the name. */
  CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), cert) == 1);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
  int sfd, cfd;
  tcp_pair(&sfd, &cfd);
  SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
  CHECK(srv && cli);
  CHECK(SSL_set_fd(srv, sfd) == 1 && SSL_set_fd(cli, cfd) == 1);
  CHECK(SSL_set1_host(cli, "localhost") == 1);
  CHECK(SSL_set_tlsext_host_name(cli, "localhost") == 1);
  handshake(srv, cli, sfd, cfd);
  CHECK(SSL_get_verify_result(cli) == X509_V_OK);
  exchange(cli, srv, "ping");
  exchange(srv, cli, "pong");
  printf("TLS: %s, %s; tag used %zu\n", SSL_get_version(cli),
         SSL_get_cipher(cli), zm_tag_used(tag));
  CHECK(zm_tag_used(tag) > 0);
  SSL_shutdown(cli);
  SSL_shutdown(srv);
  SSL_free(srv);
  SSL_free(cli);
  close(sfd);
  close(cfd);
  SSL_CTX_free(sctx);
  SSL_CTX_free(cctx);
  X509_free(cert);
  EVP_PKEY_free(key);
}

static int refused(void) {
  tags_on();
  tag = zm_tag_new("openssl");
  EVP_MD *sha = EVP_MD_fetch(NULL, "SHA2-256", NULL); /* OpenSSL allocates */
  CHECK(sha);
  errno = 0;
  CHECK(zm_openssl_install(tag) == -1);
  CHECK_EQ(errno, EBUSY);
  EVP_MD_free(sha);
  CHECK_EQ(tag_info(tag).calls, 0); /* OpenSSL kept its own allocator */
  printf("zm_openssl_install after OpenSSL allocated: -1, EBUSY\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "refused") == 0)
    return refused();
  tags_on();
  tag = zm_tag_new("openssl");
  CHECK(zm_openssl_install(tag) == 0);
  hash();
  encrypt();
  size_t after_evp = zm_tag_used(tag);
  printf("EVP: tag used %zu\n", after_evp);
  CHECK(after_evp > 0); /* providers, algorithm caches */
  tls();
  zm_tag_info t = tag_info(tag);
  printf("before cleanup: tag used %zu, blocks %zu, peak %zu, calls %llu\n",
         t.used, t.live_blocks, t.peak, (unsigned long long)t.calls);
  CHECK_EQ(t.failures, 0);
  OPENSSL_cleanup();
  t = tag_info(tag);
  printf("after OPENSSL_cleanup: tag used %zu, blocks %zu\n", t.used,
         t.live_blocks);
  CHECK_EQ(t.used, 0);
  CHECK_EQ(t.live_blocks, 0);
  return 0;
}
