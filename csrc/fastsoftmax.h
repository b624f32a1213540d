/* fastsoftmax.h -- the one C API of fastsoftmax.
 *
 * Plain C99, no Python.h: the library can be compiled and tested on its own.
 *
 * Data model: every function works on a batch of `n_rows` rows of `n_cols`
 * elements.  Elements of a row are contiguous; consecutive rows are
 * `*_stride` ELEMENTS apart (any value, negative included), so sliced
 * arrays need no copy.  Sizes and strides are 64-bit throughout.
 *
 * Outputs may be the very same memory as an input with the same stride (in
 * place); any other overlap is undefined, and the Python layer never passes it.
 *
 * Threads: every op takes `n_threads`; <= 0 means the process limit
 * (fs_get_num_threads).  Rows are split across threads; rows longer than
 * FS_L2_ROW_BYTES are cut into fixed chunks whose partial (max, sum) are
 * merged in chunk order, so results are bitwise identical for any thread
 * count.  Concurrent calls from several threads are safe.
 *
 * Return values: 0 on success, FS_EINVAL for impossible arguments (negative
 * sizes, NULL pointers with non-zero sizes), FS_ENOMEM when a small work
 * buffer cannot be allocated.  The cross-entropy functions return the index
 * (>= 0) of the first row whose target lies outside [0, n_cols) before
 * writing anything, and -1 on success (FS_EINVAL / FS_ENOMEM on failure).
 */
#ifndef FASTSOFTMAX_H
#define FASTSOFTMAX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FS_OK 0
#define FS_EINVAL (-22)
#define FS_ENOMEM (-12)
#define FS_TARGETS_OK (-1)

/* ---- forward ops -------------------------------------------------------- */
/* y[r, :] = softmax(x[r, :]) */
int fs_softmax_f32(const float *x, int64_t x_stride, float *y, int64_t y_stride,
                   int64_t n_rows, int64_t n_cols, int n_threads);
int fs_softmax_f64(const double *x, int64_t x_stride, double *y, int64_t y_stride,
                   int64_t n_rows, int64_t n_cols, int n_threads);

/* y[r, :] = log_softmax(x[r, :]) */
int fs_log_softmax_f32(const float *x, int64_t x_stride, float *y, int64_t y_stride,
                       int64_t n_rows, int64_t n_cols, int n_threads);
int fs_log_softmax_f64(const double *x, int64_t x_stride, double *y, int64_t y_stride,
                       int64_t n_rows, int64_t n_cols, int n_threads);

/* out[r] = log(sum(exp(x[r, :]))); out is contiguous, n_rows long. n_cols >= 1. */
int fs_logsumexp_f32(const float *x, int64_t x_stride, float *out,
                     int64_t n_rows, int64_t n_cols, int n_threads);
int fs_logsumexp_f64(const double *x, int64_t x_stride, double *out,
                     int64_t n_rows, int64_t n_cols, int n_threads);

/* ---- forward ops over a non-last axis ------------------------------------ */
/* The array is (n_outer, n, inner): element (o, i, j) is at
 * x[o * x_outer + i * x_mid + j] -- the reduced axis i is strided, the inner
 * axis j contiguous -- and likewise for y.  Each (o, j) column is reduced
 * over i, vectorised across j: no transposed copy.  logsumexp writes
 * out[o * inner + j]. */
int fs_softmax_cols_f32(const float *x, int64_t x_outer, int64_t x_mid, float *y,
                        int64_t y_outer, int64_t y_mid, int64_t n_outer, int64_t n,
                        int64_t inner, int n_threads);
int fs_softmax_cols_f64(const double *x, int64_t x_outer, int64_t x_mid, double *y,
                        int64_t y_outer, int64_t y_mid, int64_t n_outer, int64_t n,
                        int64_t inner, int n_threads);
int fs_log_softmax_cols_f32(const float *x, int64_t x_outer, int64_t x_mid, float *y,
                            int64_t y_outer, int64_t y_mid, int64_t n_outer, int64_t n,
                            int64_t inner, int n_threads);
int fs_log_softmax_cols_f64(const double *x, int64_t x_outer, int64_t x_mid, double *y,
                            int64_t y_outer, int64_t y_mid, int64_t n_outer, int64_t n,
                            int64_t inner, int n_threads);
