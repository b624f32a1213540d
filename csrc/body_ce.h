/* body_ce.h -- the general cross-entropy kernel (label smoothing,
 * probability targets, z-loss, softcap, class weights), written once over
 * the VOP vector primitives.  Included per dtype by body_simd.h (vector
 * lanes of the data type) and by kernels_scalar.c with FS_CE_PORTABLE (one
 * "lane" of double: the portable set computes it in double with libm).
 *
 * Design.  Every option is one case of
 *     loss = A * lse - sum_k a_k u_k + z * lse^2,   grad = (A + 2 z lse) p - a
 * with u the (capped) logits, p = softmax(u), a_k >= 0 the target weights
 * and A = sum_k a_k:
 *     class target t:  a = (1 - eps) w_t onehot(t) + (eps / C) w
 *     probabilities q: a = w * ((1 - eps) q + eps / C)
 * (w: class weights, or 1; eps: label smoothing; torch's definitions).
 * Softcap: u = cap * tanh(x / cap), and the gradient is multiplied by
 * du/dx = 1 - (u / cap)^2.
 * Pass 1 reads the row once, in blocks of FS_BLOCK elements: block max of x
 * (tanh is increasing, so the max of u is cap(max x)), then per element u,
 * exp(u - max) into the running sum (rescaled when the max grows) and the
 * dot products sum w (u - c0), sum w q (u - c0), sum w q.  Pass 2 (gradient
 * only) recomputes u and exp and writes the gradient: one read for the loss,
 * two reads and one write with the gradient, for rows of any length.
 * Accuracy: dot products are taken against c0, the first block's max, so
 * A * lse - sum a u is formed as A * (lse - c0) - sum a (u - c0) without the
 * logits' magnitude cancelling; lane sums are widened per block and added
 * with Neumaier compensation, as in body_simd.h.  tanh has a relative
 * error of a few ulp (ce_tanh), so u is within a few ulp of its exact value,
 * as torch's cap * tanh(x / cap) in the same dtype.
 * Non-finite logits propagate (NaN or inf loss), as in torch.
 */
#ifdef FS_CE_PORTABLE
/* one double "lane": the portable set's reference-quality arithmetic */
#define FS_CE_CAT2_(a, b) a##_##b
#define FS_CE_CAT2(a, b) FS_CE_CAT2_(a, b)
#define vec double
#define VL 1
#define VOP(op) FS_CE_CAT2(fs_ce1, op)
#define FS_CE_CAT_(a, b, c) a##_##b##_##c
#define FS_CE_CAT(a, b, c) FS_CE_CAT_(a, b, c)
#define FS_FN(op) FS_CE_CAT(op, FS_ISA, FS_SFX)
#ifndef FS_CE_PORTABLE_OPS
#define FS_CE_PORTABLE_OPS
static inline double fs_ce1_set1(double a) { return a; }
static inline double fs_ce1_add(double a, double b) { return a + b; }
static inline double fs_ce1_sub(double a, double b) { return a - b; }
static inline double fs_ce1_mul(double a, double b) { return a * b; }
static inline double fs_ce1_div(double a, double b) { return a / b; }
static inline double fs_ce1_fma(double a, double b, double c) { return a * b + c; }
static inline double fs_ce1_hsum(double a) { return a; }
static inline double fs_ce1_select_lt(double a, double b, double x, double y) { return a < b ? x : y; }
#endif
#define FS_CE_LOAD(p) ((double)*(p))
#define FS_CE_LOADP(p, k, fill) ((k) > 0 ? (double)*(p) : (fill))
#define FS_CE_STOREP(p, v, k) (*(p) = (FS_T)(v))
#define FS_CE_EXP(v) exp(v)
#define FS_CE_EXP_OUT(v, m) exp((v) - (m))
static double FS_FN(ce_row_max)(const FS_T *x, int64_t n) {
    double m = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if ((double)x[i] > m) m = (double)x[i];
    return m;
}
#else
#define FS_CE_LOAD(p) VOP(load)(p)
#define FS_CE_LOADP(p, k, fill) VOP(loadp)(p, k, fill)
#define FS_CE_STOREP(p, v, k) VOP(storep)(p, v, k)
#define FS_CE_EXP(v) FS_FN(vexp)(v)
#define FS_CE_EXP_OUT(v, m) FS_FN(vexp_shift)(v, m, VOP(sub)(VOP(set1)(0), m))
#define FS_CE_LOADONES(k) VOP(loadp)(fs_ce_ones, k, 0)
static double FS_FN(ce_row_max)(const FS_T *x, int64_t n) { return (double)FS_FN(vrow_max)(x, n); }
#endif

