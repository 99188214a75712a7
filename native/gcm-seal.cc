// Sealing AES-256-GCM chunks of Berth's sealed format (src/blobstore/encrypted/chunk-format.ts)
// into memory the caller names, with one cipher context per upload append keyed once. Node's
// Cipher needs a new cipher object per chunk (createCipheriv: a context, the key schedule), a
// fresh output buffer per update and a call each for the AAD, the final block and the tag; the
// byte thread sealing an upload spent more on that than on the cipher itself (see the s13-upload
// note). This writes the ciphertext and its tag straight into the thread's write buffer, with the
// OpenSSL that Node itself links (the official Node binary exports its symbols, ships the headers).
//
// create(key) keys a context; seal(sealer, index, final, src, dst, dstAt) seals src as chunk
// `index` into dst[dstAt, dstAt + src.length) and its 16-byte tag right after. Every bound is
// checked here: a bad argument is a thrown error, never a write outside the caller's array.
//
// begin / update / finish seal one chunk in pieces as they come, so that an upload holds the
// context and no plaintext (src/blobstore/encrypted/streamed-chunk.ts): begin(sealer, index, final)
// sets the chunk's nonce and AAD, update(sealer, src, dst, dstAt) enciphers src into dst at dstAt
// (dst may be src: CTR is a XOR), finish(sealer, dst, dstAt) writes the tag of what was enciphered
// since begin. The same ctx does both kinds of call; a begin starts its chunk over.
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

namespace {

constexpr size_t kKeySize = 32;
constexpr size_t kTagSize = 16;
constexpr size_t kIvSize = 12;
// OpenSSL takes int lengths: a chunk is at most 16 MiB (chunk-format.ts), far below this.
constexpr size_t kMaxChunk = 1 << 30;

napi_value fail(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return nullptr;
}

bool bytes_of(napi_env env, napi_value v, uint8_t** data, size_t* length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  void* p = nullptr;
  if (napi_get_typedarray_info(env, v, &type, length, &p, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = static_cast<uint8_t*>(p);
  return true;
}

void finalize(napi_env, void* data, void*) { EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(data)); }

// create(key: Uint8Array(32)): External
napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint8_t* key;
  size_t key_len;
  if (argc < 1 || !bytes_of(env, argv[0], &key, &key_len) || key_len != kKeySize) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "create: key must be a 32-byte Uint8Array");
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return fail(env, "ERR_BERTH_GCM", "create: out of memory");
  if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, kIvSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx, nullptr, nullptr, key, nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "ERR_BERTH_GCM", "create: OpenSSL refused the AES-256-GCM key");
  }
  napi_value result;
  if (napi_create_external(env, ctx, finalize, nullptr, &result) != napi_ok) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "ERR_BERTH_GCM", "create: could not wrap the sealer");
  }
  return result;
}

EVP_CIPHER_CTX* context_of(napi_env env, napi_value v) {
  napi_valuetype t;
  void* p = nullptr;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok) return nullptr;
  return static_cast<EVP_CIPHER_CTX*>(p);
}

// The chunk's nonce 0000 || u64be(index) and AAD u64be(index) || final, as chunk-format.ts seals.
bool start_chunk(EVP_CIPHER_CTX* ctx, int64_t index, bool final_chunk) {
  uint8_t iv[kIvSize] = {0};
  uint8_t aad[9];
  for (int i = 0; i < 8; i++) {
    uint8_t b = static_cast<uint8_t>(static_cast<uint64_t>(index) >> (56 - 8 * i));
    iv[4 + i] = b;
    aad[i] = b;
  }
  aad[8] = final_chunk ? 1 : 0;
  int outl = 0;
  return EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv) == 1 && EVP_EncryptUpdate(ctx, nullptr, &outl, aad, sizeof aad) == 1;
}

// Whether [at, at + n) lies within dst (of dst_len bytes).
bool fits(int64_t at, size_t n, size_t dst_len) {
  return at >= 0 && static_cast<uint64_t>(at) <= dst_len && n <= dst_len - static_cast<size_t>(at);
}

