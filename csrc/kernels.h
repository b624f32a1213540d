/* kernels.h -- internal: the kernel table every kernel set fills.
 *
 * Each kernel file (kernels_<set>.c) instantiates the shared bodies once per
 * dtype (kernel_set.inc) and exports one `fs_kernel_table`, fs_kernels_<set>;
 * dispatch.c picks one at run time (kernel_sets.h lists them).  Kernels take
 * already-validated arguments: n_rows >= 1, n_cols >= 1, targets in range.
 */
#ifndef FASTSOFTMAX_KERNELS_H
#define FASTSOFTMAX_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fastsoftmax.h"   /* FS_OK, FS_ENOMEM */
#include "fs_names.h"
#include "storage.h"

/* Rows up to this many bytes are "in cache": one row kernel call per row
 * (softmax makes three passes over it).  Longer rows are cut into chunks of
 * FS_CHUNK_BYTES: partial reductions per chunk, merged in chunk order, then
 * an elementwise write per chunk -- the same arithmetic for any thread count,
 * and one row can be split across threads.  1 MiB: a 128256-float row (0.5 MB)
 * took 1.3-1.7x the time on the chunked path (two exps per element) as on the
 * row kernels' (one exp; measured on a 2 MiB-L2 Xeon); rows between 256 KiB
 * and 1 MiB are no longer split across threads. */
#ifndef FS_L2_ROW_BYTES
#define FS_L2_ROW_BYTES (1024 * 1024)
#endif
#define FS_CHUNK_BYTES (64 * 1024)
/* Row kernels whose range writes at least this much write it with
 * non-temporal stores (body_simd.inc: the output goes to DRAM without being
 * read first, as a large memcpy does; smaller outputs stay in the caches for
 * whoever reads them next). */
#define FS_STREAM_BYTES (32 * 1024 * 1024)
/* Rows are walked in blocks of this many elements that stay in L1: block
 * max, then the block's exps (online max-and-sum), lane sums widened per block. */
#define FS_BLOCK 512

/* What a chunk write computes (p0, p1: per-row constants from the merge):
 *   FS_W_SOFTMAX        y = exp(a - p0) * p1            (p1 = 1 / sum)
 *   FS_W_LOG_SOFTMAX    y = (a - p0) - p1               (p1 = log1p(sum - 1))
 *   FS_W_SOFTMAX_BW     y = b * (a - p0)                (a = grad, b = y, p0 = sum(a*b))
 *   FS_W_LOG_SOFTMAX_BW y = a - exp(b) * p0             (a = grad, b = logp, p0 = sum(a))
 * (cross_entropy_with_grad writes FS_W_SOFTMAX with p1 = scale / sum.) */
enum { FS_W_SOFTMAX, FS_W_LOG_SOFTMAX, FS_W_SOFTMAX_BW, FS_W_LOG_SOFTMAX_BW };
/* or-ed into a kind: write the vector-aligned part with non-temporal stores, fenced
 * before returning (FS_STREAM_BYTES; sets without them ignore it) */
#define FS_W_STREAM 16

/* Reductions over a non-last axis: an (n, w) block whose n rows are `xm`
 * elements apart and whose w <= FS_COL_TILE_BYTES / sizeof(T) columns are
 * contiguous; each column is reduced (vectorised ACROSS columns, no
 * transposed copy).  Tiles are fixed by the driver, so results do not depend
 * on the thread count. */
#define FS_COL_TILE_BYTES 256
enum { FS_C_SOFTMAX, FS_C_LOG_SOFTMAX, FS_C_LOGSUMEXP, FS_C_CE, FS_C_CE_GRAD,
       FS_C_SOFTMAX_BW, FS_C_LOG_SOFTMAX_BW };
/* The other operands of some kinds.  Cross-entropy over a non-last class
 * axis: per column j of the tile, target[j], loss[j]; the gradient
 * (FS_C_CE_GRAD) goes to y, times scale.  Backward ops: x is grad, and b
 * (of the data type; outer slices bo apart, rows bm apart) is y or logp;
 * kernels see b at their tile and use bm only. */
typedef struct {
    const int64_t *target;
    double *loss;
    double *lse;        /* cross-entropy: per-column logsumexp, or NULL */
    double scale;
    const double *rs;   /* per-column gradient factor (times scale), or NULL */
    const void *b;
    int64_t bo, bm;
} fs_cols_extra;

/* The options of the general cross-entropy kernel (label smoothing,
 * probability targets, z-loss, softcap; class weights with any of them).
 * probs / weight are of the data type; weight_sum is sum(weight), or n_cols
 * without weights. */
typedef struct {
    const void *probs;
    int64_t probs_stride;
    const void *weight;
    double weight_sum;
    double smoothing, z_loss, softcap;
} fs_ce_ext;