#ifdef FS_CE_PORTABLE
static inline double FS_FN(ce_tanh)(double v) { return tanh(v); }
#else
/* tanh, relative error a few ulp: |v| < 1/4 by its Taylor series (to v^11 for
 * float32, v^21 for float64: truncation < 3e-10 / 2.3e-16 relative), else
 * 1 - 2 / (exp(2|v|) + 1) with the sign of v (cancellation costs at most a
 * factor 4 there), which gives +-1 exactly at +-inf.  NaN stays NaN. */
static inline vec FS_FN(ce_tanh)(vec v) {
    vec one = VOP(set1)(1), zero = VOP(set1)(0);
    vec a = VOP(max)(v, VOP(sub)(zero, v));
    vec e = FS_CE_EXP(VOP(add)(a, a));
    vec big = VOP(sub)(one, VOP(div)(VOP(set1)(2), VOP(add)(e, one)));
    big = VOP(select_lt)(v, zero, VOP(sub)(zero, big), big);
    vec v2 = VOP(mul)(v, v);
#if FS_IS_F32
    vec p = VOP(set1)(-0.008863235529902197f);
    p = VOP(fma)(p, v2, VOP(set1)(0.021869488536155203f));
    p = VOP(fma)(p, v2, VOP(set1)(-0.05396825396825397f));
    p = VOP(fma)(p, v2, VOP(set1)(0.13333333333333333f));
    p = VOP(fma)(p, v2, VOP(set1)(-0.3333333333333333f));
#else
    vec p = VOP(set1)(9.691537956929451e-05);
    p = VOP(fma)(p, v2, VOP(set1)(-0.00023912911424355248));
    p = VOP(fma)(p, v2, VOP(set1)(0.000590027440945586));
    p = VOP(fma)(p, v2, VOP(set1)(-0.0014558343870513183));
    p = VOP(fma)(p, v2, VOP(set1)(0.003592128036572481));
    p = VOP(fma)(p, v2, VOP(set1)(-0.008863235529902197));
    p = VOP(fma)(p, v2, VOP(set1)(0.021869488536155203));
    p = VOP(fma)(p, v2, VOP(set1)(-0.05396825396825397));
    p = VOP(fma)(p, v2, VOP(set1)(0.13333333333333333));
    p = VOP(fma)(p, v2, VOP(set1)(-0.3333333333333333));
#endif
    vec small = VOP(fma)(VOP(mul)(v, v2), p, v);
    return VOP(select_lt)(a, VOP(set1)(0.25), small, big);
}
#endif

/* One row.  t: class target, or -1 with q (probabilities row).  factor:
 * gradient factor of the row.  grad may be x itself (in place). */
