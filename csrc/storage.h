/* storage.h -- internal: one element of each storage type, read as a double
 * and written from a double (rounded once, to nearest).
 *
 * The bodies and the driver reach these through FS_GET / FS_PUT
 * (fs_names.h) wherever they touch a single element: the target logit,
 * a class weight, a row's fix-up.  A storage type is one pair here plus its
 * vector loads and stores in each simd_<set>.h.
 */
#ifndef FASTSOFTMAX_STORAGE_H
#define FASTSOFTMAX_STORAGE_H

static inline double fs_get_f32(const float *p) { return (double)*p; }
static inline double fs_get_f64(const double *p) { return *p; }
static inline void fs_put_f32(float *p, double v) { *p = (float)v; }
static inline void fs_put_f64(double *p, double v) { *p = v; }

#endif /* FASTSOFTMAX_STORAGE_H */
