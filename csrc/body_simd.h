/* body_simd.h -- the SIMD algorithm body, included by kernels_simd.h once
 * per dtype with FS_T, FS_SFX, FS_IS_F32, FS_SIMD_ISA (suffix of these
 * kernels) and FS_FALLBACK (suffix under which this file instantiates the
 * portable body, for rows with a non-finite max).
 *
 * Design (passes over memory, chosen per op):
 *   - softmax, rows <= FS_L2_ROW_BYTES: pass 1 vector max; pass 2 exp(x - max)
 *     stored into y and summed; pass 3 y *= 1/sum.  x is read from DRAM once,
 *     y is written once; passes 2-3 hit L2.
 *   - softmax, rows of at most FS_SMALL_VECS vectors: loaded once, kept in
 *     registers (max, exp, sum, scale, store); rows of at most one vector
 *     go FS_SHORT_BLOCK at a time so their latency chains overlap.
 *   - softmax, larger rows: two passes.  Pass 1 is an online max-and-sum in
 *     blocks of FS_BLOCK elements (block max in L1, rescale the running sum
 *     when the max grows, then the block's exps); pass 2 recomputes exp and
 *     writes y: two reads and one write, no re-read of y.  The driver
 *     (driver_body.h) runs rows longer than FS_L2_ROW_BYTES through the chunk
 *     pieces below instead: the same passes, per 64 KiB chunk, merged in
 *     chunk order so any number of threads can share a row.
 *   - reductions over a non-last axis: cols_tile, vectorised across columns.
 *   - log_softmax, logsumexp, cross_entropy: the same online pass (ONE read
 *     of x for the reduction), then log_softmax writes (x - max) - log(sum)
 *     and cross_entropy_with_grad writes the gradient in one more pass.
 *   - backward ops: one reduction pass (sum of g*y, or of g), one write pass.
 * Accuracy:
 *   - Sums: vector accumulators in the data type over one block (each lane
 *     adds <= FS_BLOCK / (2 * VL) terms), block totals widened to double and
 *     added with Neumaier compensation: the error does not grow with n.
 *   - float32 shift: x - max rounds by up to 0.5 ulp(|x - max|), which at
 *     |x - max| ~ 64 is 3.8e-6 relative in exp -- beyond the 2e-6 contract.
 *     Where exp values are OUTPUT (softmax, CE gradient), the rounding error
 *     of the shift is recovered exactly (Knuth's TwoSum) and applied as
 *     exp(d + err) = exp(d) * (1 + err); the term is dropped where exp(d)
 *     is 0 (see vexp_shift).
 *   - exp: exp_simd.h, <= 2 ulp.
 *   - Rows whose max is not finite (NaN-only, all -inf, any +inf) go to the
 *     portable body, which implements scipy's rules; NaN among finite values
 *     makes the sum NaN, and the row is then filled with NaN.
 */
#include <float.h>
#include <math.h>

#define FS_ISA FS_FALLBACK
#include "body_scalar.h"
#undef FS_ISA
#define FS_ISA FS_SIMD_ISA

#define FS_CAT2_(a, b) a##_##b
#define FS_CAT2(a, b) FS_CAT2_(a, b)
#define FS_CAT_(a, b, c) a##_##b##_##c
#define FS_CAT(a, b, c) FS_CAT_(a, b, c)
#define FS_FN(op) FS_CAT(op, FS_ISA, FS_SFX)
#define FS_FB(op) FS_CAT(op, FS_FALLBACK, FS_SFX)
#define VOP(op) FS_CAT2(v##op, FS_SFX)
#define vec FS_CAT2(vec, FS_SFX)
#define VL FS_CAT2(FS_VL, FS_SFX)

#include "exp_simd.h"

/* max ignoring NaN (the argument order keeps the accumulator on NaN) */
static inline FS_T FS_FN(vrow_max)(const FS_T *x, int64_t n) {
    vec m0 = VOP(set1)(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    int64_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL) {
        m0 = VOP(max)(VOP(load)(x + i), m0);
        m1 = VOP(max)(VOP(load)(x + i + VL), m1);
        m2 = VOP(max)(VOP(load)(x + i + 2 * VL), m2);
        m3 = VOP(max)(VOP(load)(x + i + 3 * VL), m3);
    }
    for (; i + VL <= n; i += VL) m0 = VOP(max)(VOP(load)(x + i), m0);
    if (i < n) m1 = VOP(max)(VOP(loadp)(x + i, n - i, -INFINITY), m1);
    return VOP(hmax)(VOP(max)(VOP(max)(m0, m1), VOP(max)(m2, m3)));
}

/* sum(exp(x - m)) over at most FS_BLOCK elements (no output: no shift correction) */
static inline double FS_FN(vblock_sumexp)(const FS_T *x, int64_t n, vec vm) {
    vec s0 = VOP(set1)(0), s1 = s0;
    int64_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        s0 = VOP(add)(s0, FS_FN(vexp)(VOP(sub)(VOP(load)(x + i), vm)));
        s1 = VOP(add)(s1, FS_FN(vexp)(VOP(sub)(VOP(load)(x + i + VL), vm)));
    }
    for (; i + VL <= n; i += VL) s0 = VOP(add)(s0, FS_FN(vexp)(VOP(sub)(VOP(load)(x + i), vm)));
    if (i < n) s1 = VOP(add)(s1, FS_FN(vexp)(VOP(sub)(VOP(loadp)(x + i, n - i, -INFINITY), vm)));
    return VOP(hsum)(VOP(add)(s0, s1));
}

static int FS_FN(block_has_nan)(const FS_T *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (x[i] != x[i]) return 1;
    return 0;
}

/* Online max and sum of exp in one read.  Returns 0 when the row needs the
 * portable body (+inf, or NaN where no finite value preceded); an all -inf
 * row gives m = -inf, s = 0. */
