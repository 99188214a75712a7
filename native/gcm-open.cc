// Opening AES-256-GCM chunks of Berth's sealed format (src/blobstore/encrypted/chunk-format.ts)
// straight into memory the caller names: a download's ring slot, a SharedArrayBuffer. Node's
// Decipher.update allocates its output (twice, for GCM) and the opening task then copied it into
// the ring; this writes the plaintext once, where it belongs, with the OpenSSL that Node itself
// links (the official Node binary exports its symbols, and ships the headers).
//
// One opener per download (an External owning an EVP_CIPHER_CTX keyed once): begin(index, final)
// sets the chunk's nonce and AAD, update() deciphers a piece of its ciphertext into dst at dstAt
// (or, without dst, nowhere: bytes outside the read's range), finish(tag) checks the tag.
// Plaintext written before a failed tag is the caller's to keep unseen (the ring's verified length
// never moves over it). Every bound is checked here: a bad argument is a thrown error, never a
// write outside the caller's array.
//
// Where the CPU has AVX2, AES-NI, PCLMUL, VAES and VPCLMULQDQ and create() is not told otherwise,
// a chunk is opened as AES-CTR plus GHASH on 256-bit registers (gcm-avx2.h: the same bytes,
// about twice OpenSSL's GCM on such CPUs without AVX-512); elsewhere with OpenSSL's EVP GCM.
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcm-avx2.h"
#include "napi-args.h"

namespace {

constexpr size_t kKeySize = 32;
constexpr size_t kTagSize = 16;
constexpr size_t kIvSize = 12;
// OpenSSL takes int lengths: pieces are deciphered at most this many bytes per call.
constexpr size_t kMaxStep = 1 << 30;

// Exactly one of ctx (OpenSSL's GCM) and fast (gcm-avx2.h) is set.
struct Opener {
  EVP_CIPHER_CTX* ctx;
  GcmAvx2* fast;
  bool begun;
};

void finalize(napi_env, void* data, void*) {
  Opener* o = static_cast<Opener*>(data);
  EVP_CIPHER_CTX_free(o->ctx);
  gcm_avx2_free(o->fast);
  free(o);
}

Opener* opener_of(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return nullptr;
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok) return nullptr;
  return static_cast<Opener*>(p);
}

// The opener as an External that frees it when collected (or freed now if it cannot be made).
napi_value wrap(napi_env env, Opener* o) {
  napi_value result;
  if (napi_create_external(env, o, finalize, nullptr, &result) != napi_ok) {
    finalize(env, o, nullptr);
    return fail(env, "ERR_BERTH_GCM", "create: could not wrap the opener");
  }
  return result;
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
  if (avx2 && gcm_avx2_ok()) {
    Opener* o = static_cast<Opener*>(malloc(sizeof(Opener)));
    GcmAvx2* g = o != nullptr ? gcm_avx2_new(key) : nullptr;
    if (g == nullptr) {
      free(o);
      return fail(env, "ERR_BERTH_GCM", "create: out of memory");
    }
    *o = Opener{nullptr, g, false};
    return wrap(env, o);
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return fail(env, "ERR_BERTH_GCM", "create: out of memory");
  if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, kIvSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx, nullptr, nullptr, key, nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "ERR_BERTH_GCM", "create: OpenSSL refused the AES-256-GCM key");
  }
  Opener* o = static_cast<Opener*>(malloc(sizeof(Opener)));
  if (o == nullptr) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "ERR_BERTH_GCM", "create: out of memory");
  }
  *o = Opener{ctx, nullptr, false};
  return wrap(env, o);
}

