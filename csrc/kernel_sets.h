/* kernel_sets.h -- internal: the one list of kernel sets.
 *
 * FS_KERNEL_SETS(X) expands X(set, needs) for every set compiled into this
 * build, slowest first: `set` names the set (its table is fs_kernels_<set>,
 * its name string "<set>"), `needs` the CPU features it requires (bits of
 * fs_cpu_features() in dispatch.c).  dispatch.c builds its table of sets
 * from this list (the automatic choice, FASTSOFTMAX_ISA, fs_set_isa,
 * fs_isa_name); Python's available_isas() and the tests iterate
 * fs_isa_name(), so nothing else lists the sets.
 *
 * Adding a set: an entry here (guarded by the FS_HAVE_<SET> macro that
 * setup.py defines where it compiles the set), a primitives header
 * simd_<set>.h, a kernel file kernels_<set>.c, and the set's line in
 * setup.py's KERNEL_SETS; a new CPU feature also gets its bit and probe in
 * dispatch.c.
 */
#ifndef FASTSOFTMAX_KERNEL_SETS_H
#define FASTSOFTMAX_KERNEL_SETS_H

/* CPU feature bits (fs_cpu_features) */
#define FS_CPU_NONE 0
#define FS_CPU_AVX2 1      /* AVX2 + FMA + BMI2 + F16C, YMM state saved by the OS */
#define FS_CPU_AVX512 2    /* AVX-512 F/DQ/BW/VL, ZMM and opmask state saved */
#define FS_CPU_AVX512_BF16 4   /* AVX512_BF16 (vcvtneps2bf16) besides FS_CPU_AVX512 */

/* Whether the avx512 set rounds float32 to bfloat16 with the CPU's vcvtneps2bf16
 * (AVX512_BF16) instead of in integer lanes: set by dispatch.c from the CPU on first
 * use (fs_bf16_rounding changes it); the two give the same bits. */
extern int fs_bf16_hw;
/* whether this compiler can emit that instruction (GNU inline asm on x86) */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FS_BF16_ASM 1
#else
#define FS_BF16_ASM 0
#endif

#ifdef FS_HAVE_AVX2
#define FS_SET_AVX2(X) X(avx2, FS_CPU_AVX2)
#else
#define FS_SET_AVX2(X)
#endif

#ifdef FS_HAVE_AVX512
#define FS_SET_AVX512(X) X(avx512, FS_CPU_AVX2 | FS_CPU_AVX512)
#else
#define FS_SET_AVX512(X)
#endif

/* aarch64: AdvSIMD is baseline, nothing to probe */
#ifdef FS_HAVE_NEON
#define FS_SET_NEON(X) X(neon, FS_CPU_NONE)
#else
#define FS_SET_NEON(X)
#endif

#define FS_KERNEL_SETS(X) \
    X(scalar, FS_CPU_NONE) \
    FS_SET_NEON(X)         \
    FS_SET_AVX2(X)         \
    FS_SET_AVX512(X)

#endif /* FASTSOFTMAX_KERNEL_SETS_H */
