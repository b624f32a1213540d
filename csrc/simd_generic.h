/* simd_generic.h -- the portable set's vector primitives: 16-byte vectors
 * (4 float32 / 2 float64 lanes) written with GCC / Clang vector extensions,
 * which every target of those compilers lowers to its own vector unit (SSE2
 * on x86-64 at baseline flags, VSX, z/Vector, RVV, ...) or to scalar code.
 *
 * Same names and contracts as simd_avx2.h: max / min return the SECOND
 * operand when either is NaN (the bodies rely on x86's rule: SSE2's own
 * maxps / minps on x86-64, a compare and select elsewhere), comparisons are
 * false for NaN.  No fused multiply-add is assumed: vfma is a * b + c
 * rounded twice unless the target contracts it (the exp's reduction and
 * polynomial are chosen to keep their bound either way; tests/test_exp.py).
 * The exp runs without a table (FS_EXP_LUT_BITS 0, math_simd.inc).
 * Included only by kernels_scalar.c, when the compiler has vector extensions
 * (simd_scalar.h otherwise).
 */
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>   /* x86-64's baseline: max, min and sign masks in one instruction */
#endif

#include "fs_names.h"   /* FS_HOT */
#include "storage.h"    /* the half types' conversions */

#define FS_SIMD_VECTOR 1
/* no non-temporal stores: vstream_* are plain stores, and large outputs take the
   cached paths (the streamed ones would compute exp twice for nothing) */
#define FS_NT_STORES 0
#define FS_VL_f32 4
#define FS_VL_f64 2
typedef float vec_f32 __attribute__((vector_size(16)));
typedef double vec_f64 __attribute__((vector_size(16)));
typedef int32_t fs_v4i __attribute__((vector_size(16)));
typedef int64_t fs_v2l __attribute__((vector_size(16)));

#define FS_EXP_LUT_BITS 0

/* m ? x : y per lane, m a comparison result (all ones or zero) */
static inline vec_f32 fs_sel4(fs_v4i m, vec_f32 x, vec_f32 y) {
    return (vec_f32)((m & (fs_v4i)x) | (~m & (fs_v4i)y));
}
static inline vec_f64 fs_sel2(fs_v2l m, vec_f64 x, vec_f64 y) {
    return (vec_f64)((m & (fs_v2l)x) | (~m & (fs_v2l)y));
}

static inline void fs_stream_fence(void) {}
static inline void fs_prefetch(const void *p) { __builtin_prefetch(p, 0, 2); }

