// Writing a download's plaintext to its client's TCP socket from the byte thread that opened it
// (src/blobstore/encrypted/sock-send.ts): the bytes leave from the core that deciphered them, with
// no hand-over to the main thread. Node has no API to write to an fd it does not own, nor to wait
// for a socket to take bytes off its event loop, hence these three calls.
//
// dup(fd) gives the thread an fd of its own for the socket: if Node closes its fd meanwhile (the
// client went away), the number may be reused by another file, and the dup keeps writes on the
// socket. A dup shares the socket's O_NONBLOCK (libuv sets it), so send() never blocks; the caller
// waits with pollOut() for as long as it chooses. send(2) with MSG_NOSIGNAL: a reset peer is an
// EPIPE returned, never a signal (Node ignores SIGPIPE too; this does not depend on it).
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi-args.h"

namespace {

constexpr int kMaxPoll = 64;

// dup(fd): a new fd (close-on-exec) for the same socket, or -errno.
napi_value dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int64_t fd;
  if (argc < 1 || !int_of(env, argv[0], &fd) || fd < 0 || fd > INT32_MAX) return fail(env, "ERR_INVALID_ARG_TYPE", "dup(fd)");
  int r = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 3);
  return number(env, r < 0 ? -errno : r);
}

// send(fd, src: Uint8Array, at, len): writes src[at, at + len) until done or the socket is full;
// the bytes written (0 when it took none), or -errno on an error (EPIPE, ECONNRESET ...).
napi_value send_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int64_t fd, at, len;
  bool is_typed = false;
  if (argc < 4 || !int_of(env, argv[0], &fd) || fd < 0 || fd > INT32_MAX || napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      !int_of(env, argv[2], &at) || !int_of(env, argv[3], &len)) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "send(fd, src, at, len)");
  }
  napi_typedarray_type type;
  size_t length;
  void* p = nullptr;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &p, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "send: src must be a Uint8Array");
  }
  if (at < 0 || len < 0 || static_cast<uint64_t>(at) > length || static_cast<uint64_t>(len) > length - static_cast<uint64_t>(at)) {
    return fail(env, "ERR_OUT_OF_RANGE", "send: [at, at + len) is outside src");
  }
  const uint8_t* from = static_cast<const uint8_t*>(p) + at;
  size_t left = static_cast<size_t>(len);
  size_t sent = 0;
  while (left > 0) {
    ssize_t n = send(static_cast<int>(fd), from + sent, left, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return number(env, -errno);
    }
    sent += static_cast<size_t>(n);
    left -= static_cast<size_t>(n);
  }
  return number(env, static_cast<double>(sent));
}

// pollOut(fds: Int32Array, timeoutMs): waits at most timeoutMs for any of fds to take bytes (or
// to have failed: the next send says how); how many are ready (0: none in time), or -errno.
napi_value poll_out(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool is_typed = false;
  int64_t timeout;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed || !int_of(env, argv[1], &timeout) || timeout < 0 ||
      timeout > 60000) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "pollOut(fds: Int32Array, timeoutMs: 0..60000)");
  }
  napi_typedarray_type type;
  size_t count;
  void* p = nullptr;
  if (napi_get_typedarray_info(env, argv[0], &type, &count, &p, nullptr, nullptr) != napi_ok || type != napi_int32_array || count > kMaxPoll) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "pollOut: fds must be an Int32Array of at most 64");
  }
  const int32_t* fds = static_cast<const int32_t*>(p);
  struct pollfd set[kMaxPoll];
  for (size_t i = 0; i < count; i++) {
    if (fds[i] < 0) return fail(env, "ERR_OUT_OF_RANGE", "pollOut: a negative fd");
    set[i].fd = fds[i];
    set[i].events = POLLOUT;
    set[i].revents = 0;
  }
  int r;
  do {
    r = poll(set, count, static_cast<int>(timeout));
  } while (r < 0 && errno == EINTR);
  return number(env, r < 0 ? -errno : r);
}

napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"dup", nullptr, dup_fd, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"send", nullptr, send_bytes, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"pollOut", nullptr, poll_out, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return init(env, exports); }
