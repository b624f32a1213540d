/* simd_avx2.h -- vector primitives for the AVX2 + FMA kernel set.
 * Same names and contracts as simd_avx512.h.  Included only by
 * kernels_avx2.c, after its target pragma. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "fs_names.h"   /* FS_HOT */
#include "simd_x86.h"   /* fs_key_range8 */

#define FS_SIMD_VECTOR 1
#define FS_NT_STORES 1   /* vstream_*: non-temporal stores (FS_STREAM_BYTES) */
#define FS_VL_f32 8
#define FS_VL_f64 4
/* vtranspose_*: the VL x VL block of VL vectors transposed in place (short rows in lanes) */
#define FS_HAS_TRANSPOSE 1
typedef __m256 vec_f32;
typedef __m256d vec_f64;

static inline __m256i fs_mask32(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i fs_mask64(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* float32 */
static inline vec_f32 vload_f32(const float *p) { return _mm256_loadu_ps(p); }
/* Partial vectors (0 <= n < 8 elements; n >= 8 is a whole vector): masked
 * loads (one uop, and no fault past the end) blended with the fill; stores
 * in 4-, 2- and 1-element pieces, because masked stores are microcoded on
 * AMD and a vector built in a stack buffer and reloaded stalls store
 * forwarding. */
FS_HOT vec_f32 vloadp_f32(const float *p, int64_t n, float fill) {
    __m256i m = fs_mask32(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline void vstore_f32(float *p, vec_f32 v) { _mm256_storeu_ps(p, v); }
FS_HOT void vstorep_f32(float *p, vec_f32 v, int64_t n) {
    if (n >= 8) { _mm256_storeu_ps(p, v); return; }
    __m128 h = _mm256_castps256_ps128(v);
    if (n & 4) { _mm_storeu_ps(p, h); h = _mm256_extractf128_ps(v, 1); p += 4; }
    if (n & 2) { _mm_storel_pi((__m64 *)p, h); h = _mm_movehl_ps(h, h); p += 2; }
    if (n & 1) _mm_store_ss(p, h);
}
/* non-temporal store of a whole vector to a vector-aligned address (FS_STREAM) */
static inline void vstream_f32(float *p, vec_f32 v) { _mm256_stream_ps(p, v); }
static inline void fs_stream_fence(void) { _mm_sfence(); }
/* a hint to fetch the cache line at p into L2 */
static inline void fs_prefetch(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T1); }
static inline vec_f32 vset1_f32(float a) { return _mm256_set1_ps(a); }
static inline vec_f32 vadd_f32(vec_f32 a, vec_f32 b) { return _mm256_add_ps(a, b); }
static inline vec_f32 vsub_f32(vec_f32 a, vec_f32 b) { return _mm256_sub_ps(a, b); }
static inline vec_f32 vmul_f32(vec_f32 a, vec_f32 b) { return _mm256_mul_ps(a, b); }
static inline vec_f32 vfma_f32(vec_f32 a, vec_f32 b, vec_f32 c) { return _mm256_fmadd_ps(a, b, c); }
static inline vec_f32 vmax_f32(vec_f32 a, vec_f32 b) { return _mm256_max_ps(a, b); }
static inline vec_f32 vmin_f32(vec_f32 a, vec_f32 b) { return _mm256_min_ps(a, b); }
static inline vec_f32 vround_f32(vec_f32 a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* p * 2^n for integral n in [-150, 128]: two exact power-of-two factors, so
 * subnormal results are rounded once and overflow gives inf. */
static inline vec_f32 vscale2n_f32(vec_f32 p, vec_f32 n) {
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
}
/* lane numbers 0, 1, ... as values */
static inline vec_f32 viota_f32(void) { return _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7); }
static inline vec_f32 vfloor_f32(vec_f32 a) { return _mm256_floor_ps(a); }
/* exp's table (math_simd.inc): 2^(j/8), j = the low 3 bits of t's bit pattern */
#define FS_EXP_LUT_BITS 3
static inline vec_f32 vexp2lut_f32(vec_f32 t) {
    const __m256i tab = _mm256_setr_epi32(0x3F800000, 0x3F8B95C2, 0x3F9837F0, 0x3FA5FED7,
                                          0x3FB504F3, 0x3FC5672A, 0x3FD744FD, 0x3FEAC0C7);
    return _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(tab, _mm256_castps_si256(t)));
}
/* 2^(n/8) for t = 1.5 * 2^23 + n, normal results only: the entries less j << 20,
 * plus t's bits << 20, which puts j back and floor(n/8) in the exponent field */
static inline vec_f32 vexp2lutk_f32(vec_f32 t) {
    const __m256i tab = _mm256_setr_epi32(0x3F800000, 0x3F7B95C2, 0x3F7837F0, 0x3F75FED7,
                                          0x3F7504F3, 0x3F75672A, 0x3F7744FD, 0x3F7AC0C7);
    __m256i ti = _mm256_castps_si256(t);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_permutevar8x32_epi32(tab, ti),
                                                _mm256_slli_epi32(ti, 20)));
}
/* whether some lane has a < b; some lane outside [lo, hi] (NaN lanes: no) */
static inline int vany_lt_f32(vec_f32 a, vec_f32 b) { return _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_LT_OQ)) != 0; }
/* the first lane with a == b, VL where none */
static inline int vfirst_eq_f32(vec_f32 a, vec_f32 b) {
    unsigned k = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_EQ_OQ));
    return k ? __builtin_ctz(k) : 8;
}
/* e where d != 0 (NaN too), 0 where d == 0; the lanes with d == 0 (the same compare) */
static inline vec_f32 vkeep_nz_f32(vec_f32 e, vec_f32 d) {
    return _mm256_and_ps(_mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ), e);
}
/* a tally of the lanes with d != 0 (NaN too): +1 in c's lanes, held as int32 bits */
static inline vec_f32 vtally_nz_f32(vec_f32 c, vec_f32 d) {
    return _mm256_castsi256_ps(_mm256_sub_epi32(_mm256_castps_si256(c),
        _mm256_castps_si256(_mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ))));
}
static inline int64_t vtally_sum_f32(vec_f32 c) {
    int32_t l[8];
    _mm256_storeu_si256((__m256i *)(void *)l, _mm256_castps_si256(c));
    return (int64_t)l[0] + l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7];
}
static inline int vany_outside_f32(vec_f32 a, vec_f32 lo, vec_f32 hi) {
    return _mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(a, lo, _CMP_LT_OQ), _mm256_cmp_ps(a, hi, _CMP_GT_OQ))) != 0;
}
static inline double fs_hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
static inline double vhsum_f32(vec_f32 v) {
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    return fs_hsum4d(_mm256_add_pd(lo, hi));
}
static inline float vhmax_f32(vec_f32 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
/* Butterfly reductions leaving the result in every lane (see simd_avx512.h). */
static inline vec_f32 vallmax_f32(vec_f32 v) {
    v = _mm256_max_ps(v, _mm256_permute2f128_ps(v, v, 1));
    v = _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}
static inline vec_f32 vallsum_f32(vec_f32 v) {
    v = _mm256_add_ps(v, _mm256_permute2f128_ps(v, v, 1));
    v = _mm256_add_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm256_add_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}
static inline float vfirst_f32(vec_f32 v) { return _mm256_cvtss_f32(v); }
static inline vec_f32 vdiv_f32(vec_f32 a, vec_f32 b) { return _mm256_div_ps(a, b); }
/* a < b ? x : y per lane (false for NaN) */
static inline vec_f32 vselect_lt_f32(vec_f32 a, vec_f32 b, vec_f32 x, vec_f32 y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }

/* Half types (storage.h) over the float32 lanes: 8 elements of 2 bytes.  float16
 * converts with F16C (exact widening; vcvtps2ph rounds to nearest even, NaN kept);
 * bfloat16 widens by a 16-bit shift and rounds to nearest even in integer lanes.
 * Partial loads: the pairs of elements as masked dword loads (no fault past the
 * end), the odd last one broadcast and blended in; partial stores in 8-, 4- and
 * 2-byte pieces. */
FS_HOT __m128i fs_loadp_u16(const uint16_t *p, int64_t n) {   /* n < 8, zero-filled */
    __m128i v = _mm_maskload_epi32((const int *)p, _mm_cmpgt_epi32(_mm_set1_epi32((int)(n >> 1)),
                                                                   _mm_setr_epi32(0, 1, 2, 3)));
    if (n & 1) {
        __m128i lane = _mm_cmpeq_epi16(_mm_set1_epi16((short)(n - 1)), _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7));
        v = _mm_blendv_epi8(v, _mm_set1_epi16((short)p[n - 1]), lane);
    }
    return v;
}
FS_HOT void fs_storep_u16(uint16_t *p, __m128i h, int64_t n) {   /* n < 8 */
    if (n & 4) { _mm_storel_epi64((__m128i *)p, h); h = _mm_srli_si128(h, 8); p += 4; }
    if (n & 2) {
        int32_t w = _mm_cvtsi128_si32(h);
        memcpy(p, &w, sizeof w);
        h = _mm_srli_si128(h, 4);
        p += 2;
    }
    if (n & 1) *p = (uint16_t)_mm_extract_epi16(h, 0);
}
static inline vec_f32 fs_fill_tail(vec_f32 v, int64_t n, float fill) {
    return _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(fs_mask32(n)));
}
static inline __m128i fs_f16_round(vec_f32 v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }
/* float32 -> bfloat16, to nearest even; NaN -> quiet NaN of the same sign */
static inline __m128i fs_bf16_round(vec_f32 v) {
    __m256i b = _mm256_castps_si256(v);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    __m256i qnan = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
    r = _mm256_blendv_epi8(r, qnan, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
static inline vec_f32 fs_bf16_widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static inline vec_f32 fs_f16_widen(__m128i h) { return _mm256_cvtph_ps(h); }

/* vload / vloadp / vstore / vstorep / vstream of a half type SFX over its
 * fs_SFX_widen and fs_SFX_round (partial vectors: fs_loadp_u16 / fs_storep_u16) */
#define FS_HALF_VEC_OPS(SFX)                                                                     \
    static inline vec_f32 vload_##SFX(const uint16_t *p) {                                      \
        return fs_##SFX##_widen(_mm_loadu_si128((const __m128i *)p));                           \
    }                                                                                            \
    FS_HOT vec_f32 vloadp_##SFX(const uint16_t *p, int64_t n, float fill) {                     \
        if (n >= 8) return vload_##SFX(p);                                                       \
        return fs_fill_tail(fs_##SFX##_widen(fs_loadp_u16(p, n)), n, fill);                     \
    }                                                                                            \
    static inline void vstore_##SFX(uint16_t *p, vec_f32 v) {                                   \
        _mm_storeu_si128((__m128i *)p, fs_##SFX##_round(v));                                    \
    }                                                                                            \
    FS_HOT void vstorep_##SFX(uint16_t *p, vec_f32 v, int64_t n) {                              \
        if (n >= 8) {                                                                            \
            vstore_##SFX(p, v);                                                                  \
            return;                                                                              \
        }                                                                                        \
        fs_storep_u16(p, fs_##SFX##_round(v), n);                                                \
    }                                                                                            \
    static inline void vstream_##SFX(uint16_t *p, vec_f32 v) {                                  \
        _mm_stream_si128((__m128i *)p, fs_##SFX##_round(v));                                    \
    }
FS_HALF_VEC_OPS(f16)
FS_HALF_VEC_OPS(bf16)
#undef FS_HALF_VEC_OPS

/* vkey_range_u16: the order keys' max and min (simd_x86.h), 32 elements a step */
#define FS_HAVE_KEY_RANGE 1
static inline __m256i fs_key16(__m256i h) {
    return _mm256_xor_si256(h, _mm256_and_si256(_mm256_srai_epi16(h, 15), _mm256_set1_epi16(0x7fff)));
}
static inline int64_t vkey_range_u16(const uint16_t *x, int64_t n, int *kmax, int *kmin) {
    __m256i hi0 = _mm256_set1_epi16(INT16_MIN), hi1 = hi0;
    __m256i lo0 = _mm256_set1_epi16(INT16_MAX), lo1 = lo0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = fs_key16(_mm256_loadu_si256((const __m256i *)(x + i)));
        __m256i b = fs_key16(_mm256_loadu_si256((const __m256i *)(x + i + 16)));
        hi0 = _mm256_max_epi16(hi0, a);
        lo0 = _mm256_min_epi16(lo0, a);
        hi1 = _mm256_max_epi16(hi1, b);
        lo1 = _mm256_min_epi16(lo1, b);
    }
    hi0 = _mm256_max_epi16(hi0, hi1);
    lo0 = _mm256_min_epi16(lo0, lo1);
    __m128i h8 = _mm_max_epi16(_mm256_castsi256_si128(hi0), _mm256_extracti128_si256(hi0, 1));
    __m128i l8 = _mm_min_epi16(_mm256_castsi256_si128(lo0), _mm256_extracti128_si256(lo0, 1));
    fs_key_range8(h8, l8, kmax, kmin);
    return i;
}

