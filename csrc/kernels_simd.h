/* kernels_simd.h -- instantiates one SIMD kernel set for both dtypes.
 *
 * Included by kernels_<isa>.c after its target pragma and its simd_<isa>.h,
 * with FS_SIMD_ISA (identifier suffix, e.g. avx512) and FS_FALLBACK (the
 * suffix of the portable body compiled alongside, for non-finite rows).
 * Defines the table fs_kernels_<FS_SIMD_ISA>.
 */
#include "kernels.h"

#define FS_XCAT_(a, b) a##b
#define FS_XCAT(a, b) FS_XCAT_(a, b)
#define FS_XSTR_(a) #a
#define FS_XSTR(a) FS_XSTR_(a)
#define FS_TABLE_ENTRIES_X(ISA, SFX) FS_TABLE_ENTRIES(ISA, SFX)

#define FS_T float
#define FS_SFX f32
#define FS_IS_F32 1
#include "body_simd.h"
#undef FS_T
#undef FS_SFX
#undef FS_IS_F32

#define FS_T double
#define FS_SFX f64
#define FS_IS_F32 0
#include "body_simd.h"
#undef FS_T
#undef FS_SFX
#undef FS_IS_F32

const fs_kernel_table FS_XCAT(fs_kernels_, FS_SIMD_ISA) = {
    .name = FS_XSTR(FS_SIMD_ISA),
    FS_TABLE_ENTRIES_X(FS_SIMD_ISA, f32)
    FS_TABLE_ENTRIES_X(FS_SIMD_ISA, f64)
};
