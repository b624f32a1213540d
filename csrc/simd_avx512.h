/* simd_avx512.h -- vector primitives for the AVX-512 kernel set (F, DQ, BW, VL).
 * Names are v<op>_<dtype>; the bodies reach them through VOP(op).
 * Included only by kernels_avx512.c, after its target pragma. */
#include <immintrin.h>
#include <stdint.h>

#include "fs_names.h"   /* FS_HOT */
#include "simd_x86.h"   /* fs_key_range8 */
#include "kernel_sets.h"   /* fs_bf16_hw */

#define FS_SIMD_VECTOR 1
#define FS_NT_STORES 1   /* vstream_*: non-temporal stores (FS_STREAM_BYTES) */
#define FS_VL_f32 16
#define FS_VL_f64 8
/* vtranspose_*: the VL x VL block of VL vectors transposed in place (short rows in lanes) */
#define FS_HAS_TRANSPOSE 1
typedef __m512 vec_f32;
typedef __m512d vec_f64;

static inline __mmask16 fs_k16(int64_t n) { return (__mmask16)((1u << n) - 1u); }
static inline __mmask8 fs_k8(int64_t n) { return (__mmask8)((1u << n) - 1u); }

/* float32 */
static inline vec_f32 vload_f32(const float *p) { return _mm512_loadu_ps(p); }
FS_HOT vec_f32 vloadp_f32(const float *p, int64_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), fs_k16(n), p);
}
static inline void vstore_f32(float *p, vec_f32 v) { _mm512_storeu_ps(p, v); }
FS_HOT void vstorep_f32(float *p, vec_f32 v, int64_t n) { _mm512_mask_storeu_ps(p, fs_k16(n), v); }
/* non-temporal store of a whole vector to a vector-aligned address (FS_STREAM) */
static inline void vstream_f32(float *p, vec_f32 v) { _mm512_stream_ps(p, v); }
static inline void fs_stream_fence(void) { _mm_sfence(); }
/* a hint to fetch the cache line at p into L2 */
static inline void fs_prefetch(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T1); }
static inline vec_f32 vset1_f32(float a) { return _mm512_set1_ps(a); }
static inline vec_f32 vadd_f32(vec_f32 a, vec_f32 b) { return _mm512_add_ps(a, b); }
static inline vec_f32 vsub_f32(vec_f32 a, vec_f32 b) { return _mm512_sub_ps(a, b); }
static inline vec_f32 vmul_f32(vec_f32 a, vec_f32 b) { return _mm512_mul_ps(a, b); }
static inline vec_f32 vfma_f32(vec_f32 a, vec_f32 b, vec_f32 c) { return _mm512_fmadd_ps(a, b, c); }
/* max/min return the SECOND operand when either is NaN */
static inline vec_f32 vmax_f32(vec_f32 a, vec_f32 b) { return _mm512_max_ps(a, b); }
static inline vec_f32 vmin_f32(vec_f32 a, vec_f32 b) { return _mm512_min_ps(a, b); }
static inline vec_f32 vround_f32(vec_f32 a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* p * 2^n, n integral: IEEE-exact scaling, subnormal results and overflow included */
static inline vec_f32 vscale2n_f32(vec_f32 p, vec_f32 n) { return _mm512_scalef_ps(p, n); }
/* lane numbers 0, 1, ... as values */
static inline vec_f32 viota_f32(void) { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
static inline vec_f32 vfloor_f32(vec_f32 a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
/* exp's table (math_simd.inc): 2^(j/16), j = the low 4 bits of t's bit pattern */
#define FS_EXP_LUT_BITS 4
static inline vec_f32 vexp2lut_f32(vec_f32 t) {
    const __m512i tab = _mm512_setr_epi32(0x3F800000, 0x3F85AAC3, 0x3F8B95C2, 0x3F91C3D3,
                                          0x3F9837F0, 0x3F9EF532, 0x3FA5FED7, 0x3FAD583F,
                                          0x3FB504F3, 0x3FBD08A4, 0x3FC5672A, 0x3FCE248C,
                                          0x3FD744FD, 0x3FE0CCDF, 0x3FEAC0C7, 0x3FF5257D);
    return _mm512_castsi512_ps(_mm512_permutexvar_epi32(_mm512_castps_si512(t), tab));
}
/* 2^(n/16) for t = 1.5 * 2^23 + n, normal results only: the entries less j << 19,
 * plus t's bits << 19, which puts j back and floor(n/16) in the exponent field */
static inline vec_f32 vexp2lutk_f32(vec_f32 t) {
    const __m512i tab = _mm512_setr_epi32(0x3F800000, 0x3F7DAAC3, 0x3F7B95C2, 0x3F79C3D3,
                                          0x3F7837F0, 0x3F76F532, 0x3F75FED7, 0x3F75583F,
                                          0x3F7504F3, 0x3F7508A4, 0x3F75672A, 0x3F76248C,
                                          0x3F7744FD, 0x3F78CCDF, 0x3F7AC0C7, 0x3F7D257D);
    __m512i ti = _mm512_castps_si512(t);
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_permutexvar_epi32(ti, tab),
                                                _mm512_slli_epi32(ti, 19)));
}
/* whether some lane has a < b; some lane outside [lo, hi] (NaN lanes: no) */
static inline int vany_lt_f32(vec_f32 a, vec_f32 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ) != 0; }
/* the first lane with a == b, VL where none */
static inline int vfirst_eq_f32(vec_f32 a, vec_f32 b) {
    unsigned k = (unsigned)_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ);
    return k ? __builtin_ctz(k) : 16;
}
/* e where d != 0 (NaN too), 0 where d == 0; the lanes with d == 0 (the same compare) */
static inline vec_f32 vkeep_nz_f32(vec_f32 e, vec_f32 d) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ), e);
}
/* a tally of the lanes with d != 0 (NaN too): +1 in c's lanes, held as int32 bits */
static inline vec_f32 vtally_nz_f32(vec_f32 c, vec_f32 d) {
    __m512i ci = _mm512_castps_si512(c);
    return _mm512_castsi512_ps(_mm512_mask_sub_epi32(
        ci, _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ), ci, _mm512_set1_epi32(-1)));
}
static inline int64_t vtally_sum_f32(vec_f32 c) { return _mm512_reduce_add_epi32(_mm512_castps_si512(c)); }
static inline int vany_outside_f32(vec_f32 a, vec_f32 lo, vec_f32 hi) {
    return (_mm512_cmp_ps_mask(a, lo, _CMP_LT_OQ) | _mm512_cmp_ps_mask(a, hi, _CMP_GT_OQ)) != 0;
}
static inline double vhsum_f32(vec_f32 v) {   /* lanes widened to double before adding */
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}
static inline float vhmax_f32(vec_f32 v) { return _mm512_reduce_max_ps(v); }
/* Butterfly reductions leaving the result in every lane (no scalar round
 * trip; short rows use them).  With NaN lanes, max may differ across lanes;
 * the sum of such a row is NaN in every lane, which callers test. */
