/* kernels_scalar.c -- the portable kernel set: plain C99, any CPU.
 *
 * Design: see body_portable.inc.  This is the reference-quality path (double
 * work type, compensated sums); it is what non-x86 machines and x86 machines
 * without AVX2 run, and what the vector sets are tested against.  Its
 * "vectors" (simd_scalar.h) are one lane of double, which is how the general
 * cross-entropy kernel (body_ce.inc) runs here.
 */
#define FS_ISA scalar
#define FS_PORTABLE scalar

#include "simd_scalar.h"
#include "kernel_set.inc"
