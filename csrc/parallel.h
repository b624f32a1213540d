/* parallel.h -- internal: the thread pool behind every public function.
 *
 * Results never depend on the thread count: callers split work into items
 * (row ranges, or (row, chunk) pairs) whose results are independent of
 * which thread computes them, and merge partials in a fixed order.
 */
#ifndef FASTSOFTMAX_PARALLEL_H
#define FASTSOFTMAX_PARALLEL_H

#include <stdint.h>

/* Work on items [begin, end) of a job. */
typedef void (*fs_range_fn)(void *ctx, int64_t begin, int64_t end);

/* Run fn over [0, n_items) on up to `threads` threads (the caller included),
 * in contiguous ranges; returns when every item is done.  threads <= 1, or
 * another job already in the pool, runs everything on the calling thread. */
void fs_parallel_run(int threads, int64_t n_items, fs_range_fn fn, void *ctx);

/* Threads one call may use: `requested` if >= 1, else the process limit,
 * capped so that each thread gets at least `min_work` of `work`
 * (and at most `n_items` threads). */
int fs_threads_for(int requested, int64_t work, int64_t min_work, int64_t n_items);

#endif /* FASTSOFTMAX_PARALLEL_H */