static inline vec_f32 vallmax_f32(vec_f32 v) {
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}
static inline vec_f32 vallsum_f32(vec_f32 v) {
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}
static inline float vfirst_f32(vec_f32 v) { return _mm512_cvtss_f32(v); }
static inline vec_f32 vdiv_f32(vec_f32 a, vec_f32 b) { return _mm512_div_ps(a, b); }
/* a < b ? x : y per lane (false for NaN) */
static inline vec_f32 vselect_lt_f32(vec_f32 a, vec_f32 b, vec_f32 x, vec_f32 y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x); }

/* Half types (storage.h) over the float32 lanes: 16 elements of 2 bytes.  float16
 * converts with the AVX-512 F16C forms (exact widening; rounding to nearest even,
 * NaN kept); bfloat16 widens by a 16-bit shift and rounds to nearest even in
 * integer lanes.  Partial vectors: masked 16-bit loads and stores (BW + VL). */
static inline __m256i fs_f16_round(vec_f32 v) { return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }
/* float32 -> bfloat16, to nearest even; NaN -> quiet NaN of the same sign.  With
 * fs_bf16_hw (AVX512_BF16): vcvtneps2bf16, one instruction for what the integer lanes
 * take seven, and the same bits except that it flushes subnormal inputs to zero, so
 * a vector with a subnormal lane (vfpclassps: one instruction; two integer tests cost
 * half the gain, measured on Zen 5) takes the integer way (written in asm: the set is
 * compiled for AVX-512 F/DQ/BW/VL only, and the instruction runs only where probed). */
