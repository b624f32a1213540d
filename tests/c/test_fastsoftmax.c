/* test_fastsoftmax.c -- the C library on its own: every public entry point of
 * csrc/fastsoftmax.h, on every kernel set this CPU runs, against a
 * long-double reference of the same inputs, with the README's accuracy
 * contract as the tolerance.
 *
 * Covered: row widths 1..70 (around every lane count), 1000, 70000 and
 * 300000 (float32 rows over FS_L2_ROW_BYTES: the chunked path), strided
 * rows and in-place calls; rows of normal values at three spreads, with a
 * dominant entry, with -inf entries, and non-finite rows (NaN, +inf, all
 * -inf: scipy's rules, as fastsoftmax/reference.py); the column kernels of
 * every op; cross-entropy with ignore_index, class weights, label
 * smoothing, z-loss, softcap, probability targets and the mean's total
 * weight; bad targets and bad sizes; bitwise-equal results for 1 and 3
 * threads.  Built and run by `make -C csrc test` (natively, under the
 * sanitizers, and under qemu-aarch64 in CI); prints one line per kernel set
 * and exits non-zero on the first failure.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsoftmax.h"
#include "storage.h"   /* the half types' conversions (tested on their own below) */

typedef long double LD;

static const char *g_isa = "";
static int g_dt;               /* 0: float32, 1: float64, 2: float16, 3: bfloat16 */
static const char *const dt_names[] = {"f32", "f64", "f16", "bf16"};
static long g_checks;

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "FAIL [%s %s] %s:%d: ", g_isa, dt_names[g_dt],          \
                __FILE__, __LINE__);                                           \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        exit(1);                                                               \
    } while (0)

/* ---- typed buffers: values held as doubles, stored in the dtype ---------- */
static int half(void) { return g_dt >= 2; }
static size_t esz(void) { return g_dt == 1 ? sizeof(double) : g_dt == 0 ? sizeof(float) : sizeof(uint16_t); }
static void *talloc(int64_t n) {
    void *p = calloc((size_t)(n > 0 ? n : 1), esz());
    if (!p) FAIL("out of memory");
    return p;
}
static double tget(const void *p, int64_t i) {
    switch (g_dt) {
    case 0: return ((const float *)p)[i];
    case 1: return ((const double *)p)[i];
    case 2: return fs_get_f16((const uint16_t *)p + i);
    default: return fs_get_bf16((const uint16_t *)p + i);
    }
}
static void tput(void *p, int64_t i, double v) {
    switch (g_dt) {
    case 0: ((float *)p)[i] = (float)v; break;
    case 1: ((double *)p)[i] = v; break;
    case 2: fs_put_f16((uint16_t *)p + i, v); break;
    default: fs_put_bf16((uint16_t *)p + i, v); break;
    }
}
/* The half types compute in float32: their bounds are float32's (the error of the
 * computation) plus one ulp of the half type at the exact value (close_to adds it:
 * the single rounding of the result).  eps_c: the compute type's epsilon. */
static double tol(void) { return g_dt == 1 ? 5e-14 : 2e-6; }
static double tol_bw(void) { return g_dt == 1 ? 2e-13 : 5e-6; }
static double eps_c(void) { return g_dt == 1 ? 0x1p-52 : 0x1p-23; }
static double tiny(void) { return 1e-30; }
/* an absolute floor: results below the normal range are rounded to the subnormal grid */
static double subn(void) { return g_dt == 1 ? 1e-300 : g_dt == 2 ? 0x1p-24 : 1.5e-45; }
/* one ulp of the half type at v (0 for float32 / float64) */
static LD half_ulp(LD v) {
    if (!half()) return 0;
    int mbits = g_dt == 2 ? 10 : 7, emin = g_dt == 2 ? -14 : -126;
    int e;
    frexpl(fabsl(v), &e);              /* |v| in [2^(e-1), 2^e) */
    if (e - 1 < emin) e = emin + 1;
    return ldexpl(1.0L, e - 1 - mbits);
}

