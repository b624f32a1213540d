# Declarations of the plain-C API in csrc/fastsoftmax.h.
from libc.stdint cimport int64_t, uint16_t

cdef extern from "fastsoftmax.h" nogil:
    int FS_OK
    int FS_EINVAL
    int FS_ENOMEM
    int64_t FS_TARGETS_OK
    int64_t FS_NO_IGNORE
    int FS_MAX_THREADS

    int fs_bf16_rounding(int mode)

    int fs_accumulate_f32(float *y, const float *x, int64_t n, int n_threads)
    int fs_accumulate_f64(double *y, const double *x, int64_t n, int n_threads)

    ctypedef struct fs_ce_options:
        const int64_t *target
        int64_t ignore_index
        const void *probs
        int64_t probs_outer
        int64_t probs_mid
        const void *weight
        double label_smoothing
        double z_loss
        double softcap
        double *lse
        double grad_scale
        const double *grad_rows
        int grad_mean
        double *total_weight

    int64_t fs_cross_entropy_ex_f32(const float *x, int64_t xo, int64_t xm, const fs_ce_options *o,
                                    double *loss, float *grad, int64_t go, int64_t gm,
                                    int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_ex_f64(const double *x, int64_t xo, int64_t xm, const fs_ce_options *o,
                                    double *loss, double *grad, int64_t go, int64_t gm,
                                    int64_t n_outer, int64_t n, int64_t inner, int n_threads)

    int fs_softmax_f32(const float *x, int64_t xs, float *y, int64_t ys, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_softmax_f64(const double *x, int64_t xs, double *y, int64_t ys, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_log_softmax_f32(const float *x, int64_t xs, float *y, int64_t ys, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_log_softmax_f64(const double *x, int64_t xs, double *y, int64_t ys, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_logsumexp_f32(const float *x, int64_t xs, float *out, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_logsumexp_f64(const double *x, int64_t xs, double *out, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_softmax_cols_f32(const float *x, int64_t xo, int64_t xm, float *y, int64_t yo, int64_t ym,
                            int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_cols_f64(const double *x, int64_t xo, int64_t xm, double *y, int64_t yo, int64_t ym,
                            int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_log_softmax_cols_f32(const float *x, int64_t xo, int64_t xm, float *y, int64_t yo, int64_t ym,
                                int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_log_softmax_cols_f64(const double *x, int64_t xo, int64_t xm, double *y, int64_t yo, int64_t ym,
                                int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_logsumexp_cols_f32(const float *x, int64_t xo, int64_t xm, float *out,
                              int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_logsumexp_cols_f64(const double *x, int64_t xo, int64_t xm, double *out,
                              int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_cols_f32(const float *x, int64_t xo, int64_t xm, const int64_t *target,
                                      double *loss, int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_cols_f64(const double *x, int64_t xo, int64_t xm, const int64_t *target,
                                      double *loss, int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_with_grad_cols_f32(const float *x, int64_t xo, int64_t xm, const int64_t *target,
                                                double *loss, double scale, float *grad, int64_t go, int64_t gm,
                                                int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_with_grad_cols_f64(const double *x, int64_t xo, int64_t xm, const int64_t *target,
                                                double *loss, double scale, double *grad, int64_t go, int64_t gm,
                                                int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_backward_cols_f32(const float *g, int64_t go, int64_t gm, const float *y, int64_t yo,
                                     int64_t ym, float *out, int64_t oo, int64_t om,
                                     int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_backward_cols_f64(const double *g, int64_t go, int64_t gm, const double *y, int64_t yo,
                                     int64_t ym, double *out, int64_t oo, int64_t om,
                                     int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_log_softmax_backward_cols_f32(const float *g, int64_t go, int64_t gm, const float *lp, int64_t lo,
                                         int64_t lm, float *out, int64_t oo, int64_t om,
                                         int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_log_softmax_backward_cols_f64(const double *g, int64_t go, int64_t gm, const double *lp, int64_t lo,
                                         int64_t lm, double *out, int64_t oo, int64_t om,
                                         int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_backward_f32(const float *g, int64_t gs, const float *y, int64_t ys,
                                float *out, int64_t os, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_softmax_backward_f64(const double *g, int64_t gs, const double *y, int64_t ys,
                                double *out, int64_t os, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_log_softmax_backward_f32(const float *g, int64_t gs, const float *lp, int64_t ls,
                                    float *out, int64_t os, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_log_softmax_backward_f64(const double *g, int64_t gs, const double *lp, int64_t ls,
                                    double *out, int64_t os, int64_t n_rows, int64_t n_cols, int n_threads)
    int64_t fs_cross_entropy_f32(const float *x, int64_t xs, const int64_t *target,
                                 double *loss, int64_t n_rows, int64_t n_cols, int n_threads)
    int64_t fs_cross_entropy_f64(const double *x, int64_t xs, const int64_t *target,
                                 double *loss, int64_t n_rows, int64_t n_cols, int n_threads)
    int64_t fs_cross_entropy_with_grad_f32(const float *x, int64_t xs, const int64_t *target,
                                           double *loss, double scale, float *grad, int64_t gs,
                                           int64_t n_rows, int64_t n_cols, int n_threads)
    int64_t fs_cross_entropy_with_grad_f64(const double *x, int64_t xs, const int64_t *target,
                                           double *loss, double scale, double *grad, int64_t gs,
                                           int64_t n_rows, int64_t n_cols, int n_threads)

    int fs_exp_f32(const float *x, float *y, int64_t n)
    int fs_exp_f64(const double *x, double *y, int64_t n)

    int fs_get_num_threads()
    int fs_set_num_threads(int n)

    const char *fs_get_isa()
    int fs_set_isa(const char *name)
    int fs_isa_supported(const char *name)
    const char *fs_isa_name(int i)

    # the half types (fastsoftmax.h): 16-bit patterns, the same functions
    int fs_accumulate_f16(uint16_t *y, const uint16_t *x, int64_t n, int n_threads)
    int64_t fs_cross_entropy_ex_f16(const uint16_t *x, int64_t xo, int64_t xm, const fs_ce_options *o,
                                    double *loss, uint16_t *grad, int64_t go, int64_t gm,
                                    int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_f16(const uint16_t *x, int64_t xs, uint16_t *y, int64_t ys, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_log_softmax_f16(const uint16_t *x, int64_t xs, uint16_t *y, int64_t ys, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_logsumexp_f16(const uint16_t *x, int64_t xs, uint16_t *out, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_softmax_cols_f16(const uint16_t *x, int64_t xo, int64_t xm, uint16_t *y, int64_t yo, int64_t ym,
                            int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_log_softmax_cols_f16(const uint16_t *x, int64_t xo, int64_t xm, uint16_t *y, int64_t yo, int64_t ym,
                                int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_logsumexp_cols_f16(const uint16_t *x, int64_t xo, int64_t xm, uint16_t *out,
                              int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_cols_f16(const uint16_t *x, int64_t xo, int64_t xm, const int64_t *target,
                                      double *loss, int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_with_grad_cols_f16(const uint16_t *x, int64_t xo, int64_t xm, const int64_t *target,
                                                double *loss, double scale, uint16_t *grad, int64_t go, int64_t gm,
                                                int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_backward_cols_f16(const uint16_t *g, int64_t go, int64_t gm, const uint16_t *y, int64_t yo,
                                     int64_t ym, uint16_t *out, int64_t oo, int64_t om,
                                     int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_log_softmax_backward_cols_f16(const uint16_t *g, int64_t go, int64_t gm, const uint16_t *lp, int64_t lo,
                                         int64_t lm, uint16_t *out, int64_t oo, int64_t om,
                                         int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_backward_f16(const uint16_t *g, int64_t gs, const uint16_t *y, int64_t ys,
                                uint16_t *out, int64_t os, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_log_softmax_backward_f16(const uint16_t *g, int64_t gs, const uint16_t *lp, int64_t ls,
                                    uint16_t *out, int64_t os, int64_t n_rows, int64_t n_cols, int n_threads)
    int64_t fs_cross_entropy_f16(const uint16_t *x, int64_t xs, const int64_t *target,
                                 double *loss, int64_t n_rows, int64_t n_cols, int n_threads)
    int64_t fs_cross_entropy_with_grad_f16(const uint16_t *x, int64_t xs, const int64_t *target,
                                           double *loss, double scale, uint16_t *grad, int64_t gs,
                                           int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_exp_f16(const uint16_t *x, uint16_t *y, int64_t n)
    int fs_accumulate_bf16(uint16_t *y, const uint16_t *x, int64_t n, int n_threads)
    int64_t fs_cross_entropy_ex_bf16(const uint16_t *x, int64_t xo, int64_t xm, const fs_ce_options *o,
                                    double *loss, uint16_t *grad, int64_t go, int64_t gm,
                                    int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_bf16(const uint16_t *x, int64_t xs, uint16_t *y, int64_t ys, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_log_softmax_bf16(const uint16_t *x, int64_t xs, uint16_t *y, int64_t ys, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_logsumexp_bf16(const uint16_t *x, int64_t xs, uint16_t *out, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_softmax_cols_bf16(const uint16_t *x, int64_t xo, int64_t xm, uint16_t *y, int64_t yo, int64_t ym,
                            int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_log_softmax_cols_bf16(const uint16_t *x, int64_t xo, int64_t xm, uint16_t *y, int64_t yo, int64_t ym,
                                int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_logsumexp_cols_bf16(const uint16_t *x, int64_t xo, int64_t xm, uint16_t *out,
                              int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_cols_bf16(const uint16_t *x, int64_t xo, int64_t xm, const int64_t *target,
                                      double *loss, int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int64_t fs_cross_entropy_with_grad_cols_bf16(const uint16_t *x, int64_t xo, int64_t xm, const int64_t *target,
                                                double *loss, double scale, uint16_t *grad, int64_t go, int64_t gm,
                                                int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_backward_cols_bf16(const uint16_t *g, int64_t go, int64_t gm, const uint16_t *y, int64_t yo,
                                     int64_t ym, uint16_t *out, int64_t oo, int64_t om,
                                     int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_log_softmax_backward_cols_bf16(const uint16_t *g, int64_t go, int64_t gm, const uint16_t *lp, int64_t lo,
                                         int64_t lm, uint16_t *out, int64_t oo, int64_t om,
                                         int64_t n_outer, int64_t n, int64_t inner, int n_threads)
    int fs_softmax_backward_bf16(const uint16_t *g, int64_t gs, const uint16_t *y, int64_t ys,
                                uint16_t *out, int64_t os, int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_log_softmax_backward_bf16(const uint16_t *g, int64_t gs, const uint16_t *lp, int64_t ls,
                                    uint16_t *out, int64_t os, int64_t n_rows, int64_t n_cols, int n_threads)
    int64_t fs_cross_entropy_bf16(const uint16_t *x, int64_t xs, const int64_t *target,
                                 double *loss, int64_t n_rows, int64_t n_cols, int n_threads)
    int64_t fs_cross_entropy_with_grad_bf16(const uint16_t *x, int64_t xs, const int64_t *target,
                                           double *loss, double scale, uint16_t *grad, int64_t gs,
                                           int64_t n_rows, int64_t n_cols, int n_threads)
    int fs_exp_bf16(const uint16_t *x, uint16_t *y, int64_t n)
