/* proto_short_rows_lanes.c -- a timing prototype, not part of the library.
 *
 * logsumexp of 4096 rows of 10 float32 with one row per vector lane (AVX-512):
 * 16 rows are loaded, transposed in registers (so that vector j holds column j
 * of the 16 rows), their max and sum of exp(x - max) taken across vectors (no
 * horizontal reductions; sums widened to float64 lanes) and one vector log
 * computed for the 16 sums.  The library's short-row path instead takes rows
 * in blocks with horizontal reductions and libm's log per row.  See
 * docs/benchmarks.md for what it measured.
 *
 * Not handled (the library must): non-finite rows, x - max rounding below -31,
 * rows past the end of a partial block, strides whose reads could pass the
 * buffer's end.  The exp is the library's float32 fast exp (16-entry table,
 * degree 3); the log holds for sums in [1, 16] (a max-shifted sum of <= 16
 * terms).
 *
 *   gcc -O2 -march=native benchmarks/proto_short_rows_lanes.c -lm
 *   taskset -c 1 ./a.out
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* exp(d) for d in [-86, 0]: n = round(16 d / ln2), r = d - n ln2/16 (two
 * constants), 2^(j/16) from a register table, 2^(n >> 4) into the exponent. */
static inline __m512 exp_fast(__m512 d) {
    const __m512 magic = _mm512_set1_ps(0x1.8p23f);
    const __m512 tab = _mm512_setr_ps(
        1.0f, 1.0442737824274138f, 1.0905077326652577f, 1.1387886347566916f,
        1.189207115002721f, 1.2418578120734840f, 1.2968395546510096f, 1.3542555469368927f,
        1.4142135623730951f, 1.4768261459394993f, 1.5422108254079407f, 1.6104903319492543f,
        1.6817928305074290f, 1.7562521603732995f, 1.8340080864093424f, 1.9152065613971474f);
    __m512 t = _mm512_fmadd_ps(d, _mm512_set1_ps(1.44269504088896341f * 16), magic);
    __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f / 16), d);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f / 16), r);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(0x1.55559ap-3f), r, _mm512_set1_ps(0x1.00021ep-1f));
    __m512 p = _mm512_fmadd_ps(_mm512_mul_ps(q, r), r, r);
    __m512i ti = _mm512_castps_si512(t);
    __m512i k = _mm512_slli_epi32(_mm512_srai_epi32(_mm512_slli_epi32(ti, 9), 13), 23);
    __m512 s = _mm512_castsi512_ps(_mm512_add_epi32(
        _mm512_castps_si512(_mm512_permutexvar_ps(ti, tab)), k));
    return _mm512_fmadd_ps(s, p, s);
}

/* log(s) for s in [1, 16]: s = f 2^e with f in [0.75, 1.5), log f = 2 atanh(z),
 * z = (f - 1) / (f + 1), |z| <= 0.2; the series to z^15. */
static inline __m512d vlog(__m512d s) {
    __m512d f = _mm512_getmant_pd(s, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
    __m512d e = _mm512_getexp_pd(_mm512_mul_pd(s, _mm512_set1_pd(1.0 / 0.75)));
    __m512d one = _mm512_set1_pd(1.0);
    __m512d z = _mm512_div_pd(_mm512_sub_pd(f, one), _mm512_add_pd(f, one));
    __m512d z2 = _mm512_mul_pd(z, z);
    __m512d p = _mm512_set1_pd(2.0 / 15);
    for (int k = 13; k >= 3; k -= 2) p = _mm512_fmadd_pd(p, z2, _mm512_set1_pd(2.0 / k));
    __m512d lf = _mm512_fmadd_pd(_mm512_mul_pd(z, z2), p, _mm512_add_pd(z, z));
    return _mm512_fmadd_pd(e, _mm512_set1_pd(0.6931471805599453), lf);
}

static inline __m512 unlo64(__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
static inline __m512 unhi64(__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

/* 16x16 transpose in four stages of 16 shuffles */
static void transpose16(__m512 *r) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = unlo64(t[i], t[i + 2]);
        r[i + 1] = unhi64(t[i], t[i + 2]);
        r[i + 2] = unlo64(t[i + 1], t[i + 3]);
        r[i + 3] = unhi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

static inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m512d hi_pd(__m512 v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* rows a multiple of 16, n <= 16 */
__attribute__((noinline)) static void logsumexp_lanes(const float *x, int64_t xs, int n,
                                                      float *out, int64_t rows) {
    __mmask16 k = (__mmask16)((1u << n) - 1u);
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        __m512 v[16];
        for (int i = 0; i < 16; i++)
            v[i] = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, x + (r0 + i) * xs);
        transpose16(v);
        __m512 m = v[0];
        for (int j = 1; j < n; j++) m = _mm512_max_ps(m, v[j]);
        __m512d slo = _mm512_setzero_pd(), shi = slo;
        for (int j = 0; j < n; j++) {
            __m512 e = exp_fast(_mm512_sub_ps(v[j], m));
            slo = _mm512_add_pd(slo, lo_pd(e));
            shi = _mm512_add_pd(shi, hi_pd(e));
        }
        _mm256_storeu_ps(out + r0, _mm512_cvtpd_ps(_mm512_add_pd(vlog(slo), lo_pd(m))));
        _mm256_storeu_ps(out + r0 + 8, _mm512_cvtpd_ps(_mm512_add_pd(vlog(shi), hi_pd(m))));
    }
}

int main(void) {
    const int R = 4096, C = 10;
    float *x = malloc(sizeof(float) * R * C), *o = malloc(sizeof(float) * R);
    for (int i = 0; i < R * C; i++) x[i] = ((i * 7919) % 1000) / 100.0f - 5;
    logsumexp_lanes(x, C, C, o, R);
    double worst = 0;
    for (int r = 0; r < R; r++) {
        double m = -INFINITY, s = 0;
        for (int j = 0; j < C; j++) m = fmax(m, x[r * C + j]);
        for (int j = 0; j < C; j++) s += exp((double)x[r * C + j] - m);
        double want = m + log(s), err = fabs(o[r] - want) / fabs(want);
        if (err > worst) worst = err;
    }
    printf("4096x10 float32 logsumexp, rows in lanes: max relative error %.3g\n", worst);
    for (int rep = 0; rep < 5; rep++) {
        double t = now();
        for (int i = 0; i < 2000; i++) logsumexp_lanes(x, C, C, o, R);
        printf("%.2f us per call\n", (now() - t) / 2000 * 1e6);
    }
    free(x);
    free(o);
    return 0;
}
