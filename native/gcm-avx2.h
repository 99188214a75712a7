// AES-256-GCM as AES-CTR (aes-ctr-vaes.h) plus GHASH (ghash-clmul.h) on 256-bit registers, for
// CPUs with AVX2, AES-NI, PCLMUL, VAES and VPCLMULQDQ but not AVX-512 (gcm_avx2_ok()); the addons (gcm-open.cc,
// gcm-seal.cc) use OpenSSL's GCM elsewhere, or when told to (config gcmAvx2). Same bytes as GCM
// by SP 800-38D's definition, checked against Node (OpenSSL) by native-gcm-avx2.test.ts and
// native-seal-avx2.test.ts: with J0 = nonce || 00000001,
//   C = P XOR AES-CTR_K(inc32(J0)...),  tag = E_K(J0) XOR GHASH_H(A || pad || C || pad || len(A) || len(C)).
//
// A chunk's text may come in pieces of any length: the GHASH keeps a partial block, and the
// keystream is recomputed from the byte position (no keystream is kept between calls), so a piece
// may also be hashed without being deciphered (bytes outside a download's range).
//
// Compiled out off x86-64, or with -DBERTH_NO_AVX2_GCM (then gcm_avx2_ok() is false).
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) && !defined(BERTH_NO_AVX2_GCM)
#include <openssl/crypto.h>
#include "aes-ctr-vaes.h"
#include "ghash-clmul.h"

#define GCM_AVX2_TARGET __attribute__((target("avx2,aes,pclmul,vaes,vpclmulqdq")))

namespace {

// SP 800-38D: at most 2^39 - 256 bits of text per invocation (the 32-bit counter's range).
constexpr uint64_t kGcmMaxText = (uint64_t{1} << 36) - 32;
// A piece is hashed and ciphered in steps this long, so that the second pass finds it in cache.
constexpr size_t kGcmStep = 16384;

// OpenSSL's own wide GCM (ossl_aes_gcm_*_avx512) needs these besides VAES and VPCLMULQDQ; where
// the CPU has them OpenSSL's GCM is as fast (4.4 GB/s a core on session 22's host), and the
// well-kept library is preferred.
inline bool openssl_gcm_is_wide() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}

// Decided once per process (a thread-safe static), whichever thread asks first.
inline bool gcm_avx2_ok() {
  static const bool ok = ghash_cpu_ok() && __builtin_cpu_supports("aes") && __builtin_cpu_supports("vaes") && !openssl_gcm_is_wide();
  return ok;
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

// A keyed state on the heap, 64-byte aligned (its tables are loaded as aligned vectors); null
// when out of memory. Free it with gcm_avx2_free.
inline GcmAvx2* gcm_avx2_new(const uint8_t key[32]) {
  void* p = aligned_alloc(64, (sizeof(GcmAvx2) + 63) / 64 * 64);
  if (p == nullptr) return nullptr;
  GcmAvx2* g = static_cast<GcmAvx2*>(p);
  gcm_avx2_key(g, key);
  return g;
}

// Cleanses (round keys, H's powers, E_K(J0), the GHASH state) and frees; null is fine.
inline void gcm_avx2_free(GcmAvx2* g) {
  if (g == nullptr) return;
  OPENSSL_cleanse(g, sizeof *g);
  free(g);
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

// The counter block of text byte pos, byte-reversed (its 32-bit counter in the low lane): the
// block holding byte pos is inc32^(1 + pos/16)(J0); pos < 2^36, so 1 + pos/16 fits 32 bits.
GCM_AVX2_TARGET inline __m128i gcm_avx2_counter(const GcmAvx2* g, uint64_t pos) {
  __m128i c = _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(g->j0)), aes_bswap_mask());
  return _mm_add_epi32(c, _mm_set_epi32(0, 0, 0, static_cast<int>(1 + pos / 16)));
}

// XORs the keystream for text bytes [pos, pos + n) of the chunk into in -> out (out may be in).
GCM_AVX2_TARGET inline void gcm_avx2_ctr(const GcmAvx2* g, uint64_t pos, const uint8_t* in, uint8_t* out, size_t n) {
  const __m128i bswap = aes_bswap_mask();
  __m128i c = gcm_avx2_counter(g, pos);
  alignas(16) uint8_t ks[16];
  size_t skip = pos % 16;
  if (skip != 0 && n > 0) {
    _mm_store_si128(reinterpret_cast<__m128i*>(ks), aes256_block(&g->aes, _mm_shuffle_epi8(c, bswap)));
    c = _mm_add_epi32(c, _mm_set_epi32(0, 0, 0, 1));
    size_t take = 16 - skip < n ? 16 - skip : n;
    for (size_t i = 0; i < take; i++) out[i] = in[i] ^ ks[skip + i];
    in += take;
    out += take;
    n -= take;
  }
  c = aes256_ctr_blocks(&g->aes, _mm_shuffle_epi8(c, bswap), in, out, n / 16);
  in += n - n % 16;
  out += n - n % 16;
  if (n % 16 != 0) {
    _mm_store_si128(reinterpret_cast<__m128i*>(ks), aes256_block(&g->aes, c));
    for (size_t i = 0; i < n % 16; i++) out[i] = in[i] ^ ks[i];
  }
  OPENSSL_cleanse(ks, sizeof ks);
}