static inline __m256i fs_bf16_round(vec_f32 v) {
    __m512i b = _mm512_castps_si512(v);
#if FS_BF16_ASM
    if (fs_bf16_hw) {
        __mmask16 sub = _mm512_fpclass_ps_mask(v, 0x20);   /* DQ: the subnormal lanes */
        if (__builtin_expect(!sub, 1)) {
            __m256i h;
            __asm__ __volatile__("vcvtneps2bf16 %1, %0" : "=v"(h) : "v"(v));   /* not above the test */
            return h;
        }
    }
#endif
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
    __m512i qnan = _mm512_or_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
    r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), qnan);
    return _mm512_cvtepi32_epi16(r);
}
static inline vec_f32 fs_bf16_widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
static inline vec_f32 fs_f16_widen(__m256i h) { return _mm512_cvtph_ps(h); }

/* vload / vloadp / vstore / vstorep / vstream of a half type SFX over its
 * fs_SFX_widen and fs_SFX_round (partial vectors: masked 16-bit moves) */
#define FS_HALF_VEC_OPS(SFX)                                                                     \
    static inline vec_f32 vload_##SFX(const uint16_t *p) {                                      \
        return fs_##SFX##_widen(_mm256_loadu_si256((const __m256i *)p));                        \
    }                                                                                            \
    FS_HOT vec_f32 vloadp_##SFX(const uint16_t *p, int64_t n, float fill) {                     \
        return _mm512_mask_mov_ps(_mm512_set1_ps(fill), fs_k16(n),                               \
                                  fs_##SFX##_widen(_mm256_maskz_loadu_epi16(fs_k16(n), p)));     \
    }                                                                                            \
    static inline void vstore_##SFX(uint16_t *p, vec_f32 v) {                                   \
        _mm256_storeu_si256((__m256i *)p, fs_##SFX##_round(v));                                 \
    }                                                                                            \
    FS_HOT void vstorep_##SFX(uint16_t *p, vec_f32 v, int64_t n) {                              \
        _mm256_mask_storeu_epi16(p, fs_k16(n), fs_##SFX##_round(v));                            \
    }                                                                                            \
    static inline void vstream_##SFX(uint16_t *p, vec_f32 v) {                                  \
        _mm256_stream_si256((__m256i *)p, fs_##SFX##_round(v));                                 \
    }
FS_HALF_VEC_OPS(f16)
FS_HALF_VEC_OPS(bf16)
#undef FS_HALF_VEC_OPS

