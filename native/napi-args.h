// Node-API helpers shared by the socket addons (sock-send.cc, send-pipe.cc): each addon is its own
// shared object, so these are compiled into both. scripts/build-native.mjs rebuilds an addon when
// a header under native/ is newer than it.
#pragma once

#include <node_api.h>
#include <stdint.h>

namespace {

napi_value fail(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return nullptr;
}

napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

// A JavaScript number that is an integer (int64), else false.
bool int_of(napi_env env, napi_value v, int64_t* out) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_number && napi_get_value_int64(env, v, out) == napi_ok;
}

}  // namespace