// Hashes, then deciphers, n bytes of ciphertext (out may be in: each block is hashed first).
GCM_AVX2_TARGET inline void gcm_avx2_open_two_pass(GcmAvx2* g, const uint8_t* in, uint8_t* out, size_t n) {
  ghash_bytes(&g->ghash, &g->st, in, n);
  gcm_avx2_ctr(g, g->c_len, in, out, n);
  g->c_len += n;
}

// Opens n blocks (a multiple of 8) from a block boundary of the text in one pass: each group of
// eight blocks is read once, hashed and deciphered, with the AES rounds placed between the GHASH
// multiplies. AES and carry-less multiplies share execution units on Zen 3, and this order keeps
// both busy: ~14% more than hashing and deciphering in turn (notes/2026-12-06-s24-ghash.md).
GCM_AVX2_TARGET inline void gcm_avx2_open_groups(GcmAvx2* g, const uint8_t* in, uint8_t* out, size_t n) {
  const GhashWide w = ghash_wide(&g->ghash);
  __m256i rk[15];
  for (int i = 0; i < 15; i++) rk[i] = _mm256_broadcastsi128_si256(aes_rk(&g->aes, i));
  const __m256i bswap = ghash_bswap2();
  const __m256i two = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
  __m256i cc = _mm256_add_epi32(_mm256_broadcastsi128_si256(gcm_avx2_counter(g, g->c_len)), _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0));
  __m128i acc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g->st.x));
  g->c_len += 16 * n;
  for (; n >= 8; n -= 8, in += 128, out += 128) {
    const __m256i* p = reinterpret_cast<const __m256i*>(in);
    const __m256i c0 = _mm256_loadu_si256(p), c1 = _mm256_loadu_si256(p + 1), c2 = _mm256_loadu_si256(p + 2), c3 = _mm256_loadu_si256(p + 3);
    __m256i b[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
      b[j] = _mm256_xor_si256(_mm256_shuffle_epi8(cc, bswap), rk[0]);
      cc = _mm256_add_epi32(cc, two);
    }
    Ghash8 h;
    ghash8_load(&h, acc, c0, c1, c2, c3);
    ghash8_lo(&h, w);
#pragma GCC unroll 4
    for (int r = 1; r < 5; r++) aes_round4(b, rk[r]);
    ghash8_hi(&h, w);
#pragma GCC unroll 4
    for (int r = 5; r < 9; r++) aes_round4(b, rk[r]);
    ghash8_mi(&h, w);
#pragma GCC unroll 5
    for (int r = 9; r < 14; r++) aes_round4(b, rk[r]);
    acc = ghash8_end(&h);
    __m256i* q = reinterpret_cast<__m256i*>(out);
    _mm256_storeu_si256(q, _mm256_xor_si256(_mm256_aesenclast_epi128(b[0], rk[14]), c0));
    _mm256_storeu_si256(q + 1, _mm256_xor_si256(_mm256_aesenclast_epi128(b[1], rk[14]), c1));
    _mm256_storeu_si256(q + 2, _mm256_xor_si256(_mm256_aesenclast_epi128(b[2], rk[14]), c2));
    _mm256_storeu_si256(q + 3, _mm256_xor_si256(_mm256_aesenclast_epi128(b[3], rk[14]), c3));
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(g->st.x), acc);
}

// Opens n bytes of ciphertext into out (out may be in), or only hashes them with out null.
// False, with nothing done, past GCM's length limit.
GCM_AVX2_TARGET inline bool gcm_avx2_open(GcmAvx2* g, const uint8_t* in, uint8_t* out, size_t n) {
  if (n > kGcmMaxText - g->c_len) return false;
  if (out == nullptr) {
    ghash_bytes(&g->ghash, &g->st, in, n);
    g->c_len += n;
    return true;
  }
  // Up to a block boundary (where the GHASH holds no partial block), whole groups of eight
  // blocks in one pass, then the rest.
  size_t head = (16 - g->c_len % 16) % 16;
  if (head > n) head = n;
  gcm_avx2_open_two_pass(g, in, out, head);
  size_t groups = (n - head) / 128;
  gcm_avx2_open_groups(g, in + head, out + head, 8 * groups);
  size_t done = head + 128 * groups;
  gcm_avx2_open_two_pass(g, in + done, out + done, n - done);
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

#endif  // __x86_64__ && !BERTH_NO_AVX2_GCM

#if !defined(__x86_64__) || defined(BERTH_NO_AVX2_GCM)
// Elsewhere the addons keep to OpenSSL's GCM: these are never called (gcm_avx2_ok() is false).
#include <openssl/crypto.h>
namespace {
struct GcmAvx2 {};
inline bool gcm_avx2_ok() { return false; }
inline void gcm_avx2_key(GcmAvx2*, const uint8_t*) {}
inline GcmAvx2* gcm_avx2_new(const uint8_t*) { return nullptr; }
inline void gcm_avx2_free(GcmAvx2*) {}
inline void gcm_avx2_begin(GcmAvx2*, const uint8_t*, const uint8_t*, size_t) {}
inline bool gcm_avx2_open(GcmAvx2*, const uint8_t*, uint8_t*, size_t) { return false; }
inline bool gcm_avx2_seal(GcmAvx2*, const uint8_t*, uint8_t*, size_t) { return false; }
inline void gcm_avx2_tag(GcmAvx2*, uint8_t*) {}
}  // namespace
#endif