/* vkey_range_u16: the order keys' max and min (simd_x86.h), 64 elements a step */
#define FS_HAVE_KEY_RANGE 1
static inline __m512i fs_key16(__m512i h) {
    return _mm512_xor_si512(h, _mm512_and_si512(_mm512_srai_epi16(h, 15), _mm512_set1_epi16(0x7fff)));
}
static inline int64_t vkey_range_u16(const uint16_t *x, int64_t n, int *kmax, int *kmin) {
    __m512i hi0 = _mm512_set1_epi16(INT16_MIN), hi1 = hi0;
    __m512i lo0 = _mm512_set1_epi16(INT16_MAX), lo1 = lo0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i a = fs_key16(_mm512_loadu_si512((const void *)(x + i)));
        __m512i b = fs_key16(_mm512_loadu_si512((const void *)(x + i + 32)));
        hi0 = _mm512_max_epi16(hi0, a);
        lo0 = _mm512_min_epi16(lo0, a);
        hi1 = _mm512_max_epi16(hi1, b);
        lo1 = _mm512_min_epi16(lo1, b);
    }
    hi0 = _mm512_max_epi16(hi0, hi1);
    lo0 = _mm512_min_epi16(lo0, lo1);
    __m256i h = _mm256_max_epi16(_mm512_castsi512_si256(hi0), _mm512_extracti64x4_epi64(hi0, 1));
    __m256i l = _mm256_min_epi16(_mm512_castsi512_si256(lo0), _mm512_extracti64x4_epi64(lo0, 1));
    __m128i h8 = _mm_max_epi16(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    __m128i l8 = _mm_min_epi16(_mm256_castsi256_si128(l), _mm256_extracti128_si256(l, 1));
    fs_key_range8(h8, l8, kmax, kmin);
    return i;
}

