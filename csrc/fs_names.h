/* fs_names.h -- internal: the one place where kernel names are built.
 *
 * A kernel set's functions are compiled once per dtype from shared bodies
 * (*.inc), so their names are pasted from three parts, <op>_<set>_<dtype>:
 *
 *   FS_FN(op)    op_<FS_ISA>_<FS_SFX>       the set's own kernels: body_simd.inc and
 *                                            body_ce.inc in a vector set, body_portable.inc
 *                                            and body_ce.inc in the portable set
 *   FS_PFN(op)   op_<FS_PORTABLE>_<FS_SFX>  the portable body as compiled into this file:
 *                                            FS_PORTABLE is FS_ISA in the portable set, and
 *                                            <set>_portable in a vector set, which compiles
 *                                            it alongside for rows with non-finite values
 *   FS_TAB(f)    f_<FS_SFX>                 a field of fs_kernel_table (kernels.h)
 *   FS_D(name)   name_<FS_SFX>              a public entry point or driver helper (driver.inc)
 *
 * Storage type apart from compute type.  FS_T is the element type in memory
 * and FS_SFX its suffix (f32, f64; a half type would be one more); FS_CT is
 * the scalar type the vector lanes compute in and FS_CSFX its suffix.  The
 * bodies touch memory only through the storage primitives, and compute only
 * through the compute ones, so a new storage type over an existing compute
 * type is new primitives, not a new body:
 *
 *   FS_LOAD(p), FS_LOADP(p, n, fill)   vload_<FS_SFX>, vloadp_<FS_SFX>: FS_T elements
 *                                      into a compute vector (partial: n lanes, the
 *                                      rest `fill`)
 *   FS_STORE(p, v), FS_STOREP(p, v, n) vstore_<FS_SFX>, vstorep_<FS_SFX>: rounded once
 *   FS_GET(p), FS_PUT(p, v)            fs_get_<FS_SFX>, fs_put_<FS_SFX>: one element as a
 *                                      double, and a double rounded once into one (storage.h)
 *   VOP(op)      v<op>_<FS_CSFX>       an arithmetic primitive of the set (simd_<set>.h),
 *                                      or an elementary function over them (math_simd.inc);
 *                                      VOP(load) / VOP(store) move compute-type scratch
 *   vec, VL      vec_<FS_CSFX>, FS_VL_<FS_CSFX>   the compute vector type and lane count
 *
 * Who defines the parts: kernels_<set>.c defines FS_ISA and FS_PORTABLE once,
 * at its top; kernel_set.inc defines FS_CT / FS_CSFX / FS_IS_F32 around each
 * compute type and FS_T / FS_SFX around each storage type over it; dispatch.c
 * defines FS_T / FS_SFX around each inclusion of driver.inc.  Nothing else
 * defines or redefines them.  docs/architecture.md lists every name and its
 * source.
 */
#ifndef FASTSOFTMAX_NAMES_H
#define FASTSOFTMAX_NAMES_H

#define FS_PASTE2_(a, b) a##_##b
#define FS_PASTE2(a, b) FS_PASTE2_(a, b)
#define FS_PASTE3_(a, b, c) a##_##b##_##c
#define FS_PASTE3(a, b, c) FS_PASTE3_(a, b, c)
#define FS_STR_(a) #a
#define FS_STR(a) FS_STR_(a)

#define FS_FN(op) FS_PASTE3(op, FS_ISA, FS_SFX)
#define FS_PFN(op) FS_PASTE3(op, FS_PORTABLE, FS_SFX)
#define VOP(op) FS_PASTE2(v##op, FS_CSFX)
#define vec FS_PASTE2(vec, FS_CSFX)
#define VL FS_PASTE2(FS_VL, FS_CSFX)
#define FS_LOAD(p) FS_PASTE2(vload, FS_SFX)(p)
#define FS_LOADP(p, n, fill) FS_PASTE2(vloadp, FS_SFX)(p, n, fill)
#define FS_STORE(p, v) FS_PASTE2(vstore, FS_SFX)(p, v)
#define FS_STOREP(p, v, n) FS_PASTE2(vstorep, FS_SFX)(p, v, n)
/* non-temporal store of a whole vector, vector-aligned p (vector sets) */
#define FS_STREAM(p, v) FS_PASTE2(vstream, FS_SFX)(p, v)
#define FS_GET(p) FS_PASTE2(fs_get, FS_SFX)(p)
#define FS_PUT(p, v) FS_PASTE2(fs_put, FS_SFX)(p, v)
#define FS_TAB(field) FS_PASTE2(field, FS_SFX)
#define FS_D(name) FS_PASTE2(name, FS_SFX)
/* whether the storage type is narrower than the compute type (a half type over
 * float32): a value stored and read back is then rounded, so the bodies keep
 * intermediate values (unnormalised exps) in compute-typed scratch or registers */
#define FS_NARROW (sizeof(FS_T) < sizeof(FS_CT))

/* The kernel table of a set: fs_kernels_<set>. */
#define FS_TABLE_OF(set) FS_PASTE2(fs_kernels, set)

/* Static functions a body defines but some instantiations leave unused. */
#if defined(__GNUC__)
#define FS_UNUSED __attribute__((unused))
#else
#define FS_UNUSED
#endif

/* Hot vector helpers are inlined whatever the compiler's size heuristics say
 * (an outlined helper taking vector arguments also left the upper vector
 * state dirty before libm calls: SSE/AVX transition stalls); their rare slow
 * paths are kept out of line. */
#if defined(__GNUC__)
#define FS_HOT static inline __attribute__((always_inline))
#define FS_COLD static __attribute__((noinline, unused))
#else
#define FS_HOT static inline
#define FS_COLD static
#endif

#endif /* FASTSOFTMAX_NAMES_H */