/* One typedef family per dtype, generated so float and double cannot drift. */
#define FS_KERNEL_TYPES(T, SFX)                                                   \
    typedef void (*fs_unary_##SFX##_fn)(const T *x, int64_t xs, T *y, int64_t ys, \
                                        int64_t n_rows, int64_t n_cols);          \
    typedef void (*fs_reduce_##SFX##_fn)(const T *x, int64_t xs, T *out,          \
                                         int64_t n_rows, int64_t n_cols);         \
    typedef void (*fs_binary_##SFX##_fn)(const T *a, int64_t as, const T *b,      \
                                         int64_t bs, T *y, int64_t ys,            \
                                         int64_t n_rows, int64_t n_cols);         \
    typedef void (*fs_ce_##SFX##_fn)(const T *x, int64_t xs, const int64_t *target, \
                                     double *loss, int64_t n_rows, int64_t n_cols); \
    typedef void (*fs_map_##SFX##_fn)(const T *x, T *y, int64_t n);                \
    /* chunk pieces of long rows: returns 0 when the row needs the row kernel \
       (non-finite max, or NaN before any finite value); *r = the chunk's   \
       sum(exp(x - m)) - 1, the rest beside its max's term (an all -inf chunk \
       gives m = -inf, r = -1) */                                            \
    typedef int (*fs_online_##SFX##_fn)(const T *x, int64_t n, double *m, double *r); \
    typedef double (*fs_dot_##SFX##_fn)(const T *a, const T *b, int64_t n);      \
    typedef void (*fs_write_##SFX##_fn)(int kind, const T *a, const T *b, T *y,  \
                                        int64_t n, double p0, double p1);        \
    /* returns FS_OK, or FS_ENOMEM; red: logsumexp output (w values) */          \
    typedef int (*fs_cols_##SFX##_fn)(int kind, const T *x, int64_t xm, T *y,     \
                                      int64_t ym, T *red, const fs_cols_extra *ce,   \
                                      int64_t n, int64_t w);                      \
    /* rs: per-row gradient factor (times grad_scale), or NULL */               \
    typedef void (*fs_ce_grad_##SFX##_fn)(const T *x, int64_t xs,                 \
                                          const int64_t *target, double *loss,    \
                                          double grad_scale, const double *rs,    \
                                          T *grad, int64_t gs,                    \
                                          int64_t n_rows, int64_t n_cols);        \
    /* the general kernel: target NULL with e->probs; lse, grad may be NULL;  \
       any row length (two passes over the row) */                            \
    typedef void (*fs_ce_ext_##SFX##_fn)(const T *x, int64_t xs,                  \
                                         const int64_t *target, const fs_ce_ext *e, \
                                         int64_t row0, double *loss, double *lse, \
                                         double grad_scale, const double *rs,     \
                                         T *grad, int64_t gs,                     \
                                         int64_t n_rows, int64_t n_cols);

FS_KERNEL_TYPES(float, f32)
FS_KERNEL_TYPES(double, f64)
FS_KERNEL_TYPES(uint16_t, f16)    /* the half types: bit patterns (storage.h) */
FS_KERNEL_TYPES(uint16_t, bf16)

#define FS_TABLE_FIELDS(SFX)                           \
    fs_unary_##SFX##_fn softmax_##SFX;                 \
    fs_unary_##SFX##_fn log_softmax_##SFX;             \
    fs_reduce_##SFX##_fn logsumexp_##SFX;              \
    fs_binary_##SFX##_fn softmax_backward_##SFX;       \
    fs_binary_##SFX##_fn log_softmax_backward_##SFX;   \
    fs_ce_##SFX##_fn cross_entropy_##SFX;              \
    fs_ce_grad_##SFX##_fn cross_entropy_with_grad_##SFX; \
    fs_map_##SFX##_fn exp_##SFX;                       \
    fs_online_##SFX##_fn online_##SFX;                 \
    fs_dot_##SFX##_fn dot_##SFX;                       \
    fs_write_##SFX##_fn write_##SFX;                   \
    fs_cols_##SFX##_fn cols_##SFX;                     \
    fs_ce_ext_##SFX##_fn ce_ext_##SFX;

typedef struct fs_kernel_table {
    const char *name;
    FS_TABLE_FIELDS(f32)
    FS_TABLE_FIELDS(f64)
    FS_TABLE_FIELDS(f16)
    FS_TABLE_FIELDS(bf16)
} fs_kernel_table;

/* The cross-entropy gradient at the target class, (p_t - 1) * scale with
 * p_t = exp(x_t - m) / (1 + r), r the row's sum of exp(x - m) less the max's
 * term: formed in double as (expm1(x_t - m) - r) / (1 + r), two terms <= 0, not
 * from the stored softmax entry, because p_t - 1 cancels (p_t near 1 keeps only
 * the bits the sum holds; a confident, correct prediction's gradient is then -r
 * to r's relative accuracy).  Every kernel and the chunked driver write the
 * target entry through this. */
static inline double fs_ce_target_grad(double xt, double m, double r, double scale) {
    return (expm1(xt - m) - r) / (1.0 + r) * scale;
}

/* The entries of one dtype of fs_kernels_<set>, from the names the bodies
 * define with FS_FN (fs_names.h): <kernel>_<set>_<dtype>. */
#define FS_TABLE_ENTRIES(SET, SFX)                                       \
    .softmax_##SFX = FS_PASTE3(softmax_rows, SET, SFX),                  \
    .log_softmax_##SFX = FS_PASTE3(log_softmax_rows, SET, SFX),          \
    .logsumexp_##SFX = FS_PASTE3(logsumexp_rows, SET, SFX),              \
    .softmax_backward_##SFX = FS_PASTE3(softmax_backward_rows, SET, SFX), \
    .log_softmax_backward_##SFX = FS_PASTE3(log_softmax_backward_rows, SET, SFX), \
    .cross_entropy_##SFX = FS_PASTE3(cross_entropy_rows, SET, SFX),      \
    .cross_entropy_with_grad_##SFX = FS_PASTE3(cross_entropy_with_grad_rows, SET, SFX), \
    .exp_##SFX = FS_PASTE3(exp_array, SET, SFX),                         \
    .online_##SFX = FS_PASTE3(chunk_online, SET, SFX),                   \
    .dot_##SFX = FS_PASTE3(chunk_dot, SET, SFX),                         \
    .write_##SFX = FS_PASTE3(chunk_write, SET, SFX),                     \
    .cols_##SFX = FS_PASTE3(cols_tile, SET, SFX),                        \
    .ce_ext_##SFX = FS_PASTE3(ce_ext_rows, SET, SFX),


#endif /* FASTSOFTMAX_KERNELS_H */
