/* body_scalar.h -- the portable algorithm body, included once per dtype by
 * kernels_scalar.c with FS_T (float|double), FS_SFX (f32|f64) and FS_ISA.
 *
 * Design:
 *   - Work type is double for both dtypes.  For float32 that makes the shift
 *     x - max exact (two floats differ by an exactly representable double),
 *     so the only errors are libm's exp (< 1 ulp of double) and the final
 *     rounding to float: softmax entries are within ~0.5 ulp of float, far
 *     inside the 2e-6 contract.  For float64 the shift rounds by at most
 *     0.5 ulp(|x - max|) <= 7e-15 relative for entries >= 1e-30 (|x-max|<70),
 *     exp adds < 1 ulp, the scale one more: <= 5e-14 holds with margin.
 *   - Sums use Neumaier-compensated accumulation (error ~2 ulp independent of
 *     the row length), so 262144-wide rows keep the same bound.
 *   - softmax / log_softmax / logsumexp: pass 1 max (NaN-propagating), pass 2
 *     exp-and-sum (softmax stores exp into y), pass 3 scale or shift.  Rows
 *     are read from memory once or twice; this path favours exactness, the
 *     SIMD paths favour passes over memory.
 *   - cross_entropy: one read of the logits.  The row is walked in blocks of
 *     FS_BLOCK elements that stay in L1: block max, rescale the running sum
 *     when the max grows, then sum the block's exps.
 *   - Non-finite rows follow scipy.special: see fs_nonfinite_* below.
 */
#include <math.h>

#define FS_CAT_(a, b, c) a##_##b##_##c
#define FS_CAT(a, b, c) FS_CAT_(a, b, c)
#define FS_FN(op) FS_CAT(op, FS_ISA, FS_SFX)

#ifndef FS_BODY_SCALAR_COMMON
#define FS_BODY_SCALAR_COMMON
#define FS_BLOCK 512
/* SIMD files instantiate this body as their fallback and use only part of it. */
#if defined(__GNUC__)
#define FS_UNUSED __attribute__((unused))
#else
#define FS_UNUSED
#endif

#include "compensated.h"
#endif

/* Max of a row; NaN if any element is NaN. */
FS_UNUSED static double FS_FN(row_max)(const FS_T *x, int64_t n) {
    double m = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double v = (double)x[i];
        if (v != v) return v;
        if (v > m) m = v;
    }
    return m;
}

/* sum(exp(x - m)) for finite m. */
FS_UNUSED static double FS_FN(row_sumexp)(const FS_T *x, int64_t n, double m) {
    fs_acc acc = {0.0, 0.0};
    for (int64_t i = 0; i < n; i++) fs_acc_add(&acc, exp((double)x[i] - m));
    return fs_acc_value(&acc);
}

FS_UNUSED static void FS_FN(fill)(FS_T *y, int64_t n, double v) {
    for (int64_t i = 0; i < n; i++) y[i] = (FS_T)v;
}

/* Online (max, sum of exp) in one read: blocks of FS_BLOCK stay in L1.
 * On return *m is the row max (NaN if any NaN) and *s = sum(exp(x - m)) when
 * m is finite (undefined otherwise). */
FS_UNUSED static void FS_FN(row_online_max_sum)(const FS_T *x, int64_t n, double *m_out, double *s_out) {
    double m = -INFINITY;
    fs_acc acc = {0.0, 0.0};
    for (int64_t b = 0; b < n; b += FS_BLOCK) {
        int64_t len = n - b < FS_BLOCK ? n - b : FS_BLOCK;
        double bm = FS_FN(row_max)(x + b, len);
        if (bm != bm) { *m_out = bm; *s_out = bm; return; }
        if (bm > m) {
            /* exp(-inf) = 0 covers the first block; an infinite max leaves
               the sum meaningless, which the callers handle. */
            double f = isfinite(bm) ? exp(m - bm) : 0.0;
            acc.s *= f;
            acc.c *= f;
            m = bm;
        }
        if (isfinite(m))
            for (int64_t i = 0; i < len; i++) fs_acc_add(&acc, exp((double)x[b + i] - m));
    }
    *m_out = m;
    *s_out = fs_acc_value(&acc);
}

/* logsumexp from (max, sum) following scipy: NaN stays NaN, +-inf max is the
 * result (all -inf -> -inf, any +inf -> +inf). */
static inline double FS_FN(lse_from)(double m, double s) {
    if (!isfinite(m)) return m;
    return m + log(s);
}

FS_UNUSED static void FS_FN(softmax_rows)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys,
                                int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs, y += ys) {
        double m = FS_FN(row_max)(x, n_cols);
        if (!isfinite(m)) {          /* NaN, a +inf entry, or all -inf: scipy gives NaN */
            FS_FN(fill)(y, n_cols, NAN);
            continue;
        }
        fs_acc acc = {0.0, 0.0};
        for (int64_t i = 0; i < n_cols; i++) {
            double e = exp((double)x[i] - m);
            fs_acc_add(&acc, e);
            y[i] = (FS_T)e;
        }
        double inv = 1.0 / fs_acc_value(&acc);
        for (int64_t i = 0; i < n_cols; i++) y[i] = (FS_T)((double)y[i] * inv);
    }
}

