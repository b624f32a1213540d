/* kernels_avx2.c -- the AVX2 + FMA kernel set, x86-64 only.
 *
 * Design: see body_simd.inc (passes over memory, accumulation) and
 * math_simd.inc (exp and its error bound).  The file is compiled at baseline
 * flags; the target pragma below enables AVX2 and FMA for these functions
 * only, and dispatch.c calls them only after cpuid + xgetbv confirm support.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,bmi2,f16c")
#endif

#define FS_ISA avx2
#define FS_PORTABLE avx2_portable

#include "simd_avx2.h"
#include "kernel_set.inc"

#if defined(__clang__)
#pragma clang attribute pop
#endif
