/* kernels_avx512.c -- the AVX-512 (F/DQ/BW/VL) kernel set, x86-64 only.
 *
 * Design: see body_simd.h (passes over memory, accumulation) and exp_simd.h
 * (exp and its error bound).  The file is compiled at baseline flags; the
 * target pragma below enables AVX-512 for these functions only, and
 * dispatch.c calls them only after cpuid + xgetbv confirm support.
 * Rows with a non-finite max use the portable body, instantiated here under
 * the suffix avx512fb.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi2"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi2")
#endif

#include "kernels.h"
#include "simd_avx512.h"

#define FS_FALLBACK avx512fb

#define FS_T float
#define FS_SFX f32
#define FS_IS_F32 1
#define FS_ISA avx512fb
#include "body_scalar.h"
#undef FS_ISA
#define FS_ISA avx512
#include "body_simd.h"
#undef FS_ISA
#undef FS_T
#undef FS_SFX
#undef FS_IS_F32

#define FS_T double
#define FS_SFX f64
#define FS_IS_F32 0
#define FS_ISA avx512fb
#include "body_scalar.h"
#undef FS_ISA
#define FS_ISA avx512
#include "body_simd.h"
#undef FS_ISA
#undef FS_T
#undef FS_SFX
#undef FS_IS_F32

const fs_kernel_table fs_kernels_avx512 = {
    .name = "avx512",
    FS_TABLE_ENTRIES(avx512, f32)
    FS_TABLE_ENTRIES(avx512, f64)
};

#if defined(__clang__)
#pragma clang attribute pop
#endif
