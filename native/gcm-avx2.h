// AES-256-GCM as AES-CTR (aes-ctr-vaes.h) plus GHASH (ghash-clmul.h) on 256-bit registers, for
// CPUs with AVX2, AES-NI, PCLMUL, VAES and VPCLMULQDQ (gcm_avx2_ok()); the addons (gcm-open.cc,
// gcm-seal.cc) use OpenSSL's GCM elsewhere, or when told to (config gcmAvx2). Same bytes as GCM
// by SP 800-38D's definition, checked against OpenSSL and Node by native-gcm.test.ts and
// native-seal.test.ts: with J0 = nonce || 00000001,
//   C = P XOR AES-CTR_K(inc32(J0)...),  tag = E_K(J0) XOR GHASH_H(A || pad || C || pad || len(A) || len(C)).
//
// A chunk's text may come in pieces of any length: the GHASH keeps a partial block, and the
// keystream is recomputed from the byte position (no keystream is kept between calls), so a piece
// may also be hashed without being deciphered (bytes outside a download's range).
#pragma once

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <openssl/crypto.h>
#include "aes-ctr-vaes.h"
#include "ghash-clmul.h"

#define GCM_AVX2_TARGET __attribute__((target("avx2,aes,pclmul,vaes,vpclmulqdq")))

namespace {

// SP 800-38D: at most 2^39 - 256 bits of text per invocation (the 32-bit counter's range).
constexpr uint64_t kGcmMaxText = (uint64_t{1} << 36) - 32;
// A piece is hashed and ciphered in steps this long, so that the second pass finds it in cache.
constexpr size_t kGcmStep = 16384;

inline bool gcm_avx2_ok() {
  return ghash_cpu_ok() && __builtin_cpu_supports("aes") && __builtin_cpu_supports("vaes");
}

// Every field is secret or derived from the key: OPENSSL_cleanse the whole struct when done.
struct GcmAvx2 {
  AesKey aes;
  GhashKey ghash;
  GhashState st;
  alignas(16) uint8_t j0[16];
  alignas(16) uint8_t ek_j0[16];
  uint64_t aad_len;
  uint64_t c_len;
};

GCM_AVX2_TARGET inline void gcm_avx2_key(GcmAvx2* g, const uint8_t key[32]) {
  memset(g, 0, sizeof *g);
  aes256_expand(&g->aes, key);
  alignas(16) uint8_t h[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(h), aes256_block(&g->aes, _mm_setzero_si128()));
  ghash_init(&g->ghash, h);
  OPENSSL_cleanse(h, sizeof h);
}

GCM_AVX2_TARGET inline void gcm_avx2_begin(GcmAvx2* g, const uint8_t iv[12], const uint8_t* aad, size_t aad_len) {
  memcpy(g->j0, iv, 12);
  g->j0[12] = 0;
  g->j0[13] = 0;
  g->j0[14] = 0;
  g->j0[15] = 1;
  _mm_store_si128(reinterpret_cast<__m128i*>(g->ek_j0), aes256_block(&g->aes, _mm_load_si128(reinterpret_cast<const __m128i*>(g->j0))));
  ghash_start(&g->st);
  ghash_bytes(&g->ghash, &g->st, aad, aad_len);
  ghash_pad(&g->ghash, &g->st);
  g->aad_len = aad_len;
  g->c_len = 0;
}

// XORs the keystream for text bytes [pos, pos + n) of the chunk into in -> out (out may be in).
GCM_AVX2_TARGET inline void gcm_avx2_ctr(const GcmAvx2* g, uint64_t pos, const uint8_t* in, uint8_t* out, size_t n) {
  const __m128i bswap = aes_bswap_mask();
  // The block holding byte pos is counted inc32^(1 + pos/16)(J0); pos < 2^36, so this fits 32 bits.
  __m128i c = _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(g->j0)), bswap);
  c = _mm_shuffle_epi8(_mm_add_epi32(c, _mm_set_epi32(0, 0, 0, static_cast<int>(1 + pos / 16))), bswap);
  alignas(16) uint8_t ks[16];
  size_t skip = pos % 16;
  if (skip != 0 && n > 0) {
    _mm_store_si128(reinterpret_cast<__m128i*>(ks), aes256_block(&g->aes, c));
    c = _mm_shuffle_epi8(_mm_add_epi32(_mm_shuffle_epi8(c, bswap), _mm_set_epi32(0, 0, 0, 1)), bswap);
    size_t take = 16 - skip < n ? 16 - skip : n;
    for (size_t i = 0; i < take; i++) out[i] = in[i] ^ ks[skip + i];
    in += take;
    out += take;
    n -= take;
  }
  c = aes256_ctr_blocks(&g->aes, c, in, out, n / 16);
  in += n - n % 16;
  out += n - n % 16;
  if (n % 16 != 0) {
    _mm_store_si128(reinterpret_cast<__m128i*>(ks), aes256_block(&g->aes, c));
    for (size_t i = 0; i < n % 16; i++) out[i] = in[i] ^ ks[i];
  }
  OPENSSL_cleanse(ks, sizeof ks);
}

// Opens n bytes of ciphertext into out, or only hashes them with out null. False, with nothing
// done, past GCM's length limit.
GCM_AVX2_TARGET inline bool gcm_avx2_open(GcmAvx2* g, const uint8_t* in, uint8_t* out, size_t n) {
  if (n > kGcmMaxText - g->c_len) return false;
  while (n > 0) {
    size_t step = n < kGcmStep ? n : kGcmStep;
    // Hashed before deciphered: out may be in.
    ghash_bytes(&g->ghash, &g->st, in, step);
    if (out != nullptr) {
      gcm_avx2_ctr(g, g->c_len, in, out, step);
      out += step;
    }
    g->c_len += step;
    in += step;
    n -= step;
  }
  return true;
}

// Seals n bytes of plaintext into out (out may be in). False, with nothing done, past the limit.
GCM_AVX2_TARGET inline bool gcm_avx2_seal(GcmAvx2* g, const uint8_t* in, uint8_t* out, size_t n) {
  if (n > kGcmMaxText - g->c_len) return false;
  while (n > 0) {
    size_t step = n < kGcmStep ? n : kGcmStep;
    gcm_avx2_ctr(g, g->c_len, in, out, step);
    ghash_bytes(&g->ghash, &g->st, out, step);
    g->c_len += step;
    in += step;
    out += step;
    n -= step;
  }
  return true;
}

// The tag of the chunk begun last; a new begin is needed before more text.
GCM_AVX2_TARGET inline void gcm_avx2_tag(GcmAvx2* g, uint8_t tag[16]) {
  ghash_tag(&g->ghash, &g->st, g->aad_len, g->c_len, g->ek_j0, tag);
}

}  // namespace

#endif  // __x86_64__

#if !defined(__x86_64__)
// Elsewhere the addons keep to OpenSSL's GCM: these are never called (gcm_avx2_ok() is false).
namespace {
struct GcmAvx2 {};
inline bool gcm_avx2_ok() { return false; }
inline void gcm_avx2_key(GcmAvx2*, const uint8_t*) {}
inline void gcm_avx2_begin(GcmAvx2*, const uint8_t*, const uint8_t*, size_t) {}
inline bool gcm_avx2_open(GcmAvx2*, const uint8_t*, uint8_t*, size_t) { return false; }
inline bool gcm_avx2_seal(GcmAvx2*, const uint8_t*, uint8_t*, size_t) { return false; }
inline void gcm_avx2_tag(GcmAvx2*, uint8_t*) {}
}  // namespace
#endif
