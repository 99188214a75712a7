// GHASH (NIST SP 800-38D, 6.4) with carry-less multiplication on 256-bit registers (AVX2 +
// VPCLMULQDQ: two blocks per register), for the AES-256-GCM addons (gcm-open.cc, gcm-seal.cc).
//
// Why: on CPUs with VAES/VPCLMULQDQ but no AVX-512 (AMD Zen 3, Intel Alder Lake), OpenSSL's GCM
// is its 128-bit stitched AES-NI+PCLMUL loop, while its AES-CTR alone uses VAES and runs about
// twice as fast: the GHASH is the cost. GCM is exactly CTR plus GHASH:
//   plaintext = AES-CTR(K, nonce || 00000002) XOR ciphertext (fewer than 2^32 blocks, so CTR's
//               128-bit increment equals GCM's 32-bit one),
//   tag       = E_K(nonce || 00000001) XOR GHASH_H(AAD || pad || C || pad || [len(AAD)*8]64 || [len(C)*8]64),
//   H         = E_K(0^128),
// so the addons run OpenSSL's CTR and this GHASH over the ciphertext.
//
// Representation (Gueron & Kounavis, "Intel Carry-Less Multiplication Instruction and its Usage
// for Computing the GCM Mode", as in Linux's aes-gcm-avx10-x86_64.S): each block is byte-reversed
// so that GCM's bit order becomes a reflected polynomial in a 128-bit integer; H is multiplied by
// x once (ghash_init) so that the product of two reflected operands needs no extra shift; the
// 256-bit product is reduced with two multiplications by 0xc2000000_00000000 (the reflected
// x^63 + x^62 + x^57 of x^128 + x^7 + x^2 + x + 1). Eight blocks are multiplied by H^8..H^1 and
// summed before a single reduction (Horner's rule regrouped: aggregated reduction).
//
// Constant time: only carry-less multiplies, XORs, shuffles and branches on public lengths.
// Callers must check ghash_cpu_ok() before any other function here.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define GHASH_TARGET __attribute__((target("avx2,pclmul,vpclmulqdq")))

namespace {

constexpr int kGhashStride = 8;  // blocks per aggregated reduction

struct GhashKey {
  // pow[i] = H^(i+1) (with the factor x), as two little-endian 64-bit halves (lo, hi).
  alignas(32) uint64_t pow[kGhashStride][2];
  // pairs[k] = (H^(8-2k) in the low lane, H^(7-2k) in the high lane): the multipliers of blocks
  // 2k and 2k+1 of an eight-block group.
  alignas(32) uint64_t pairs[kGhashStride / 2][4];
};

// AVX2, PCLMUL and VPCLMULQDQ, with the OS saving ymm state (GCC's check covers XGETBV). Called
// once, from gcm_avx2_ok()'s static initializer (so __builtin_cpu_init never runs concurrently).
inline bool ghash_cpu_ok() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("vpclmulqdq");
}

