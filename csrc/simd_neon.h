/* simd_neon.h -- vector primitives for the NEON (AdvSIMD) kernel set,
 * aarch64 only: 4 float32 / 2 float64 lanes, fused multiply-add, the
 * across-lane reductions of A64 (vmaxvq, vaddvq).  Baseline on every
 * aarch64 CPU, so the set needs no run-time probe.  Uses only what GCC and
 * Apple / LLVM clang both accept from <arm_neon.h>.
 *
 * Same names and contracts as simd_avx2.h.  max / min return the SECOND
 * operand when either is NaN, as on x86 (the bodies rely on that rule: a NaN
 * loaded into a max accumulator is dropped, a NaN clamped by min is kept):
 * NEON's own vmaxq / vminq propagate NaN and vmaxnmq / vminnmq drop it
 * whichever side it is on, so both are a compare and a bit-select here.
 * The exp runs without a table (FS_EXP_LUT_BITS 0, math_simd.inc): its
 * polynomial is FMAs, which these cores issue four per cycle (Apple M,
 * Neoverse V) -- the bodies keep at least two independent chains per loop.
 * Included only by kernels_neon.c.
 */
#include <arm_neon.h>
#include <stdint.h>

#include "fs_names.h"   /* FS_HOT */

#define FS_SIMD_VECTOR 1
/* no non-temporal stores: vstream_* are plain stores, and large outputs take the
   cached paths (the streamed ones would compute exp twice for nothing) */
#define FS_NT_STORES 0
#define FS_VL_f32 4
#define FS_VL_f64 2
typedef float32x4_t vec_f32;
typedef float64x2_t vec_f64;

#define FS_EXP_LUT_BITS 0

/* The primitives' names v<op>_<dtype> (fs_names.h) that <arm_neon.h> already
 * uses for its 64-bit-vector intrinsics are defined as fsn_<op>_<dtype> and
 * reached through these macros (nothing below uses those intrinsics). */
#define vadd_f32 fsn_add_f32
#define vsub_f32 fsn_sub_f32
#define vmul_f32 fsn_mul_f32
#define vdiv_f32 fsn_div_f32
#define vfma_f32 fsn_fma_f32
#define vmax_f32 fsn_max_f32
#define vmin_f32 fsn_min_f32
#define vadd_f64 fsn_add_f64
#define vsub_f64 fsn_sub_f64
#define vmul_f64 fsn_mul_f64
#define vdiv_f64 fsn_div_f64
#define vfma_f64 fsn_fma_f64
#define vmax_f64 fsn_max_f64
#define vmin_f64 fsn_min_f64

static inline void fs_stream_fence(void) {}
static inline void fs_prefetch(const void *p) { __builtin_prefetch(p, 0, 2); }

/* float32 */
static inline vec_f32 vload_f32(const float *p) { return vld1q_f32(p); }
/* partial vectors: n < 4 elements (n >= 4: a whole vector), the rest fill;
 * lane loads and stores, never past the end */