/* float64 */
static inline vec_f64 vload_f64(const double *p) { return _mm256_loadu_pd(p); }
FS_HOT vec_f64 vloadp_f64(const double *p, int64_t n, double fill) {
    __m256i m = fs_mask64(n);
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m));
}
static inline void vstore_f64(double *p, vec_f64 v) { _mm256_storeu_pd(p, v); }
FS_HOT void vstorep_f64(double *p, vec_f64 v, int64_t n) {
    if (n >= 4) { _mm256_storeu_pd(p, v); return; }
    __m128d h = _mm256_castpd256_pd128(v);
    if (n & 2) { _mm_storeu_pd(p, h); h = _mm256_extractf128_pd(v, 1); p += 2; }
    if (n & 1) _mm_store_sd(p, h);
}
static inline void vstream_f64(double *p, vec_f64 v) { _mm256_stream_pd(p, v); }
static inline vec_f64 vset1_f64(double a) { return _mm256_set1_pd(a); }
static inline vec_f64 vadd_f64(vec_f64 a, vec_f64 b) { return _mm256_add_pd(a, b); }
static inline vec_f64 vsub_f64(vec_f64 a, vec_f64 b) { return _mm256_sub_pd(a, b); }
static inline vec_f64 vmul_f64(vec_f64 a, vec_f64 b) { return _mm256_mul_pd(a, b); }
static inline vec_f64 vfma_f64(vec_f64 a, vec_f64 b, vec_f64 c) { return _mm256_fmadd_pd(a, b, c); }
static inline vec_f64 vmax_f64(vec_f64 a, vec_f64 b) { return _mm256_max_pd(a, b); }
static inline vec_f64 vmin_f64(vec_f64 a, vec_f64 b) { return _mm256_min_pd(a, b); }
static inline vec_f64 vround_f64(vec_f64 a) {
    return _mm256_round_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* p * 2^n for integral n in [-1076, 1024]; the exponent bits are built with the
 * 2^52 + 2^51 rounding constant (AVX2 has no double -> int64 conversion). */
static inline __m256d fs_pow2_f64(__m256i n) {   /* n as int64 lanes, in [-1022, 1023] */
    return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(n, _mm256_set1_epi64x(1023)), 52));
}
static inline vec_f64 vscale2n_f64(vec_f64 p, vec_f64 n) {
    const __m256d magic = _mm256_set1_pd(6755399441055744.0);   /* 2^52 + 2^51 */
    __m256d h = _mm256_round_pd(_mm256_mul_pd(n, _mm256_set1_pd(0.5)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256d h2 = _mm256_sub_pd(n, h);
    __m256i n1 = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(h, magic)), _mm256_castpd_si256(magic));
    __m256i n2 = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(h2, magic)), _mm256_castpd_si256(magic));
    return _mm256_mul_pd(_mm256_mul_pd(p, fs_pow2_f64(n1)), fs_pow2_f64(n2));
}
/* p * 2^n for t = 1.5 * 2^52 + 1023 + n, normal results only: t's low bits
 * shifted into the exponent field */