int fs_logsumexp_cols_f32(const float *x, int64_t x_outer, int64_t x_mid, float *out,
                          int64_t n_outer, int64_t n, int64_t inner, int n_threads);
int fs_logsumexp_cols_f64(const double *x, int64_t x_outer, int64_t x_mid, double *out,
                          int64_t n_outer, int64_t n, int64_t inner, int n_threads);

/* Backward ops over a non-last axis: grad, y (or logp) and out all
 * (n_outer, n, inner) with their own outer and mid strides. */
int fs_softmax_backward_cols_f32(const float *g, int64_t g_outer, int64_t g_mid, const float *y,
                                 int64_t y_outer, int64_t y_mid, float *out, int64_t out_outer,
                                 int64_t out_mid, int64_t n_outer, int64_t n, int64_t inner,
                                 int n_threads);
int fs_softmax_backward_cols_f64(const double *g, int64_t g_outer, int64_t g_mid, const double *y,
                                 int64_t y_outer, int64_t y_mid, double *out, int64_t out_outer,
                                 int64_t out_mid, int64_t n_outer, int64_t n, int64_t inner,
                                 int n_threads);
int fs_log_softmax_backward_cols_f32(const float *g, int64_t g_outer, int64_t g_mid,
                                     const float *logp, int64_t logp_outer, int64_t logp_mid,
                                     float *out, int64_t out_outer, int64_t out_mid,
                                     int64_t n_outer, int64_t n, int64_t inner, int n_threads);
int fs_log_softmax_backward_cols_f64(const double *g, int64_t g_outer, int64_t g_mid,
                                     const double *logp, int64_t logp_outer, int64_t logp_mid,
                                     double *out, int64_t out_outer, int64_t out_mid,
                                     int64_t n_outer, int64_t n, int64_t inner, int n_threads);

/* Cross-entropy over a non-last class axis of an (n_outer, n, inner) array
 * (classes along n, x_mid apart; samples (o, j), target and loss indexed
 * o * inner + j).  Return values as the row versions below. */
int64_t fs_cross_entropy_cols_f32(const float *x, int64_t x_outer, int64_t x_mid,
                                  const int64_t *target, double *loss, int64_t n_outer,
                                  int64_t n, int64_t inner, int n_threads);
int64_t fs_cross_entropy_cols_f64(const double *x, int64_t x_outer, int64_t x_mid,
                                  const int64_t *target, double *loss, int64_t n_outer,
                                  int64_t n, int64_t inner, int n_threads);
int64_t fs_cross_entropy_with_grad_cols_f32(const float *x, int64_t x_outer, int64_t x_mid,
                                            const int64_t *target, double *loss,
                                            double grad_scale, float *grad, int64_t grad_outer,
                                            int64_t grad_mid, int64_t n_outer, int64_t n,
                                            int64_t inner, int n_threads);
int64_t fs_cross_entropy_with_grad_cols_f64(const double *x, int64_t x_outer, int64_t x_mid,
                                            const int64_t *target, double *loss,
                                            double grad_scale, double *grad, int64_t grad_outer,
                                            int64_t grad_mid, int64_t n_outer, int64_t n,
                                            int64_t inner, int n_threads);

/* ---- backward ops ------------------------------------------------------- */
/* out = y * (grad - sum(grad * y)) per row */
int fs_softmax_backward_f32(const float *grad, int64_t grad_stride,
                            const float *y, int64_t y_stride,
                            float *out, int64_t out_stride,
                            int64_t n_rows, int64_t n_cols, int n_threads);
int fs_softmax_backward_f64(const double *grad, int64_t grad_stride,
                            const double *y, int64_t y_stride,
                            double *out, int64_t out_stride,
                            int64_t n_rows, int64_t n_cols, int n_threads);

/* out = grad - exp(logp) * sum(grad) per row */
int fs_log_softmax_backward_f32(const float *grad, int64_t grad_stride,
                                const float *logp, int64_t logp_stride,
                                float *out, int64_t out_stride,
                                int64_t n_rows, int64_t n_cols, int n_threads);