/* float32 */
static inline vec_f32 vload_f32(const float *p) {
    vec_f32 v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* partial vectors: n < 4 elements (n >= 4: a whole vector), the rest fill */
FS_HOT vec_f32 vloadp_f32(const float *p, int64_t n, float fill) {
    if (n >= 4) return vload_f32(p);
    vec_f32 v = {fill, fill, fill, fill};
    for (int64_t i = 0; i < n; i++) v[i] = p[i];
    return v;
}
static inline void vstore_f32(float *p, vec_f32 v) { memcpy(p, &v, sizeof v); }
FS_HOT void vstorep_f32(float *p, vec_f32 v, int64_t n) {
    if (n >= 4) { vstore_f32(p, v); return; }
    for (int64_t i = 0; i < n; i++) p[i] = v[i];
}
static inline void vstream_f32(float *p, vec_f32 v) { vstore_f32(p, v); }
static inline vec_f32 vset1_f32(float a) { return (vec_f32){a, a, a, a}; }
static inline vec_f32 vadd_f32(vec_f32 a, vec_f32 b) { return a + b; }
static inline vec_f32 vsub_f32(vec_f32 a, vec_f32 b) { return a - b; }
static inline vec_f32 vmul_f32(vec_f32 a, vec_f32 b) { return a * b; }
static inline vec_f32 vdiv_f32(vec_f32 a, vec_f32 b) { return a / b; }
static inline vec_f32 vfma_f32(vec_f32 a, vec_f32 b, vec_f32 c) { return a * b + c; }
#if defined(__SSE2__)
static inline vec_f32 vmax_f32(vec_f32 a, vec_f32 b) { return (vec_f32)_mm_max_ps((__m128)a, (__m128)b); }
static inline vec_f32 vmin_f32(vec_f32 a, vec_f32 b) { return (vec_f32)_mm_min_ps((__m128)a, (__m128)b); }
static inline int fs_any4(fs_v4i m) { return _mm_movemask_ps((__m128)m) != 0; }
#else
static inline vec_f32 vmax_f32(vec_f32 a, vec_f32 b) { return fs_sel4(a > b, a, b); }
static inline vec_f32 vmin_f32(vec_f32 a, vec_f32 b) { return fs_sel4(a < b, a, b); }
static inline int fs_any4(fs_v4i m) { return (m[0] | m[1] | m[2] | m[3]) != 0; }
#endif
/* p * 2^n for integral n in [-150, 128]: two exact power-of-two factors */
static inline vec_f32 vscale2n_f32(vec_f32 p, vec_f32 n) {
    fs_v4i ni = __builtin_convertvector(n, fs_v4i);
    fs_v4i n1 = ni >> 1, n2 = ni - n1;
    vec_f32 f1 = (vec_f32)((n1 + 127) << 23), f2 = (vec_f32)((n2 + 127) << 23);
    return p * f1 * f2;
}
/* p * 2^n for t = 1.5 * 2^23 + 127 + n, normal results only: t's low bits
 * shifted into the exponent field */
static inline vec_f32 vscale2n_fast_f32(vec_f32 p, vec_f32 t, vec_f32 n) {
    (void)n;
    return p * (vec_f32)((fs_v4i)t << 23);
}
static inline vec_f32 viota_f32(void) { return (vec_f32){0, 1, 2, 3}; }
static inline int vany_lt_f32(vec_f32 a, vec_f32 b) {
    return fs_any4(a < b);
}
/* the first lane with a == b, VL where none */
static inline int vfirst_eq_f32(vec_f32 a, vec_f32 b) {
    for (int k = 0; k < 4; k++)
        if (a[k] == b[k]) return k;
    return 4;
}
/* e where d != 0 (NaN too), 0 where d == 0; the lanes with d == 0 */
static inline vec_f32 vkeep_nz_f32(vec_f32 e, vec_f32 d) {
    return fs_sel4(d == (vec_f32){0, 0, 0, 0}, (vec_f32){0, 0, 0, 0}, e);
}
/* a tally of the lanes with d != 0 (NaN too): +1 in c's lanes, held as integer bits */
static inline vec_f32 vtally_nz_f32(vec_f32 c, vec_f32 d) {
    return (vec_f32)((fs_v4i)c - (fs_v4i)(d != (vec_f32){0, 0, 0, 0}));
}
static inline int64_t vtally_sum_f32(vec_f32 c) {
    fs_v4i i = (fs_v4i)c;
    return (int64_t)i[0] + i[1] + i[2] + i[3];
}
static inline int vany_outside_f32(vec_f32 a, vec_f32 lo, vec_f32 hi) {
    return fs_any4((a < lo) | (a > hi));
}
static inline double vhsum_f32(vec_f32 v) {   /* lanes widened to double before adding */
    return ((double)v[0] + (double)v[2]) + ((double)v[1] + (double)v[3]);
}
static inline float vhmax_f32(vec_f32 v) {
    float a = v[1] > v[0] ? v[1] : v[0], b = v[3] > v[2] ? v[3] : v[2];
    return b > a ? b : a;
}
/* butterfly reductions leaving the result in every lane */
static inline vec_f32 vallmax_f32(vec_f32 v) {
    v = vmax_f32(v, (vec_f32){v[2], v[3], v[0], v[1]});
    return vmax_f32(v, (vec_f32){v[1], v[0], v[3], v[2]});
}
static inline vec_f32 vallsum_f32(vec_f32 v) {
    v = v + (vec_f32){v[2], v[3], v[0], v[1]};
    return v + (vec_f32){v[1], v[0], v[3], v[2]};
}
static inline float vfirst_f32(vec_f32 v) { return v[0]; }
/* a < b ? x : y per lane (false for NaN) */
static inline vec_f32 vselect_lt_f32(vec_f32 a, vec_f32 b, vec_f32 x, vec_f32 y) { return fs_sel4(a < b, x, y); }

/* Half types (storage.h) over the float32 lanes: each element converted on its
 * own by storage.h's exact widening and single rounding. */
#define FS_HALF_LANES(SFX, WIDEN, PUT)                                              \
    static inline vec_f32 vload_##SFX(const uint16_t *p) {                          \
        return (vec_f32){WIDEN(p[0]), WIDEN(p[1]), WIDEN(p[2]), WIDEN(p[3])};       \
    }                                                                               \
    FS_HOT vec_f32 vloadp_##SFX(const uint16_t *p, int64_t n, float fill) {         \
        if (n >= 4) return vload_##SFX(p);                                          \
        vec_f32 v = {fill, fill, fill, fill};                                       \
        for (int64_t i = 0; i < n; i++) v[i] = WIDEN(p[i]);                         \
        return v;                                                                   \
    }                                                                               \
    static inline void vstore_##SFX(uint16_t *p, vec_f32 v) {                       \
        for (int i = 0; i < 4; i++) PUT(p + i, (double)v[i]);                       \
    }                                                                               \
    FS_HOT void vstorep_##SFX(uint16_t *p, vec_f32 v, int64_t n) {                  \
        for (int64_t i = 0; i < (n < 4 ? n : 4); i++) PUT(p + i, (double)v[i]);     \
    }                                                                               \
    static inline void vstream_##SFX(uint16_t *p, vec_f32 v) { vstore_##SFX(p, v); }
FS_HALF_LANES(f16, fs_f16_to_f32, fs_put_f16)
FS_HALF_LANES(bf16, fs_bf16_to_f32, fs_put_bf16)
#undef FS_HALF_LANES