static void FS_FN(ce_ext_row)(const FS_T *x, int64_t n, int64_t t, const FS_T *q,
                              const fs_ce_ext *e, double *loss_out, double *lse_out,
                              double factor, FS_T *grad) {
    const FS_T *w = (const FS_T *)e->weight;
    double cap = e->softcap, eps = e->smoothing, z = e->z_loss;
    /* probabilities: a = w ((1 - eps) q + eps / C) is summed as one weight, so a
     * class with a > 0 at u = -inf gives +inf, and 0 * -inf (NaN, as torch) only
     * where a = 0; class targets: the smoothing sum separately */
    int need_d = eps > 0 && !q;
    vec vone = VOP(set1)(1), vzero = VOP(set1)(0);
    vec vinv = VOP(set1)((FS_T)(cap > 0 ? 1.0 / cap : 0.0)), vcap = VOP(set1)((FS_T)cap);
    vec v1me = VOP(set1)((FS_T)(1.0 - eps)), vasm = VOP(set1)((FS_T)(eps / (double)n));
#ifndef FS_CE_PORTABLE
    FS_T fs_ce_ones[VL];
    for (int k = 0; k < VL; k++) fs_ce_ones[k] = 1;
#endif
    double xt = t >= 0 ? (double)x[t] : 0.0;   /* read before grad (maybe x) is written */
    double m = -INFINITY, c0 = 0.0;
    fs_acc as = {0.0, 0.0}, ad = {0.0, 0.0}, adq = {0.0, 0.0}, aq = {0.0, 0.0};
    for (int64_t b = 0; b < n; b += FS_BLOCK) {
        int64_t len = n - b < FS_BLOCK ? n - b : FS_BLOCK;
        double bm = FS_FN(ce_row_max)(x + b, len);
        if (cap > 0) bm = cap * tanh(bm / cap);
        bm = (double)(FS_T)bm;
        if (b == 0) c0 = isfinite(bm) ? bm : 0.0;
        if (bm > m) {
            if (m != -INFINITY) {
                double f = exp(m - bm);
                as.s *= f;
                as.c *= f;
            }
            m = bm;
        }
        /* nothing finite yet: every exp(u - m) of the block is 0 (and u - m NaN) */
        int sum_exp = m != -INFINITY;
        vec vm = VOP(set1)((FS_T)m), vc0 = VOP(set1)((FS_T)c0);
        vec s0 = vzero, d0 = vzero, dq0 = vzero, q0 = vzero;
        for (int64_t i = 0; i < len; i += VL) {
            int64_t k = len - i < VL ? len - i : VL;
            const FS_T *xp = x + b + i;
            vec xv = k == VL ? FS_CE_LOAD(xp) : FS_CE_LOADP(xp, k, 0);
            vec u = cap > 0 ? VOP(mul)(vcap, FS_FN(ce_tanh)(VOP(mul)(xv, vinv))) : xv;
            vec wv = w ? (k == VL ? FS_CE_LOAD(w + b + i) : FS_CE_LOADP(w + b + i, k, 0)) : vone;
            vec ev = vzero;
            if (sum_exp) ev = FS_CE_EXP(VOP(sub)(u, vm));
#ifndef FS_CE_PORTABLE
            if (k < VL) {          /* tail lanes hold x = 0: their exp may be inf, drop it */
                vec mask = FS_CE_LOADONES(k);
                ev = VOP(select_lt)(mask, VOP(set1)(0.5), vzero, ev);
                if (!w) wv = mask;
            }
#endif
            s0 = VOP(add)(s0, ev);
            vec du = VOP(sub)(u, vc0);
            if (need_d) d0 = VOP(fma)(wv, du, d0);
            if (q) {
                vec qv = k == VL ? FS_CE_LOAD(q + b + i) : FS_CE_LOADP(q + b + i, k, 0);
                vec wq = VOP(mul)(wv, VOP(fma)(qv, v1me, vasm));
                dq0 = VOP(fma)(wq, du, dq0);
                q0 = VOP(add)(q0, wq);
            }
        }
        fs_acc_add(&as, VOP(hsum)(s0));
        if (need_d) fs_acc_add(&ad, VOP(hsum)(d0));
        if (q) {
            fs_acc_add(&adq, VOP(hsum)(dq0));
            fs_acc_add(&aq, VOP(hsum)(q0));
        }
    }
    /* The block max skips NaN: a row whose max is not finite (-inf and NaN only, or
     * a +inf) is scanned for a NaN, which makes m (lse, loss) NaN.  Else a +inf max
     * has lse +inf, as logsumexp (its sum is exp(inf - inf) = NaN). */
    if (!isfinite(m))
        for (int64_t i = 0; i < n; i++)
            if (x[i] != x[i]) { m = NAN; break; }
    double s = fs_acc_value(&as), ls = log(s), lse = m == INFINITY ? m : m + ls;
    double lmc = (m - c0) + ls;
    double ut = 0.0, wt = 0.0, a_smooth = eps / (double)n, loss, big_a;
    double smooth = need_d ? a_smooth * (e->weight_sum * lmc - fs_acc_value(&ad)) : 0.0;
    if (t >= 0) {
        ut = cap > 0 ? cap * tanh(xt / cap) : xt;
        wt = w ? (double)w[t] : 1.0;
        big_a = (1.0 - eps) * wt + a_smooth * e->weight_sum;
        /* a +inf max: lse - u_t by the rule of the plain kernels (inf, or NaN at u_t = inf) */
        double lmu = m == INFINITY ? lse - ut : (m - ut) + ls;
        loss = (1.0 - eps) * wt * lmu + smooth;
    } else {
        big_a = fs_acc_value(&aq);           /* sum of a, smoothing included */
        loss = big_a * lmc - fs_acc_value(&adq);
    }
    if (z != 0.0) loss += z * lse * lse;
    *loss_out = loss;
    if (lse_out) *lse_out = lse;
    if (!grad) return;

    double coef = factor * (big_a + 2.0 * z * lse) / s;
    vec vcoef = VOP(set1)((FS_T)coef), vm = VOP(set1)((FS_T)m);
    vec vsm = VOP(set1)((FS_T)(factor * a_smooth)), vq = VOP(set1)((FS_T)(factor * (1.0 - eps)));
    for (int64_t i = 0; i < n; i += VL) {
        int64_t k = n - i < VL ? n - i : VL;
        vec xv = k == VL ? FS_CE_LOAD(x + i) : FS_CE_LOADP(x + i, k, 0);
        vec tv = vzero, u = xv;
        if (cap > 0) {
            tv = FS_FN(ce_tanh)(VOP(mul)(xv, vinv));
            u = VOP(mul)(vcap, tv);
        }
        vec g = VOP(mul)(vcoef, FS_CE_EXP_OUT(u, vm));
        vec wv = w ? (k == VL ? FS_CE_LOAD(w + i) : FS_CE_LOADP(w + i, k, 0)) : vone;
        vec av = q ? VOP(fma)(k == VL ? FS_CE_LOAD(q + i) : FS_CE_LOADP(q + i, k, 0), vq, vsm) : vsm;
        g = VOP(sub)(g, VOP(mul)(wv, av));
        if (cap > 0) g = VOP(mul)(g, VOP(sub)(vone, VOP(mul)(tv, tv)));
        if (k == VL) {
#ifdef FS_CE_PORTABLE
            grad[i] = (FS_T)g;
#else
            VOP(store)(grad + i, g);
#endif
        } else {
            FS_CE_STOREP(grad + i, g, k);
        }
    }
    if (t >= 0) {
        double tt = cap > 0 ? ut / cap : 0.0;
        double gt = coef * exp(ut - m) - factor * wt * (a_smooth + (1.0 - eps));
        grad[t] = (FS_T)(cap > 0 ? gt * (1.0 - tt * tt) : gt);
    }
}

static void FS_FN(ce_ext_rows)(const FS_T *x, int64_t xs, const int64_t *target,
                               const fs_ce_ext *e, int64_t row0, double *loss, double *lse,
                               double grad_scale, const double *rs, FS_T *grad, int64_t gs,
                               int64_t n_rows, int64_t n_cols) {
    const FS_T *probs = (const FS_T *)e->probs;
    for (int64_t r = 0; r < n_rows; r++)
        FS_FN(ce_ext_row)(x + r * xs, n_cols, target ? target[r] : -1,
                          probs ? probs + (row0 + r) * e->probs_stride : NULL, e, loss + r,
                          lse ? lse + r : NULL, rs ? grad_scale * rs[r] : grad_scale,
                          grad ? grad + r * gs : NULL);
}

#undef FS_CE_LOAD
#undef FS_CE_LOADP
#undef FS_CE_STOREP
#undef FS_CE_EXP
#undef FS_CE_EXP_OUT
#ifdef FS_CE_PORTABLE
#undef vec
#undef VL
#undef VOP
#undef FS_FN
#else
#undef FS_CE_LOADONES
#endif
