// AES-256 in GCM's counter mode with VAES on 256-bit registers (two blocks per register), for
// the AES-256-GCM addons (gcm-open.cc, gcm-seal.cc) through gcm-avx2.h.
//
// Why not OpenSSL's CTR: on the CPUs this is for (VAES without AVX-512, e.g. AMD Zen 3), its
// aes-256-ctr runs 128-bit AES-NI at ~6 GB/s per core, this ~12 GB/s (notes/2026-12-06-s24-ghash.md).
// The key schedule is the AES-NI one from Intel's "Advanced Encryption Standard (AES) New
// Instructions Set" white paper (AESKEYGENASSIST); the rounds are single instructions: no table,
// no secret-dependent branch or address.
//
// The counter is GCM's inc32 (SP 800-38D 6.2): the last four bytes of the block, big-endian,
// wrap mod 2^32 and the first twelve never change. Byte-reversed, those four bytes are the low
// 32-bit lane, so an epi32 add is exactly inc32.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AES_TARGET __attribute__((target("avx2,aes,vaes")))

namespace {

struct AesKey {
  alignas(16) uint8_t rk[15][16];  // the AES-256 round keys
};

AES_TARGET inline __m128i aes_rk(const AesKey* k, int i) {
  return _mm_load_si128(reinterpret_cast<const __m128i*>(k->rk[i]));
}

// One step of the white paper's AES-256 expansion: w ^= its shifted prefixes ^ the assist word.
AES_TARGET inline __m128i aes_expand_step(__m128i w, __m128i assist) {
  w = _mm_xor_si128(w, _mm_slli_si128(w, 4));
  w = _mm_xor_si128(w, _mm_slli_si128(w, 4));
  w = _mm_xor_si128(w, _mm_slli_si128(w, 4));
  return _mm_xor_si128(w, assist);
}

AES_TARGET inline void aes256_expand(AesKey* k, const uint8_t key[32]) {
  __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
  __m128i* rk = reinterpret_cast<__m128i*>(k->rk);
  _mm_store_si128(rk, a);
  _mm_store_si128(rk + 1, b);
  // Even round keys take RotWord(SubWord(w)) ^ rcon of the previous odd one; odd ones SubWord only.
#define BERTH_AES256_PAIR(i, rcon)                                                       \
  a = aes_expand_step(a, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(b, rcon), 0xff)); \
  _mm_store_si128(rk + (i), a);                                                          \
  if ((i) < 14) {                                                                        \
    b = aes_expand_step(b, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(a, 0), 0xaa));   \
    _mm_store_si128(rk + (i) + 1, b);                                                    \
  }
  BERTH_AES256_PAIR(2, 0x01)
  BERTH_AES256_PAIR(4, 0x02)
  BERTH_AES256_PAIR(6, 0x04)
  BERTH_AES256_PAIR(8, 0x08)
  BERTH_AES256_PAIR(10, 0x10)
  BERTH_AES256_PAIR(12, 0x20)
  BERTH_AES256_PAIR(14, 0x40)
#undef BERTH_AES256_PAIR
}

AES_TARGET inline __m128i aes256_block(const AesKey* k, __m128i b) {
  b = _mm_xor_si128(b, aes_rk(k, 0));
#pragma GCC unroll 13
  for (int r = 1; r < 14; r++) b = _mm_aesenc_si128(b, aes_rk(k, r));
  return _mm_aesenclast_si128(b, aes_rk(k, 14));
}

// One AES round of eight blocks in four registers.
AES_TARGET inline void aes_round4(__m256i* b, __m256i rk) {
  b[0] = _mm256_aesenc_epi128(b[0], rk);
  b[1] = _mm256_aesenc_epi128(b[1], rk);
  b[2] = _mm256_aesenc_epi128(b[2], rk);
  b[3] = _mm256_aesenc_epi128(b[3], rk);
}

AES_TARGET inline __m128i aes_bswap_mask() {
  return _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// out = in XOR the keystream from counter block `ctr` (GCM byte order) on, for n whole blocks
// (out may be in); returns the counter block after them (GCM byte order).
AES_TARGET inline __m128i aes256_ctr_blocks(const AesKey* k, __m128i ctr, const uint8_t* in, uint8_t* out, size_t n) {
  const __m128i bswap = aes_bswap_mask();
  const __m256i bswap2 = _mm256_broadcastsi128_si256(bswap);
  __m128i c = _mm_shuffle_epi8(ctr, bswap);  // the 32-bit counter is now the low lane
  if (n >= 8) {
    __m256i rk[15];
    for (int i = 0; i < 15; i++) rk[i] = _mm256_broadcastsi128_si256(aes_rk(k, i));
    const __m256i two = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
    __m256i cc = _mm256_add_epi32(_mm256_broadcastsi128_si256(c), _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0));
    for (; n >= 8; n -= 8, in += 128, out += 128) {
      // Eight blocks in four registers: enough in flight to cover VAES's latency.
      __m256i b0 = _mm256_xor_si256(_mm256_shuffle_epi8(cc, bswap2), rk[0]);
      cc = _mm256_add_epi32(cc, two);
      __m256i b1 = _mm256_xor_si256(_mm256_shuffle_epi8(cc, bswap2), rk[0]);
      cc = _mm256_add_epi32(cc, two);
      __m256i b2 = _mm256_xor_si256(_mm256_shuffle_epi8(cc, bswap2), rk[0]);
      cc = _mm256_add_epi32(cc, two);
      __m256i b3 = _mm256_xor_si256(_mm256_shuffle_epi8(cc, bswap2), rk[0]);
      cc = _mm256_add_epi32(cc, two);
#pragma GCC unroll 13
      for (int r = 1; r < 14; r++) {
        b0 = _mm256_aesenc_epi128(b0, rk[r]);
        b1 = _mm256_aesenc_epi128(b1, rk[r]);
        b2 = _mm256_aesenc_epi128(b2, rk[r]);
        b3 = _mm256_aesenc_epi128(b3, rk[r]);
      }
      const __m256i* p = reinterpret_cast<const __m256i*>(in);
      __m256i* q = reinterpret_cast<__m256i*>(out);
      _mm256_storeu_si256(q, _mm256_xor_si256(_mm256_aesenclast_epi128(b0, rk[14]), _mm256_loadu_si256(p)));
      _mm256_storeu_si256(q + 1, _mm256_xor_si256(_mm256_aesenclast_epi128(b1, rk[14]), _mm256_loadu_si256(p + 1)));
      _mm256_storeu_si256(q + 2, _mm256_xor_si256(_mm256_aesenclast_epi128(b2, rk[14]), _mm256_loadu_si256(p + 2)));
      _mm256_storeu_si256(q + 3, _mm256_xor_si256(_mm256_aesenclast_epi128(b3, rk[14]), _mm256_loadu_si256(p + 3)));
    }
    c = _mm256_castsi256_si128(cc);
  }
  const __m128i one = _mm_set_epi32(0, 0, 0, 1);
  for (; n > 0; n--, in += 16, out += 16) {
    __m128i b = aes256_block(k, _mm_shuffle_epi8(c, bswap));
    c = _mm_add_epi32(c, one);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_xor_si128(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(in))));
  }
  return _mm_shuffle_epi8(c, bswap);
}

}  // namespace

#endif  // __x86_64__