FS_HOT vec_f32 vloadp_f32(const float *p, int64_t n, float fill) {
    if (n >= 4) return vld1q_f32(p);
    vec_f32 v = vdupq_n_f32(fill);
    if (n > 0) v = vld1q_lane_f32(p, v, 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
}
static inline void vstore_f32(float *p, vec_f32 v) { vst1q_f32(p, v); }
FS_HOT void vstorep_f32(float *p, vec_f32 v, int64_t n) {
    if (n >= 4) { vst1q_f32(p, v); return; }
    if (n > 0) vst1q_lane_f32(p, v, 0);
    if (n > 1) vst1q_lane_f32(p + 1, v, 1);
    if (n > 2) vst1q_lane_f32(p + 2, v, 2);
}
static inline void vstream_f32(float *p, vec_f32 v) { vst1q_f32(p, v); }
static inline vec_f32 vset1_f32(float a) { return vdupq_n_f32(a); }
static inline vec_f32 fsn_add_f32(vec_f32 a, vec_f32 b) { return vaddq_f32(a, b); }
static inline vec_f32 fsn_sub_f32(vec_f32 a, vec_f32 b) { return vsubq_f32(a, b); }
static inline vec_f32 fsn_mul_f32(vec_f32 a, vec_f32 b) { return vmulq_f32(a, b); }
static inline vec_f32 fsn_div_f32(vec_f32 a, vec_f32 b) { return vdivq_f32(a, b); }
static inline vec_f32 fsn_fma_f32(vec_f32 a, vec_f32 b, vec_f32 c) { return vfmaq_f32(c, a, b); }
static inline vec_f32 fsn_max_f32(vec_f32 a, vec_f32 b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
static inline vec_f32 fsn_min_f32(vec_f32 a, vec_f32 b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
/* p * 2^n for integral n in [-150, 128]: two exact power-of-two factors */
static inline vec_f32 vscale2n_f32(vec_f32 p, vec_f32 n) {
    int32x4_t ni = vcvtq_s32_f32(n);
    int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    vec_f32 f1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    vec_f32 f2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    return vmulq_f32(vmulq_f32(p, f1), f2);
}
/* p * 2^n for t = 1.5 * 2^23 + 127 + n, normal results only: t's low bits
 * shifted into the exponent field */
static inline vec_f32 vscale2n_fast_f32(vec_f32 p, vec_f32 t, vec_f32 n) {
    (void)n;
    return vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vreinterpretq_s32_f32(t), 23)));
}
static inline vec_f32 viota_f32(void) {
    static const float iota[4] = {0, 1, 2, 3};
    return vld1q_f32(iota);
}
static inline int vany_lt_f32(vec_f32 a, vec_f32 b) { return vmaxvq_u32(vcltq_f32(a, b)) != 0; }
/* the first lane with a == b, VL where none */
static inline int vfirst_eq_f32(vec_f32 a, vec_f32 b) {
    uint32_t k[4];
    vst1q_u32(k, vceqq_f32(a, b));
    for (int i = 0; i < 4; i++)
        if (k[i]) return i;
    return 4;
}
/* e where d != 0 (NaN too), 0 where d == 0; the lanes with d == 0 (the same compare) */
static inline vec_f32 vkeep_nz_f32(vec_f32 e, vec_f32 d) {
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(e), vceqq_f32(d, vdupq_n_f32(0))));
}
/* a tally of the lanes with d != 0 (NaN too): +1 in c's lanes, held as integer bits */
static inline vec_f32 vtally_nz_f32(vec_f32 c, vec_f32 d) {
    return vreinterpretq_f32_u32(vsubq_u32(vreinterpretq_u32_f32(c), vmvnq_u32(vceqq_f32(d, vdupq_n_f32(0)))));
}
static inline int64_t vtally_sum_f32(vec_f32 c) { return (int64_t)vaddvq_u32(vreinterpretq_u32_f32(c)); }
static inline int vany_outside_f32(vec_f32 a, vec_f32 lo, vec_f32 hi) {
    return vmaxvq_u32(vorrq_u32(vcltq_f32(a, lo), vcgtq_f32(a, hi))) != 0;
}
static inline double vhsum_f32(vec_f32 v) {   /* lanes widened to double before adding */
    return vaddvq_f64(vaddq_f64(vcvt_f64_f32(vget_low_f32(v)), vcvt_high_f64_f32(v)));
}
/* butterfly reductions leaving the result in every lane */
static inline vec_f32 vallmax_f32(vec_f32 v) {
    v = fsn_max_f32(v, vextq_f32(v, v, 2));
    return fsn_max_f32(v, vrev64q_f32(v));
}
static inline vec_f32 vallsum_f32(vec_f32 v) {
    v = vaddq_f32(v, vextq_f32(v, v, 2));
    return vaddq_f32(v, vrev64q_f32(v));
}
static inline float vfirst_f32(vec_f32 v) { return vgetq_lane_f32(v, 0); }
static inline float vhmax_f32(vec_f32 v) { return vfirst_f32(vallmax_f32(v)); }
/* a < b ? x : y per lane (false for NaN) */
static inline vec_f32 vselect_lt_f32(vec_f32 a, vec_f32 b, vec_f32 x, vec_f32 y) {
    return vbslq_f32(vcltq_f32(a, b), x, y);
}

/* Half types (storage.h) over the float32 lanes: 4 elements of 2 bytes.  float16
 * converts with fcvtl / fcvtn (exact widening; rounding to nearest even under the
 * default FPCR, NaN kept); bfloat16 widens by a 16-bit shift and rounds to nearest
 * even in integer lanes.  Partial vectors: lane loads and stores. */