static int FS_FN(vpartial)(const FS_T *x, int64_t n, FS_T *m_out, double *s_out) {
    FS_T m = -INFINITY;
    fs_acc acc = {0.0, 0.0};
    for (int64_t b = 0; b < n; b += FS_BLOCK) {
        int64_t len = n - b < FS_BLOCK ? n - b : FS_BLOCK;
        FS_T bm = FS_FN(vrow_max)(x + b, len);
        if (bm > m) {
            if (bm == INFINITY) return 0;
            double f = exp((double)m - (double)bm);
            acc.s *= f;
            acc.c *= f;
            m = bm;
        }
        if (m == -INFINITY) {               /* nothing finite yet: look for NaN */
            if (FS_FN(block_has_nan)(x + b, len)) return 0;
            continue;
        }
        fs_acc_add(&acc, FS_FN(vblock_sumexp)(x + b, len, VOP(set1)(m)));
    }
    *m_out = m;
    *s_out = m == -INFINITY ? 0.0 : fs_acc_value(&acc);
    return 1;
}

/* As vpartial; also 0 for an all -inf row (the portable body's rules apply). */
static int FS_FN(vonline)(const FS_T *x, int64_t n, FS_T *m_out, double *s_out) {
    return FS_FN(vpartial)(x, n, m_out, s_out) && *m_out != -INFINITY;
}

/* exp(x - m) for OUTPUT: float32 recovers the rounding error of the shift.
 * Where x = -inf, or x - m overflows, the TwoSum error term is NaN; exp(d) is
 * 0 there, and max(err, -1) -- NaN FIRST, so the bound is returned -- drops
 * it.  Legitimate |err| <= ulp(d)/2 exceeds 1 only where exp(d) is 0 too.
 * (An earlier version clamped x at m - 110 instead: for |m| >= 2^31 that
 * rounds to m itself, and every clamped lane became exp(0) = 1.) */
static inline vec FS_FN(vexp_shift)(vec xv, vec vm, vec vnegm) {
#if FS_IS_F32
    vec d = VOP(sub)(xv, vm);                     /* TwoSum(x, -m) = d + err */
    vec bp = VOP(sub)(d, xv);
    vec ap = VOP(sub)(d, bp);
    vec err = VOP(add)(VOP(sub)(xv, ap), VOP(sub)(vnegm, bp));
    err = VOP(max)(err, VOP(set1)(-1.0f));
    vec e = FS_FN(vexp)(d);
    return VOP(fma)(e, err, e);
#else
    (void)vnegm;
    return FS_FN(vexp)(VOP(sub)(xv, vm));
#endif
}

#define FS_SHIFT_CONSTS(m)                    \
    vec vm = VOP(set1)(m);                    \
    vec vnegm = VOP(set1)(-(m));

/* y = exp(x - m), returns the sum (blocked, compensated) */
static double FS_FN(vexp_store_sum)(const FS_T *x, FS_T *y, int64_t n, FS_T m) {
    FS_SHIFT_CONSTS(m)
    fs_acc acc = {0.0, 0.0};
    for (int64_t b = 0; b < n; b += FS_BLOCK) {
        int64_t len = n - b < FS_BLOCK ? n - b : FS_BLOCK;
        const FS_T *xb = x + b;
        FS_T *yb = y + b;
        vec s0 = VOP(set1)(0), s1 = s0;
        int64_t i = 0;
        for (; i + 2 * VL <= len; i += 2 * VL) {
            vec e0 = FS_FN(vexp_shift)(VOP(load)(xb + i), vm, vnegm);
            vec e1 = FS_FN(vexp_shift)(VOP(load)(xb + i + VL), vm, vnegm);
            VOP(store)(yb + i, e0);
            VOP(store)(yb + i + VL, e1);
            s0 = VOP(add)(s0, e0);
            s1 = VOP(add)(s1, e1);
        }
        for (; i + VL <= len; i += VL) {
            vec e0 = FS_FN(vexp_shift)(VOP(load)(xb + i), vm, vnegm);
            VOP(store)(yb + i, e0);
            s0 = VOP(add)(s0, e0);
        }
        if (i < len) {
            vec e1 = FS_FN(vexp_shift)(VOP(loadp)(xb + i, len - i, -INFINITY), vm, vnegm);
            VOP(storep)(yb + i, e1, len - i);
            s1 = VOP(add)(s1, e1);
        }
        fs_acc_add(&acc, VOP(hsum)(VOP(add)(s0, s1)));
    }
    return fs_acc_value(&acc);
}

static void FS_FN(vscale)(FS_T *y, int64_t n, FS_T a) {
    vec va = VOP(set1)(a);
    int64_t i = 0;
    for (; i + VL <= n; i += VL) VOP(store)(y + i, VOP(mul)(VOP(load)(y + i), va));
    if (i < n) VOP(storep)(y + i, VOP(mul)(VOP(loadp)(y + i, n - i, 0), va), n - i);
}

/* y = exp(x - m) * a */
static void FS_FN(vwrite_exp_scaled)(const FS_T *x, FS_T *y, int64_t n, FS_T m, FS_T a) {
    FS_SHIFT_CONSTS(m)
    vec va = VOP(set1)(a);
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        VOP(store)(y + i, VOP(mul)(FS_FN(vexp_shift)(VOP(load)(x + i), vm, vnegm), va));
    if (i < n)
        VOP(storep)(y + i, VOP(mul)(FS_FN(vexp_shift)(VOP(loadp)(x + i, n - i, -INFINITY),
                                                      vm, vnegm), va), n - i);
}

static void FS_FN(vfill)(FS_T *y, int64_t n, FS_T v) {
    for (int64_t i = 0; i < n; i++) y[i] = v;
}