FS_UNUSED static void FS_FN(log_softmax_rows)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys,
                                    int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs, y += ys) {
        double m = FS_FN(row_max)(x, n_cols);
        if (m != m || m == -INFINITY) {   /* NaN row, or all -inf: NaN (scipy) */
            FS_FN(fill)(y, n_cols, NAN);
            continue;
        }
        if (m == INFINITY) {              /* x - log(sum exp x) with the sum infinite */
            for (int64_t i = 0; i < n_cols; i++)
                y[i] = (FS_T)(x[i] == INFINITY ? NAN : -INFINITY);
            continue;
        }
        double ls = log(FS_FN(row_sumexp)(x, n_cols, m));
        for (int64_t i = 0; i < n_cols; i++) y[i] = (FS_T)(((double)x[i] - m) - ls);
    }
}

FS_UNUSED static void FS_FN(logsumexp_rows)(const FS_T *x, int64_t xs, FS_T *out,
                                  int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs) {
        double m = FS_FN(row_max)(x, n_cols);
        double s = isfinite(m) ? FS_FN(row_sumexp)(x, n_cols, m) : m;
        out[r] = (FS_T)FS_FN(lse_from)(m, s);
    }
}

FS_UNUSED static void FS_FN(softmax_backward_rows)(const FS_T *g, int64_t gs, const FS_T *y, int64_t ys,
                                         FS_T *out, int64_t os, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, g += gs, y += ys, out += os) {
        fs_acc acc = {0.0, 0.0};
        for (int64_t i = 0; i < n_cols; i++) fs_acc_add(&acc, (double)g[i] * (double)y[i]);
        double dot = fs_acc_value(&acc);
        for (int64_t i = 0; i < n_cols; i++)
            out[i] = (FS_T)((double)y[i] * ((double)g[i] - dot));
    }
}

FS_UNUSED static void FS_FN(log_softmax_backward_rows)(const FS_T *g, int64_t gs, const FS_T *lp, int64_t ls,
                                             FS_T *out, int64_t os, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, g += gs, lp += ls, out += os) {
        fs_acc acc = {0.0, 0.0};
        for (int64_t i = 0; i < n_cols; i++) fs_acc_add(&acc, (double)g[i]);
        double sg = fs_acc_value(&acc);
        for (int64_t i = 0; i < n_cols; i++)
            out[i] = (FS_T)((double)g[i] - exp((double)lp[i]) * sg);
    }
}

FS_UNUSED static void FS_FN(cross_entropy_rows)(const FS_T *x, int64_t xs, const int64_t *target,
                                      double *loss, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs) {
        double m, s;
        FS_FN(row_online_max_sum)(x, n_cols, &m, &s);
        double xt = (double)x[target[r]];
        /* (m - x_t) first: exact for float32, and no large-magnitude rounding. */
        loss[r] = isfinite(m) ? (m - xt) + log(s) : FS_FN(lse_from)(m, s) - xt;
    }
}

FS_UNUSED static void FS_FN(cross_entropy_with_grad_rows)(const FS_T *x, int64_t xs, const int64_t *target,
                                                double *loss, double grad_scale, const double *rs,
                                                FS_T *grad, int64_t gs, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, x += xs, grad += gs) {
        double m, s, scale = rs ? grad_scale * rs[r] : grad_scale;
        FS_FN(row_online_max_sum)(x, n_cols, &m, &s);
        int64_t t = target[r];
        double xt = (double)x[t];       /* read before grad (maybe == x) is written */
        if (!isfinite(m)) {
            loss[r] = FS_FN(lse_from)(m, s) - xt;
            FS_FN(fill)(grad, n_cols, NAN);   /* softmax of such a row is NaN */
            continue;
        }
        loss[r] = (m - xt) + log(s);
        double inv = 1.0 / s;
        for (int64_t i = 0; i < n_cols; i++) {
            double p = exp((double)x[i] - m) * inv;
            grad[i] = (FS_T)((i == t ? p - 1.0 : p) * scale);
        }
    }
}

/* ---- chunk pieces of long rows (see kernels.h) ------------------------------ */
FS_UNUSED static int FS_FN(chunk_online)(const FS_T *x, int64_t n, double *m, double *s) {
    FS_FN(row_online_max_sum)(x, n, m, s);
    if (*m != *m || *m == INFINITY) return 0;
    if (*m == -INFINITY) *s = 0.0;
    return 1;
}