// begin(opener, index: number, final: boolean): the chunk's nonce 0000 || u64be(index) and
// AAD u64be(index) || final, as chunk-format.ts seals them.
napi_value begin(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Opener* o = argc == 3 ? opener_of(env, argv[0]) : nullptr;
  int64_t index;
  bool final_chunk;
  if (o == nullptr || napi_get_value_int64(env, argv[1], &index) != napi_ok || index < 0 ||
      napi_get_value_bool(env, argv[2], &final_chunk) != napi_ok) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "begin(opener, index, final)");
  }
  uint8_t iv[kIvSize] = {0};
  uint8_t aad[9];
  for (int i = 0; i < 8; i++) {
    uint8_t b = static_cast<uint8_t>(static_cast<uint64_t>(index) >> (56 - 8 * i));
    iv[4 + i] = b;
    aad[i] = b;
  }
  aad[8] = final_chunk ? 1 : 0;
  if (o->fast != nullptr) {
    gcm_avx2_begin(o->fast, iv, aad, sizeof aad);
    o->begun = true;
    return nullptr;
  }
  int outl = 0;
  if (EVP_DecryptInit_ex(o->ctx, nullptr, nullptr, nullptr, iv) != 1 ||
      EVP_DecryptUpdate(o->ctx, nullptr, &outl, aad, sizeof aad) != 1) {
    o->begun = false;
    return fail(env, "ERR_BERTH_GCM", "begin: OpenSSL refused the chunk's nonce or AAD");
  }
  o->begun = true;
  return nullptr;
}

bool decipher(EVP_CIPHER_CTX* ctx, uint8_t* out, const uint8_t* in, size_t n) {
  while (n > 0) {
    size_t step = n < kMaxStep ? n : kMaxStep;
    int outl = 0;
    if (EVP_DecryptUpdate(ctx, out, &outl, in, static_cast<int>(step)) != 1 || static_cast<size_t>(outl) != step) return false;
    out += step;
    in += step;
    n -= step;
  }
  return true;
}

// update(opener, src: Uint8Array, dst?: Uint8Array, dstAt?: number): deciphers all of src into
// dst[dstAt, dstAt + src.length), or, with no dst, into a scratch buffer that is cleansed.
napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Opener* o = argc >= 2 ? opener_of(env, argv[0]) : nullptr;
  uint8_t* src;
  size_t src_len;
  if (o == nullptr || !bytes_of(env, argv[1], &src, &src_len)) return fail(env, "ERR_INVALID_ARG_TYPE", "update(opener, src, dst?, dstAt?)");
  if (!o->begun) return fail(env, "ERR_BERTH_GCM", "update: no chunk begun");
  napi_valuetype t = napi_undefined;
  if (argc >= 3) napi_typeof(env, argv[2], &t);
  if (t == napi_undefined && o->fast != nullptr) {
    // Hashed only: the keystream of a later piece is computed from its position.
    if (!gcm_avx2_open(o->fast, src, nullptr, src_len)) {
      o->begun = false;
      return fail(env, "ERR_BERTH_GCM", "update: the chunk is longer than GCM allows");
    }
    return nullptr;
  }
  if (t == napi_undefined) {
    uint8_t scratch[16384];
    while (src_len > 0) {
      size_t step = src_len < sizeof scratch ? src_len : sizeof scratch;
      if (!decipher(o->ctx, scratch, src, step)) {
        OPENSSL_cleanse(scratch, sizeof scratch);
        o->begun = false;
        return fail(env, "ERR_BERTH_GCM", "update: OpenSSL failed to decipher");
      }
      src += step;
      src_len -= step;
    }
    OPENSSL_cleanse(scratch, sizeof scratch);
    return nullptr;
  }
  uint8_t* dst;
  size_t dst_len;
  int64_t at;
  if (argc < 4 || !bytes_of(env, argv[2], &dst, &dst_len) || napi_get_value_int64(env, argv[3], &at) != napi_ok) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "update(opener, src, dst, dstAt)");
  }
  if (at < 0 || static_cast<uint64_t>(at) > dst_len || src_len > dst_len - static_cast<size_t>(at)) {
    return fail(env, "ERR_OUT_OF_RANGE", "update: the plaintext does not fit at dstAt");
  }
  if (o->fast != nullptr ? !gcm_avx2_open(o->fast, src, dst + at, src_len) : !decipher(o->ctx, dst + at, src, src_len)) {
    o->begun = false;
    return fail(env, "ERR_BERTH_GCM", "update: failed to decipher (OpenSSL, or longer than GCM allows)");
  }
  return nullptr;
}