/* ---- random inputs ------------------------------------------------------- */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand(void) {   /* [0, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * 0x1p-53;
}
static double nrand(void) {
    double u = urand() + 1e-300, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}
enum { K_N1, K_N10, K_N30, K_DOM, K_MASK, K_NAN, K_PINF, K_ALLNINF, K_NKINDS };
static const int n_finite_kinds = 5;
static void fill_row(void *x, int64_t off, int64_t n, int kind) {
    for (int64_t i = 0; i < n; i++) {
        double v = nrand();
        switch (kind) {
        case K_N10: v *= 10; break;
        case K_N30: v *= 30; break;
        case K_DOM: v = i == n / 3 ? 40 : v; break;
        case K_MASK: v = (i % 3 == 1 && i != n / 2) ? -INFINITY : v * 5; break;
        case K_NAN: v = i == n / 2 ? NAN : v; break;
        case K_PINF: v = i == n / 2 ? INFINITY : v; break;
        case K_ALLNINF: v = -INFINITY; break;
        default: break;
        }
        tput(x, off + i, v);
    }
}

/* ---- long-double reference: scipy's shift (non-finite max -> 0) --------- */
/* softmax of a row with +inf is NaN throughout (scipy shifts by the max itself there) */
typedef struct { LD shift, sum, lse; int pinf; } rowref;
static rowref ref_row(const void *x, int64_t off, int64_t stride, int64_t n) {
    LD m = -INFINITY;
    int nan = 0;
    for (int64_t i = 0; i < n; i++) {
        LD v = tget(x, off + i * stride);
        if (v != v) nan = 1;
        else if (v > m) m = v;
    }
    rowref r;
    r.shift = (!nan && isfinite((double)m)) ? m : 0;
    r.pinf = !nan && m == INFINITY;
    r.sum = 0;
    for (int64_t i = 0; i < n; i++) r.sum += expl((LD)tget(x, off + i * stride) - r.shift);
    if (nan) r.sum = NAN;
    r.lse = logl(r.sum) + r.shift;
    return r;
}

/* |got - want| within bound, or both NaN, or the same infinity */
static void close_to(double got, LD want, LD bound, const char *what, int64_t i) {
    g_checks++;
    if (want != want) {
        if (got == got) FAIL("%s[%lld] = %.17g, want NaN", what, (long long)i, got);
        return;
    }
    if (isinf((double)want) || isinf(got)) {
        if ((LD)got != want) FAIL("%s[%lld] = %.17g, want %.17Lg", what, (long long)i, got, want);
        return;
    }
    bound += half_ulp(want);
    if (!(fabsl((LD)got - want) <= bound))
        FAIL("%s[%lld] = %.17g, want %.17Lg (error %.3Lg > %.3Lg)", what, (long long)i, got, want,
             fabsl((LD)got - want), bound);
}
static void check_softmax(const void *y, int64_t off, int64_t ys, const void *x, int64_t xo,
                          int64_t xs, int64_t n, rowref r, const char *what) {
    for (int64_t i = 0; i < n; i++) {
        LD p = expl((LD)tget(x, xo + i * xs) - r.shift) / r.sum;
        if (r.sum != r.sum || r.pinf) p = NAN;
        close_to(tget(y, off + i * ys), p, p >= tiny() ? tol() * p : tiny(), what, i);
    }
}
static void check_log_softmax(const void *y, int64_t off, int64_t ys, const void *x, int64_t xo,
                              int64_t xs, int64_t n, rowref r, const char *what) {
    for (int64_t i = 0; i < n; i++) {
        LD lp = ((LD)tget(x, xo + i * xs) - r.shift) - logl(r.sum);
        if (r.sum != r.sum) lp = NAN;
        close_to(tget(y, off + i * ys), lp, tol() * fmaxl(1, fabsl(lp)), what, i);
    }
}
/* the cross-entropy gradient's: error / max(p, |p - onehot|) (p below 1e-30: absolute) */
static LD ce_grad_bound(LD p, int onehot) {
    LD a = fmaxl(p, fabsl(p - onehot));
    return a >= tiny() ? tol() * a : tiny();
}
static LD lse_bound(LD lse) { return tol() * fmaxl(1, fabsl(lse)); }

/* ---- dtype-dispatching calls -------------------------------------------- */
#define CALL(fn, ...)                                                                  \
    (g_dt == 0 ? fn##_f32(__VA_ARGS__) : g_dt == 1 ? fn##_f64(__VA_ARGS__)               \
     : g_dt == 2 ? fn##_f16(__VA_ARGS__) : fn##_bf16(__VA_ARGS__))
/* the typed pointer casts CALL needs: every buffer is void* here */
#define fs_softmax_f32(x, xs, y, ys, r, c, t) fs_softmax_f32((const float *)(x), xs, (float *)(y), ys, r, c, t)
#define fs_softmax_f64(x, xs, y, ys, r, c, t) fs_softmax_f64((const double *)(x), xs, (double *)(y), ys, r, c, t)
#define fs_log_softmax_f32(x, xs, y, ys, r, c, t) fs_log_softmax_f32((const float *)(x), xs, (float *)(y), ys, r, c, t)
#define fs_log_softmax_f64(x, xs, y, ys, r, c, t) fs_log_softmax_f64((const double *)(x), xs, (double *)(y), ys, r, c, t)
#define fs_logsumexp_f32(x, xs, o, r, c, t) fs_logsumexp_f32((const float *)(x), xs, (float *)(o), r, c, t)
#define fs_logsumexp_f64(x, xs, o, r, c, t) fs_logsumexp_f64((const double *)(x), xs, (double *)(o), r, c, t)
#define fs_softmax_backward_f32(g, gs, y, ys, o, os, r, c, t) \
    fs_softmax_backward_f32((const float *)(g), gs, (const float *)(y), ys, (float *)(o), os, r, c, t)
#define fs_softmax_backward_f64(g, gs, y, ys, o, os, r, c, t) \
    fs_softmax_backward_f64((const double *)(g), gs, (const double *)(y), ys, (double *)(o), os, r, c, t)
#define fs_log_softmax_backward_f32(g, gs, y, ys, o, os, r, c, t) \
    fs_log_softmax_backward_f32((const float *)(g), gs, (const float *)(y), ys, (float *)(o), os, r, c, t)
#define fs_log_softmax_backward_f64(g, gs, y, ys, o, os, r, c, t) \
    fs_log_softmax_backward_f64((const double *)(g), gs, (const double *)(y), ys, (double *)(o), os, r, c, t)
#define fs_cross_entropy_f32(x, xs, tg, l, r, c, t) fs_cross_entropy_f32((const float *)(x), xs, tg, l, r, c, t)
#define fs_cross_entropy_f64(x, xs, tg, l, r, c, t) fs_cross_entropy_f64((const double *)(x), xs, tg, l, r, c, t)
#define fs_cross_entropy_with_grad_f32(x, xs, tg, l, s, g, gs, r, c, t) \
    fs_cross_entropy_with_grad_f32((const float *)(x), xs, tg, l, s, (float *)(g), gs, r, c, t)
#define fs_cross_entropy_with_grad_f64(x, xs, tg, l, s, g, gs, r, c, t) \
    fs_cross_entropy_with_grad_f64((const double *)(x), xs, tg, l, s, (double *)(g), gs, r, c, t)
#define fs_softmax_cols_f32(x, xo, xm, y, yo, ym, no, n, in, t) \
    fs_softmax_cols_f32((const float *)(x), xo, xm, (float *)(y), yo, ym, no, n, in, t)
#define fs_softmax_cols_f64(x, xo, xm, y, yo, ym, no, n, in, t) \
    fs_softmax_cols_f64((const double *)(x), xo, xm, (double *)(y), yo, ym, no, n, in, t)
#define fs_log_softmax_cols_f32(x, xo, xm, y, yo, ym, no, n, in, t) \
    fs_log_softmax_cols_f32((const float *)(x), xo, xm, (float *)(y), yo, ym, no, n, in, t)
#define fs_log_softmax_cols_f64(x, xo, xm, y, yo, ym, no, n, in, t) \
    fs_log_softmax_cols_f64((const double *)(x), xo, xm, (double *)(y), yo, ym, no, n, in, t)
#define fs_logsumexp_cols_f32(x, xo, xm, o, no, n, in, t) fs_logsumexp_cols_f32((const float *)(x), xo, xm, (float *)(o), no, n, in, t)
#define fs_logsumexp_cols_f64(x, xo, xm, o, no, n, in, t) fs_logsumexp_cols_f64((const double *)(x), xo, xm, (double *)(o), no, n, in, t)
#define fs_softmax_backward_cols_f32(g, go, gm, y, yo, ym, o, oo, om, no, n, in, t) \
    fs_softmax_backward_cols_f32((const float *)(g), go, gm, (const float *)(y), yo, ym, (float *)(o), oo, om, no, n, in, t)
#define fs_softmax_backward_cols_f64(g, go, gm, y, yo, ym, o, oo, om, no, n, in, t) \
    fs_softmax_backward_cols_f64((const double *)(g), go, gm, (const double *)(y), yo, ym, (double *)(o), oo, om, no, n, in, t)
#define fs_log_softmax_backward_cols_f32(g, go, gm, y, yo, ym, o, oo, om, no, n, in, t) \
    fs_log_softmax_backward_cols_f32((const float *)(g), go, gm, (const float *)(y), yo, ym, (float *)(o), oo, om, no, n, in, t)
#define fs_log_softmax_backward_cols_f64(g, go, gm, y, yo, ym, o, oo, om, no, n, in, t) \
    fs_log_softmax_backward_cols_f64((const double *)(g), go, gm, (const double *)(y), yo, ym, (double *)(o), oo, om, no, n, in, t)
#define fs_cross_entropy_cols_f32(x, xo, xm, tg, l, no, n, in, t) fs_cross_entropy_cols_f32((const float *)(x), xo, xm, tg, l, no, n, in, t)
#define fs_cross_entropy_cols_f64(x, xo, xm, tg, l, no, n, in, t) fs_cross_entropy_cols_f64((const double *)(x), xo, xm, tg, l, no, n, in, t)
#define fs_cross_entropy_with_grad_cols_f32(x, xo, xm, tg, l, s, g, go, gm, no, n, in, t) \
    fs_cross_entropy_with_grad_cols_f32((const float *)(x), xo, xm, tg, l, s, (float *)(g), go, gm, no, n, in, t)
#define fs_cross_entropy_with_grad_cols_f64(x, xo, xm, tg, l, s, g, go, gm, no, n, in, t) \
    fs_cross_entropy_with_grad_cols_f64((const double *)(x), xo, xm, tg, l, s, (double *)(g), go, gm, no, n, in, t)
#define fs_cross_entropy_ex_f32(x, xo, xm, o, l, g, go, gm, no, n, in, t) \
    fs_cross_entropy_ex_f32((const float *)(x), xo, xm, o, l, (float *)(g), go, gm, no, n, in, t)
#define fs_cross_entropy_ex_f64(x, xo, xm, o, l, g, go, gm, no, n, in, t) \
    fs_cross_entropy_ex_f64((const double *)(x), xo, xm, o, l, (double *)(g), go, gm, no, n, in, t)
#define fs_exp_f32(x, y, n) fs_exp_f32((const float *)(x), (float *)(y), n)
#define fs_exp_f64(x, y, n) fs_exp_f64((const double *)(x), (double *)(y), n)
#define fs_accumulate_f32(y, x, n, t) fs_accumulate_f32((float *)(y), (const float *)(x), n, t)
#define fs_accumulate_f64(y, x, n, t) fs_accumulate_f64((double *)(y), (const double *)(x), n, t)

#define fs_softmax_f16(x, xs, y, ys, r, c, t) fs_softmax_f16((const uint16_t *)(x), xs, (uint16_t *)(y), ys, r, c, t)
#define fs_softmax_bf16(x, xs, y, ys, r, c, t) fs_softmax_bf16((const uint16_t *)(x), xs, (uint16_t *)(y), ys, r, c, t)
#define fs_log_softmax_f16(x, xs, y, ys, r, c, t) fs_log_softmax_f16((const uint16_t *)(x), xs, (uint16_t *)(y), ys, r, c, t)
#define fs_log_softmax_bf16(x, xs, y, ys, r, c, t) fs_log_softmax_bf16((const uint16_t *)(x), xs, (uint16_t *)(y), ys, r, c, t)
#define fs_logsumexp_f16(x, xs, o, r, c, t) fs_logsumexp_f16((const uint16_t *)(x), xs, (uint16_t *)(o), r, c, t)
#define fs_logsumexp_bf16(x, xs, o, r, c, t) fs_logsumexp_bf16((const uint16_t *)(x), xs, (uint16_t *)(o), r, c, t)
#define fs_softmax_backward_f16(g, gs, y, ys, o, os, r, c, t) \
    fs_softmax_backward_f16((const uint16_t *)(g), gs, (const uint16_t *)(y), ys, (uint16_t *)(o), os, r, c, t)
#define fs_softmax_backward_bf16(g, gs, y, ys, o, os, r, c, t) \
    fs_softmax_backward_bf16((const uint16_t *)(g), gs, (const uint16_t *)(y), ys, (uint16_t *)(o), os, r, c, t)
#define fs_log_softmax_backward_f16(g, gs, y, ys, o, os, r, c, t) \
    fs_log_softmax_backward_f16((const uint16_t *)(g), gs, (const uint16_t *)(y), ys, (uint16_t *)(o), os, r, c, t)
#define fs_log_softmax_backward_bf16(g, gs, y, ys, o, os, r, c, t) \
    fs_log_softmax_backward_bf16((const uint16_t *)(g), gs, (const uint16_t *)(y), ys, (uint16_t *)(o), os, r, c, t)
#define fs_cross_entropy_f16(x, xs, tg, l, r, c, t) fs_cross_entropy_f16((const uint16_t *)(x), xs, tg, l, r, c, t)
#define fs_cross_entropy_bf16(x, xs, tg, l, r, c, t) fs_cross_entropy_bf16((const uint16_t *)(x), xs, tg, l, r, c, t)
#define fs_cross_entropy_with_grad_f16(x, xs, tg, l, s, g, gs, r, c, t) \
    fs_cross_entropy_with_grad_f16((const uint16_t *)(x), xs, tg, l, s, (uint16_t *)(g), gs, r, c, t)
#define fs_cross_entropy_with_grad_bf16(x, xs, tg, l, s, g, gs, r, c, t) \
    fs_cross_entropy_with_grad_bf16((const uint16_t *)(x), xs, tg, l, s, (uint16_t *)(g), gs, r, c, t)
#define fs_softmax_cols_f16(x, xo, xm, y, yo, ym, no, n, in, t) \
    fs_softmax_cols_f16((const uint16_t *)(x), xo, xm, (uint16_t *)(y), yo, ym, no, n, in, t)
#define fs_softmax_cols_bf16(x, xo, xm, y, yo, ym, no, n, in, t) \
    fs_softmax_cols_bf16((const uint16_t *)(x), xo, xm, (uint16_t *)(y), yo, ym, no, n, in, t)
#define fs_log_softmax_cols_f16(x, xo, xm, y, yo, ym, no, n, in, t) \
    fs_log_softmax_cols_f16((const uint16_t *)(x), xo, xm, (uint16_t *)(y), yo, ym, no, n, in, t)
#define fs_log_softmax_cols_bf16(x, xo, xm, y, yo, ym, no, n, in, t) \
    fs_log_softmax_cols_bf16((const uint16_t *)(x), xo, xm, (uint16_t *)(y), yo, ym, no, n, in, t)
#define fs_logsumexp_cols_f16(x, xo, xm, o, no, n, in, t) fs_logsumexp_cols_f16((const uint16_t *)(x), xo, xm, (uint16_t *)(o), no, n, in, t)
#define fs_logsumexp_cols_bf16(x, xo, xm, o, no, n, in, t) fs_logsumexp_cols_bf16((const uint16_t *)(x), xo, xm, (uint16_t *)(o), no, n, in, t)
#define fs_softmax_backward_cols_f16(g, go, gm, y, yo, ym, o, oo, om, no, n, in, t) \
    fs_softmax_backward_cols_f16((const uint16_t *)(g), go, gm, (const uint16_t *)(y), yo, ym, (uint16_t *)(o), oo, om, no, n, in, t)
#define fs_softmax_backward_cols_bf16(g, go, gm, y, yo, ym, o, oo, om, no, n, in, t) \
    fs_softmax_backward_cols_bf16((const uint16_t *)(g), go, gm, (const uint16_t *)(y), yo, ym, (uint16_t *)(o), oo, om, no, n, in, t)
#define fs_log_softmax_backward_cols_f16(g, go, gm, y, yo, ym, o, oo, om, no, n, in, t) \
    fs_log_softmax_backward_cols_f16((const uint16_t *)(g), go, gm, (const uint16_t *)(y), yo, ym, (uint16_t *)(o), oo, om, no, n, in, t)
#define fs_log_softmax_backward_cols_bf16(g, go, gm, y, yo, ym, o, oo, om, no, n, in, t) \
    fs_log_softmax_backward_cols_bf16((const uint16_t *)(g), go, gm, (const uint16_t *)(y), yo, ym, (uint16_t *)(o), oo, om, no, n, in, t)
#define fs_cross_entropy_cols_f16(x, xo, xm, tg, l, no, n, in, t) fs_cross_entropy_cols_f16((const uint16_t *)(x), xo, xm, tg, l, no, n, in, t)
#define fs_cross_entropy_cols_bf16(x, xo, xm, tg, l, no, n, in, t) fs_cross_entropy_cols_bf16((const uint16_t *)(x), xo, xm, tg, l, no, n, in, t)
#define fs_cross_entropy_with_grad_cols_f16(x, xo, xm, tg, l, s, g, go, gm, no, n, in, t) \
    fs_cross_entropy_with_grad_cols_f16((const uint16_t *)(x), xo, xm, tg, l, s, (uint16_t *)(g), go, gm, no, n, in, t)
#define fs_cross_entropy_with_grad_cols_bf16(x, xo, xm, tg, l, s, g, go, gm, no, n, in, t) \
    fs_cross_entropy_with_grad_cols_bf16((const uint16_t *)(x), xo, xm, tg, l, s, (uint16_t *)(g), go, gm, no, n, in, t)
#define fs_cross_entropy_ex_f16(x, xo, xm, o, l, g, go, gm, no, n, in, t) \
    fs_cross_entropy_ex_f16((const uint16_t *)(x), xo, xm, o, l, (uint16_t *)(g), go, gm, no, n, in, t)
#define fs_cross_entropy_ex_bf16(x, xo, xm, o, l, g, go, gm, no, n, in, t) \
    fs_cross_entropy_ex_bf16((const uint16_t *)(x), xo, xm, o, l, (uint16_t *)(g), go, gm, no, n, in, t)
#define fs_exp_f16(x, y, n) fs_exp_f16((const uint16_t *)(x), (uint16_t *)(y), n)
#define fs_exp_bf16(x, y, n) fs_exp_bf16((const uint16_t *)(x), (uint16_t *)(y), n)
#define fs_accumulate_f16(y, x, n, t) fs_accumulate_f16((uint16_t *)(y), (const uint16_t *)(x), n, t)
#define fs_accumulate_bf16(y, x, n, t) fs_accumulate_bf16((uint16_t *)(y), (const uint16_t *)(x), n, t)

static void ok(int64_t rc, int64_t want, const char *what) {
    if (rc != want) FAIL("%s returned %lld, want %lld", what, (long long)rc, (long long)want);
}

/* ---- rows: every row op on one (rows, n) batch -------------------------- */
static void test_rows(int64_t rows, int64_t n, int64_t pad, int kinds) {
    int64_t xs = n + pad;
    void *x = talloc(rows * xs), *y = talloc(rows * xs), *y3 = talloc(rows * xs);
    void *lse = talloc(rows), *g = talloc(rows * xs), *out = talloc(rows * xs);
    int64_t *tg = malloc(sizeof(int64_t) * (size_t)rows);
    double *loss = malloc(sizeof(double) * (size_t)rows), *loss3 = malloc(sizeof(double) * (size_t)rows);
    rowref *r = malloc(sizeof(rowref) * (size_t)rows);
    if (!tg || !loss || !loss3 || !r) FAIL("out of memory");
    for (int64_t i = 0; i < rows; i++) {
        fill_row(x, i * xs, n, (int)(i % kinds));
        r[i] = ref_row(x, i * xs, 1, n);
        tg[i] = (i * 7 + 3) % n;
    }
    size_t bytes = (size_t)(rows * xs) * esz();

    ok(CALL(fs_softmax, x, xs, y, xs, rows, n, 1), 0, "softmax");
    for (int64_t i = 0; i < rows; i++) check_softmax(y, i * xs, 1, x, i * xs, 1, n, r[i], "softmax");
    ok(CALL(fs_softmax, x, xs, y3, xs, rows, n, 3), 0, "softmax");
    if (memcmp(y, y3, bytes)) FAIL("softmax: 3 threads differ from 1 (n=%lld)", (long long)n);

    ok(CALL(fs_log_softmax, x, xs, y, xs, rows, n, 1), 0, "log_softmax");
    for (int64_t i = 0; i < rows; i++) check_log_softmax(y, i * xs, 1, x, i * xs, 1, n, r[i], "log_softmax");
    ok(CALL(fs_log_softmax, x, xs, y3, xs, rows, n, 3), 0, "log_softmax");
    if (memcmp(y, y3, bytes)) FAIL("log_softmax: 3 threads differ from 1");

    ok(CALL(fs_logsumexp, x, xs, lse, rows, n, 1), 0, "logsumexp");
    for (int64_t i = 0; i < rows; i++) close_to(tget(lse, i), r[i].lse, lse_bound(r[i].lse), "logsumexp", i);
    ok(CALL(fs_logsumexp, x, xs, y3, rows, n, 3), 0, "logsumexp");
    if (memcmp(lse, y3, (size_t)rows * esz())) FAIL("logsumexp: 3 threads differ from 1");

    /* backward ops, from this batch's softmax / log_softmax (finite rows) */
    if (kinds <= n_finite_kinds) {
        for (int64_t i = 0; i < rows * xs; i++) tput(g, i, nrand());
        ok(CALL(fs_softmax, x, xs, y, xs, rows, n, 1), 0, "softmax");
        ok(CALL(fs_softmax_backward, g, xs, y, xs, out, xs, rows, n, 1), 0, "softmax_backward");
        for (int64_t i = 0; i < rows; i++) {
            LD d = 0, a = 0;
            for (int64_t j = 0; j < n; j++) {
                LD gy = (LD)tget(g, i * xs + j) * tget(y, i * xs + j);
                d += gy;
                a += fabsl(gy);
            }
            for (int64_t j = 0; j < n; j++) {
                LD yv = tget(y, i * xs + j), gv = tget(g, i * xs + j);
                close_to(tget(out, i * xs + j), yv * (gv - d), tol_bw() * yv * (fabsl(gv) + a) + subn(),
                         "softmax_backward", j);
            }
        }
        ok(CALL(fs_log_softmax, x, xs, y, xs, rows, n, 1), 0, "log_softmax");
        ok(CALL(fs_log_softmax_backward, g, xs, y, xs, out, xs, rows, n, 3), 0, "log_softmax_backward");
        for (int64_t i = 0; i < rows; i++) {
            LD sg = 0, a = 0;
            for (int64_t j = 0; j < n; j++) {
                sg += tget(g, i * xs + j);
                a += fabsl((LD)tget(g, i * xs + j));
            }
            for (int64_t j = 0; j < n; j++) {
                LD e = expl((LD)tget(y, i * xs + j)), gv = tget(g, i * xs + j);
                close_to(tget(out, i * xs + j), gv - e * sg, tol_bw() * (fabsl(gv) + fmaxl(e, 5.6e-40L) * a) + subn(),
                         "log_softmax_backward", j);
            }
        }
        /* in place: y over x */
        memcpy(y, x, bytes);
        ok(CALL(fs_softmax, y, xs, y, xs, rows, n, 1), 0, "softmax in place");
        for (int64_t i = 0; i < rows; i++) check_softmax(y, i * xs, 1, x, i * xs, 1, n, r[i], "softmax in place");
    }

    /* cross-entropy: finite rows only (non-finite logits propagate) */
    if (kinds <= n_finite_kinds) {
        ok(CALL(fs_cross_entropy, x, xs, tg, loss, rows, n, 1), FS_TARGETS_OK, "cross_entropy");
        for (int64_t i = 0; i < rows; i++) {
            LD want = r[i].lse - (LD)tget(x, i * xs + tg[i]);
            close_to(loss[i], want, tol() * fmaxl(1, fabsl(want)), "cross_entropy", i);
        }
        ok(CALL(fs_cross_entropy, x, xs, tg, loss3, rows, n, 3), FS_TARGETS_OK, "cross_entropy");
        if (memcmp(loss, loss3, sizeof(double) * (size_t)rows)) FAIL("cross_entropy: 3 threads differ from 1");
        double scale = 1.0 / (double)rows;
        ok(CALL(fs_cross_entropy_with_grad, x, xs, tg, loss3, scale, g, xs, rows, n, 3), FS_TARGETS_OK,
           "cross_entropy_with_grad");
        for (int64_t i = 0; i < rows; i++) {
            close_to(loss3[i], (LD)loss[i], tol() * fmax(1, fabs(loss[i])), "cross_entropy_with_grad loss", i);
            for (int64_t j = 0; j < n; j++) {
                LD p = expl((LD)tget(x, i * xs + j) - r[i].shift) / r[i].sum;
                LD want = (p - (j == tg[i])) * scale;
                LD b = ce_grad_bound(p, j == tg[i]) * scale;
                close_to(tget(g, i * xs + j), want, b, "cross_entropy_with_grad grad", j);
            }
        }
        /* in place: the gradient over the logits, bitwise as out of place */
        memcpy(y, x, bytes);
        ok(CALL(fs_cross_entropy_with_grad, y, xs, tg, loss3, scale, y, xs, rows, n, 1), FS_TARGETS_OK,
           "cross_entropy_with_grad in place");
        for (int64_t i = 0; i < rows; i++)
            if (memcmp((char *)y + i * xs * esz(), (char *)g + i * xs * esz(), (size_t)n * esz()))
                FAIL("cross_entropy_with_grad in place differs from out of place (row %lld)", (long long)i);
        /* a bad target: its index returned, nothing written */
        tg[rows - 1] = n;
        loss[rows - 1] = 12345;
        ok(CALL(fs_cross_entropy, x, xs, tg, loss, rows, n, 1), rows - 1, "cross_entropy bad target");
        if (loss[rows - 1] != 12345) FAIL("cross_entropy wrote a loss before reporting a bad target");
        tg[rows - 1] = -1;
        ok(CALL(fs_cross_entropy_with_grad, x, xs, tg, loss, 1.0, g, xs, rows, n, 1), rows - 1,
           "cross_entropy_with_grad bad target");
    } else {
        /* a NaN row's loss is NaN */
        int64_t i = K_NAN;
        if (rows > i) {
            ok(CALL(fs_cross_entropy, x, xs, tg, loss, rows, n, 1), FS_TARGETS_OK, "cross_entropy");
            if (loss[i] == loss[i]) FAIL("cross_entropy of a NaN row: %g, want NaN", loss[i]);
        }
    }
    free(x); free(y); free(y3); free(lse); free(g); free(out); free(tg); free(loss); free(loss3); free(r);
}

/* ---- columns: (n_outer, n, inner), reduced over n ----------------------- */
static void test_cols(int64_t no, int64_t n, int64_t inner) {
    int64_t xm = inner + 1, xo = n * xm + 3, tot = no * xo;   /* padded mid and outer strides */
    void *x = talloc(tot), *y = talloc(tot), *y3 = talloc(tot), *g = talloc(tot), *o = talloc(tot);
    void *lse = talloc(no * inner);
    int64_t *tg = malloc(sizeof(int64_t) * (size_t)(no * inner));
    double *loss = malloc(sizeof(double) * (size_t)(no * inner));
    if (!tg || !loss) FAIL("out of memory");
    for (int64_t i = 0; i < tot; i++) tput(x, i, nrand() * 10);
    for (int64_t i = 0; i < no * inner; i++) tg[i] = (i * 5 + 1) % n;
    ok(CALL(fs_softmax_cols, x, xo, xm, y, xo, xm, no, n, inner, 1), 0, "softmax_cols");
    ok(CALL(fs_softmax_cols, x, xo, xm, y3, xo, xm, no, n, inner, 3), 0, "softmax_cols");
    if (memcmp(y, y3, (size_t)tot * esz())) FAIL("softmax_cols: 3 threads differ from 1");
    for (int64_t a = 0; a < no; a++)
        for (int64_t j = 0; j < inner; j++)
            check_softmax(y, a * xo + j, xm, x, a * xo + j, xm, n, ref_row(x, a * xo + j, xm, n), "softmax_cols");
    ok(CALL(fs_log_softmax_cols, x, xo, xm, y, xo, xm, no, n, inner, 3), 0, "log_softmax_cols");
    for (int64_t a = 0; a < no; a++)
        for (int64_t j = 0; j < inner; j++)
            check_log_softmax(y, a * xo + j, xm, x, a * xo + j, xm, n, ref_row(x, a * xo + j, xm, n),
                              "log_softmax_cols");
    ok(CALL(fs_logsumexp_cols, x, xo, xm, lse, no, n, inner, 1), 0, "logsumexp_cols");
    ok(CALL(fs_cross_entropy_cols, x, xo, xm, tg, loss, no, n, inner, 1), FS_TARGETS_OK, "cross_entropy_cols");
    for (int64_t a = 0; a < no; a++)
        for (int64_t j = 0; j < inner; j++) {
            rowref r = ref_row(x, a * xo + j, xm, n);
            close_to(tget(lse, a * inner + j), r.lse, lse_bound(r.lse), "logsumexp_cols", j);
            LD want = r.lse - (LD)tget(x, a * xo + tg[a * inner + j] * xm + j);
            close_to(loss[a * inner + j], want, tol() * fmaxl(1, fabsl(want)), "cross_entropy_cols", j);
        }
    ok(CALL(fs_cross_entropy_with_grad_cols, x, xo, xm, tg, loss, 0.5, g, xo, xm, no, n, inner, 3),
       FS_TARGETS_OK, "cross_entropy_with_grad_cols");
    for (int64_t a = 0; a < no; a++)
        for (int64_t j = 0; j < inner; j++) {
            rowref r = ref_row(x, a * xo + j, xm, n);
            int64_t t = tg[a * inner + j];
            for (int64_t c = 0; c < n; c++) {
                LD p = expl((LD)tget(x, a * xo + c * xm + j) - r.shift) / r.sum;
                LD b = ce_grad_bound(p, c == t) * 0.5;
                close_to(tget(g, a * xo + c * xm + j), (p - (c == t)) * 0.5, b, "cross_entropy_with_grad_cols", c);
            }
        }
    /* backward over columns: y = softmax (cols), g random */
    ok(CALL(fs_softmax_cols, x, xo, xm, y, xo, xm, no, n, inner, 1), 0, "softmax_cols");
    for (int64_t i = 0; i < tot; i++) tput(g, i, nrand());
    ok(CALL(fs_softmax_backward_cols, g, xo, xm, y, xo, xm, o, xo, xm, no, n, inner, 1), 0, "softmax_backward_cols");
    for (int64_t a = 0; a < no; a++)
        for (int64_t j = 0; j < inner; j++) {
            LD d = 0, s = 0;
            for (int64_t c = 0; c < n; c++) {
                LD gy = (LD)tget(g, a * xo + c * xm + j) * tget(y, a * xo + c * xm + j);
                d += gy;
                s += fabsl(gy);
            }
            for (int64_t c = 0; c < n; c++) {
                int64_t k = a * xo + c * xm + j;
                LD yv = tget(y, k), gv = tget(g, k);
                close_to(tget(o, k), yv * (gv - d), tol_bw() * yv * (fabsl(gv) + s) + subn(), "softmax_backward_cols", c);
            }
        }
    ok(CALL(fs_log_softmax_cols, x, xo, xm, y, xo, xm, no, n, inner, 1), 0, "log_softmax_cols");
    ok(CALL(fs_log_softmax_backward_cols, g, xo, xm, y, xo, xm, o, xo, xm, no, n, inner, 3), 0,
       "log_softmax_backward_cols");
    for (int64_t a = 0; a < no; a++)
        for (int64_t j = 0; j < inner; j++) {
            LD sg = 0, s = 0;
            for (int64_t c = 0; c < n; c++) {
                sg += tget(g, a * xo + c * xm + j);
                s += fabsl((LD)tget(g, a * xo + c * xm + j));
            }
            for (int64_t c = 0; c < n; c++) {
                int64_t k = a * xo + c * xm + j;
                LD e = expl((LD)tget(y, k)), gv = tget(g, k);
                close_to(tget(o, k), gv - e * sg, tol_bw() * (fabsl(gv) + fmaxl(e, 5.6e-40L) * s) + subn(),
                         "log_softmax_backward_cols", c);
            }
        }
    free(x); free(y); free(y3); free(g); free(o); free(lse); free(tg); free(loss);
}

/* ---- cross-entropy with options (rows), against torch's definitions ----- */
typedef struct { int ignore, weights, probs, grad_mean; double eps, z, cap; } ce_case;
static void test_ce_ex(int64_t rows, int64_t n, ce_case cc) {
    void *x = talloc(rows * n), *g = talloc(rows * n), *g3 = talloc(rows * n);
    void *w = talloc(n), *q = talloc(rows * n);
    int64_t *tg = malloc(sizeof(int64_t) * (size_t)rows);
    double *loss = malloc(sizeof(double) * (size_t)rows), *lse = malloc(sizeof(double) * (size_t)rows);
    double *loss3 = malloc(sizeof(double) * (size_t)rows);
    if (!tg || !loss || !lse || !loss3) FAIL("out of memory");
    for (int64_t i = 0; i < rows * n; i++) tput(x, i, nrand() * 4);
    for (int64_t c = 0; c < n; c++) tput(w, c, 0.25 + urand());
    for (int64_t i = 0; i < rows; i++) {
        tg[i] = (i * 3 + 1) % n;
        if (cc.ignore && i % 4 == 2) tg[i] = -100;
        double s = 0;
        for (int64_t c = 0; c < n; c++) s += urand();
        for (int64_t c = 0; c < n; c++) tput(q, i * n + c, urand() / s);
    }
    fs_ce_options o;
    memset(&o, 0, sizeof o);
    o.target = cc.probs ? NULL : tg;
    o.ignore_index = cc.ignore ? -100 : FS_NO_IGNORE;
    o.probs = cc.probs ? q : NULL;
    o.probs_outer = n;
    o.probs_mid = 1;
    o.weight = cc.weights ? w : NULL;
    o.label_smoothing = cc.eps;
    o.z_loss = cc.z;
    o.softcap = cc.cap;
    o.lse = lse;
    o.grad_scale = 0.75;
    o.grad_mean = cc.grad_mean;
    double total = -1;
    o.total_weight = &total;
    ok(CALL(fs_cross_entropy_ex, x, n, 1, &o, loss, g, n, 1, rows, n, 1, 1), FS_TARGETS_OK, "cross_entropy_ex");
    o.total_weight = NULL;
    ok(CALL(fs_cross_entropy_ex, x, n, 1, &o, loss3, g3, n, 1, rows, n, 1, 3), FS_TARGETS_OK, "cross_entropy_ex");
    if (memcmp(loss, loss3, sizeof(double) * (size_t)rows) || memcmp(g, g3, (size_t)(rows * n) * esz()))
        FAIL("cross_entropy_ex: 3 threads differ from 1");
    LD W = 0, tw = 0;
    for (int64_t c = 0; c < n; c++) W += cc.weights ? tget(w, c) : 1;
    for (int64_t i = 0; i < rows; i++)
        if (cc.probs) tw += 1;
        else if (tg[i] != -100 || !cc.ignore) tw += cc.weights ? tget(w, tg[i]) : 1;
    close_to(total, tw, 1e-12 * tw, "total_weight", 0);
    LD *u = malloc(sizeof(LD) * (size_t)n), *du = malloc(sizeof(LD) * (size_t)n);
    if (!u || !du) FAIL("out of memory");
    for (int64_t i = 0; i < rows; i++) {
        int ign = !cc.probs && cc.ignore && tg[i] == -100;
        LD m = -INFINITY, s = 0;
        for (int64_t c = 0; c < n; c++) {
            LD v = tget(x, i * n + c);
            u[c] = cc.cap > 0 ? cc.cap * tanhl(v / cc.cap) : v;
            if (u[c] > m) m = u[c];
        }
        for (int64_t c = 0; c < n; c++) s += expl(u[c] - m);
        LD L = logl(s) + m, want = 0, gmax = 0;
        for (int64_t c = 0; c < n; c++) {
            LD p = expl(u[c] - L), wc = cc.weights ? tget(w, c) : 1;
            if (cc.probs) {
                LD qc = tget(q, i * n + c);   /* rows of q sum to 1 */
                LD qs = (1 - cc.eps) * qc + cc.eps / n;
                want += wc * qs * (L - u[c]);
                du[c] = 0;   /* filled below */
            } else {
                int64_t t = tg[i];
                LD wt = cc.weights && !ign ? tget(w, t) : 1;   /* (an ignored target is no class) */
                want += (c == t ? (1 - cc.eps) * wt * (L - u[c]) : 0) + cc.eps / n * wc * (L - u[c]);
                du[c] = (1 - cc.eps) * wt * (p - (c == t)) + cc.eps / n * (W * p - wc);
            }
        }
        if (cc.probs) {
            LD sq = 0;
            for (int64_t c = 0; c < n; c++) {
                LD wc = cc.weights ? tget(w, c) : 1, qs = (1 - cc.eps) * tget(q, i * n + c) + cc.eps / n;
                sq += wc * qs;
            }
            for (int64_t c = 0; c < n; c++) {
                LD wc = cc.weights ? tget(w, c) : 1, qs = (1 - cc.eps) * tget(q, i * n + c) + cc.eps / n;
                du[c] = expl(u[c] - L) * sq - wc * qs;
            }
        }
        want += cc.z * L * L;
        if (ign) want = 0;
        /* the plain loss's contract (absolute / max(1, |loss|)); softcap: the capped logits
           are rounded to the dtype first (absolute ~ cap * eps) */
        LD extra = cc.cap > 0 ? 4 * cc.cap * eps_c() : 0;
        close_to(loss[i], want, tol() * fmaxl(1, fabsl(want)) + extra, "cross_entropy_ex loss", i);
        close_to(lse[i], ign ? 0 : L, lse_bound(L) + extra, "cross_entropy_ex lse", i);
        LD gs = 0.75L / (cc.grad_mean ? tw : 1);
        for (int64_t c = 0; c < n; c++) {
            LD p = expl(u[c] - L);
            du[c] += 2 * cc.z * L * p;
            if (cc.cap > 0) du[c] *= 1 - (u[c] / cc.cap) * (u[c] / cc.cap);
            du[c] = ign ? 0 : du[c] * gs;
            if (fabsl(du[c]) > gmax) gmax = fabsl(du[c]);
        }
        /* the scale of the gradient's terms (p - target weights, the z-loss term): an entry
           where they cancel is held to it, not to its own tiny size */
        LD wmax = 1;
        for (int64_t c = 0; cc.weights && c < n; c++) wmax = c ? fmaxl(wmax, tget(w, c)) : tget(w, c);
        LD A = ign ? 0 : gs * (2 * wmax + 2 * cc.z * fabsl(L));
        for (int64_t c = 0; c < n; c++)
            close_to(tget(g, i * n + c), du[c], tol() * (fabsl(du[c]) + fmaxl(gmax, A)) + extra * gmax + subn(),
                     "cross_entropy_ex grad", c);
    }
    /* a bad target is reported, not used */
    if (!cc.probs) {
        tg[rows / 2] = n + 5;
        ok(CALL(fs_cross_entropy_ex, x, n, 1, &o, loss, g, n, 1, rows, n, 1, 1), rows / 2, "cross_entropy_ex bad target");
    }
    free(u); free(du); free(x); free(g); free(g3); free(w); free(q); free(tg); free(loss); free(lse); free(loss3);
}

/* ---- the rest of the API ------------------------------------------------- */
static void test_misc(void) {
    int64_t n = 4099;
    void *x = talloc(n), *y = talloc(n), *z = talloc(n);
    /* results up to the largest finite (float16: 65504) */
    double lo = g_dt == 1 ? -745 : g_dt == 2 ? -18 : -103, hi = g_dt == 1 ? 709 : g_dt == 2 ? 11 : 88.7;
    for (int64_t i = 0; i < n; i++) tput(x, i, lo + (hi - lo) * (double)i / (double)n);
    ok(CALL(fs_exp, x, y, n), 0, "exp");
    for (int64_t i = 0; i < n; i++) {
        LD e = expl((LD)tget(x, i));
        close_to(tget(y, i), e, 1.5 * eps_c() * e + (g_dt == 1 ? 5e-324 : 1.5e-45), "exp", i);
    }
    LD *sum = malloc((size_t)n * sizeof *sum);
    if (!sum) FAIL("out of memory");
    for (int64_t i = 0; i < n; i++) {
        tput(y, i, (double)i);
        tput(z, i, 2.0 * (double)i);
        sum[i] = (LD)tget(y, i) + tget(z, i);   /* the stored values' sum (a half type rounds them) */
    }
    ok(CALL(fs_accumulate, y, z, n, 3), 0, "accumulate");
    for (int64_t i = 0; i < n; i++)   /* exact, or (a half type) rounded once */
        close_to(tget(y, i), sum[i], 0, "accumulate", i);
    free(sum);
    /* impossible arguments */
    ok(CALL(fs_softmax, x, 1, y, 1, -1, 1, 1), FS_EINVAL, "softmax(n_rows=-1)");
    ok(CALL(fs_softmax, NULL, 1, y, 1, 1, 1, 1), FS_EINVAL, "softmax(x=NULL)");
    ok(CALL(fs_logsumexp, x, 1, y, 1, 0, 1), 0, "logsumexp(n_cols=0)");
    if (tget(y, 0) != -INFINITY) FAIL("logsumexp of an empty row: %g, want -inf", tget(y, 0));
    ok(CALL(fs_softmax, x, 1, y, 1, 1, -1, 1), FS_EINVAL, "softmax(n_cols=-1)");
    ok(CALL(fs_softmax, x, 1, y, 1, 0, 5, 1), 0, "softmax(n_rows=0)");
    free(x); free(y); free(z);
}

/* The half types' scalar conversions (storage.h), against their definition: every
 * bit pattern widens and narrows back to itself (NaN to a quiet NaN), and a double
 * between two neighbours rounds to the nearer, ties to the even one. */
static void test_half_conversions(void) {
    for (int bf = 0; bf < 2; bf++) {
        int mbits = bf ? 7 : 10;
        uint16_t qbit = (uint16_t)(1u << (mbits - 1)), inf = bf ? 0x7f80 : 0x7c00;
        for (uint32_t h = 0; h < 65536; h++) {
            uint16_t b = (uint16_t)h, back;
            double v = bf ? fs_get_bf16(&b) : fs_get_f16(&b);
            if (bf) fs_put_bf16(&back, v);
            else fs_put_f16(&back, v);
            g_checks++;
            int nan = (b & inf) == inf && (b & (inf ^ 0x7fff)) != 0;
            if (nan ? (v == v || back != (b | qbit)) : back != b)
                FAIL("%s pattern 0x%04x -> %.17g -> 0x%04x", bf ? "bf16" : "f16", b, v, back);
            if (nan || (b & 0x7fff) >= inf - 1) continue;     /* the next pattern is not finite */
            uint16_t nb = (uint16_t)(b + 1), r[3];
            double w = bf ? fs_get_bf16(&nb) : fs_get_f16(&nb), mid = v + (w - v) / 2;
            double probe[3] = {nextafter(mid, -INFINITY * (b & 0x8000 ? -1 : 1)), mid,
                               nextafter(mid, INFINITY * (b & 0x8000 ? -1 : 1))};
            for (int k = 0; k < 3; k++) {
                if (bf) fs_put_bf16(r + k, probe[k]);
                else fs_put_f16(r + k, probe[k]);
            }
            g_checks += 3;
            if (r[0] != b || r[1] != ((b & 1) ? nb : b) || r[2] != nb)
                FAIL("%s rounding between 0x%04x and 0x%04x: 0x%04x 0x%04x 0x%04x", bf ? "bf16" : "f16",
                     b, nb, r[0], r[1], r[2]);
        }
        uint16_t r;
        fs_put_f16(&r, 65520.0);                 /* halfway to 2^16: to even, which is inf */
        if (!bf && r != 0x7c00) FAIL("f16(65520) = 0x%04x, want inf", r);
        fs_put_f16(&r, 0x1p-25);                 /* half the least subnormal: to even, 0 */
        if (!bf && r != 0) FAIL("f16(2^-25) = 0x%04x, want 0", r);
        fs_put_bf16(&r, 1e300);
        if (bf && r != 0x7f80) FAIL("bf16(1e300) = 0x%04x, want inf", r);
        fs_put_bf16(&r, -1e-300);
        if (bf && r != 0x8000) FAIL("bf16(-1e-300) = 0x%04x, want -0", r);
    }
}

/* The kernel set's vector stores of a half type round to nearest even, as storage.h
 * does: cross_entropy_with_grad of all-zero logits over 2^k classes writes
 * scale / 2^k to every class but the target -- exact in float32 -- so each entry must
 * be fs_put_<half>(scale / 2^k) bit for bit, ties and the subnormal range included. */
static void test_half_rounding(void) {
    static const int64_t ns[] = {16, 64, 1024};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        int64_t n = ns[a];
        void *x = talloc(n), *g = talloc(n);
        int64_t t = 0;
        double loss;
        for (int k = 0; k < 3000; k++) {
            uint32_t bits = (uint32_t)(urand() * 4294967296.0);
            /* exponent: results from the subnormal range up past the largest finite */
            int e = g_dt == 2 ? -28 + (int)(urand() * 46) : -135 + (int)(urand() * 262);
            bits = (bits & 0x807fffffu) | ((uint32_t)(e + 127 + 6) << 23);
            if (k % 2) bits = g_dt == 2 ? (bits & ~0x1fffu) | 0x1000u : (bits & ~0xffffu) | 0x8000u;
            if (k % 4 == 1) bits ^= g_dt == 2 ? 0x2000u : 0x10000u;   /* ties of both parities */
            double scale;
            {
                uint32_t b = bits;
                float f;
                memcpy(&f, &b, sizeof f);
                scale = (double)f * (double)n / 64.0;
            }
            if (!isfinite(scale)) continue;
            ok(CALL(fs_cross_entropy_with_grad, x, n, &t, &loss, scale, g, n, 1, n, 1), FS_TARGETS_OK,
               "cross_entropy_with_grad (rounding)");
            uint16_t want;
            if (g_dt == 2) fs_put_f16(&want, scale / (double)n);
            else fs_put_bf16(&want, scale / (double)n);
            for (int64_t c = 1; c < n; c++) {
                g_checks++;
                if (((uint16_t *)g)[c] != want)
                    FAIL("grad[%lld] = 0x%04x, want 0x%04x (scale / n = %.9g)", (long long)c,
                         ((uint16_t *)g)[c], want, scale / (double)n);
            }
        }
        free(x); free(g);
    }
}

static void run_set(void) {
    static const int64_t widths_long[] = {1000, 70000};
    for (int64_t n = 1; n <= 70; n++) test_rows(n < 20 ? 37 : 9, n, n % 3 == 0 ? 5 : 0, K_NKINDS);
    for (int64_t n = 1; n <= 70; n += 3) test_rows(n_finite_kinds * 2, n, 0, n_finite_kinds);
    for (size_t k = 0; k < sizeof widths_long / sizeof widths_long[0]; k++) {
        test_rows(K_NKINDS, widths_long[k], 16, K_NKINDS);
        test_rows(n_finite_kinds, widths_long[k], 0, n_finite_kinds);
    }
    /* enough rows for three threads (FS_MIN_WORK elements each, dispatch.c): the
     * rows split at places that are not multiples of the short-row blocks */
    static const int64_t split_n[] = {3, 10, 16, 17};
    for (size_t k = 0; k < sizeof split_n / sizeof split_n[0]; k++) {
        test_rows(3 * 32768 / split_n[k] + 7, split_n[k], 0, K_NKINDS);
        test_rows(3 * 32768 / split_n[k] + 5, split_n[k], 0, n_finite_kinds);
    }
    /* past FS_L2_ROW_BYTES (1 MiB): the chunked path, split across threads */
    test_rows(2, g_dt ? 140000 : 300000, 0, 2);
    static const int64_t cn[] = {1, 2, 7, 33, 300}, ci[] = {1, 3, 8, 70};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 4; b++) test_cols(2, cn[a], ci[b]);
    static const ce_case cases[] = {
        {0, 0, 0, 0, 0, 0, 0},   {1, 0, 0, 0, 0, 0, 0},   {0, 1, 0, 1, 0, 0, 0},
        {1, 1, 0, 1, 0.1, 0, 0}, {0, 0, 0, 0, 0.2, 0, 0}, {0, 0, 0, 0, 0, 1e-3, 0},
        {0, 0, 0, 0, 0, 0, 5.0}, {0, 0, 1, 1, 0, 0, 0},   {0, 1, 1, 0, 0.1, 1e-3, 3.0},
    };
    static const int64_t ce_n[] = {1, 10, 37, 1000};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (size_t j = 0; j < 4; j++) test_ce_ex(13, ce_n[j], cases[k]);
    test_misc();
    if (half()) test_half_rounding();
}

int main(void) {
    int n_sets = 0;
    while (fs_isa_name(n_sets)) n_sets++;
    if (n_sets < 1 || strcmp(fs_isa_name(0), "scalar") != 0) FAIL("fs_isa_name(0) is not \"scalar\"");
    if (fs_set_isa("no-such-set") != FS_EINVAL) FAIL("fs_set_isa accepted an unknown name");
    test_half_conversions();
    int ran = 0;
    for (int i = 0; i < n_sets; i++) {
        const char *name = fs_isa_name(i);
        if (!fs_isa_supported(name)) {
            printf("%-8s compiled in, not supported by this CPU: skipped\n", name);
            continue;
        }
        if (fs_set_isa(name) != 0 || strcmp(fs_get_isa(), name) != 0) FAIL("fs_set_isa(\"%s\") failed", name);
        g_isa = name;
        long before = g_checks;
        for (g_dt = 0; g_dt < 4; g_dt++) run_set();
        printf("%-8s ok (%ld checks)\n", name, g_checks - before);
        fflush(stdout);
        ran++;
    }
    printf("fastsoftmax C tests: %d kernel set(s) passed, %d thread(s) by default\n", ran, fs_get_num_threads());
    return 0;
}
