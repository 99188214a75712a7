// Read-only mappings of a committed blob file's ranges, as ArrayBuffers a byte thread deciphers
// from (src/blobstore/encrypted/mapped-file.ts): the opener reads the sealed bytes where the page
// cache holds them instead of a pread copying them into a buffer first.
//
// map(fd, offset, length) maps [offset, offset + length) of the file (offset a multiple of the
// page size, the range inside the file: the caller clips it to fstat's size) and returns an
// ArrayBuffer over it; unmap(buffer) detaches the buffer (JS can never read it again) and unmaps
// it at once. A buffer never unmapped is unmapped when V8 collects it. poisoned(buffer) says
// whether a read of it faulted (below).
//
// The guard: a read of a mapped page the file no longer holds (truncated under us: an operator, a
// filesystem repair) or that the disk cannot read is a SIGBUS, which would kill the whole server
// where a pread would have failed one download. A process-wide SIGBUS handler finds the faulting
// address in a fixed table of Berth's live mappings, maps a zero page over the faulting page,
// marks the mapping poisoned and returns: the read resumes and reads zeros, which fail the chunk's
// GCM tag, so nothing of that chunk is sent, and the download (fd-source.ts) sees the mark and
// fails naming the file. A SIGBUS at any other address is not ours: the previous action is put
// back and the fault re-raised. A mapping the table has no room for is refused (-ENOSPC): that
// download reads with preads.
#include <node_api.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "napi-args.h"

namespace {

// One live mapping the SIGBUS handler may find. start: 0 free, 1 being filled, else the address.
// Lock-free atomics only: the handler may interrupt a thread anywhere, even inside claim/clear.
struct Slot {
  std::atomic<uintptr_t> start;
  std::atomic<size_t> length;
  std::atomic<int> poisoned;
};
static_assert(std::atomic<uintptr_t>::is_always_lock_free && std::atomic<size_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "the SIGBUS handler needs lock-free atomics");

// Mappings live at once, process-wide: one window per download being read mapped. Past it, a
// download reads with preads.
constexpr int kSlots = 4096;
Slot slots[kSlots];
uintptr_t page_size = 4096;
struct sigaction previous;

// The slot of a new mapping, filled before any view of it exists; -1 when the table is full.
int claim(void* addr, size_t length) {
  for (int i = 0; i < kSlots; i++) {
    uintptr_t free_slot = 0;
    if (!slots[i].start.compare_exchange_strong(free_slot, 1, std::memory_order_acq_rel)) continue;
    slots[i].poisoned.store(0, std::memory_order_relaxed);
    slots[i].length.store(length, std::memory_order_relaxed);
    slots[i].start.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_release);
    return i;
  }
  return -1;
}

// Before the munmap: the handler no longer claims faults there (the length first, so a handler
// reading the start just before sees no range).
void clear(int i) {
  slots[i].length.store(0, std::memory_order_release);
  slots[i].start.store(0, std::memory_order_release);
}

// Every call here is async-signal-safe: atomic loads and stores of lock-free atomics (plain
// memory accesses), mmap (a bare system call in glibc and musl: no lock, no allocation; not on
// POSIX's list, but it is what every mmap reader's guard does), sigaction (on POSIX's list);
// errno is saved and restored around them. The fault is synchronous: it runs on the thread that
// read, which is the only thread that reads or unmaps that mapping, so the slot cannot be cleared
// and its range unmapped while the handler maps over it.
void on_sigbus(int, siginfo_t* info, void*) {
  const int saved_errno = errno;
  // si_code <= 0: sent by kill() or sigqueue(), not a fault; si_addr means nothing then.
  if (info != nullptr && info->si_code > 0) {
    const uintptr_t at = reinterpret_cast<uintptr_t>(info->si_addr);
    for (int i = 0; i < kSlots; i++) {
      const uintptr_t start = slots[i].start.load(std::memory_order_acquire);
      if (start <= 1 || at < start) continue;
      if (at - start >= slots[i].length.load(std::memory_order_acquire)) continue;
      void* page = reinterpret_cast<void*>(at & ~(page_size - 1));
      void* zeros = mmap(page, page_size, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (zeros == MAP_FAILED) break;
      slots[i].poisoned.store(1, std::memory_order_release);
      errno = saved_errno;
      return;
    }
  }
  // Not one of ours (or no zero page to be had): the previous action, and the fault comes again
  // on return (a signal sent by kill() is raised again by the previous action's default, if any).
  sigaction(SIGBUS, &previous, nullptr);
  if (info == nullptr || info->si_code <= 0) raise(SIGBUS);
  errno = saved_errno;
}

std::once_flag installed;

// Installed once per process, whichever thread loads the addon first.
void install() {
  std::call_once(installed, [] {
    page_size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    struct sigaction sa = {};
    sa.sa_sigaction = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    if (sigaction(SIGBUS, &sa, &previous) != 0) {
      previous = {};
      previous.sa_handler = SIG_DFL;
    }
  });
}

struct Mapping {
  void* addr;
  size_t length;
  int slot;
};

// The mappings not yet unmapped, by address, of this thread's environment (unmap finds its
// Mapping here; the finalizer of a buffer unmapped already finds nothing to do).
thread_local std::unordered_map<void*, Mapping*>* live = nullptr;

void release(Mapping* m) {
  if (m->addr != nullptr) {
    clear(m->slot);
    munmap(m->addr, m->length);
  }
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
  const int slot = claim(addr, static_cast<size_t>(length));
  if (slot < 0) {
    munmap(addr, static_cast<size_t>(length));
    napi_create_int32(env, -ENOSPC, &result);
    return result;
  }
  Mapping* m = static_cast<Mapping*>(malloc(sizeof(Mapping)));
  if (m == nullptr) {
    clear(slot);
    munmap(addr, static_cast<size_t>(length));
    return fail(env, "ERR_BERTH_MAP", "map: out of memory");
  }
  m->addr = addr;
  m->length = static_cast<size_t>(length);
  m->slot = slot;
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
  const int slot = m->slot;
  m->addr = nullptr;
  live->erase(it);
  // Detached first: no view of it can be read once the pages are gone.
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    m->addr = addr;
    (*live)[addr] = m;
    return result;
  }
  clear(slot);
  munmap(addr, length);
  napi_get_boolean(env, true, &result);
  return result;
}

// poisoned(buffer): whether a read of a live mapping map() returned faulted (and read zeros).
napi_value poisoned(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool is_ab = false;
  if (argc != 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab) return fail(env, "ERR_INVALID_ARG_TYPE", "poisoned(arrayBuffer)");
  void* data = nullptr;
  size_t length = 0;
  napi_get_arraybuffer_info(env, argv[0], &data, &length);
  bool hit = false;
  if (live != nullptr && data != nullptr) {
    auto it = live->find(data);
    if (it != live->end() && it->second->addr != nullptr) hit = slots[it->second->slot].poisoned.load(std::memory_order_acquire) != 0;
  }
  napi_value result;
  napi_get_boolean(env, hit, &result);
  return result;
}

napi_value init(napi_env env, napi_value exports) {
  install();
  napi_property_descriptor props[] = {
      {"map", nullptr, map, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"unmap", nullptr, unmap, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"poisoned", nullptr, poisoned, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return init(env, exports); }