static inline uint16x4_t fs_loadp_u16(const uint16_t *p, int64_t n) {   /* n < 4, zero-filled */
    uint16x4_t v = vdup_n_u16(0);
    if (n > 0) v = vld1_lane_u16(p, v, 0);
    if (n > 1) v = vld1_lane_u16(p + 1, v, 1);
    if (n > 2) v = vld1_lane_u16(p + 2, v, 2);
    return v;
}
static inline void fs_storep_u16(uint16_t *p, uint16x4_t h, int64_t n) {   /* n < 4 */
    if (n > 0) vst1_lane_u16(p, h, 0);
    if (n > 1) vst1_lane_u16(p + 1, h, 1);
    if (n > 2) vst1_lane_u16(p + 2, h, 2);
}
static inline vec_f32 fs_fill_tail(vec_f32 v, int64_t n, float fill) {
    const int32_t idx[4] = {0, 1, 2, 3};
    uint32x4_t keep = vcltq_s32(vld1q_s32(idx), vdupq_n_s32((int32_t)n));
    return vbslq_f32(keep, v, vdupq_n_f32(fill));
}
static inline vec_f32 fs_f16_widen(uint16x4_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(h)); }
static inline uint16x4_t fs_f16_round(vec_f32 v) { return vreinterpret_u16_f16(vcvt_f16_f32(v)); }
static inline vec_f32 fs_bf16_widen(uint16x4_t h) { return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); }
/* float32 -> bfloat16, to nearest even; NaN -> quiet NaN of the same sign */
static inline uint16x4_t fs_bf16_round(vec_f32 v) {
    uint32x4_t b = vreinterpretq_u32_f32(v);
    uint32x4_t odd = vandq_u32(vshrq_n_u32(b, 16), vdupq_n_u32(1));
    uint32x4_t r = vaddq_u32(b, vaddq_u32(odd, vdupq_n_u32(0x7fff)));
    uint32x4_t qnan = vorrq_u32(b, vdupq_n_u32(0x400000));
    r = vbslq_u32(vceqq_f32(v, v), r, qnan);
    return vshrn_n_u32(r, 16);
}
/* vload / vloadp / vstore / vstorep / vstream of a half type SFX over its
 * fs_SFX_widen and fs_SFX_round (no non-temporal stores here: vstream stores) */
#define FS_HALF_VEC_OPS(SFX)                                                               \
    static inline vec_f32 vload_##SFX(const uint16_t *p) { return fs_##SFX##_widen(vld1_u16(p)); } \
    FS_HOT vec_f32 vloadp_##SFX(const uint16_t *p, int64_t n, float fill) {               \
        if (n >= 4) return vload_##SFX(p);                                                 \
        return fs_fill_tail(fs_##SFX##_widen(fs_loadp_u16(p, n)), n, fill);               \
    }                                                                                      \
    static inline void vstore_##SFX(uint16_t *p, vec_f32 v) { vst1_u16(p, fs_##SFX##_round(v)); } \
    FS_HOT void vstorep_##SFX(uint16_t *p, vec_f32 v, int64_t n) {                        \
        if (n >= 4) {                                                                      \
            vstore_##SFX(p, v);                                                            \
            return;                                                                        \
        }                                                                                  \
        fs_storep_u16(p, fs_##SFX##_round(v), n);                                          \
    }                                                                                      \
    static inline void vstream_##SFX(uint16_t *p, vec_f32 v) { vstore_##SFX(p, v); }
FS_HALF_VEC_OPS(f16)
FS_HALF_VEC_OPS(bf16)
#undef FS_HALF_VEC_OPS

/* The max and min of the order keys of 16-bit floating-point patterns, as the x86
 * sets' (simd_x86.h says what they are), 16 elements a step */
#define FS_HAVE_KEY_RANGE 1
static inline int16x8_t fs_key16(uint16x8_t u) {
    int16x8_t h = vreinterpretq_s16_u16(u);
    return veorq_s16(h, vandq_s16(vshrq_n_s16(h, 15), vdupq_n_s16(0x7fff)));
}
static inline int64_t vkey_range_u16(const uint16_t *x, int64_t n, int *kmax, int *kmin) {
    int16x8_t hi0 = vdupq_n_s16(INT16_MIN), hi1 = hi0;
    int16x8_t lo0 = vdupq_n_s16(INT16_MAX), lo1 = lo0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int16x8_t a = fs_key16(vld1q_u16(x + i)), b = fs_key16(vld1q_u16(x + i + 8));
        hi0 = vmaxq_s16(hi0, a);
        lo0 = vminq_s16(lo0, a);
        hi1 = vmaxq_s16(hi1, b);
        lo1 = vminq_s16(lo1, b);
    }
    *kmax = vmaxvq_s16(vmaxq_s16(hi0, hi1));
    *kmin = vminvq_s16(vminq_s16(lo0, lo1));
    return i;
}

