/* compensated.h -- internal: Neumaier-compensated summation in double.
 *
 * The error of the total stays ~2 ulp however many terms are added, which is
 * what lets the kernels promise row-length-independent error bounds.
 */
#ifndef FASTSOFTMAX_COMPENSATED_H
#define FASTSOFTMAX_COMPENSATED_H

#include <math.h>

typedef struct { double s, c; } fs_acc;

static inline void fs_acc_add(fs_acc *a, double v) {
    double t = a->s + v;
    if (fabs(a->s) >= fabs(v)) a->c += (a->s - t) + v;
    else a->c += (v - t) + a->s;
    a->s = t;
}

static inline double fs_acc_value(const fs_acc *a) {
    /* With an infinite partial the compensation is NaN garbage: drop it. */
    return isfinite(a->s) ? a->s + a->c : a->s;
}

/* The total less 1, for a sum of exp(x - max) that added the max's term, exactly 1,
 * as one of its terms: s - 1 is exact (s >= 1, and s <= 2 wherever the rest is small)
 * and c holds every addition's exact error, so the rest keeps its relative accuracy
 * however far below ulp(1) it lies -- log1p of it is then accurate too.  Only for
 * sums whose every term went through fs_acc_add (or a lane TwoSum widened into it). */
static inline double fs_acc_rest(const fs_acc *a) {
    return isfinite(a->s) ? (a->s - 1.0) + a->c : a->s;
}

/* log1p(r) for the rest of a sum (fs_acc_rest), r >= -1: libm's log1p where r is
 * small, else log(1 + r), whose rounding of 1 + r costs at most 2^-53 / log(1.01)
 * = 1.1e-14 relative there -- inside both dtypes' contracts; libm's log1p is about
 * 4x its log (Zen 5: +10% on logsumexp of 2048x1000 float32 when used always). */
static inline double fs_log1p(double r) {
    return r < 0.01 ? log1p(r) : log(1.0 + r);
}

#endif /* FASTSOFTMAX_COMPENSATED_H */
