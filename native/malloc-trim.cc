// Hands free malloc memory back to the kernel: glibc's malloc_trim(0), which nothing in Node
// calls. glibc returns an arena's memory on free() only from its top, so after a crowd of uploads
// the pages freed inside the arenas (the main thread's and every byte thread's) stayed resident
// (notes/2026-12-04-s10-mem.md: 60 MB of 76 in the main arena were free). malloc_trim releases
// every whole free page of every arena (madvise), whatever sits above it. Elsewhere than glibc it
// does nothing and says so.
#include <node_api.h>
#include <stdlib.h>  // defines __GLIBC__ on glibc
#ifdef __GLIBC__
#include <malloc.h>
#endif

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

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"trim", nullptr, trim, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"available", nullptr, available, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
