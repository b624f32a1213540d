/* storage.h -- internal: one element of each storage type, read as a double
 * and written from a double (rounded once, to nearest).
 *
 * The bodies and the driver reach these through FS_GET / FS_PUT
 * (fs_names.h) wherever they touch a single element: the target logit,
 * a class weight, a row's fix-up.  A storage type is one pair here plus its
 * vector loads and stores in each simd_<set>.h.
 *
 * The half types are 16-bit patterns in memory (uint16_t):
 *   f16   IEEE binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits
 *   bf16  bfloat16, the top half of a float32: 1, 8 (bias 127), 7
 * A half value widens to float32 and double exactly; a double is rounded to
 * a half once (to nearest, ties to even -- never through float32, which
 * would round twice), NaN kept NaN (quiet, sign and top payload bits kept),
 * overflow to +-inf, results below the least normal onto the subnormal grid.
 */
#ifndef FASTSOFTMAX_STORAGE_H
#define FASTSOFTMAX_STORAGE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline double fs_get_f32(const float *p) { return (double)*p; }
static inline double fs_get_f64(const double *p) { return *p; }
static inline void fs_put_f32(float *p, double v) { *p = (float)v; }
static inline void fs_put_f64(double *p, double v) { *p = v; }

/* The bits of float32 f, and back. */
static inline uint32_t fs_f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}
static inline float fs_f32_of_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* binary16 bits -> float32, exact */
static inline float fs_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return fs_f32_of_bits(sign | 0x7f800000u | (m << 13));   /* inf, NaN */
    if (e == 0) {                                                           /* 0, subnormal */
        float v = (float)m * 0x1p-24f;
        return sign ? -v : v;
    }
    return fs_f32_of_bits(sign | ((e + 112u) << 23) | (m << 13));
}

/* bfloat16 bits -> float32, exact */
static inline float fs_bf16_to_f32(uint16_t h) { return fs_f32_of_bits((uint32_t)h << 16); }

/* A double rounded once to a narrow binary format of `mbits` fraction bits and
 * `ebits` exponent bits (bias 2^(ebits-1) - 1): its bit pattern. */
static inline uint16_t fs_narrow_bits(double v, int mbits, int ebits) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    uint16_t sign = (uint16_t)((b >> 48) & 0x8000u);
    uint64_t a = b & 0x7fffffffffffffffull;
    uint16_t inf = (uint16_t)(((1u << ebits) - 1u) << mbits);
    if (a > 0x7ff0000000000000ull)   /* NaN: quiet, the top payload bits kept */
        return (uint16_t)(sign | inf | (1u << (mbits - 1)) | ((a >> (52 - mbits)) & ((1u << mbits) - 1u)));
    int bias = (1 << (ebits - 1)) - 1;
    int e = (int)(a >> 52) - 1023 + bias;        /* the narrow biased exponent */
    if (e >= (1 << ebits) - 1) return (uint16_t)(sign | inf);
    uint64_t frac = (a & 0xfffffffffffffull) | (1ull << 52);
    int shift = 52 - mbits;                      /* normal: drop these bits */
    uint64_t base = (uint64_t)e << mbits;
    if (e <= 0) {                                /* subnormal or zero: fewer bits kept */
        shift += 1 - e;
        base = 0;
        if (shift > 62) return sign;             /* below half the least subnormal */
    } else {
        frac &= ~(1ull << 52);                   /* the implicit bit is in `base` */
    }
    uint64_t r = frac >> shift, rem = frac & ((1ull << shift) - 1), half = 1ull << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++;   /* a carry moves into the exponent */
    return (uint16_t)(sign | (uint16_t)(base + r));
}

static inline double fs_get_f16(const uint16_t *p) { return (double)fs_f16_to_f32(*p); }
static inline double fs_get_bf16(const uint16_t *p) { return (double)fs_bf16_to_f32(*p); }
static inline void fs_put_f16(uint16_t *p, double v) { *p = fs_narrow_bits(v, 10, 5); }
static inline void fs_put_bf16(uint16_t *p, double v) { *p = fs_narrow_bits(v, 7, 8); }

#endif /* FASTSOFTMAX_STORAGE_H */
