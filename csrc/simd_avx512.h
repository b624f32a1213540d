/* simd_avx512.h -- vector primitives for the AVX-512 kernel set (F, DQ, BW, VL).
 * Names are v<op>_<dtype>; the bodies reach them through VOP(op).
 * Included only by kernels_avx512.c, after its target pragma. */
#include <immintrin.h>
#include <stdint.h>

#define FS_SIMD_VECTOR 1
#define FS_VL_f32 16
#define FS_VL_f64 8
typedef __m512 vec_f32;
typedef __m512d vec_f64;

static inline __mmask16 fs_k16(int64_t n) { return (__mmask16)((1u << n) - 1u); }
static inline __mmask8 fs_k8(int64_t n) { return (__mmask8)((1u << n) - 1u); }

/* float32 */
static inline vec_f32 vload_f32(const float *p) { return _mm512_loadu_ps(p); }
static inline vec_f32 vloadp_f32(const float *p, int64_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), fs_k16(n), p);
}
static inline void vstore_f32(float *p, vec_f32 v) { _mm512_storeu_ps(p, v); }
static inline void vstorep_f32(float *p, vec_f32 v, int64_t n) { _mm512_mask_storeu_ps(p, fs_k16(n), v); }
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

/* float64 */
static inline vec_f64 vload_f64(const double *p) { return _mm512_loadu_pd(p); }
static inline vec_f64 vloadp_f64(const double *p, int64_t n, double fill) {
    return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), fs_k8(n), p);
}
static inline void vstore_f64(double *p, vec_f64 v) { _mm512_storeu_pd(p, v); }
static inline void vstorep_f64(double *p, vec_f64 v, int64_t n) { _mm512_mask_storeu_pd(p, fs_k8(n), v); }
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
