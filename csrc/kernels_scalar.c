/* kernels_scalar.c -- the portable kernel set, any CPU.
 *
 * With GCC or Clang (every supported build) the set is a vector set over
 * simd_generic.h: 16-byte vectors in the compute type (float32 computed in
 * float32, with the shared polynomial exp of math_simd.inc), the same bodies
 * as the x86 and NEON sets, compiled at baseline flags so the compiler picks
 * the target's own vector unit (SSE2 on x86-64).  Rows with non-finite
 * values run body_portable.inc (double work type, libm).  Other compilers get
 * the portable body alone: its "vectors" (simd_scalar.h) are one lane of
 * double, which is how body_ce.inc runs there.
 */
#define FS_ISA scalar

#if defined(__GNUC__) && !defined(FS_SCALAR_ONE_LANE)
#define FS_PORTABLE scalar_portable
#include "simd_generic.h"
#else
#define FS_PORTABLE scalar
#include "simd_scalar.h"
#endif
#include "kernel_set.inc"
