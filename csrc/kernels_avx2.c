/* kernels_avx2.c -- the AVX2 + FMA kernel set, x86-64 only.
 *
 * Design: see body_simd.h (passes over memory, accumulation) and exp_simd.h
 * (exp and its error bound).  The file is compiled at baseline flags; the
 * target pragma below enables AVX2 and FMA for these functions only, and
 * dispatch.c calls them only after cpuid + xgetbv confirm support.
 * Rows with a non-finite max use the portable body, instantiated here under
 * the suffix avx2fb.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,bmi2")
#endif

#include "kernels.h"
#include "simd_avx2.h"

#define FS_FALLBACK avx2fb

#define FS_T float
#define FS_SFX f32
#define FS_IS_F32 1
#define FS_ISA avx2fb
#include "body_scalar.h"
#undef FS_ISA
#define FS_ISA avx2
#include "body_simd.h"
#undef FS_ISA
#undef FS_T
#undef FS_SFX
#undef FS_IS_F32

#define FS_T double
#define FS_SFX f64
#define FS_IS_F32 0
#define FS_ISA avx2fb
#include "body_scalar.h"
#undef FS_ISA
#define FS_ISA avx2
#include "body_simd.h"
#undef FS_ISA
#undef FS_T
#undef FS_SFX
#undef FS_IS_F32

const fs_kernel_table fs_kernels_avx2 = {
    .name = "avx2",
    FS_TABLE_ENTRIES(avx2, f32)
    FS_TABLE_ENTRIES(avx2, f64)
};

#if defined(__clang__)
#pragma clang attribute pop
#endif