/* sum(a * b) (b == NULL: sum(a)), blocked and compensated */
static double FS_FN(vdot)(const FS_T *a, const FS_T *b, int64_t n) {
    fs_acc acc = {0.0, 0.0};
    vec one = VOP(set1)(1);
    for (int64_t blk = 0; blk < n; blk += FS_BLOCK) {
        int64_t len = n - blk < FS_BLOCK ? n - blk : FS_BLOCK;
        const FS_T *ab = a + blk;
        const FS_T *bb = b ? b + blk : NULL;
        vec s0 = VOP(set1)(0), s1 = s0;
        int64_t i = 0;
        for (; i + 2 * VL <= len; i += 2 * VL) {
            s0 = VOP(fma)(VOP(load)(ab + i), bb ? VOP(load)(bb + i) : one, s0);
            s1 = VOP(fma)(VOP(load)(ab + i + VL), bb ? VOP(load)(bb + i + VL) : one, s1);
        }
        for (; i < len; i += VL) {
            int64_t k = len - i < VL ? len - i : VL;
            s0 = VOP(fma)(VOP(loadp)(ab + i, k, 0), bb ? VOP(loadp)(bb + i, k, 0) : one, s0);
        }
        fs_acc_add(&acc, VOP(hsum)(VOP(add)(s0, s1)));
    }
    return fs_acc_value(&acc);
}

/* ---- chunk pieces of long rows (see kernels.h) ------------------------------ */
static int FS_FN(chunk_online)(const FS_T *x, int64_t n, double *m, double *s) {
    FS_T mt;
    if (!FS_FN(vpartial)(x, n, &mt, s)) return 0;
    *m = (double)mt;
    return 1;
}

static double FS_FN(chunk_dot)(const FS_T *a, const FS_T *b, int64_t n) {
    return FS_FN(vdot)(a, b, n);
}

/* Whether a backward op's row sum holds as a finite FS_T.  Where it does not
 * (inf, NaN, or past the float max), the write is done elementwise in double,
 * as the reference does: exp(logp) that underflows in FS_T but not in double
 * times an infinite sum is -inf there, not 0 * inf = NaN (found by the fuzz
 * tests), and a sum past FLT_MAX is not rounded to inf before it is scaled. */
static inline int FS_FN(sum_fits)(double p0) {
    return fabs(p0) <= (sizeof(FS_T) == sizeof(float) ? (double)FLT_MAX : DBL_MAX);
}

static inline FS_T FS_FN(backward_entry)(int softmax, FS_T a, FS_T b, double p0) {
    return softmax ? (FS_T)((double)b * ((double)a - p0)) : (FS_T)((double)a - exp((double)b) * p0);
}

static void FS_FN(chunk_write)(int kind, const FS_T *a, const FS_T *b, FS_T *y,
                               int64_t n, double p0, double p1) {
    int64_t i = 0;
    if ((kind == FS_W_SOFTMAX_BW || kind == FS_W_LOG_SOFTMAX_BW) && !FS_FN(sum_fits)(p0)) {
        for (; i < n; i++) y[i] = FS_FN(backward_entry)(kind == FS_W_SOFTMAX_BW, a[i], b[i], p0);
        return;
    }
    switch (kind) {
    case FS_W_SOFTMAX:
        FS_FN(vwrite_exp_scaled)(a, y, n, (FS_T)p0, (FS_T)p1);
        break;
    case FS_W_LOG_SOFTMAX: {
        vec vm = VOP(set1)((FS_T)p0), vls = VOP(set1)((FS_T)p1);
        for (; i + VL <= n; i += VL)
            VOP(store)(y + i, VOP(sub)(VOP(sub)(VOP(load)(a + i), vm), vls));
        if (i < n)
            VOP(storep)(y + i, VOP(sub)(VOP(sub)(VOP(loadp)(a + i, n - i, 0), vm), vls), n - i);
        break;
    }
    case FS_W_SOFTMAX_BW: {
        vec vd = VOP(set1)((FS_T)p0);
        for (; i + VL <= n; i += VL)
            VOP(store)(y + i, VOP(mul)(VOP(load)(b + i), VOP(sub)(VOP(load)(a + i), vd)));
        if (i < n)
            VOP(storep)(y + i, VOP(mul)(VOP(loadp)(b + i, n - i, 0),
                                        VOP(sub)(VOP(loadp)(a + i, n - i, 0), vd)), n - i);
        break;
    }
    case FS_W_LOG_SOFTMAX_BW: {
        vec vneg = VOP(set1)((FS_T)-p0);
        for (; i + VL <= n; i += VL)
            VOP(store)(y + i, VOP(fma)(FS_FN(vexp)(VOP(load)(b + i)), vneg, VOP(load)(a + i)));
        if (i < n)
            VOP(storep)(y + i, VOP(fma)(FS_FN(vexp)(VOP(loadp)(b + i, n - i, -INFINITY)), vneg,
                                        VOP(loadp)(a + i, n - i, 0)), n - i);
        break;
    }
    }
}

/* Rows of at most VL elements live in one register: the max is a butterfly
 * reduction that stays in vector registers, with no loops or block
 * bookkeeping (the per-row cost dominates at ~10 classes).  The sum is
 * widened to double: cross-entropy's target gradient p - 1 cancels, so s must
 * be accurate beyond the data type.  Returns 0 when the row needs the
 * portable body (max not finite).  *e gets exp(x - m) -- shift-corrected
 * when `for_output` -- and 0 in unused lanes. */
static inline int FS_FN(vshort)(const FS_T *x, int64_t n, int for_output, vec *v, vec *e,
                                FS_T *m, double *s) {
    *v = VOP(loadp)(x, n, -INFINITY);
    vec vm = VOP(allmax)(*v);
    *m = VOP(first)(vm);
    if (!isfinite(*m)) return 0;
    if (for_output) {
        vec vnegm = VOP(sub)(VOP(set1)(0), vm);
        *e = FS_FN(vexp_shift)(*v, vm, vnegm);
    } else {
        *e = FS_FN(vexp)(VOP(sub)(*v, vm));
    }
    *s = VOP(hsum)(*e);
    return 1;
}

/* softmax of a row of at most FS_SMALL_VECS vectors, kept in registers: the
 * general path's store-then-reload of y (partial stores included) stalls
 * store forwarding, which dominates rows of a few dozen elements.  Sums of
 * <= 4 * VL terms in the data type stay within ~7 ulp (inside the contract).
 * Returns 0, writing nothing, when the row needs more care. */
