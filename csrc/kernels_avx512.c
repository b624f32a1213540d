/* kernels_avx512.c -- the AVX-512 (F/DQ/BW/VL) kernel set, x86-64 only.
 *
 * Design: see body_simd.inc (passes over memory, accumulation) and
 * math_simd.inc (exp and its error bound).  The file is compiled at baseline
 * flags; the target pragma below enables AVX-512 for these functions only,
 * and dispatch.c calls them only after cpuid + xgetbv confirm support.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi2,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi2,f16c")
#endif

#define FS_ISA avx512
#define FS_PORTABLE avx512_portable

#include "simd_avx512.h"
#include "kernel_set.inc"

#if defined(__clang__)
#pragma clang attribute pop
#endif
