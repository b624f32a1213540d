/* kernels_scalar.c -- the portable kernel set: plain C99, any CPU.
 *
 * Design: see body_scalar.h.  This is the reference-quality path (double
 * work type, compensated sums); it is what non-x86 machines and x86 machines
 * without AVX2 run, and what the SIMD sets are tested against.
 */
#include "kernels.h"

#define FS_ISA scalar
#define FS_CE_PORTABLE 1

#define FS_T float
#define FS_SFX f32
#include "body_scalar.h"
#include "body_ce.h"
#undef FS_T
#undef FS_SFX

#define FS_T double
#define FS_SFX f64
#include "body_scalar.h"
#include "body_ce.h"
#undef FS_T
#undef FS_SFX

const fs_kernel_table fs_kernels_scalar = {
    .name = "scalar",
    FS_TABLE_ENTRIES(scalar, f32)
    FS_TABLE_ENTRIES(scalar, f64)
};
