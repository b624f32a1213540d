/* simd_scalar.h -- the portable set's "vector" primitives: one lane of double
 * for both dtypes, with libm's elementary functions.
 *
 * Same names and contracts as simd_avx2.h / simd_avx512.h, so a body written
 * over VOP primitives (body_ce.inc) runs here unchanged, computing in double:
 * loads widen the stored value, stores round once.  The arithmetic is one
 * function per operation whichever the dtype; only loads and stores know the
 * storage type.  The portable row kernels themselves (body_portable.inc) are
 * plain C over doubles.  Included only by kernels_scalar.c.
 */
#include <math.h>
#include <stdint.h>

#include "storage.h"   /* the half types' conversions */

#define FS_SIMD_VECTOR 0
#define FS_VL_f32 1
#define FS_VL_f64 1
typedef double vec_f32;
typedef double vec_f64;

/* loads and stores: the storage type's value, widened / rounded once */
static inline double vload_f32(const float *p) { return (double)*p; }
static inline double vload_f64(const double *p) { return *p; }
static inline double vloadp_f32(const float *p, int64_t n, double fill) { return n > 0 ? (double)*p : fill; }
static inline double vloadp_f64(const double *p, int64_t n, double fill) { return n > 0 ? *p : fill; }
static inline void vstore_f32(float *p, double v) { *p = (float)v; }
static inline void vstore_f64(double *p, double v) { *p = v; }
static inline void vstorep_f32(float *p, double v, int64_t n) { if (n > 0) *p = (float)v; }
static inline void vstorep_f64(double *p, double v, int64_t n) { if (n > 0) *p = v; }
/* the half types (storage.h): exact widening, one rounding from double */
static inline double vload_f16(const uint16_t *p) { return fs_get_f16(p); }
static inline double vload_bf16(const uint16_t *p) { return fs_get_bf16(p); }
static inline double vloadp_f16(const uint16_t *p, int64_t n, double fill) { return n > 0 ? fs_get_f16(p) : fill; }
static inline double vloadp_bf16(const uint16_t *p, int64_t n, double fill) { return n > 0 ? fs_get_bf16(p) : fill; }
static inline void vstore_f16(uint16_t *p, double v) { fs_put_f16(p, v); }
static inline void vstore_bf16(uint16_t *p, double v) { fs_put_bf16(p, v); }
static inline void vstorep_f16(uint16_t *p, double v, int64_t n) { if (n > 0) fs_put_f16(p, v); }
static inline void vstorep_bf16(uint16_t *p, double v, int64_t n) { if (n > 0) fs_put_bf16(p, v); }

/* arithmetic in double, shared by both dtypes */
static inline double fs1_set1(double a) { return a; }
static inline double fs1_add(double a, double b) { return a + b; }
static inline double fs1_sub(double a, double b) { return a - b; }
static inline double fs1_mul(double a, double b) { return a * b; }
static inline double fs1_div(double a, double b) { return a / b; }
/* a * b + c rounded twice, as plain C is at baseline flags */
static inline double fs1_fma(double a, double b, double c) { return a * b + c; }
/* the SECOND operand when either is NaN, as on x86 */
static inline double fs1_max(double a, double b) { return a > b ? a : b; }
static inline double fs1_min(double a, double b) { return a < b ? a : b; }
static inline double fs1_hsum(double a) { return a; }
static inline double fs1_hmax(double a) { return a; }
/* a < b ? x : y (false for NaN) */
static inline double fs1_select_lt(double a, double b, double x, double y) { return a < b ? x : y; }
static inline double fs1_exp(double a) { return exp(a); }
/* exp(x - m) for output (lo: see math_simd.inc): for float32 data the shift is exact in double */
static inline double fs1_exp_out(double x, double m, double negm, double lo) {
    (void)negm;
    (void)lo;
    return exp(x - m);
}
static inline double fs1_tanh(double a) { return tanh(a); }

#define vset1_f32 fs1_set1
#define vset1_f64 fs1_set1
#define vadd_f32 fs1_add
#define vadd_f64 fs1_add
#define vsub_f32 fs1_sub
#define vsub_f64 fs1_sub
#define vmul_f32 fs1_mul
#define vmul_f64 fs1_mul
#define vdiv_f32 fs1_div
#define vdiv_f64 fs1_div
#define vfma_f32 fs1_fma
#define vfma_f64 fs1_fma
#define vmax_f32 fs1_max
#define vmax_f64 fs1_max
#define vmin_f32 fs1_min
#define vmin_f64 fs1_min
#define vhsum_f32 fs1_hsum
#define vhsum_f64 fs1_hsum
#define vhmax_f32 fs1_hmax
#define vhmax_f64 fs1_hmax
#define vselect_lt_f32 fs1_select_lt
#define vselect_lt_f64 fs1_select_lt
#define vexp_f32 fs1_exp
#define vexp_f64 fs1_exp
#define vexp_out_f32 fs1_exp_out
#define vexp_out_f64 fs1_exp_out
#define vtanh_f32 fs1_tanh
#define vtanh_f64 fs1_tanh