GHASH_TARGET inline __m128i ghash_bswap(__m128i v) {
  return _mm_shuffle_epi8(v, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

// Reduces the unreduced product (lo at bit 0, mi at bit 64, hi at bit 128) to 128 bits.
GHASH_TARGET inline __m128i ghash_reduce(__m128i lo, __m128i mi, __m128i hi) {
  const __m128i poly = _mm_set_epi64x(static_cast<long long>(0xc200000000000000ULL), 1);
  // Fold lo into mi: lo_L * (x^63 + x^62 + x^57), and lo's halves swapped.
  __m128i t = _mm_clmulepi64_si128(lo, poly, 0x10);
  mi = _mm_xor_si128(_mm_xor_si128(mi, t), _mm_shuffle_epi32(lo, 0x4e));
  // Fold mi into hi the same way.
  t = _mm_clmulepi64_si128(mi, poly, 0x10);
  return _mm_xor_si128(_mm_xor_si128(hi, t), _mm_shuffle_epi32(mi, 0x4e));
}

GHASH_TARGET inline __m128i ghash_mul(__m128i a, __m128i b) {
  __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
  __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
  __m128i mi = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
  return ghash_reduce(lo, mi, hi);
}

// The key from H = E_K(0^128) as the cipher wrote it (16 bytes, GCM's byte order).
GHASH_TARGET inline void ghash_init(GhashKey* key, const uint8_t h[16]) {
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; i++) {
    hi = hi << 8 | h[i];
    lo = lo << 8 | h[8 + i];
  }
  // H * x in the reflected representation: a 128-bit left shift, reduced when a bit falls out.
  uint64_t carry = 0 - (hi >> 63);
  hi = (hi << 1 | lo >> 63) ^ (carry & 0xc200000000000000ULL);
  lo = (lo << 1) ^ (carry & 1);
  __m128i h1 = _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
  __m128i p = h1;
  for (int i = 0; i < kGhashStride; i++) {
    _mm_store_si128(reinterpret_cast<__m128i*>(key->pow[i]), p);
    p = ghash_mul(p, h1);
  }
  for (int k = 0; k < kGhashStride / 2; k++) {
    memcpy(&key->pairs[k][0], key->pow[kGhashStride - 1 - 2 * k], 16);
    memcpy(&key->pairs[k][2], key->pow[kGhashStride - 2 - 2 * k], 16);
  }
}

GHASH_TARGET inline __m128i ghash_load_pow(const GhashKey* key, int i) {
  return _mm_load_si128(reinterpret_cast<const __m128i*>(key->pow[i]));
}

// Each lane's two halves XORed into its low half (Karatsuba's middle operand).
GHASH_TARGET inline __m256i ghash_fold(__m256i v) {
  return _mm256_xor_si256(v, _mm256_shuffle_epi32(v, 0x4e));
}

// The multipliers of an eight-block group as four lane pairs (k), and each lane's halves XORed
// (s, Karatsuba's middle operand), loaded once per run of groups.
struct GhashWide {
  __m256i k0, k1, k2, k3, s0, s1, s2, s3;
};

GHASH_TARGET inline GhashWide ghash_wide(const GhashKey* key) {
  GhashWide w;
  w.k0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(key->pairs[0]));
  w.k1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(key->pairs[1]));
  w.k2 = _mm256_load_si256(reinterpret_cast<const __m256i*>(key->pairs[2]));
  w.k3 = _mm256_load_si256(reinterpret_cast<const __m256i*>(key->pairs[3]));
  w.s0 = ghash_fold(w.k0);
  w.s1 = ghash_fold(w.k1);
  w.s2 = ghash_fold(w.k2);
  w.s3 = ghash_fold(w.k3);
  return w;
}

GHASH_TARGET inline __m256i ghash_bswap2() {
  return _mm256_broadcastsi128_si256(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

// One eight-block group (c0..c3: its bytes as loaded), in steps so that a caller can interleave
// other work (gcm-avx2.h's one-pass open puts AES rounds between them):
//   ghash8_load: byte-swaps, and the running state joins the first block (Horner:
//                (x + b0) * H^8 + b1 * H^7 + ... + b7 * H);
//   ghash8_lo, ghash8_hi, ghash8_mi: the partial products summed over the group, Karatsuba's
//                mi = (dL + dH)(kL + kH) + lo + hi (three multiplies per block pair, not four);
//   ghash8_end:  the two lanes summed (the reduction is linear), then reduced once.
struct Ghash8 {
  __m256i d0, d1, d2, d3, lo, hi, mi;
};

GHASH_TARGET inline void ghash8_load(Ghash8* g, __m128i acc, __m256i c0, __m256i c1, __m256i c2, __m256i c3) {
  const __m256i bswap = ghash_bswap2();
  g->d0 = _mm256_xor_si256(_mm256_shuffle_epi8(c0, bswap), _mm256_zextsi128_si256(acc));
  g->d1 = _mm256_shuffle_epi8(c1, bswap);
  g->d2 = _mm256_shuffle_epi8(c2, bswap);
  g->d3 = _mm256_shuffle_epi8(c3, bswap);
}

template <int kImm>
GHASH_TARGET inline __m256i ghash_sum4(__m256i a0, __m256i b0, __m256i a1, __m256i b1, __m256i a2, __m256i b2, __m256i a3, __m256i b3) {
  return _mm256_xor_si256(_mm256_xor_si256(_mm256_clmulepi64_epi128(a0, b0, kImm), _mm256_clmulepi64_epi128(a1, b1, kImm)),
                          _mm256_xor_si256(_mm256_clmulepi64_epi128(a2, b2, kImm), _mm256_clmulepi64_epi128(a3, b3, kImm)));
}

GHASH_TARGET inline void ghash8_lo(Ghash8* g, const GhashWide& w) {
  g->lo = ghash_sum4<0x00>(g->d0, w.k0, g->d1, w.k1, g->d2, w.k2, g->d3, w.k3);
}

GHASH_TARGET inline void ghash8_hi(Ghash8* g, const GhashWide& w) {
  g->hi = ghash_sum4<0x11>(g->d0, w.k0, g->d1, w.k1, g->d2, w.k2, g->d3, w.k3);
}

GHASH_TARGET inline void ghash8_mi(Ghash8* g, const GhashWide& w) {
  g->mi = ghash_sum4<0x00>(ghash_fold(g->d0), w.s0, ghash_fold(g->d1), w.s1, ghash_fold(g->d2), w.s2, ghash_fold(g->d3), w.s3);
  g->mi = _mm256_xor_si256(g->mi, _mm256_xor_si256(g->lo, g->hi));
}

GHASH_TARGET inline __m128i ghash8_end(const Ghash8* g) {
  return ghash_reduce(_mm_xor_si128(_mm256_castsi256_si128(g->lo), _mm256_extracti128_si256(g->lo, 1)),
                      _mm_xor_si128(_mm256_castsi256_si128(g->mi), _mm256_extracti128_si256(g->mi, 1)),
                      _mm_xor_si128(_mm256_castsi256_si128(g->hi), _mm256_extracti128_si256(g->hi, 1)));
}

// Folds n whole blocks of `in` into the state x (reflected, as ghash_bytes keeps it).
GHASH_TARGET inline void ghash_blocks(const GhashKey* key, uint64_t x[2], const uint8_t* in, size_t n) {
  __m128i acc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
  if (n >= kGhashStride) {
    const GhashWide w = ghash_wide(key);
    for (; n >= kGhashStride; n -= kGhashStride, in += 16 * kGhashStride) {
      const __m256i* p = reinterpret_cast<const __m256i*>(in);
      Ghash8 g;
      ghash8_load(&g, acc, _mm256_loadu_si256(p), _mm256_loadu_si256(p + 1), _mm256_loadu_si256(p + 2), _mm256_loadu_si256(p + 3));
      ghash8_lo(&g, w);
      ghash8_hi(&g, w);
      ghash8_mi(&g, w);
      acc = ghash8_end(&g);
    }
  }
  const __m128i h1 = ghash_load_pow(key, 0);
  for (; n > 0; n--, in += 16) {
    acc = ghash_mul(_mm_xor_si128(acc, ghash_bswap(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in)))), h1);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(x), acc);
}