int fs_log_softmax_backward_f64(const double *grad, int64_t grad_stride,
                                const double *logp, int64_t logp_stride,
                                double *out, int64_t out_stride,
                                int64_t n_rows, int64_t n_cols, int n_threads);

/* ---- cross-entropy ------------------------------------------------------ */
/* loss[r] = logsumexp(x[r, :]) - x[r, target[r]], in double.  One read of x.
 * Returns FS_TARGETS_OK, the first bad row (nothing written), or FS_EINVAL. */
int64_t fs_cross_entropy_f32(const float *x, int64_t x_stride, const int64_t *target,
                             double *loss, int64_t n_rows, int64_t n_cols, int n_threads);
int64_t fs_cross_entropy_f64(const double *x, int64_t x_stride, const int64_t *target,
                             double *loss, int64_t n_rows, int64_t n_cols, int n_threads);

/* As above, and grad[r, :] = grad_scale * (softmax(x[r, :]) - onehot(target[r])).
 * One read pass and one write pass over the row; grad may be x itself. */
int64_t fs_cross_entropy_with_grad_f32(const float *x, int64_t x_stride,
                                       const int64_t *target, double *loss,
                                       double grad_scale, float *grad, int64_t grad_stride,
                                       int64_t n_rows, int64_t n_cols, int n_threads);
int64_t fs_cross_entropy_with_grad_f64(const double *x, int64_t x_stride,
                                       const int64_t *target, double *loss,
                                       double grad_scale, double *grad, int64_t grad_stride,
                                       int64_t n_rows, int64_t n_cols, int n_threads);

/* ---- cross-entropy with every option ------------------------------------ */
/* ignore_index value that ignores nothing */
#define FS_NO_IGNORE INT64_MIN

typedef struct fs_ce_options {
    const int64_t *target;    /* class targets (n_rows), or NULL when probs is set */
    int64_t ignore_index;     /* targets equal to it add nothing: loss 0, gradient row 0 */
    const void *probs;        /* probability targets of the logits' dtype and shape, or NULL:
                                 entry (o, c, j) at probs[o * probs_outer + c * probs_mid + j] */
    int64_t probs_outer, probs_mid;
    const void *weight;       /* class weights (n_cols) of the logits' dtype, >= 0, or NULL */
    double label_smoothing;   /* in [0, 1]: torch's definition, with the weights */
    double z_loss;            /* adds z_loss * lse^2 per sample (not weighted) */
    double softcap;           /* > 0: logits become softcap * tanh(x / softcap); 0: off */
    double *lse;              /* OUT per-sample logsumexp of the (capped) logits, or NULL;
                                 0 for ignored samples */
    double grad_scale;        /* every gradient row is multiplied by this */
    const double *grad_rows;  /* per-sample upstream gradient (n_rows), or NULL */
    int grad_mean;            /* 1: the gradient is also divided by the total weight
                                 (reduction "mean"; a total of 0 gives a zero gradient) */
    double *total_weight;     /* OUT, or NULL: the sum of weight[target] over the samples
                                 not ignored (their count without weights); n_rows with
                                 probability targets -- the divisor of "mean" */
} fs_ce_options;

/* Cross-entropy with every option, over rows or a non-last class axis: the
 * logits are an (n_outer, n, inner) array, element (o, c, j) -- sample
 * (o, j), class c -- at x[o * x_outer + c * x_mid + j], the inner axis
 * contiguous; the gradient likewise with its own strides (it may be x
 * itself: in place).  Rows are inner = 1, x_mid = 1 (x_outer the row
 * stride).  Samples are numbered o * inner + j in target, loss, lse and
 * grad_rows.
 * Per-sample loss (weighted, smoothed, plus z-loss; 0 for ignored samples)
 * and, when grad != NULL, grad = d loss / d x * grad_scale * grad_rows, in
 * the logits' layout.  Rows: one read of x for the loss, one read and one
 * write with the gradient (rows longer than the caches with the smoothing /
 * probability / z-loss / softcap options: two reads).  Columns: the same
 * kernels over tiles of columns (every option), no transposed copy.
 * Returns FS_TARGETS_OK; the first bad sample (nothing written): a class
 * target outside [0, n) that is not ignore_index, or a probability row with
 * a negative or NaN entry; FS_EINVAL (bad sizes, pointers or option values,
 * a negative weight); FS_ENOMEM. */
