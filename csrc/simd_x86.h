/* simd_x86.h -- what the x86 vector sets' primitives share (simd_avx2.h, simd_avx512.h):
 * the order keys of 16-bit floating-point patterns.
 *
 * vkey_range_u16(x, n, &kmax, &kmin), which each set writes over its own vectors: the
 * max and min of key(h) = h ^ ((h >> 15) & 0x7fff) as int16 -- ordered as the values
 * (-0 below +0), NaNs beyond the infinities -- over x[0, done), done the largest
 * multiple of two vectors of int16 lanes in n; returns done.  No widening, and twice
 * float32's lanes: the max pass of a half type's row (body_simd.inc, vrow_range). */
#ifndef FASTSOFTMAX_SIMD_X86_H
#define FASTSOFTMAX_SIMD_X86_H

#include <immintrin.h>

/* the max and min of the 8 int16 lanes of h8 and l8 */
static inline void fs_key_range8(__m128i h8, __m128i l8, int *kmax, int *kmin) {
    h8 = _mm_max_epi16(h8, _mm_srli_si128(h8, 8));
    l8 = _mm_min_epi16(l8, _mm_srli_si128(l8, 8));
    h8 = _mm_max_epi16(h8, _mm_srli_si128(h8, 4));
    l8 = _mm_min_epi16(l8, _mm_srli_si128(l8, 4));
    h8 = _mm_max_epi16(h8, _mm_srli_si128(h8, 2));
    l8 = _mm_min_epi16(l8, _mm_srli_si128(l8, 2));
    *kmax = (int16_t)_mm_extract_epi16(h8, 0);
    *kmin = (int16_t)_mm_extract_epi16(l8, 0);
}

#endif