FS_UNUSED static double FS_FN(chunk_dot)(const FS_T *a, const FS_T *b, int64_t n) {
    fs_acc acc = {0.0, 0.0};
    for (int64_t i = 0; i < n; i++) fs_acc_add(&acc, b ? (double)a[i] * (double)b[i] : (double)a[i]);
    return fs_acc_value(&acc);
}

FS_UNUSED static void FS_FN(chunk_write)(int kind, const FS_T *a, const FS_T *b, FS_T *y,
                                         int64_t n, double p0, double p1) {
    switch (kind) {
    case FS_W_SOFTMAX:
        for (int64_t i = 0; i < n; i++) y[i] = (FS_T)(exp((double)a[i] - p0) * p1);
        break;
    case FS_W_LOG_SOFTMAX:
        for (int64_t i = 0; i < n; i++) y[i] = (FS_T)(((double)a[i] - p0) - p1);
        break;
    case FS_W_SOFTMAX_BW:
        for (int64_t i = 0; i < n; i++) y[i] = (FS_T)((double)b[i] * ((double)a[i] - p0));
        break;
    case FS_W_LOG_SOFTMAX_BW:
        for (int64_t i = 0; i < n; i++) y[i] = (FS_T)((double)a[i] - exp((double)b[i]) * p0);
        break;
    }
}

/* ---- non-last axis ----------------------------------------------------------- */
#ifndef FS_COLS_BY_GATHER
#define FS_COLS_BY_GATHER
/* Each column gathered into a contiguous buffer, reduced by the row kernel
 * `rows` (which applies every rule for non-finite input), scattered back.
 * The portable set's column path, and the SIMD sets' path for tiles holding
 * a non-finite column. */
#include <stdlib.h>
#define FS_COLS_GATHER_BODY(T, softmax_rows, log_softmax_rows, logsumexp_rows, ce_rows,      \
                            ce_grad_rows, softmax_bw_rows, log_softmax_bw_rows)           \
    T *buf = malloc((size_t)n * 2 * sizeof(T)), *bbuf = buf + n;                          \
    const T *b = (const T *)ce->b;                                                        \
    if (buf == NULL) return FS_ENOMEM;                                                    \
    for (int64_t j = 0; j < w; j++) {                                                     \
        for (int64_t i = 0; i < n; i++) buf[i] = x[i * xm + j];                           \
        if (b)                                                                            \
            for (int64_t i = 0; i < n; i++) bbuf[i] = b[i * ce->bm + j];                  \
        if ((kind == FS_C_CE || kind == FS_C_CE_GRAD) && ce->lse) {                       \
            T lse_j;                                                                      \
            logsumexp_rows(buf, 0, &lse_j, 1, n);                                         \
            ce->lse[j] = (double)lse_j;                                                   \
        }                                                                                 \
        switch (kind) {                                                                   \
        case FS_C_SOFTMAX_BW: softmax_bw_rows(buf, 0, bbuf, 0, buf, 0, 1, n); break;      \
        case FS_C_LOG_SOFTMAX_BW: log_softmax_bw_rows(buf, 0, bbuf, 0, buf, 0, 1, n); break; \
        case FS_C_LOGSUMEXP: logsumexp_rows(buf, 0, red + j, 1, n); continue;             \
        case FS_C_CE: ce_rows(buf, 0, ce->target + j, ce->loss + j, 1, n); continue;      \
        case FS_C_SOFTMAX: softmax_rows(buf, 0, buf, 0, 1, n); break;                     \
        case FS_C_LOG_SOFTMAX: log_softmax_rows(buf, 0, buf, 0, 1, n); break;             \
        case FS_C_CE_GRAD:                                                                \
            ce_grad_rows(buf, 0, ce->target + j, ce->loss + j, ce->scale,              \
                         ce->rs ? ce->rs + j : NULL, buf, 0, 1, n);  \
            break;                                                                        \
        }                                                                                 \
        for (int64_t i = 0; i < n; i++) y[i * ym + j] = buf[i];                           \
    }                                                                                     \
    free(buf);                                                                            \
    return FS_OK;
#endif

FS_UNUSED static int FS_FN(cols_tile)(int kind, const FS_T *x, int64_t xm, FS_T *y, int64_t ym,
                                      FS_T *red, const fs_cols_extra *ce, int64_t n, int64_t w) {
    FS_COLS_GATHER_BODY(FS_T, FS_FN(softmax_rows), FS_FN(log_softmax_rows), FS_FN(logsumexp_rows),
                        FS_FN(cross_entropy_rows), FS_FN(cross_entropy_with_grad_rows),
                        FS_FN(softmax_backward_rows), FS_FN(log_softmax_backward_rows))
}

/* y = exp(x) elementwise: the kernel set's exp, exposed for its own tests. */
FS_UNUSED static void FS_FN(exp_array)(const FS_T *x, FS_T *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (FS_T)exp((double)x[i]);
}

#undef FS_FN
#undef FS_CAT
#undef FS_CAT_