/* float64 */
static inline vec_f64 vload_f64(const double *p) { return vld1q_f64(p); }
FS_HOT vec_f64 vloadp_f64(const double *p, int64_t n, double fill) {
    if (n >= 2) return vld1q_f64(p);
    vec_f64 v = vdupq_n_f64(fill);
    if (n > 0) v = vld1q_lane_f64(p, v, 0);
    return v;
}
static inline void vstore_f64(double *p, vec_f64 v) { vst1q_f64(p, v); }
FS_HOT void vstorep_f64(double *p, vec_f64 v, int64_t n) {
    if (n >= 2) { vst1q_f64(p, v); return; }
    if (n > 0) vst1q_lane_f64(p, v, 0);
}
static inline void vstream_f64(double *p, vec_f64 v) { vst1q_f64(p, v); }
static inline vec_f64 vset1_f64(double a) { return vdupq_n_f64(a); }
static inline vec_f64 fsn_add_f64(vec_f64 a, vec_f64 b) { return vaddq_f64(a, b); }
static inline vec_f64 fsn_sub_f64(vec_f64 a, vec_f64 b) { return vsubq_f64(a, b); }
static inline vec_f64 fsn_mul_f64(vec_f64 a, vec_f64 b) { return vmulq_f64(a, b); }
static inline vec_f64 fsn_div_f64(vec_f64 a, vec_f64 b) { return vdivq_f64(a, b); }
static inline vec_f64 fsn_fma_f64(vec_f64 a, vec_f64 b, vec_f64 c) { return vfmaq_f64(c, a, b); }
static inline vec_f64 fsn_max_f64(vec_f64 a, vec_f64 b) { return vbslq_f64(vcgtq_f64(a, b), a, b); }
static inline vec_f64 fsn_min_f64(vec_f64 a, vec_f64 b) { return vbslq_f64(vcltq_f64(a, b), a, b); }
/* p * 2^n for integral n in [-1076, 1024] */
static inline vec_f64 vscale2n_f64(vec_f64 p, vec_f64 n) {
    int64x2_t ni = vcvtq_s64_f64(n);
    int64x2_t n1 = vshrq_n_s64(ni, 1), n2 = vsubq_s64(ni, n1);
    vec_f64 f1 = vreinterpretq_f64_s64(vshlq_n_s64(vaddq_s64(n1, vdupq_n_s64(1023)), 52));
    vec_f64 f2 = vreinterpretq_f64_s64(vshlq_n_s64(vaddq_s64(n2, vdupq_n_s64(1023)), 52));
    return vmulq_f64(vmulq_f64(p, f1), f2);
}
/* p * 2^n for t = 1.5 * 2^52 + 1023 + n, normal results only */
static inline vec_f64 vscale2n_fast_f64(vec_f64 p, vec_f64 t, vec_f64 n) {
    (void)n;
    return vmulq_f64(p, vreinterpretq_f64_s64(vshlq_n_s64(vreinterpretq_s64_f64(t), 52)));
}
static inline vec_f64 viota_f64(void) {
    static const double iota[2] = {0, 1};
    return vld1q_f64(iota);
}
static inline int fs_any64(uint64x2_t m) { return vmaxvq_u32(vreinterpretq_u32_u64(m)) != 0; }
static inline int vany_lt_f64(vec_f64 a, vec_f64 b) { return fs_any64(vcltq_f64(a, b)); }
static inline int vfirst_eq_f64(vec_f64 a, vec_f64 b) {
    uint64_t k[2];
    vst1q_u64(k, vceqq_f64(a, b));
    return k[0] ? 0 : k[1] ? 1 : 2;
}
static inline vec_f64 vkeep_nz_f64(vec_f64 e, vec_f64 d) {
    return vreinterpretq_f64_u64(vbicq_u64(vreinterpretq_u64_f64(e), vceqq_f64(d, vdupq_n_f64(0))));
}
static inline vec_f64 vtally_nz_f64(vec_f64 c, vec_f64 d) {
    uint64x2_t nz = vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(vceqq_f64(d, vdupq_n_f64(0)))));
    return vreinterpretq_f64_u64(vsubq_u64(vreinterpretq_u64_f64(c), nz));
}
static inline int64_t vtally_sum_f64(vec_f64 c) { return (int64_t)vaddvq_u64(vreinterpretq_u64_f64(c)); }
static inline int vany_outside_f64(vec_f64 a, vec_f64 lo, vec_f64 hi) {
    return fs_any64(vorrq_u64(vcltq_f64(a, lo), vcgtq_f64(a, hi)));
}
static inline double vhsum_f64(vec_f64 v) { return vaddvq_f64(v); }
static inline vec_f64 vallmax_f64(vec_f64 v) { return fsn_max_f64(v, vextq_f64(v, v, 1)); }
static inline vec_f64 vallsum_f64(vec_f64 v) { return vaddq_f64(v, vextq_f64(v, v, 1)); }
static inline double vfirst_f64(vec_f64 v) { return vgetq_lane_f64(v, 0); }
static inline double vhmax_f64(vec_f64 v) { return vfirst_f64(vallmax_f64(v)); }
static inline vec_f64 vselect_lt_f64(vec_f64 a, vec_f64 b, vec_f64 x, vec_f64 y) {
    return vbslq_f64(vcltq_f64(a, b), x, y);
}