#define FS_SMALL_VECS 4
static inline int FS_FN(vsmall_softmax)(const FS_T *x, FS_T *y, int64_t n) {
    vec v[FS_SMALL_VECS], e[FS_SMALL_VECS];
    int nv = (int)((n + VL - 1) / VL);
    int64_t tail = n - (int64_t)(nv - 1) * VL;
    vec mx = VOP(set1)(-INFINITY);
    for (int k = 0; k < FS_SMALL_VECS; k++)
        if (k < nv) {
            v[k] = k == nv - 1 ? VOP(loadp)(x + k * VL, tail, -INFINITY) : VOP(load)(x + k * VL);
            mx = VOP(max)(v[k], mx);
        }
    vec vm = VOP(allmax)(mx);
    if (!isfinite(VOP(first)(vm))) return 0;
    vec vnegm = VOP(sub)(VOP(set1)(0), vm);
    vec sum = VOP(set1)(0);
    for (int k = 0; k < FS_SMALL_VECS; k++)
        if (k < nv) {
            e[k] = FS_FN(vexp_shift)(v[k], vm, vnegm);
            sum = VOP(add)(sum, e[k]);
        }
    FS_T s = VOP(first)(VOP(allsum)(sum));
    if (s != s) return 0;
    vec inv = VOP(set1)((FS_T)1 / s);
    for (int k = 0; k < FS_SMALL_VECS; k++)
        if (k < nv) {
            if (k == nv - 1) VOP(storep)(y + k * VL, VOP(mul)(e[k], inv), tail);
            else VOP(store)(y + k * VL, VOP(mul)(e[k], inv));
        }
    return 1;
}

/* softmax of FS_SHORT_BLOCK rows of n <= VL elements at once: the rows'
 * dependency chains (reduce, exp, reduce, divide: ~100 cycles of latency)
 * interleave, which out-of-order execution alone does not achieve.  Returns 0,
 * writing nothing, when a row needs more care (non-finite max or NaN sum);
 * the caller then takes the rows one by one. */
#define FS_SHORT_BLOCK 8

/* Load FS_SHORT_BLOCK short rows and their broadcast maxima; 0 if any max is not finite. */
static inline int FS_FN(vshort_block_max)(const FS_T *x, int64_t xs, int64_t n, vec *v, vec *m) {
    for (int k = 0; k < FS_SHORT_BLOCK; k++) v[k] = VOP(loadp)(x + k * xs, n, -INFINITY);
    for (int k = 0; k < FS_SHORT_BLOCK; k++) m[k] = VOP(allmax)(v[k]);
    vec lo = m[0], hi = m[0];
    for (int k = 1; k < FS_SHORT_BLOCK; k++) {
        lo = VOP(min)(lo, m[k]);
        hi = VOP(max)(hi, m[k]);
    }
    if (!isfinite(VOP(first)(lo)) || !isfinite(VOP(first)(hi))) return 0;
    return 1;
}

static inline int FS_FN(vshort_softmax_block)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys,
                                              int64_t n) {
    vec v[FS_SHORT_BLOCK], m[FS_SHORT_BLOCK], e[FS_SHORT_BLOCK], s[FS_SHORT_BLOCK];
    if (!FS_FN(vshort_block_max)(x, xs, n, v, m)) return 0;
    for (int k = 0; k < FS_SHORT_BLOCK; k++)
        e[k] = FS_FN(vexp_shift)(v[k], m[k], VOP(sub)(VOP(set1)(0), m[k]));
    vec tot = VOP(set1)(0);
    for (int k = 0; k < FS_SHORT_BLOCK; k++) {
        s[k] = VOP(allsum)(e[k]);
        tot = VOP(add)(tot, s[k]);
    }
    if (VOP(first)(tot) != VOP(first)(tot)) return 0;
    for (int k = 0; k < FS_SHORT_BLOCK; k++)
        VOP(storep)(y + k * ys, VOP(mul)(e[k], VOP(set1)((FS_T)1 / VOP(first)(s[k]))), n);
    return 1;
}

/* FS_SHORT_BLOCK rows of n <= VL elements at once, for the ops that need
 * each row's sum accurately (log_softmax, logsumexp, cross-entropy): v, the
 * broadcast max m, e = exp(v - m) (shift-corrected when `for_output`) and the
 * sum widened to double, as in vshort.  Returns 0 when some row needs more
 * care (non-finite max, NaN sum); the caller then takes the rows one by one. */
static inline int FS_FN(vshort_block)(const FS_T *x, int64_t xs, int64_t n, int for_output,
                                      vec *v, vec *m, vec *e, double *s) {
    if (!FS_FN(vshort_block_max)(x, xs, n, v, m)) return 0;
    for (int k = 0; k < FS_SHORT_BLOCK; k++)
        e[k] = for_output ? FS_FN(vexp_shift)(v[k], m[k], VOP(sub)(VOP(set1)(0), m[k]))
                          : FS_FN(vexp)(VOP(sub)(v[k], m[k]));
    double tot = 0.0;
    for (int k = 0; k < FS_SHORT_BLOCK; k++) {
        s[k] = VOP(hsum)(e[k]);
        tot += s[k];
    }
    return tot == tot;
}

static void FS_FN(softmax_each_row)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys,
                                    int64_t n_rows, int64_t n_cols) {
    int in_cache = (uint64_t)n_cols * sizeof(FS_T) <= FS_L2_ROW_BYTES;
    for (int64_t r = 0; r < n_rows; r++, x += xs, y += ys) {
        FS_T m;
        double s;
        if (n_cols <= FS_SMALL_VECS * VL && FS_FN(vsmall_softmax)(x, y, n_cols)) {
            continue;
        } else if (in_cache) {
            m = FS_FN(vrow_max)(x, n_cols);
            if (!isfinite(m)) { FS_FB(softmax_rows)(x, 0, y, 0, 1, n_cols); continue; }
            s = FS_FN(vexp_store_sum)(x, y, n_cols, m);
            if (s != s) { FS_FN(vfill)(y, n_cols, NAN); continue; }
            FS_FN(vscale)(y, n_cols, (FS_T)(1.0 / s));
        } else {
            if (!FS_FN(vonline)(x, n_cols, &m, &s)) { FS_FB(softmax_rows)(x, 0, y, 0, 1, n_cols); continue; }
            if (s != s) { FS_FN(vfill)(y, n_cols, NAN); continue; }
            FS_FN(vwrite_exp_scaled)(x, y, n_cols, m, (FS_T)(1.0 / s));
        }
    }
}