// finish(opener, tag: Uint8Array(16)): whether the chunk authenticates.
napi_value finish(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Opener* o = argc == 2 ? opener_of(env, argv[0]) : nullptr;
  uint8_t* tag;
  size_t tag_len;
  if (o == nullptr || !bytes_of(env, argv[1], &tag, &tag_len) || tag_len != kTagSize) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "finish(opener, tag: 16 bytes)");
  }
  if (!o->begun) return fail(env, "ERR_BERTH_GCM", "finish: no chunk begun");
  o->begun = false;
  bool ok;
  if (o->fast != nullptr) {
    uint8_t mine[kTagSize];
    gcm_avx2_tag(o->fast, mine);
    ok = CRYPTO_memcmp(mine, tag, kTagSize) == 0;
    OPENSSL_cleanse(mine, sizeof mine);
  } else {
    int outl = 0;
    uint8_t last[16];
    ok = EVP_CIPHER_CTX_ctrl(o->ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag) == 1 && EVP_DecryptFinal_ex(o->ctx, last, &outl) == 1 && outl == 0;
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

// openRaw(key: Uint8Array(32), iv: Uint8Array(12), aad, ciphertext, tag: Uint8Array(16)):
// the plaintext, or null when the tag does not check. Any nonce and AAD, with gcm-avx2.h only:
// for tests against published GCM vectors and Node's crypto (not used by Berth).
napi_value open_raw(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint8_t *key, *iv, *aad, *text, *tag;
  size_t key_len, iv_len, aad_len, text_len, tag_len;
  if (argc != 5 || !bytes_of(env, argv[0], &key, &key_len) || key_len != kKeySize || !bytes_of(env, argv[1], &iv, &iv_len) ||
      iv_len != kIvSize || !bytes_of(env, argv[2], &aad, &aad_len) || !bytes_of(env, argv[3], &text, &text_len) ||
      !bytes_of(env, argv[4], &tag, &tag_len) || tag_len != kTagSize) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "openRaw(key: 32 bytes, iv: 12 bytes, aad, ciphertext, tag: 16 bytes)");
  }
  if (!gcm_avx2_ok()) return fail(env, "ERR_BERTH_GCM", "openRaw: this CPU cannot run the AVX2 GCM");
  napi_value buffer;
  void* out = nullptr;
  if (napi_create_arraybuffer(env, text_len, &out, &buffer) != napi_ok) return fail(env, "ERR_BERTH_GCM", "openRaw: out of memory");
  GcmAvx2* g = gcm_avx2_new(key);
  if (g == nullptr) return fail(env, "ERR_BERTH_GCM", "openRaw: out of memory");
  gcm_avx2_begin(g, iv, aad, aad_len);
  bool ok = gcm_avx2_open(g, text, static_cast<uint8_t*>(out), text_len);
  uint8_t mine[kTagSize];
  gcm_avx2_tag(g, mine);
  ok = ok && CRYPTO_memcmp(mine, tag, kTagSize) == 0;
  gcm_avx2_free(g);
  napi_value result;
  if (!ok) {
    napi_get_null(env, &result);
    return result;
  }
  napi_create_typedarray(env, napi_uint8_array, text_len, buffer, 0, &result);
  return result;
}

napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", nullptr, create, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"begin", nullptr, begin, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"update", nullptr, update, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"finish", nullptr, finish, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"openRaw", nullptr, open_raw, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  // Whether create() opens with gcm-avx2.h unless told not to (this CPU has what it needs).
  napi_value avx2;
  napi_get_boolean(env, gcm_avx2_ok(), &avx2);
  napi_set_named_property(env, exports, "avx2", avx2);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return init(env, exports); }
