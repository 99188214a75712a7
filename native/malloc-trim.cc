// Hands memory back to the kernel, two ways Node itself has none:
// - trim(): glibc's malloc_trim(0), which nothing in Node calls. glibc returns an arena's memory on
//   free() only from its top, so after a crowd of uploads the pages freed inside the arenas (the
//   main thread's and every byte thread's) stayed resident (notes/2026-12-04-s10-mem.md: 60 MB of
//   76 in the main arena were free). malloc_trim releases every whole free page of every arena
//   (madvise), whatever sits above it. Elsewhere than glibc it does nothing and says so.
// - release(view): the seal pool's slots live in one large shared block it keeps for good
//   (seal-pool.ts); the pages of the slots it no longer needs go back with madvise(MADV_DONTNEED),
//   so the block takes memory only while a crowd uses it. resident(view) counts what it holds
//   (mincore), for tests and diagnostics.
// - pageOffset(view): how far into `view` its first page starts, so that memory Berth cuts into
//   granules (held-chunk.ts) can cut them on page boundaries and hand each one's pages back whole.
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>  // defines __GLIBC__ on glibc
#include <sys/mman.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "napi-args.h"

namespace {

// trim(): true when memory was given back, false when none was (or there is no malloc_trim).
napi_value trim(napi_env env, napi_callback_info) {
  bool released = false;
#ifdef __GLIBC__
  released = malloc_trim(0) != 0;
#endif
  napi_value result;
  napi_get_boolean(env, released, &result);
  return result;
}

// available(): whether trim() can do anything here (built against glibc).
napi_value available(napi_env env, napi_callback_info) {
  bool yes = false;
#ifdef __GLIBC__
  yes = true;
#endif
  napi_value result;
  napi_get_boolean(env, yes, &result);
  return result;
}

// The whole pages inside the typed array passed as the only argument (an ArrayBuffer's or a
// SharedArrayBuffer's: Node-API reads both through the view). False with a JS error when it is not one.
bool pages(napi_env env, napi_callback_info info, uint8_t** first, size_t* bytes) {
  size_t argc = 1;
  napi_value arg;
  if (napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr) != napi_ok) return false;
  bool is = false;
  if (argc < 1 || napi_is_typedarray(env, arg, &is) != napi_ok || !is) {
    napi_throw_type_error(env, nullptr, "expected a typed array");
    return false;
  }
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(env, arg, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, nullptr, "expected a Uint8Array");
    return false;
  }
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(data);
  const uintptr_t lo = (start + page - 1) & ~(page - 1);
  const uintptr_t hi = (start + length) & ~(page - 1);
  *first = reinterpret_cast<uint8_t*>(lo);
  *bytes = hi > lo ? hi - lo : 0;
  return true;
}

// release(view): the whole pages inside `view` go back to the kernel; they read as zeros after and
// take memory again only once written. Only for memory nobody needs the contents of. Returns the
// bytes released (0 when madvise refused).
napi_value release(napi_env env, napi_callback_info info) {
  uint8_t* first;
  size_t bytes;
  if (!pages(env, info, &first, &bytes)) return nullptr;
  if (bytes > 0 && madvise(first, bytes, MADV_DONTNEED) != 0) bytes = 0;
  return number(env, static_cast<double>(bytes));
}

// resident(view): the bytes of the whole pages inside `view` that are in memory now (-1 when
// mincore refused).
napi_value resident(napi_env env, napi_callback_info info) {
  uint8_t* first;
  size_t bytes;
  if (!pages(env, info, &first, &bytes)) return nullptr;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  unsigned char in[1024];
  size_t n = 0;
  for (size_t at = 0; at < bytes; at += sizeof in * page) {
    const size_t len = bytes - at < sizeof in * page ? bytes - at : sizeof in * page;
    if (mincore(first + at, len, in) != 0) return number(env, -1);
    for (size_t i = 0; i < len / page; i++) n += in[i] & 1;
  }
  return number(env, static_cast<double>(n * page));
}

// pageOffset(view): the bytes from the start of `view` to the first page boundary at or after it.
napi_value pageOffset(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  if (napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr) != napi_ok) return nullptr;
  bool is = false;
  void* data;
  napi_typedarray_type type;
  size_t length;
  if (argc < 1 || napi_is_typedarray(env, arg, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, arg, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, nullptr, "expected a Uint8Array");
    return nullptr;
  }
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(data);
  return number(env, static_cast<double>(((start + page - 1) & ~(page - 1)) - start));
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"trim", nullptr, trim, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"available", nullptr, available, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"release", nullptr, release, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"resident", nullptr, resident, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"pageOffset", nullptr, pageOffset, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