static void FS_FN(softmax_rows)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys,
                                int64_t n_rows, int64_t n_cols) {
    int64_t r = 0;
    if (n_cols <= VL)
        for (; r + FS_SHORT_BLOCK <= n_rows; r += FS_SHORT_BLOCK, x += FS_SHORT_BLOCK * xs,
                                             y += FS_SHORT_BLOCK * ys)
            if (!FS_FN(vshort_softmax_block)(x, xs, y, ys, n_cols))
                FS_FN(softmax_each_row)(x, xs, y, ys, FS_SHORT_BLOCK, n_cols);
    FS_FN(softmax_each_row)(x, xs, y, ys, n_rows - r, n_cols);
}

static void FS_FN(log_softmax_each_row)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys,
                                        int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs, y += ys) {
        FS_T m;
        double s;
        vec v = VOP(set1)(0), e = v;   /* set by vshort when used */
        int ok = n_cols <= VL ? FS_FN(vshort)(x, n_cols, 0, &v, &e, &m, &s)
                              : FS_FN(vonline)(x, n_cols, &m, &s);
        if (!ok) { FS_FB(log_softmax_rows)(x, 0, y, 0, 1, n_cols); continue; }
        if (s != s) { FS_FN(vfill)(y, n_cols, NAN); continue; }
        if (n_cols <= VL)
            VOP(storep)(y, VOP(sub)(VOP(sub)(v, VOP(set1)(m)), VOP(set1)((FS_T)log(s))), n_cols);
        else
            FS_FN(chunk_write)(FS_W_LOG_SOFTMAX, x, NULL, y, n_cols, m, log(s));
    }
}

static void FS_FN(logsumexp_each_row)(const FS_T *x, int64_t xs, FS_T *out,
                                      int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs) {
        FS_T m;
        double s;
        vec v = VOP(set1)(0), e = v;   /* set by vshort when used */
        int ok = n_cols <= VL ? FS_FN(vshort)(x, n_cols, 0, &v, &e, &m, &s)
                              : FS_FN(vonline)(x, n_cols, &m, &s);
        if (!ok) { FS_FB(logsumexp_rows)(x, 0, out + r, 1, n_cols); continue; }
        out[r] = (FS_T)((double)m + log(s));
    }
}

static void FS_FN(softmax_backward_rows)(const FS_T *g, int64_t gs, const FS_T *y, int64_t ys,
                                         FS_T *out, int64_t os, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, g += gs, y += ys, out += os)
        FS_FN(chunk_write)(FS_W_SOFTMAX_BW, g, y, out, n_cols, FS_FN(vdot)(g, y, n_cols), 0);
}

static void FS_FN(log_softmax_backward_rows)(const FS_T *g, int64_t gs, const FS_T *lp, int64_t ls,
                                             FS_T *out, int64_t os, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, g += gs, lp += ls, out += os)
        FS_FN(chunk_write)(FS_W_LOG_SOFTMAX_BW, g, lp, out, n_cols, FS_FN(vdot)(g, NULL, n_cols), 0);
}

static void FS_FN(cross_entropy_each_row)(const FS_T *x, int64_t xs, const int64_t *target,
                                          double *loss, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs) {
        FS_T m;
        double s;
        vec v = VOP(set1)(0), e = v;   /* set by vshort when used */
        int ok = n_cols <= VL ? FS_FN(vshort)(x, n_cols, 0, &v, &e, &m, &s)
                              : FS_FN(vonline)(x, n_cols, &m, &s);
        if (!ok) {
            FS_FB(cross_entropy_rows)(x, 0, target + r, loss + r, 1, n_cols);
            continue;
        }
        loss[r] = ((double)m - (double)x[target[r]]) + log(s);
    }
}

static void FS_FN(cross_entropy_with_grad_each_row)(const FS_T *x, int64_t xs, const int64_t *target,
                                                    double *loss, double grad_scale,
                                                    const double *rs, FS_T *grad,
                                                    int64_t gs, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs, grad += gs) {
        double scale = rs ? grad_scale * rs[r] : grad_scale;
        FS_T m;
        double s;
        vec v = VOP(set1)(0), e = v;   /* set by vshort when used */
        int ok = n_cols <= VL ? FS_FN(vshort)(x, n_cols, 1, &v, &e, &m, &s)
                              : FS_FN(vonline)(x, n_cols, &m, &s);
        if (!ok) {
            FS_FB(cross_entropy_with_grad_rows)(x, 0, target + r, loss + r, scale, NULL, grad, 0, 1,
                                                n_cols);
            continue;
        }
        int64_t t = target[r];
        double xt = (double)x[t];          /* read before grad (maybe == x) is written */
        loss[r] = ((double)m - xt) + log(s);
        if (s != s) { FS_FN(vfill)(grad, n_cols, NAN); continue; }
        double inv = 1.0 / s;
        if (n_cols <= VL)
            VOP(storep)(grad, VOP(mul)(e, VOP(set1)((FS_T)(inv * scale))), n_cols);
        else
            FS_FN(vwrite_exp_scaled)(x, grad, n_cols, m, (FS_T)(inv * scale));
        grad[t] = (FS_T)((exp(xt - (double)m) * inv - 1.0) * scale);
    }
}

