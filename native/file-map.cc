// Read-only mappings of a committed blob file's ranges, as ArrayBuffers a byte thread deciphers
// from (src/blobstore/encrypted/mapped-file.ts): the opener reads the sealed bytes where the page
// cache holds them instead of a pread copying them into a buffer first.
//
// map(fd, offset, length) maps [offset, offset + length) of the file (offset a multiple of the
// page size, the range inside the file: the caller clips it to fstat's size) and returns an
// ArrayBuffer over it; unmap(buffer) detaches the buffer (JS can never read it again) and unmaps
// it at once. A buffer never unmapped is unmapped when V8 collects it.
//
// Why a mapping cannot fault (SIGBUS): only pages inside the file's size at map time are mapped,
// and a committed blob file is never written or truncated (fs-blob-store.ts: staged, fsynced,
// renamed into place; GC unlinks, which leaves a mapping valid).
#include <node_api.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unordered_map>

namespace {

struct Mapping {
  void* addr;
  size_t length;
};

// The mappings not yet unmapped, by address, of this thread's environment (unmap finds its
// Mapping here; the finalizer of a buffer unmapped already finds nothing to do).
thread_local std::unordered_map<void*, Mapping*>* live = nullptr;

napi_value fail(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return nullptr;
}

void release(Mapping* m) {
  if (m->addr != nullptr) munmap(m->addr, m->length);
  m->addr = nullptr;
}

void finalize(napi_env, void* data, void* hint) {
  Mapping* m = static_cast<Mapping*>(hint);
  if (live != nullptr) {
    auto it = live->find(data);
    if (it != live->end() && it->second == m) live->erase(it);
  }
  release(m);
  free(m);
}

bool int_of(napi_env env, napi_value v, int64_t* out) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_number && napi_get_value_int64(env, v, out) == napi_ok;
}

// map(fd, offset, length): ArrayBuffer, or a number: -errno when the kernel refused the mapping.
napi_value map(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int64_t fd, offset, length;
  if (argc != 3 || !int_of(env, argv[0], &fd) || !int_of(env, argv[1], &offset) || !int_of(env, argv[2], &length)) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "map(fd, offset, length)");
  }
  const int64_t page = sysconf(_SC_PAGESIZE);
  if (fd < 0 || fd > INT32_MAX || offset < 0 || length <= 0 || offset % page != 0 || length > (int64_t(1) << 40)) {
    return fail(env, "ERR_OUT_OF_RANGE", "map: fd >= 0, offset a multiple of the page size, 0 < length <= 2^40");
  }
  void* addr = mmap(nullptr, static_cast<size_t>(length), PROT_READ, MAP_SHARED, static_cast<int>(fd), static_cast<off_t>(offset));
  napi_value result;
  if (addr == MAP_FAILED) {
    napi_create_int32(env, -errno, &result);
    return result;
  }
  // The whole window read ahead at once where it is not cached (faults alone would read around
  // each one synchronously). Not MADV_SEQUENTIAL: pages read through such a mapping are not
  // marked accessed when it is unmapped, so a blob downloaded often would leave the page cache
  // sooner than one read with pread.
  madvise(addr, static_cast<size_t>(length), MADV_WILLNEED);
  Mapping* m = static_cast<Mapping*>(malloc(sizeof(Mapping)));
  if (m == nullptr) {
    munmap(addr, static_cast<size_t>(length));
    return fail(env, "ERR_BERTH_MAP", "map: out of memory");
  }
  m->addr = addr;
  m->length = static_cast<size_t>(length);
  if (napi_create_external_arraybuffer(env, addr, m->length, finalize, m, &result) != napi_ok) {
    // Node built without external buffers (a V8 sandbox): the caller reads as before.
    release(m);
    free(m);
    napi_create_int32(env, -ENOTSUP, &result);
    return result;
  }
  if (live == nullptr) live = new std::unordered_map<void*, Mapping*>();
  (*live)[addr] = m;
  return result;
}

// unmap(buffer): detaches a buffer map() returned and unmaps its range; false for any other.
napi_value unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool is_ab = false;
  if (argc != 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab) return fail(env, "ERR_INVALID_ARG_TYPE", "unmap(arrayBuffer)");
  void* data = nullptr;
  size_t length = 0;
  napi_get_arraybuffer_info(env, argv[0], &data, &length);
  napi_value result;
  napi_get_boolean(env, false, &result);
  if (live == nullptr || data == nullptr) return result;
  auto it = live->find(data);
  if (it == live->end() || it->second->length != length) return result;
  // The finalizer may run inside the detach and free m: nothing below reads m after it.
  Mapping* m = it->second;
  void* addr = m->addr;
  m->addr = nullptr;
  live->erase(it);
  // Detached first: no view of it can be read once the pages are gone.
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    m->addr = addr;
    (*live)[addr] = m;
    return result;
  }
  munmap(addr, length);
  napi_get_boolean(env, true, &result);
  return result;
}

napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"map", nullptr, map, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"unmap", nullptr, unmap, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return init(env, exports); }