static inline vec_f64 vscale2n_fast_f64(vec_f64 p, vec_f64 t, vec_f64 n) {
    (void)n;
    return _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(t), 52)));
}
static inline vec_f64 viota_f64(void) { return _mm256_setr_pd(0, 1, 2, 3); }
static inline int vany_lt_f64(vec_f64 a, vec_f64 b) { return _mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_LT_OQ)) != 0; }
static inline int vfirst_eq_f64(vec_f64 a, vec_f64 b) {
    unsigned k = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_EQ_OQ));
    return k ? __builtin_ctz(k) : 4;
}
static inline vec_f64 vkeep_nz_f64(vec_f64 e, vec_f64 d) {
    return _mm256_and_pd(_mm256_cmp_pd(d, _mm256_setzero_pd(), _CMP_NEQ_UQ), e);
}
static inline vec_f64 vtally_nz_f64(vec_f64 c, vec_f64 d) {
    return _mm256_castsi256_pd(_mm256_sub_epi64(_mm256_castpd_si256(c),
        _mm256_castpd_si256(_mm256_cmp_pd(d, _mm256_setzero_pd(), _CMP_NEQ_UQ))));
}
static inline int64_t vtally_sum_f64(vec_f64 c) {
    int64_t l[4];
    _mm256_storeu_si256((__m256i *)(void *)l, _mm256_castpd_si256(c));
    return l[0] + l[1] + l[2] + l[3];
}
static inline int vany_outside_f64(vec_f64 a, vec_f64 lo, vec_f64 hi) {
    return _mm256_movemask_pd(_mm256_or_pd(_mm256_cmp_pd(a, lo, _CMP_LT_OQ), _mm256_cmp_pd(a, hi, _CMP_GT_OQ))) != 0;
}
static inline double vhsum_f64(vec_f64 v) { return fs_hsum4d(v); }
static inline double vhmax_f64(vec_f64 v) {
    __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
}
static inline vec_f64 vallmax_f64(vec_f64 v) {
    v = _mm256_max_pd(v, _mm256_permute2f128_pd(v, v, 1));
    return _mm256_max_pd(v, _mm256_permute_pd(v, 0x5));
}
static inline vec_f64 vallsum_f64(vec_f64 v) {
    v = _mm256_add_pd(v, _mm256_permute2f128_pd(v, v, 1));
    return _mm256_add_pd(v, _mm256_permute_pd(v, 0x5));
}
static inline double vfirst_f64(vec_f64 v) { return _mm256_cvtsd_f64(v); }
static inline vec_f64 vdiv_f64(vec_f64 a, vec_f64 b) { return _mm256_div_pd(a, b); }
/* a < b ? x : y per lane (false for NaN) */
static inline vec_f64 vselect_lt_f64(vec_f64 a, vec_f64 b, vec_f64 x, vec_f64 y) { return _mm256_blendv_pd(y, x, _mm256_cmp_pd(a, b, _CMP_LT_OQ)); }

/* 8x8: unpack pairs of rows, shuffle pairs of pairs, swap 128-bit halves (24 shuffles) */
FS_HOT void vtranspose_f32(vec_f32 *v) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        v[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
        v[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
    }
}

/* 4x4: unpack pairs of rows, swap 128-bit halves (8 shuffles) */
FS_HOT void vtranspose_f64(vec_f64 *v) {
    __m256d t0 = _mm256_unpacklo_pd(v[0], v[1]), t1 = _mm256_unpackhi_pd(v[0], v[1]);
    __m256d t2 = _mm256_unpacklo_pd(v[2], v[3]), t3 = _mm256_unpackhi_pd(v[2], v[3]);
    v[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    v[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    v[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    v[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