/* ---- short rows in blocks, then the per-row kernels ------------------------------ */
static void FS_FN(log_softmax_rows)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys,
                                    int64_t n_rows, int64_t n_cols) {
    vec v[FS_SHORT_BLOCK], m[FS_SHORT_BLOCK], e[FS_SHORT_BLOCK];
    double s[FS_SHORT_BLOCK];
    int64_t r = 0;
    if (n_cols <= VL)
        for (; r + FS_SHORT_BLOCK <= n_rows; r += FS_SHORT_BLOCK) {
            if (!FS_FN(vshort_block)(x + r * xs, xs, n_cols, 0, v, m, e, s)) {
                FS_FN(log_softmax_each_row)(x + r * xs, xs, y + r * ys, ys, FS_SHORT_BLOCK, n_cols);
                continue;
            }
            for (int k = 0; k < FS_SHORT_BLOCK; k++)
                VOP(storep)(y + (r + k) * ys,
                            VOP(sub)(VOP(sub)(v[k], m[k]), VOP(set1)((FS_T)log(s[k]))), n_cols);
        }
    FS_FN(log_softmax_each_row)(x + r * xs, xs, y + r * ys, ys, n_rows - r, n_cols);
}

static void FS_FN(logsumexp_rows)(const FS_T *x, int64_t xs, FS_T *out,
                                  int64_t n_rows, int64_t n_cols) {
    vec v[FS_SHORT_BLOCK], m[FS_SHORT_BLOCK], e[FS_SHORT_BLOCK];
    double s[FS_SHORT_BLOCK];
    int64_t r = 0;
    if (n_cols <= VL)
        for (; r + FS_SHORT_BLOCK <= n_rows; r += FS_SHORT_BLOCK) {
            if (!FS_FN(vshort_block)(x + r * xs, xs, n_cols, 0, v, m, e, s)) {
                FS_FN(logsumexp_each_row)(x + r * xs, xs, out + r, FS_SHORT_BLOCK, n_cols);
                continue;
            }
            for (int k = 0; k < FS_SHORT_BLOCK; k++)
                out[r + k] = (FS_T)((double)VOP(first)(m[k]) + log(s[k]));
        }
    FS_FN(logsumexp_each_row)(x + r * xs, xs, out + r, n_rows - r, n_cols);
}

static void FS_FN(cross_entropy_rows)(const FS_T *x, int64_t xs, const int64_t *target,
                                      double *loss, int64_t n_rows, int64_t n_cols) {
    vec v[FS_SHORT_BLOCK], m[FS_SHORT_BLOCK], e[FS_SHORT_BLOCK];
    double s[FS_SHORT_BLOCK];
    int64_t r = 0;
    if (n_cols <= VL)
        for (; r + FS_SHORT_BLOCK <= n_rows; r += FS_SHORT_BLOCK) {
            if (!FS_FN(vshort_block)(x + r * xs, xs, n_cols, 0, v, m, e, s)) {
                FS_FN(cross_entropy_each_row)(x + r * xs, xs, target + r, loss + r,
                                              FS_SHORT_BLOCK, n_cols);
                continue;
            }
            for (int k = 0; k < FS_SHORT_BLOCK; k++)
                loss[r + k] = ((double)VOP(first)(m[k]) - (double)x[(r + k) * xs + target[r + k]])
                              + log(s[k]);
        }
    FS_FN(cross_entropy_each_row)(x + r * xs, xs, target + r, loss + r, n_rows - r, n_cols);
}

static void FS_FN(cross_entropy_with_grad_rows)(const FS_T *x, int64_t xs, const int64_t *target,
                                                double *loss, double scale, const double *rs,
                                                FS_T *grad, int64_t gs, int64_t n_rows, int64_t n_cols) {
    vec v[FS_SHORT_BLOCK], m[FS_SHORT_BLOCK], e[FS_SHORT_BLOCK];
    double s[FS_SHORT_BLOCK], xt[FS_SHORT_BLOCK];
    int64_t r = 0;
    if (n_cols <= VL)
        for (; r + FS_SHORT_BLOCK <= n_rows; r += FS_SHORT_BLOCK) {
            if (!FS_FN(vshort_block)(x + r * xs, xs, n_cols, 1, v, m, e, s)) {
                FS_FN(cross_entropy_with_grad_each_row)(x + r * xs, xs, target + r, loss + r, scale,
                                                        rs ? rs + r : NULL, grad + r * gs, gs,
                                                        FS_SHORT_BLOCK, n_cols);
                continue;
            }
            /* every target logit is read before any gradient (maybe x) is written */
            for (int k = 0; k < FS_SHORT_BLOCK; k++) xt[k] = (double)x[(r + k) * xs + target[r + k]];
            for (int k = 0; k < FS_SHORT_BLOCK; k++) {
                double mk = (double)VOP(first)(m[k]), inv = 1.0 / s[k];
                double sc = rs ? scale * rs[r + k] : scale;
                FS_T *g = grad + (r + k) * gs;
                loss[r + k] = (mk - xt[k]) + log(s[k]);
                VOP(storep)(g, VOP(mul)(e[k], VOP(set1)((FS_T)(inv * sc))), n_cols);
                g[target[r + k]] = (FS_T)((exp(xt[k] - mk) * inv - 1.0) * sc);
            }
        }
    FS_FN(cross_entropy_with_grad_each_row)(x + r * xs, xs, target + r, loss + r, scale,
                                            rs ? rs + r : NULL, grad + r * gs, gs, n_rows - r, n_cols);
}

/* ---- non-last axis: vectorised across contiguous columns ---------------------- */
/* Design: a tile of w <= FS_COL_TILE_BYTES columns over all n rows (rows xm
 * apart), FS_COL_VECS vectors wide: pass 1 column max (vector max, NaN kept
 * out as in vrow_max); pass 2 exp(x - max) per lane -- stored for softmax,
 * shift-corrected as in the row kernels -- summed with TwoSum compensation in
 * the data type over FS_COL_SUM_ROWS rows, then widened into per-column
 * double Neumaier sums; cross-entropy then writes each column's loss; pass 3
 * scales (softmax) or shifts (log_softmax) in place, or logsumexp writes one
 * value per column, and cross_entropy_with_grad writes the gradient.  Three
 * passes over a tile of n * 256 bytes.  A tile with
 * a non-finite column max goes column by column through the row kernel, which
 * applies scipy's rules; NaN among finite values makes its column NaN. */