int64_t fs_cross_entropy_ex_f32(const float *x, int64_t x_outer, int64_t x_mid,
                                const fs_ce_options *o, double *loss, float *grad,
                                int64_t grad_outer, int64_t grad_mid, int64_t n_outer, int64_t n,
                                int64_t inner, int n_threads);
int64_t fs_cross_entropy_ex_f64(const double *x, int64_t x_outer, int64_t x_mid,
                                const fs_ce_options *o, double *loss, double *grad,
                                int64_t grad_outer, int64_t grad_mid, int64_t n_outer, int64_t n,
                                int64_t inner, int n_threads);

/* ---- helper of the fused linear cross-entropy ---------------------------- */
/* y[i] += x[i] for i < n (no overlap), split over threads. */
int fs_accumulate_f32(float *y, const float *x, int64_t n, int n_threads);
int fs_accumulate_f64(double *y, const double *x, int64_t n, int n_threads);

/* ---- the kernel set's exp, for tests and benchmarks ---------------------- */
/* y[i] = exp(x[i]) with the active kernel set's exp (libm where the portable set is one lane of double). */
int fs_exp_f32(const float *x, float *y, int64_t n);
int fs_exp_f64(const double *x, double *y, int64_t n);

/* ---- the half types -------------------------------------------------------- */
/* float16 (suffix f16, IEEE binary16) and bfloat16 (bf16): every function above,
 * with the same arguments, over arrays of 16-bit patterns (uint16_t) in place of
 * float.  They compute in float32 in registers (sums in float32 lanes widened to
 * double per block, as float32 does) and round each result once to the half type,
 * to nearest even: within 1 ulp of the half type of the exact value.  No float32
 * copy of the input or the output is made.  logsumexp's out, the backward ops'
 * operands, probs and weight are of the half type too; loss is double. */
#define FS_HALF_API(SFX)                                                                       \
    int fs_softmax_##SFX(const uint16_t *x, int64_t x_stride, uint16_t *y, int64_t y_stride,   \
                         int64_t n_rows, int64_t n_cols, int n_threads);                       \
    int fs_log_softmax_##SFX(const uint16_t *x, int64_t x_stride, uint16_t *y,                 \
                             int64_t y_stride, int64_t n_rows, int64_t n_cols, int n_threads); \
    int fs_logsumexp_##SFX(const uint16_t *x, int64_t x_stride, uint16_t *out,                 \
                           int64_t n_rows, int64_t n_cols, int n_threads);                     \
    int fs_softmax_cols_##SFX(const uint16_t *x, int64_t x_outer, int64_t x_mid, uint16_t *y,  \
                              int64_t y_outer, int64_t y_mid, int64_t n_outer, int64_t n,      \
                              int64_t inner, int n_threads);                                   \
    int fs_log_softmax_cols_##SFX(const uint16_t *x, int64_t x_outer, int64_t x_mid,           \
                                  uint16_t *y, int64_t y_outer, int64_t y_mid,                 \
                                  int64_t n_outer, int64_t n, int64_t inner, int n_threads);   \
    int fs_logsumexp_cols_##SFX(const uint16_t *x, int64_t x_outer, int64_t x_mid,             \
                                uint16_t *out, int64_t n_outer, int64_t n, int64_t inner,      \
                                int n_threads);                                                \
    int fs_softmax_backward_cols_##SFX(const uint16_t *g, int64_t g_outer, int64_t g_mid,      \
                                       const uint16_t *y, int64_t y_outer, int64_t y_mid,      \
                                       uint16_t *out, int64_t out_outer, int64_t out_mid,      \
                                       int64_t n_outer, int64_t n, int64_t inner,              \
                                       int n_threads);                                         \
    int fs_log_softmax_backward_cols_##SFX(const uint16_t *g, int64_t g_outer, int64_t g_mid,  \
                                           const uint16_t *logp, int64_t logp_outer,           \
                                           int64_t logp_mid, uint16_t *out, int64_t out_outer, \
                                           int64_t out_mid, int64_t n_outer, int64_t n,        \
                                           int64_t inner, int n_threads);                      \
    int64_t fs_cross_entropy_cols_##SFX(const uint16_t *x, int64_t x_outer, int64_t x_mid,     \
                                        const int64_t *target, double *loss, int64_t n_outer,  \
                                        int64_t n, int64_t inner, int n_threads);              \
    int64_t fs_cross_entropy_with_grad_cols_##SFX(                                             \
        const uint16_t *x, int64_t x_outer, int64_t x_mid, const int64_t *target, double *loss, \
        double grad_scale, uint16_t *grad, int64_t grad_outer, int64_t grad_mid,               \
        int64_t n_outer, int64_t n, int64_t inner, int n_threads);                             \
    int fs_softmax_backward_##SFX(const uint16_t *grad, int64_t grad_stride, const uint16_t *y, \
                                  int64_t y_stride, uint16_t *out, int64_t out_stride,         \
                                  int64_t n_rows, int64_t n_cols, int n_threads);              \
    int fs_log_softmax_backward_##SFX(const uint16_t *grad, int64_t grad_stride,               \
                                      const uint16_t *logp, int64_t logp_stride,               \
                                      uint16_t *out, int64_t out_stride, int64_t n_rows,       \
                                      int64_t n_cols, int n_threads);                          \
    int64_t fs_cross_entropy_##SFX(const uint16_t *x, int64_t x_stride, const int64_t *target, \
                                   double *loss, int64_t n_rows, int64_t n_cols, int n_threads); \
    int64_t fs_cross_entropy_with_grad_##SFX(const uint16_t *x, int64_t x_stride,              \
                                             const int64_t *target, double *loss,              \
                                             double grad_scale, uint16_t *grad,                \
                                             int64_t grad_stride, int64_t n_rows,              \
                                             int64_t n_cols, int n_threads);                   \
    int64_t fs_cross_entropy_ex_##SFX(const uint16_t *x, int64_t x_outer, int64_t x_mid,       \
                                      const fs_ce_options *o, double *loss, uint16_t *grad,    \
                                      int64_t grad_outer, int64_t grad_mid, int64_t n_outer,   \
                                      int64_t n, int64_t inner, int n_threads);                \
    int fs_accumulate_##SFX(uint16_t *y, const uint16_t *x, int64_t n, int n_threads);          \
    int fs_exp_##SFX(const uint16_t *x, uint16_t *y, int64_t n);