// A GHASH over a stream of bytes fed in pieces of any length: the AAD (zero-padded to a block by
// the caller's ghash_pad), then the ciphertext; a partial block waits in `part` for the next piece.
struct GhashState {
  uint64_t x[2];
  uint8_t part[16];
  size_t part_len;
};

inline void ghash_start(GhashState* s) {
  memset(s, 0, sizeof *s);
}

GHASH_TARGET inline void ghash_bytes(const GhashKey* key, GhashState* s, const uint8_t* in, size_t n) {
  if (s->part_len > 0) {
    size_t take = 16 - s->part_len < n ? 16 - s->part_len : n;
    memcpy(s->part + s->part_len, in, take);
    s->part_len += take;
    in += take;
    n -= take;
    if (s->part_len < 16) return;
    ghash_blocks(key, s->x, s->part, 1);
    s->part_len = 0;
  }
  ghash_blocks(key, s->x, in, n / 16);
  in += n - n % 16;
  n %= 16;
  memcpy(s->part, in, n);
  s->part_len = n;
}

// Zero-pads a partial block (SP 800-38D: AAD and ciphertext each end on a block boundary).
GHASH_TARGET inline void ghash_pad(const GhashKey* key, GhashState* s) {
  if (s->part_len == 0) return;
  memset(s->part + s->part_len, 0, 16 - s->part_len);
  ghash_blocks(key, s->x, s->part, 1);
  s->part_len = 0;
}

// The tag: pads, hashes the lengths block, and XORs E_K(J0) (ek_j0) into the result.
GHASH_TARGET inline void ghash_tag(const GhashKey* key, GhashState* s, uint64_t aad_len, uint64_t c_len, const uint8_t ek_j0[16], uint8_t tag[16]) {
  ghash_pad(key, s);
  uint8_t lens[16];
  for (int i = 0; i < 8; i++) {
    lens[i] = static_cast<uint8_t>((aad_len * 8) >> (56 - 8 * i));
    lens[8 + i] = static_cast<uint8_t>((c_len * 8) >> (56 - 8 * i));
  }
  ghash_blocks(key, s->x, lens, 1);
  __m128i t = ghash_bswap(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s->x)));
  t = _mm_xor_si128(t, _mm_loadu_si128(reinterpret_cast<const __m128i*>(ek_j0)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), t);
}

}  // namespace

#endif  // __x86_64__