#define FS_COL_VECS (FS_COL_TILE_BYTES / (int)sizeof(FS_T) / VL)
#define FS_COL_W (FS_COL_TILE_BYTES / (int)sizeof(FS_T))
/* Rows summed in the data type's lanes before widening: as in the row
 * kernels, each lane adds at most 16 terms, so float32 stays well inside
 * its contract however long the column. */
#define FS_COL_SUM_ROWS 16

static inline vec FS_FN(col_load)(const FS_T *p, int v, int nv, int64_t tail, FS_T fill) {
    return v == nv - 1 ? VOP(loadp)(p + v * VL, tail, fill) : VOP(load)(p + v * VL);
}

static inline void FS_FN(col_store)(FS_T *p, int v, int nv, int64_t tail, vec a) {
    if (v == nv - 1) VOP(storep)(p + v * VL, a, tail);
    else VOP(store)(p + v * VL, a);
}

/* s + e with the rounding error kept in c (TwoSum): column sums are then
 * exact to ~2 ulp of double's worth -- cross-entropy's target gradient
 * p - 1 cancels and needs it. */
static inline void FS_FN(col_sum_add)(vec *s, vec *c, vec e) {
    vec t = VOP(add)(*s, e), bp = VOP(sub)(t, *s), ap = VOP(sub)(t, bp);
    *c = VOP(add)(*c, VOP(add)(VOP(sub)(*s, ap), VOP(sub)(e, bp)));
    *s = t;
}

/* Widen a block's lane sums (and their errors) into the per-column double sums. */
static inline void FS_FN(col_sum_widen)(fs_acc *acc, const vec *sv, const vec *cv, int nv,
                                        int64_t w) {
    FS_T lane[FS_COL_W], comp[FS_COL_W];
    for (int v = 0; v < nv; v++) {
        VOP(store)(lane + v * VL, sv[v]);
        VOP(store)(comp + v * VL, cv[v]);
    }
    for (int64_t j = 0; j < w; j++) {
        fs_acc_add(&acc[j], (double)lane[j]);
        /* an infinite lane sum leaves NaN in its TwoSum error (inf - inf): drop it, or
         * it turns the column's inf into NaN (found by the fuzz tests) */
        if (isfinite(lane[j])) fs_acc_add(&acc[j], (double)comp[j]);
    }
}

/* Backward ops over columns (x = grad, b = y or logp): pass 1 the column sum
 * of grad * y, or of grad (TwoSum-compensated lanes widened to double, as
 * above); pass 2 the elementwise write. */
static int FS_FN(cols_backward)(int kind, const FS_T *x, int64_t xm, const FS_T *b, int64_t bm,
                                FS_T *y, int64_t ym, int64_t n, int64_t w) {
    FS_T lane[FS_COL_W];
    fs_acc acc[FS_COL_W];
    int nv = (int)((w + VL - 1) / VL);
    int64_t tail = w - (int64_t)(nv - 1) * VL;
    for (int64_t j = 0; j < w; j++) acc[j].s = acc[j].c = 0.0;
    for (int64_t r0 = 0; r0 < n; r0 += FS_COL_SUM_ROWS) {
        int64_t end = n - r0 < FS_COL_SUM_ROWS ? n : r0 + FS_COL_SUM_ROWS;
        vec sv[FS_COL_VECS], cv[FS_COL_VECS];
        for (int v = 0; v < nv; v++) sv[v] = cv[v] = VOP(set1)(0);
        for (int64_t i = r0; i < end; i++)
            for (int v = 0; v < nv; v++) {
                vec e = FS_FN(col_load)(x + i * xm, v, nv, tail, 0);
                if (kind == FS_C_SOFTMAX_BW) e = VOP(mul)(e, FS_FN(col_load)(b + i * bm, v, nv, tail, 0));
                FS_FN(col_sum_add)(&sv[v], &cv[v], e);
            }
        FS_FN(col_sum_widen)(acc, sv, cv, nv, w);
    }
    double sum[FS_COL_W];
    int fits = 1;
    for (int64_t j = 0; j < w; j++) {
        sum[j] = fs_acc_value(&acc[j]);
        fits &= FS_FN(sum_fits)(sum[j]);
    }
    if (!fits) {        /* a tile with an infinite or overflowing column sum: see sum_fits */
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < w; j++)
                y[i * ym + j] = FS_FN(backward_entry)(kind == FS_C_SOFTMAX_BW, x[i * xm + j],
                                                      b[i * bm + j], sum[j]);
        return FS_OK;
    }
    for (int64_t j = w; j < FS_COL_W; j++) lane[j] = 0;
    for (int64_t j = 0; j < w; j++)
        lane[j] = (FS_T)(kind == FS_C_SOFTMAX_BW ? sum[j] : -sum[j]);
    vec dv[FS_COL_VECS];
    for (int v = 0; v < nv; v++) dv[v] = VOP(load)(lane + v * VL);
    for (int64_t i = 0; i < n; i++)
        for (int v = 0; v < nv; v++) {
            vec gv = FS_FN(col_load)(x + i * xm, v, nv, tail, 0), r;
            if (kind == FS_C_SOFTMAX_BW)
                r = VOP(mul)(FS_FN(col_load)(b + i * bm, v, nv, tail, 0), VOP(sub)(gv, dv[v]));
            else
                r = VOP(fma)(FS_FN(vexp)(FS_FN(col_load)(b + i * bm, v, nv, tail, -INFINITY)),
                             dv[v], gv);
            FS_FN(col_store)(y + i * ym, v, nv, tail, r);
        }
    return FS_OK;
}

