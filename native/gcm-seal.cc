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
// since begin. The same sealer does both kinds of call; a begin starts its chunk over.
//
// Where the CPU has AVX2, AES-NI, PCLMUL, VAES and VPCLMULQDQ and create() is not told otherwise,
// a chunk is sealed as AES-CTR and then GHASH over the ciphertext on 256-bit registers
// (gcm-avx2.h: the same bytes, about twice OpenSSL's GCM on such CPUs without AVX-512).
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

#include "gcm-avx2.h"
#include "napi-args.h"

namespace {

constexpr size_t kKeySize = 32;
constexpr size_t kTagSize = 16;
constexpr size_t kIvSize = 12;
// OpenSSL takes int lengths: a chunk is at most 16 MiB (chunk-format.ts), far below this.
constexpr size_t kMaxChunk = 1 << 30;

// Exactly one of ctx (OpenSSL's GCM) and fast (gcm-avx2.h) is set.
struct Sealer {
  EVP_CIPHER_CTX* ctx;
  GcmAvx2* fast;
};

void finalize(napi_env, void* data, void*) {
  Sealer* s = static_cast<Sealer*>(data);
  EVP_CIPHER_CTX_free(s->ctx);
  gcm_avx2_free(s->fast);
  free(s);
}

// create(key: Uint8Array(32), avx2?: boolean): External. avx2 false: OpenSSL's GCM even where
// the CPU could run gcm-avx2.h (default true).
napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint8_t* key;
  size_t key_len;
  if (argc < 1 || !bytes_of(env, argv[0], &key, &key_len) || key_len != kKeySize) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "create: key must be a 32-byte Uint8Array");
  }
  bool avx2 = true;
  napi_valuetype t = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &t);
  if (t != napi_undefined && napi_get_value_bool(env, argv[1], &avx2) != napi_ok) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "create: avx2 must be a boolean");
  }
  Sealer* s = static_cast<Sealer*>(malloc(sizeof(Sealer)));
  if (s == nullptr) return fail(env, "ERR_BERTH_GCM", "create: out of memory");
  *s = Sealer{nullptr, nullptr};
  if (avx2 && gcm_avx2_ok()) {
    s->fast = gcm_avx2_new(key);
    if (s->fast == nullptr) {
      free(s);
      return fail(env, "ERR_BERTH_GCM", "create: out of memory");
    }
  } else {
    s->ctx = EVP_CIPHER_CTX_new();
    if (s->ctx == nullptr || EVP_EncryptInit_ex(s->ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_IVLEN, kIvSize, nullptr) != 1 ||
        EVP_EncryptInit_ex(s->ctx, nullptr, nullptr, key, nullptr) != 1) {
      finalize(env, s, nullptr);
      return fail(env, "ERR_BERTH_GCM", "create: OpenSSL refused the AES-256-GCM key");
    }
  }
  napi_value result;
  if (napi_create_external(env, s, finalize, nullptr, &result) != napi_ok) {
    finalize(env, s, nullptr);
    return fail(env, "ERR_BERTH_GCM", "create: could not wrap the sealer");
  }
  return result;
}

Sealer* sealer_of(napi_env env, napi_value v) {
  napi_valuetype t;
  void* p = nullptr;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok) return nullptr;
  return static_cast<Sealer*>(p);
}

// The chunk's nonce 0000 || u64be(index) and AAD u64be(index) || final, as chunk-format.ts seals.
bool start_chunk(Sealer* s, int64_t index, bool final_chunk) {
  uint8_t iv[kIvSize] = {0};
  uint8_t aad[9];
  for (int i = 0; i < 8; i++) {
    uint8_t b = static_cast<uint8_t>(static_cast<uint64_t>(index) >> (56 - 8 * i));
    iv[4 + i] = b;
    aad[i] = b;
  }
  aad[8] = final_chunk ? 1 : 0;
  if (s->fast != nullptr) {
    gcm_avx2_begin(s->fast, iv, aad, sizeof aad);
    return true;
  }
  int outl = 0;
  return EVP_EncryptInit_ex(s->ctx, nullptr, nullptr, nullptr, iv) == 1 && EVP_EncryptUpdate(s->ctx, nullptr, &outl, aad, sizeof aad) == 1;
}

// Enciphers n bytes of the chunk begun last from src into out (out may be src).
bool encipher(Sealer* s, const uint8_t* src, uint8_t* out, size_t n) {
  if (s->fast != nullptr) return gcm_avx2_seal(s->fast, src, out, n);
  int outl = 0;
  return n == 0 || (EVP_EncryptUpdate(s->ctx, out, &outl, src, static_cast<int>(n)) == 1 && static_cast<size_t>(outl) == n);
}

// Writes the 16-byte tag of the chunk begun last at out.
bool tag_of(Sealer* s, uint8_t* out) {
  if (s->fast != nullptr) {
    gcm_avx2_tag(s->fast, out);
    return true;
  }
  int last = 0;
  return EVP_EncryptFinal_ex(s->ctx, out, &last) == 1 && last == 0 && EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, out) == 1;
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
  Sealer* ctx = argc == 6 ? sealer_of(env, argv[0]) : nullptr;
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
  if (!start_chunk(ctx, index, final_chunk) || !encipher(ctx, src, out, src_len) || !tag_of(ctx, out + src_len)) {
    return fail(env, "ERR_BERTH_GCM", "seal: failed to seal the chunk");
  }
  return nullptr;
}

// begin(sealer, index: number, final: boolean): chunk `index` starts, nothing enciphered yet.
napi_value begin(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Sealer* ctx = argc == 3 ? sealer_of(env, argv[0]) : nullptr;
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
  Sealer* ctx = argc == 4 ? sealer_of(env, argv[0]) : nullptr;
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
  if (!encipher(ctx, src, dst + at, src_len)) return fail(env, "ERR_BERTH_GCM", "update: failed to encipher the piece");
  return nullptr;
}

// finish(sealer, dst: Uint8Array, dstAt: number): the 16-byte tag of the chunk begun last.
napi_value finish(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Sealer* ctx = argc == 3 ? sealer_of(env, argv[0]) : nullptr;
  uint8_t* dst;
  size_t dst_len;
  int64_t at;
  if (ctx == nullptr || !bytes_of(env, argv[1], &dst, &dst_len) || napi_get_value_int64(env, argv[2], &at) != napi_ok) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "finish(sealer, dst, dstAt)");
  }
  if (!fits(at, kTagSize, dst_len)) return fail(env, "ERR_OUT_OF_RANGE", "finish: the tag does not fit at dstAt");
  if (!tag_of(ctx, dst + at)) return fail(env, "ERR_BERTH_GCM", "finish: failed to make the tag");
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
  // Whether create() seals with gcm-avx2.h unless told not to (this CPU has what it needs).
  napi_value avx2;
  napi_get_boolean(env, gcm_avx2_ok(), &avx2);
  napi_set_named_property(env, exports, "avx2", avx2);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return init(env, exports); }
