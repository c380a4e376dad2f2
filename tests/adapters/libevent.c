/* libevent through zmem/libevent.h: an evhttp server on 127.0.0.1 and an
 * evhttp client in the same event loop make REQUESTS requests; every block
 * libevent allocated is under the tag, which is back to 0 after
 * event_base_free and libevent_global_shutdown. */
#include "check.h"

#include <zmem/libevent.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define REQUESTS 3000
/* A hung exchange ends the loop with a clear failure before CTest's timeout
 * (120 s, ten times that under valgrind) kills the test. The requests take
 * under a second on an idle machine. */
#define TIME_LIMIT_S 100

static zm_tag tag;
static struct event_base *base;
static struct evhttp_connection *conn;
static int done, bad;
static size_t busiest; /* the tag's highest used memory seen in a callback */

/* The server: answers /n with n bytes of a pattern. */
static void serve(struct evhttp_request *req, void *arg) {
  (void)arg;
  const char *uri = evhttp_request_get_uri(req);
  long n = uri[0] == '/' ? strtol(uri + 1, NULL, 10) : -1;
  if (n < 0 || n > 65536) {
    evhttp_send_error(req, HTTP_BADREQUEST, NULL);
    return;
  }
  struct evbuffer *body = evbuffer_new();
  CHECK(body);
  for (long i = 0; i < n; i++)
    evbuffer_add(body, &"0123456789abcdef"[i % 16], 1);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                    "text/plain");
  evhttp_send_reply(req, HTTP_OK, "OK", body);
  evbuffer_free(body);
}

static void request_next(void);

/* The client: checks each answer, then asks for the next. */
static void answered(struct evhttp_request *req, void *arg) {
  long n = (long)(intptr_t)arg;
  if (!req || evhttp_request_get_response_code(req) != HTTP_OK) {
    bad++;
  } else {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    unsigned char *p = evbuffer_pullup(in, -1);
    if (len != (size_t)n || (n > 0 && p[n - 1] != "0123456789abcdef"[(n - 1) % 16]))
      bad++;
  }
  size_t used = zm_tag_used(tag);
  if (used > busiest)
    busiest = used;
  if (++done < REQUESTS && !bad)
    request_next();
  else
    event_base_loopbreak(base);
}

static void request_next(void) {
  long n = (done * 37) % 20000;
  struct evhttp_request *req = evhttp_request_new(answered, (void *)(intptr_t)n);
  CHECK(req);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
  char uri[32];
  snprintf(uri, sizeof uri, "/%ld", n);
  CHECK(evhttp_make_request(conn, req, EVHTTP_REQ_GET, uri) == 0);
}

static int bound_port(struct evhttp_bound_socket *s) {
  struct sockaddr_in sin;
  socklen_t len = sizeof sin;
  CHECK(getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sin,
                    &len) == 0);
  return ntohs(sin.sin_port);
}

int main(void) {
  tags_on();
  tag = zm_tag_new("libevent");
  CHECK(zm_event_install(tag) == 0);

  base = event_base_new();
  CHECK(base);
  CHECK(zm_tag_used(tag) > 0);
  struct evhttp *http = evhttp_new(base);
  CHECK(http);
  evhttp_set_gencb(http, serve, NULL);
  struct evhttp_bound_socket *s =
      evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
  CHECK(s);
  /* Accepted sockets inherit it: a reply written in two pieces must not
   * wait for the client's delayed acknowledgement. */
  int one = 1;
  CHECK(setsockopt(evhttp_bound_socket_get_fd(s), IPPROTO_TCP, TCP_NODELAY,
                   &one, sizeof one) == 0);
  conn = evhttp_connection_base_new(base, NULL, "127.0.0.1",
                                    (unsigned short)bound_port(s));
  CHECK(conn);

  struct timeval limit = {RUNNING_ON_VALGRIND ? 10 * TIME_LIMIT_S : TIME_LIMIT_S, 0};
  event_base_loopexit(base, &limit);
  request_next();
  CHECK(event_base_dispatch(base) == 0);
  zm_tag_info t = tag_info(tag);
  printf("requests %d (failed %d), tag used %zu (busiest %zu, peak %zu), "
         "calls %llu\n", done, bad, t.used, busiest, t.peak,
         (unsigned long long)t.calls);
  CHECK_EQ(bad, 0);
  CHECK_EQ(done, REQUESTS);
  CHECK(busiest > 0 && t.peak >= busiest);
  CHECK(t.calls > 10 * REQUESTS); /* requests, headers, buffers: all zmem */
  CHECK_EQ(t.failures, 0);

  evhttp_connection_free(conn);
  evhttp_free(http);
  event_base_free(base);
  libevent_global_shutdown();
  t = tag_info(tag);
  printf("after libevent_global_shutdown: tag used %zu, blocks %zu\n", t.used,
         t.live_blocks);
  CHECK_EQ(t.used, 0);
  CHECK_EQ(t.live_blocks, 0);
  return 0;
}
