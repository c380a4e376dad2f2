#define _GNU_SOURCE /* memmem */
/* libcurl through zmem/curl.h: REQUESTS HTTP requests on one easy handle
 * (one kept-alive connection) to a small server thread of this test on
 * 127.0.0.1; the bodies are checked; every block libcurl allocated is under
 * the tag, which is 0 after curl_easy_cleanup and curl_global_cleanup.
 *   adapter_curl           the above
 *   adapter_curl refused   after curl_global_init, zm_curl_install is EBUSY */
#include "check.h"

#include <zmem/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUESTS 500

static int listener;

/* The server: reads each request up to its blank line and answers /n with n
 * bytes, keeping the connection open. Uses no zmem and no libcurl. */
static void *serve(void *arg) {
  (void)arg;
  int fd = accept(listener, NULL, NULL);
  CHECK(fd >= 0);
  static char req[8192], body[20000];
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = "0123456789abcdef"[i % 16];
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
    long n = strtol(req + 5, NULL, 10) % (long)sizeof body; /* "GET /n" */
    /* One write: a reply in two would wait for the delayed ACK (Nagle). */
    static char reply[128 + sizeof body];
    int hl = snprintf(reply, 128,
                      "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n", n);
    memcpy(reply + hl, body, (size_t)n);
    CHECK(write(fd, reply, (size_t)hl + (size_t)n) == hl + n);
    size_t used = (size_t)(end + 4 - req);
    memmove(req, req + used, have - used);
    have -= used;
  }
  close(fd);
  return NULL;
}

static size_t received;
static int body_ok = 1;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  (void)ud;
  for (size_t i = 0; i < n; i++)
    if (p[i] != "0123456789abcdef"[(received + i) % 16])
      body_ok = 0;
  received += n;
  return size * n;
}

static int refused(void) {
  tags_on();
  zm_tag tag = zm_tag_new("curl");
  CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
  errno = 0;
  CHECK(zm_curl_install(tag, CURL_GLOBAL_DEFAULT) == -1);
  CHECK_EQ(errno, EBUSY);
  CHECK_EQ(tag_info(tag).used, 0);
  curl_global_cleanup(); /* the install's init counted too */
  curl_global_cleanup();
  printf("zm_curl_install after curl_global_init: -1, EBUSY\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "refused") == 0)
    return refused();
  tags_on();
  zm_tag tag = zm_tag_new("curl");
  CHECK(zm_curl_install(tag, CURL_GLOBAL_DEFAULT) == 0);

  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  listener = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(listener >= 0 && bind(listener, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(listener, 1) == 0);
  CHECK(getsockname(listener, (struct sockaddr *)&a, &alen) == 0);
  pthread_t server;
  CHECK(pthread_create(&server, NULL, serve, NULL) == 0);

  CURL *h = curl_easy_init();
  CHECK(h);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  size_t expected = 0;
  for (int i = 0; i < REQUESTS; i++) {
    long n = (i * 37) % 20000;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%ld", ntohs(a.sin_port), n);
    curl_easy_setopt(h, CURLOPT_URL, url);
    received = 0;
    CHECK(curl_easy_perform(h) == CURLE_OK);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    CHECK_EQ(code, 200);
    CHECK_EQ(received, n);
    expected += (size_t)n;
  }
  CHECK(body_ok);
  long connects = 0;
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
  zm_tag_info t = tag_info(tag);
  printf("%d requests (%zu bytes); tag used %zu, peak %zu, calls %llu\n",
         REQUESTS, expected, t.used, t.peak, (unsigned long long)t.calls);
  CHECK(t.used > 0 && t.calls > (uint64_t)REQUESTS);
  CHECK_EQ(t.failures, 0);
  curl_easy_cleanup(h); /* closes the connection: the server thread ends */
  CHECK(pthread_join(server, NULL) == 0);
  close(listener);
  curl_global_cleanup();
  t = tag_info(tag);
  printf("after curl_global_cleanup: tag used %zu, blocks %zu\n", t.used,
         t.live_blocks);
  CHECK_EQ(t.used, 0);
  CHECK_EQ(t.live_blocks, 0);
  return 0;
}