/* float64 */
static inline vec_f64 vload_f64(const double *p) { return _mm512_loadu_pd(p); }
FS_HOT vec_f64 vloadp_f64(const double *p, int64_t n, double fill) {
    return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), fs_k8(n), p);
}
static inline void vstore_f64(double *p, vec_f64 v) { _mm512_storeu_pd(p, v); }
FS_HOT void vstorep_f64(double *p, vec_f64 v, int64_t n) { _mm512_mask_storeu_pd(p, fs_k8(n), v); }
static inline void vstream_f64(double *p, vec_f64 v) { _mm512_stream_pd(p, v); }
static inline vec_f64 vset1_f64(double a) { return _mm512_set1_pd(a); }
static inline vec_f64 vadd_f64(vec_f64 a, vec_f64 b) { return _mm512_add_pd(a, b); }
static inline vec_f64 vsub_f64(vec_f64 a, vec_f64 b) { return _mm512_sub_pd(a, b); }
static inline vec_f64 vmul_f64(vec_f64 a, vec_f64 b) { return _mm512_mul_pd(a, b); }
static inline vec_f64 vfma_f64(vec_f64 a, vec_f64 b, vec_f64 c) { return _mm512_fmadd_pd(a, b, c); }
static inline vec_f64 vmax_f64(vec_f64 a, vec_f64 b) { return _mm512_max_pd(a, b); }
static inline vec_f64 vmin_f64(vec_f64 a, vec_f64 b) { return _mm512_min_pd(a, b); }
static inline vec_f64 vround_f64(vec_f64 a) {
    return _mm512_roundscale_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vec_f64 vscale2n_f64(vec_f64 p, vec_f64 n) { return _mm512_scalef_pd(p, n); }
static inline vec_f64 vscale2n_fast_f64(vec_f64 p, vec_f64 t, vec_f64 n) { (void)t; return _mm512_scalef_pd(p, n); }
static inline vec_f64 viota_f64(void) { return _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7); }
static inline int vany_lt_f64(vec_f64 a, vec_f64 b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ) != 0; }
static inline int vfirst_eq_f64(vec_f64 a, vec_f64 b) {
    unsigned k = (unsigned)_mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ);
    return k ? __builtin_ctz(k) : 8;
}
static inline vec_f64 vkeep_nz_f64(vec_f64 e, vec_f64 d) {
    return _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(d, _mm512_setzero_pd(), _CMP_NEQ_UQ), e);
}
static inline vec_f64 vtally_nz_f64(vec_f64 c, vec_f64 d) {
    __m512i ci = _mm512_castpd_si512(c);
    return _mm512_castsi512_pd(_mm512_mask_sub_epi64(
        ci, _mm512_cmp_pd_mask(d, _mm512_setzero_pd(), _CMP_NEQ_UQ), ci, _mm512_set1_epi64(-1)));
}
static inline int64_t vtally_sum_f64(vec_f64 c) { return _mm512_reduce_add_epi64(_mm512_castpd_si512(c)); }
static inline int vany_outside_f64(vec_f64 a, vec_f64 lo, vec_f64 hi) {
    return (_mm512_cmp_pd_mask(a, lo, _CMP_LT_OQ) | _mm512_cmp_pd_mask(a, hi, _CMP_GT_OQ)) != 0;
}
static inline double vhsum_f64(vec_f64 v) { return _mm512_reduce_add_pd(v); }
static inline double vhmax_f64(vec_f64 v) { return _mm512_reduce_max_pd(v); }
static inline vec_f64 vallmax_f64(vec_f64 v) {
    v = _mm512_max_pd(v, _mm512_shuffle_f64x2(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_pd(v, _mm512_shuffle_f64x2(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_max_pd(v, _mm512_permute_pd(v, 0x55));
}
static inline vec_f64 vallsum_f64(vec_f64 v) {
    v = _mm512_add_pd(v, _mm512_shuffle_f64x2(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_pd(v, _mm512_shuffle_f64x2(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_add_pd(v, _mm512_permute_pd(v, 0x55));
}
static inline double vfirst_f64(vec_f64 v) { return _mm512_cvtsd_f64(v); }
static inline vec_f64 vdiv_f64(vec_f64 a, vec_f64 b) { return _mm512_div_pd(a, b); }
/* a < b ? x : y per lane (false for NaN) */
static inline vec_f64 vselect_lt_f64(vec_f64 a, vec_f64 b, vec_f64 x, vec_f64 y) { return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_LT_OQ), y, x); }

static inline __m512 fs_unpacklo64(__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
static inline __m512 fs_unpackhi64(__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

/* 16x16: unpack pairs of rows, pairs of pairs, then two rounds of 128-bit
 * block shuffles (64 shuffles) */
FS_HOT void vtranspose_f32(vec_f32 *v) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        v[i] = fs_unpacklo64(t[i], t[i + 2]);
        v[i + 1] = fs_unpackhi64(t[i], t[i + 2]);
        v[i + 2] = fs_unpacklo64(t[i + 1], t[i + 3]);
        v[i + 3] = fs_unpackhi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        v[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        v[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        v[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

/* 8x8: unpack pairs of rows, then two rounds of 128-bit block shuffles (24 shuffles) */
FS_HOT void vtranspose_f64(vec_f64 *v) {
    __m512d a[8], b[8];
    for (int i = 0; i < 8; i += 2) {
        a[i] = _mm512_unpacklo_pd(v[i], v[i + 1]);       /* columns 0, 2, 4, 6 */
        a[i + 1] = _mm512_unpackhi_pd(v[i], v[i + 1]);   /* columns 1, 3, 5, 7 */
    }
    for (int o = 0; o < 2; o++) {                        /* even, odd columns */
        b[o] = _mm512_shuffle_f64x2(a[o], a[o + 2], 0x88);
        b[o + 2] = _mm512_shuffle_f64x2(a[o], a[o + 2], 0xdd);
        b[o + 4] = _mm512_shuffle_f64x2(a[o + 4], a[o + 6], 0x88);
        b[o + 6] = _mm512_shuffle_f64x2(a[o + 4], a[o + 6], 0xdd);
    }
    for (int o = 0; o < 2; o++) {
        v[o] = _mm512_shuffle_f64x2(b[o], b[o + 4], 0x88);       /* column 0 / 1 */
        v[o + 4] = _mm512_shuffle_f64x2(b[o], b[o + 4], 0xdd);   /* 4 / 5 */
        v[o + 2] = _mm512_shuffle_f64x2(b[o + 2], b[o + 6], 0x88); /* 2 / 3 */
        v[o + 6] = _mm512_shuffle_f64x2(b[o + 2], b[o + 6], 0xdd); /* 6 / 7 */
    }
}
