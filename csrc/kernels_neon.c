/* kernels_neon.c -- the NEON (AdvSIMD) kernel set, aarch64 only.
 *
 * Design: see body_simd.inc (passes over memory, accumulation) and
 * math_simd.inc (exp and its error bound).  AdvSIMD with double-precision
 * lanes is baseline on aarch64, so the file needs no target attribute and
 * the set no run-time probe: it is the default on every aarch64 CPU (Apple
 * M-series, AWS Graviton, Ampere, Raspberry Pi 4/5).
 */
#define FS_ISA neon
#define FS_PORTABLE neon_portable

#include "simd_neon.h"
#include "kernel_set.inc"