/* float64 */
static inline vec_f64 vload_f64(const double *p) {
    vec_f64 v;
    memcpy(&v, p, sizeof v);
    return v;
}
FS_HOT vec_f64 vloadp_f64(const double *p, int64_t n, double fill) {
    if (n >= 2) return vload_f64(p);
    return (vec_f64){n > 0 ? p[0] : fill, fill};
}
static inline void vstore_f64(double *p, vec_f64 v) { memcpy(p, &v, sizeof v); }
FS_HOT void vstorep_f64(double *p, vec_f64 v, int64_t n) {
    if (n >= 2) { vstore_f64(p, v); return; }
    if (n > 0) p[0] = v[0];
}
static inline void vstream_f64(double *p, vec_f64 v) { vstore_f64(p, v); }
static inline vec_f64 vset1_f64(double a) { return (vec_f64){a, a}; }
static inline vec_f64 vadd_f64(vec_f64 a, vec_f64 b) { return a + b; }
static inline vec_f64 vsub_f64(vec_f64 a, vec_f64 b) { return a - b; }
static inline vec_f64 vmul_f64(vec_f64 a, vec_f64 b) { return a * b; }
static inline vec_f64 vdiv_f64(vec_f64 a, vec_f64 b) { return a / b; }
static inline vec_f64 vfma_f64(vec_f64 a, vec_f64 b, vec_f64 c) { return a * b + c; }
#if defined(__SSE2__)
static inline vec_f64 vmax_f64(vec_f64 a, vec_f64 b) { return (vec_f64)_mm_max_pd((__m128d)a, (__m128d)b); }
static inline vec_f64 vmin_f64(vec_f64 a, vec_f64 b) { return (vec_f64)_mm_min_pd((__m128d)a, (__m128d)b); }
static inline int fs_any2(fs_v2l m) { return _mm_movemask_pd((__m128d)m) != 0; }
#else
static inline vec_f64 vmax_f64(vec_f64 a, vec_f64 b) { return fs_sel2(a > b, a, b); }
static inline vec_f64 vmin_f64(vec_f64 a, vec_f64 b) { return fs_sel2(a < b, a, b); }
static inline int fs_any2(fs_v2l m) { return (m[0] | m[1]) != 0; }
#endif
/* p * 2^n for integral n in [-1076, 1024] (the whole-range exp's cold path) */
static inline vec_f64 vscale2n_f64(vec_f64 p, vec_f64 n) {
    fs_v2l ni = __builtin_convertvector(n, fs_v2l);
    fs_v2l n1 = ni >> 1, n2 = ni - n1;
    vec_f64 f1 = (vec_f64)((n1 + 1023) << 52), f2 = (vec_f64)((n2 + 1023) << 52);
    return p * f1 * f2;
}
/* p * 2^n for t = 1.5 * 2^52 + 1023 + n, normal results only */
static inline vec_f64 vscale2n_fast_f64(vec_f64 p, vec_f64 t, vec_f64 n) {
    (void)n;
    return p * (vec_f64)((fs_v2l)t << 52);
}
static inline vec_f64 viota_f64(void) { return (vec_f64){0, 1}; }
static inline int vany_lt_f64(vec_f64 a, vec_f64 b) {
    return fs_any2(a < b);
}
static inline int vfirst_eq_f64(vec_f64 a, vec_f64 b) {
    for (int k = 0; k < 2; k++)
        if (a[k] == b[k]) return k;
    return 2;
}
static inline vec_f64 vkeep_nz_f64(vec_f64 e, vec_f64 d) {
    return fs_sel2(d == (vec_f64){0, 0}, (vec_f64){0, 0}, e);
}
static inline vec_f64 vtally_nz_f64(vec_f64 c, vec_f64 d) {
    return (vec_f64)((fs_v2l)c - (fs_v2l)(d != (vec_f64){0, 0}));
}
static inline int64_t vtally_sum_f64(vec_f64 c) {
    fs_v2l i = (fs_v2l)c;
    return i[0] + i[1];
}
static inline int vany_outside_f64(vec_f64 a, vec_f64 lo, vec_f64 hi) {
    return fs_any2((a < lo) | (a > hi));
}
static inline double vhsum_f64(vec_f64 v) { return v[0] + v[1]; }
static inline double vhmax_f64(vec_f64 v) { return v[1] > v[0] ? v[1] : v[0]; }
static inline vec_f64 vallmax_f64(vec_f64 v) { return vmax_f64(v, (vec_f64){v[1], v[0]}); }
static inline vec_f64 vallsum_f64(vec_f64 v) { return v + (vec_f64){v[1], v[0]}; }
static inline double vfirst_f64(vec_f64 v) { return v[0]; }
static inline vec_f64 vselect_lt_f64(vec_f64 a, vec_f64 b, vec_f64 x, vec_f64 y) { return fs_sel2(a < b, x, y); }
