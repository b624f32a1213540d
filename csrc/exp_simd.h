/* exp_simd.h -- vectorised exp, written once over the VOP primitives and
 * instantiated per ISA and dtype by body_simd.h (FS_T, FS_SFX, VOP, vec).
 *
 * Algorithm: x = n*ln2 + r with n = round(x / ln2), |r| <= ln2/2; r is formed
 * with a two-constant (Cody-Waite) ln2 through FMAs, which is exact for the
 * |n| that can occur.  exp(r) by a polynomial, then the IEEE scaling p * 2^n
 * (scalef on AVX-512; two exact power-of-two factors on AVX2), which rounds
 * subnormal results once and overflows to +inf.
 *   float32: exp(r) = 1 + r + r^2 * P5(r), the Cephes expf minimax coefficients.
 *   float64: exp(r) = 1 + r + r^2 * T11(r), Taylor to degree 13 (truncation
 *            < 5e-18 on |r| <= ln2/2).
 * Error bound (asserted by tests/test_exp.py over a dense sweep of the whole
 * finite range and the special values): <= 2 ulp for float32 and float64
 * for normal results; results below the smallest normal are within 1 ulp of
 * the subnormal grid.  x below the underflow threshold gives exactly +0
 * (-inf included), x above the overflow threshold gives +inf, NaN gives NaN.
 * Inputs are clamped first with the argument SECOND in max/min, which keeps
 * NaN (x86 max/min return the second operand when either is NaN).
 */
#if FS_IS_F32
static inline vec FS_FN(vexp)(vec x) {
    x = VOP(max)(VOP(set1)(-104.0f), x);   /* exp(-104) < half the least subnormal: 0 */
    x = VOP(min)(VOP(set1)(89.0f), x);     /* exp(89) > FLT_MAX: +inf */
    vec n = VOP(round)(VOP(mul)(x, VOP(set1)(1.44269504088896341f)));
    vec r = VOP(fma)(n, VOP(set1)(-0.693359375f), x);
    r = VOP(fma)(n, VOP(set1)(2.12194440e-4f), r);
    vec p = VOP(set1)(1.9875691500e-4f);
    p = VOP(fma)(p, r, VOP(set1)(1.3981999507e-3f));
    p = VOP(fma)(p, r, VOP(set1)(8.3334519073e-3f));
    p = VOP(fma)(p, r, VOP(set1)(4.1665795894e-2f));
    p = VOP(fma)(p, r, VOP(set1)(1.6666665459e-1f));
    p = VOP(fma)(p, r, VOP(set1)(5.0000001201e-1f));
    p = VOP(fma)(p, VOP(mul)(r, r), r);
    p = VOP(add)(p, VOP(set1)(1.0f));
    return VOP(scale2n)(p, n);
}
#else
static inline vec FS_FN(vexp)(vec x) {
    x = VOP(max)(VOP(set1)(-746.0), x);    /* exp(-746) < half the least subnormal: 0 */
    x = VOP(min)(VOP(set1)(710.0), x);     /* exp(710) > DBL_MAX: +inf */
    vec n = VOP(round)(VOP(mul)(x, VOP(set1)(1.4426950408889634074)));
    vec r = VOP(fma)(n, VOP(set1)(-6.93147180369123816490e-01), x);
    r = VOP(fma)(n, VOP(set1)(-1.90821492927058770002e-10), r);
    vec p = VOP(set1)(1.0 / 6227020800.0);          /* 1/13! */
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 479001600.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 39916800.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 3628800.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 362880.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 40320.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 5040.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 720.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 120.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 24.0));
    p = VOP(fma)(p, r, VOP(set1)(1.0 / 6.0));
    p = VOP(fma)(p, r, VOP(set1)(0.5));
    p = VOP(fma)(p, VOP(mul)(r, r), r);
    p = VOP(add)(p, VOP(set1)(1.0));
    return VOP(scale2n)(p, n);
}
#endif