// seal(sealer, index: number, final: boolean, src: Uint8Array, dst: Uint8Array, dstAt: number)
napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  EVP_CIPHER_CTX* ctx = argc == 6 ? context_of(env, argv[0]) : nullptr;
  int64_t index;
  bool final_chunk;
  uint8_t* src;
  size_t src_len;
  uint8_t* dst;
  size_t dst_len;
  int64_t at;
  if (ctx == nullptr || napi_get_value_int64(env, argv[1], &index) != napi_ok || index < 0 ||
      napi_get_value_bool(env, argv[2], &final_chunk) != napi_ok || !bytes_of(env, argv[3], &src, &src_len) ||
      !bytes_of(env, argv[4], &dst, &dst_len) || napi_get_value_int64(env, argv[5], &at) != napi_ok) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "seal(sealer, index, final, src, dst, dstAt)");
  }
  if (src_len > kMaxChunk) return fail(env, "ERR_OUT_OF_RANGE", "seal: the chunk is too large");
  if (!fits(at, src_len + kTagSize, dst_len)) return fail(env, "ERR_OUT_OF_RANGE", "seal: the sealed chunk does not fit at dstAt");
  uint8_t* out = dst + at;
  int outl = 0;
  int last = 0;
  if (!start_chunk(ctx, index, final_chunk) ||
      (src_len > 0 && (EVP_EncryptUpdate(ctx, out, &outl, src, static_cast<int>(src_len)) != 1 || static_cast<size_t>(outl) != src_len)) ||
      EVP_EncryptFinal_ex(ctx, out + src_len, &last) != 1 || last != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, out + src_len) != 1) {
    return fail(env, "ERR_BERTH_GCM", "seal: OpenSSL failed to seal the chunk");
  }
  return nullptr;
}

// begin(sealer, index: number, final: boolean): chunk `index` starts, nothing enciphered yet.
napi_value begin(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  EVP_CIPHER_CTX* ctx = argc == 3 ? context_of(env, argv[0]) : nullptr;
  int64_t index;
  bool final_chunk;
  if (ctx == nullptr || napi_get_value_int64(env, argv[1], &index) != napi_ok || index < 0 ||
      napi_get_value_bool(env, argv[2], &final_chunk) != napi_ok) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "begin(sealer, index, final)");
  }
  if (!start_chunk(ctx, index, final_chunk)) return fail(env, "ERR_BERTH_GCM", "begin: OpenSSL failed to start the chunk");
  return nullptr;
}

// update(sealer, src: Uint8Array, dst: Uint8Array, dstAt: number): src enciphered into dst at
// dstAt, after what the chunk enciphered before (GCM keeps a partial block across calls).
napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  EVP_CIPHER_CTX* ctx = argc == 4 ? context_of(env, argv[0]) : nullptr;
  uint8_t* src;
  size_t src_len;
  uint8_t* dst;
  size_t dst_len;
  int64_t at;
  if (ctx == nullptr || !bytes_of(env, argv[1], &src, &src_len) || !bytes_of(env, argv[2], &dst, &dst_len) ||
      napi_get_value_int64(env, argv[3], &at) != napi_ok) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "update(sealer, src, dst, dstAt)");
  }
  if (src_len > kMaxChunk) return fail(env, "ERR_OUT_OF_RANGE", "update: the piece is too large");
  if (!fits(at, src_len, dst_len)) return fail(env, "ERR_OUT_OF_RANGE", "update: the piece does not fit at dstAt");
  int outl = 0;
  if (src_len > 0 && (EVP_EncryptUpdate(ctx, dst + at, &outl, src, static_cast<int>(src_len)) != 1 || static_cast<size_t>(outl) != src_len)) {
    return fail(env, "ERR_BERTH_GCM", "update: OpenSSL failed to encipher the piece");
  }
  return nullptr;
}

// finish(sealer, dst: Uint8Array, dstAt: number): the 16-byte tag of the chunk begun last.
napi_value finish(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  EVP_CIPHER_CTX* ctx = argc == 3 ? context_of(env, argv[0]) : nullptr;
  uint8_t* dst;
  size_t dst_len;
  int64_t at;
  if (ctx == nullptr || !bytes_of(env, argv[1], &dst, &dst_len) || napi_get_value_int64(env, argv[2], &at) != napi_ok) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "finish(sealer, dst, dstAt)");
  }
  if (!fits(at, kTagSize, dst_len)) return fail(env, "ERR_OUT_OF_RANGE", "finish: the tag does not fit at dstAt");
  int last = 0;
  if (EVP_EncryptFinal_ex(ctx, dst + at, &last) != 1 || last != 0 || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, dst + at) != 1) {
    return fail(env, "ERR_BERTH_GCM", "finish: OpenSSL failed to make the tag");
  }
  return nullptr;
}

napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", nullptr, create, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"seal", nullptr, seal, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"begin", nullptr, begin, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"update", nullptr, update, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"finish", nullptr, finish, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return init(env, exports); }