FS_HALF_API(f16)
FS_HALF_API(bf16)
#undef FS_HALF_API

/* ---- threads ------------------------------------------------------------- */
#define FS_MAX_THREADS 256
/* The thread count used when a call passes n_threads <= 0: initially
 * FASTSOFTMAX_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process
 * may run on (capped at FS_MAX_THREADS). */
int fs_get_num_threads(void);
/* Set that limit (n <= 0 restores the initial value); returns the old one.
 * Process-wide: threadpoolctl's limits go through it. */
int fs_set_num_threads(int n);

/* ---- instruction-set dispatch ------------------------------------------- */
/* Name of the kernel set in use ("scalar", "neon", "avx2", "avx512").  The choice is
 * made once, on first use: the FASTSOFTMAX_ISA environment variable if set
 * (and supported), else the best set this CPU and OS support. */
const char *fs_get_isa(void);
/* Force a kernel set by name.  Returns 0, or FS_EINVAL if the name is unknown
 * or this CPU/OS cannot run it (the current choice is then kept). */
int fs_set_isa(const char *name);
/* 1 if the named set was compiled in and this CPU/OS can run it, else 0. */
int fs_isa_supported(const char *name);
/* Name of the i-th kernel set compiled into this build, slowest first
 * (0 is "scalar"), or NULL for i outside [0, number of sets). */
const char *fs_isa_name(int i);
/* How the avx512 set rounds float32 to bfloat16: mode 1 with the CPU's
 * vcvtneps2bf16 (AVX512_BF16; the default where the CPU has it), 0 in integer
 * lanes (the same bits), -1 only asks.  Returns the previous mode, or FS_EINVAL
 * for any other mode and for mode 1 on a CPU without AVX512_BF16 (or a build that
 * cannot emit the instruction).  Not to be changed while a kernel runs. */
int fs_bf16_rounding(int mode);

#ifdef __cplusplus
}
#endif
#endif /* FASTSOFTMAX_H */
