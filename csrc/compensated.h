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

#endif /* FASTSOFTMAX_COMPENSATED_H */
