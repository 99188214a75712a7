// Node-API helpers shared by the addons: each addon is its own shared object, so these are compiled
// into each one that includes them (inline: an addon that uses only some gets no unused-function
// warning). scripts/build-native.mjs rebuilds an addon when a header under native/ is newer than it.
#pragma once

#include <node_api.h>
#include <stdint.h>

namespace {

inline napi_value fail(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return nullptr;
}

inline napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

// A JavaScript number that is an integer (int64), else false.
inline bool int_of(napi_env env, napi_value v, int64_t* out) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_number && napi_get_value_int64(env, v, out) == napi_ok;
}

// The bytes of a Uint8Array (a Buffer is one), else false.
inline bool bytes_of(napi_env env, napi_value v, uint8_t** data, size_t* length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  void* p = nullptr;
  if (napi_get_typedarray_info(env, v, &type, length, &p, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = static_cast<uint8_t*>(p);
  return true;
}

}  // namespace
