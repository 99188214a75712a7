// The bytes a TCP connection's peer has acknowledged (Linux's tcp_info.tcpi_bytes_acked), for the
// response rule's view of a TLS client (src/http/tcp-acked.ts): Node shows a TLS socket's progress
// only as whole writes complete, and the kernel takes a write only in steps of a third of its send
// buffer, so a reader taking megabytes a second could show nothing for seconds. The peer's ACKs
// move with every segment it took into its receive buffer, which only its reads free.
#include <node_api.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "napi-args.h"

namespace {

// The call's one argument, a socket's fd; -1 (an exception thrown) when it is not one.
int fd_arg(napi_env env, napi_callback_info info, const char* what) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t fd = -1;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok ||
      t != napi_number || napi_get_value_int64(env, argv[0], &fd) != napi_ok || fd < 0 || fd > INT32_MAX) {
    napi_throw_error(env, "ERR_INVALID_ARG_TYPE", what);
    return -1;
  }
  return static_cast<int>(fd);
}

// acked(fd): the bytes the peer acknowledged so far, or -errno (-ENOPROTOOPT: a kernel older than
// 4.1, whose tcp_info has no such field).
napi_value acked(napi_env env, napi_callback_info info) {
  const int fd = fd_arg(env, info, "acked: fd must be a non-negative number");
  if (fd < 0) return nullptr;
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return number(env, -errno);
  if (len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked) return number(env, -ENOPROTOOPT);
  return number(env, static_cast<double>(ti.tcpi_bytes_acked));
}

// queued(fd): the bytes in the socket's send queue (sent and not yet acknowledged, or not yet
// sent), or -errno. Zero: the peer has everything Berth gave the kernel, so a response's bytes
// still waiting in Node wait on Berth (its loop busy), not on the peer.
napi_value queued(napi_env env, napi_callback_info info) {
  const int fd = fd_arg(env, info, "queued: fd must be a non-negative number");
  if (fd < 0) return nullptr;
  int n = 0;
  if (ioctl(fd, SIOCOUTQ, &n) != 0) return number(env, -errno);
  return number(env, n);
}

napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"acked", nullptr, acked, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"queued", nullptr, queued, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return init(env, exports); }