static int FS_FN(cols_tile)(int kind, const FS_T *x, int64_t xm, FS_T *y, int64_t ym,
                            FS_T *red, const fs_cols_extra *ce, int64_t n, int64_t w) {
    if (kind == FS_C_SOFTMAX_BW || kind == FS_C_LOG_SOFTMAX_BW)
        return FS_FN(cols_backward)(kind, x, xm, (const FS_T *)ce->b, ce->bm, y, ym, n, w);
    vec mv[FS_COL_VECS];
    FS_T m[FS_COL_W], lane[FS_COL_W];
    fs_acc acc[FS_COL_W];
    int nv = (int)((w + VL - 1) / VL);
    int64_t tail = w - (int64_t)(nv - 1) * VL;

    for (int v = 0; v < nv; v++) mv[v] = VOP(set1)(-INFINITY);
    for (int64_t i = 0; i < n; i++)
        for (int v = 0; v < nv; v++)
            mv[v] = VOP(max)(FS_FN(col_load)(x + i * xm, v, nv, tail, -INFINITY), mv[v]);
    for (int v = 0; v < nv; v++) VOP(store)(m + v * VL, mv[v]);
    for (int64_t j = 0; j < w; j++)
        if (!isfinite(m[j])) {
            FS_COLS_GATHER_BODY(FS_T, FS_FN(softmax_rows), FS_FN(log_softmax_rows),
                                FS_FN(logsumexp_rows), FS_FN(cross_entropy_rows),
                                FS_FN(cross_entropy_with_grad_rows), FS_FN(softmax_backward_rows),
                                FS_FN(log_softmax_backward_rows))
        }

    for (int64_t j = 0; j < w; j++) acc[j].s = acc[j].c = 0.0;
    for (int64_t b = 0; b < n; b += FS_COL_SUM_ROWS) {
        int64_t end = n - b < FS_COL_SUM_ROWS ? n : b + FS_COL_SUM_ROWS;
        vec sv[FS_COL_VECS], cv[FS_COL_VECS];
        for (int v = 0; v < nv; v++) sv[v] = cv[v] = VOP(set1)(0);
        for (int64_t i = b; i < end; i++)
            for (int v = 0; v < nv; v++) {
                vec xv = FS_FN(col_load)(x + i * xm, v, nv, tail, -INFINITY), e;
                if (kind == FS_C_SOFTMAX) {
                    e = FS_FN(vexp_shift)(xv, mv[v], VOP(sub)(VOP(set1)(0), mv[v]));
                    FS_FN(col_store)(y + i * ym, v, nv, tail, e);
                } else {
                    e = FS_FN(vexp)(VOP(sub)(xv, mv[v]));
                }
                FS_FN(col_sum_add)(&sv[v], &cv[v], e);
            }
        FS_FN(col_sum_widen)(acc, sv, cv, nv, w);
    }

    /* per-column results, and the constant of pass 3 in `lane` (unused lanes zeroed) */
    double fix[FS_COL_W];
    for (int64_t j = w; j < FS_COL_W; j++) lane[j] = 0;
    for (int64_t j = 0; j < w; j++) {
        double s = fs_acc_value(&acc[j]), mj = (double)m[j];
        switch (kind) {
        case FS_C_LOGSUMEXP: red[j] = (FS_T)(mj + log(s)); break;
        case FS_C_SOFTMAX: lane[j] = (FS_T)(1.0 / s); break;
        case FS_C_LOG_SOFTMAX: lane[j] = (FS_T)log(s); break;
        case FS_C_CE:
        case FS_C_CE_GRAD: {     /* the target logit is read before the gradient (maybe x) is written */
            double xt = (double)x[ce->target[j] * xm + j];
            double ls = log(s);
            ce->loss[j] = (mj - xt) + ls;
            if (ce->lse) ce->lse[j] = mj + ls;
            double sc = ce->rs ? ce->scale * ce->rs[j] : ce->scale;
            lane[j] = (FS_T)(sc / s);
            fix[j] = (exp(xt - mj) / s - 1.0) * sc;
            break;
        }
        }
    }
    if (kind == FS_C_LOGSUMEXP || kind == FS_C_CE) return FS_OK;
    vec cv[FS_COL_VECS];
    for (int v = 0; v < nv; v++) cv[v] = VOP(load)(lane + v * VL);
    for (int64_t i = 0; i < n; i++)
        for (int v = 0; v < nv; v++) {
            vec r, xv;
            switch (kind) {
            case FS_C_SOFTMAX:
                r = VOP(mul)(FS_FN(col_load)(y + i * ym, v, nv, tail, 0), cv[v]);
                break;
            case FS_C_LOG_SOFTMAX:
                r = VOP(sub)(VOP(sub)(FS_FN(col_load)(x + i * xm, v, nv, tail, 0), mv[v]), cv[v]);
                break;
            default:   /* FS_C_CE_GRAD */
                xv = FS_FN(col_load)(x + i * xm, v, nv, tail, -INFINITY);
                r = VOP(mul)(FS_FN(vexp_shift)(xv, mv[v], VOP(sub)(VOP(set1)(0), mv[v])), cv[v]);
                break;
            }
            FS_FN(col_store)(y + i * ym, v, nv, tail, r);
        }
    if (kind == FS_C_CE_GRAD)
        for (int64_t j = 0; j < w; j++) y[ce->target[j] * ym + j] = (FS_T)fix[j];
    return FS_OK;
}

/* y = exp(x) elementwise: the kernel set's exp, exposed for its own tests. */
static void FS_FN(exp_array)(const FS_T *x, FS_T *y, int64_t n) {
    int64_t i = 0;
    for (; i + VL <= n; i += VL) VOP(store)(y + i, FS_FN(vexp)(VOP(load)(x + i)));
    if (i < n) VOP(storep)(y + i, FS_FN(vexp)(VOP(loadp)(x + i, n - i, 0)), n - i);
}

#include "body_ce.h"

#undef FS_COL_VECS
#undef FS_COL_SUM_ROWS
#undef FS_COL_W
#undef FS_ISA
#undef FS_FN
#undef FS_FB
#undef VOP
#undef vec
#undef VL
#undef FS_CAT
#undef FS_CAT_
#undef FS_CAT2
#undef FS_CAT2_
