/* parallel.c -- a small persistent thread pool, and the process thread limit.
 *
 * Design:
 *   - Workers are created on first need and then sleep on a condition
 *     variable; a job wakes them, they claim parts of [0, n_items) from an
 *     atomic counter, and the calling thread claims parts too, so a worker
 *     that wakes late costs nothing but its share.  Parts outnumber threads
 *     (FS_PARTS_PER_THREAD) to even out uneven rows.
 *   - One job at a time.  A call that finds the pool busy (another Python
 *     thread is in the middle of a call) runs its whole job on its own
 *     thread: the result is the same, since no item's result depends on the
 *     thread that computes it, and nothing ever waits for the pool.
 *   - A job ends only after every worker that joined it has left, so a slow
 *     worker can never claim a part of the next job with the old job's data.
 *   - Idle workers spin for FS_SPIN_NS before sleeping, and so does a caller
 *     waiting for the last worker: waking a sleeping thread costs tens of
 *     microseconds on virtual machines, which would eat small calls' gains.
 *   - fork(): the child has none of the parent's workers; an atfork handler
 *     resets the pool so the child starts a fresh one when it needs it.
 *   - The limit used when a call passes no thread count: FASTSOFTMAX_NUM_THREADS,
 *     else OMP_NUM_THREADS, else the CPUs this process may run on; changed at
 *     run time by fs_set_num_threads (threadpoolctl goes through it).
 * Without POSIX threads (Windows builds) everything runs on the calling thread.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "fastsoftmax.h"
#include "parallel.h"

#include <stdlib.h>

#define FS_PARTS_PER_THREAD 4
/* How long an idle worker, or a caller waiting for workers, spins before it
 * sleeps.  Short enough not to matter to other work on the machine. */
#define FS_SPIN_NS 200000

#if defined(_WIN32)
#define FS_HAVE_PTHREADS 0
#else
#define FS_HAVE_PTHREADS 1
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#endif

/* ---- the thread limit ------------------------------------------------------ */
static int fs_env_threads(const char *name) {
    const char *v = getenv(name);
    if (v == NULL) return 0;
    char *end;
    long n = strtol(v, &end, 10);   /* "4" or "4,2" (OpenMP's nested form) */
    if (end == v || n < 1) return 0;
    return n > FS_MAX_THREADS ? FS_MAX_THREADS : (int)n;
}

static int fs_cpu_count(void) {
    long n = 1;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
    else n = sysconf(_SC_NPROCESSORS_ONLN);
#elif FS_HAVE_PTHREADS
    n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    if (n < 1) n = 1;
    return n > FS_MAX_THREADS ? FS_MAX_THREADS : (int)n;
}

static int fs_default_threads(void) {
    int n = fs_env_threads("FASTSOFTMAX_NUM_THREADS");
    if (n == 0) n = fs_env_threads("OMP_NUM_THREADS");
    if (n == 0) n = fs_cpu_count();
    return n;
}

#if FS_HAVE_PTHREADS
static atomic_int fs_limit = 0;   /* 0: not yet read from the environment */
#else
static int fs_limit = 0;
#endif

int fs_get_num_threads(void) {
    int n = fs_limit;
    if (n == 0) {
        n = fs_default_threads();  /* a race only computes the same value twice */
        fs_limit = n;
    }
    return n;
}

int fs_set_num_threads(int n) {
    int old = fs_get_num_threads();
    fs_limit = n >= 1 ? (n > FS_MAX_THREADS ? FS_MAX_THREADS : n) : fs_default_threads();
    return old;
}

int fs_threads_for(int requested, int64_t work, int64_t min_work, int64_t n_items) {
    int64_t t = requested >= 1 ? requested : fs_get_num_threads();
    if (t > FS_MAX_THREADS) t = FS_MAX_THREADS;
    int64_t by_work = min_work > 0 ? work / min_work : t;
    if (t > by_work) t = by_work;
    if (t > n_items) t = n_items;
    return t < 1 ? 1 : (int)t;
}

/* ---- the pool --------------------------------------------------------------- */
#if !FS_HAVE_PTHREADS
void fs_parallel_run(int threads, int64_t n_items, fs_range_fn fn, void *ctx) {
    (void)threads;
    if (n_items > 0) fn(ctx, 0, n_items);
}
#else

static pthread_mutex_t fs_submit_mu = PTHREAD_MUTEX_INITIALIZER; /* held by the job's caller */
static pthread_mutex_t fs_mu = PTHREAD_MUTEX_INITIALIZER;        /* guards what follows */
static pthread_cond_t fs_cv_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t fs_cv_done = PTHREAD_COND_INITIALIZER;
static pthread_once_t fs_atfork_once = PTHREAD_ONCE_INIT;
static int fs_n_workers = 0;
static atomic_uint_fast64_t fs_generation = 0;  /* written under fs_mu, read by spinners */
static atomic_int fs_active = 0;                /* workers in the current job */
static struct {
    fs_range_fn fn;
    void *ctx;
    int64_t n_items;
    int n_parts;
    int wanted;     /* workers this job may use */
    int joined;
    int open;       /* workers may still join */
} fs_job;
static atomic_int fs_next_part;

static void fs_run_parts(fs_range_fn fn, void *ctx, int64_t n_items, int n_parts) {
    for (;;) {
        int k = atomic_fetch_add(&fs_next_part, 1);
        if (k >= n_parts) return;
        int64_t b = n_items / n_parts * k + (n_items % n_parts) * k / n_parts;
        int64_t e = n_items / n_parts * (k + 1) + (n_items % n_parts) * (k + 1) / n_parts;
        if (e > b) fn(ctx, b, e);
    }
}

/* Busy-wait up to FS_SPIN_NS for *flag to change from `from` (1) or to 0 (0).
 * Sleeping on a condition variable costs tens of microseconds to wake on
 * some virtual machines; back-to-back calls should not pay that each time. */
static uint64_t fs_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void fs_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void fs_spin_while_generation(uint64_t seen) {
    uint64_t t0 = fs_now_ns();
    while (atomic_load_explicit(&fs_generation, memory_order_acquire) == seen) {
        for (int i = 0; i < 64; i++) fs_cpu_relax();
        if (fs_now_ns() - t0 > FS_SPIN_NS) return;
    }
}

static void *fs_worker(void *arg) {
    uint64_t seen = (uint64_t)(uintptr_t)arg;
    for (;;) {
        fs_spin_while_generation(seen);
        pthread_mutex_lock(&fs_mu);
        while (atomic_load(&fs_generation) == seen) pthread_cond_wait(&fs_cv_work, &fs_mu);
        seen = atomic_load(&fs_generation);
        if (!fs_job.open || fs_job.joined >= fs_job.wanted) {
            pthread_mutex_unlock(&fs_mu);
            continue;
        }
        fs_job.joined++;
        atomic_fetch_add(&fs_active, 1);
        fs_range_fn fn = fs_job.fn;
        void *ctx = fs_job.ctx;
        int64_t n_items = fs_job.n_items;
        int n_parts = fs_job.n_parts;
        pthread_mutex_unlock(&fs_mu);
        fs_run_parts(fn, ctx, n_items, n_parts);
        pthread_mutex_lock(&fs_mu);
        if (atomic_fetch_sub(&fs_active, 1) == 1) pthread_cond_signal(&fs_cv_done);
        pthread_mutex_unlock(&fs_mu);
    }
    return NULL;
}

static void fs_atfork_child(void) {
    /* Only the forking thread exists in the child: forget the parent's workers. */
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    fs_submit_mu = m;
    fs_mu = m;
    fs_cv_work = c;
    fs_cv_done = c;
    fs_n_workers = 0;
    fs_job.open = 0;
    atomic_store(&fs_active, 0);
}

static void fs_register_atfork(void) { pthread_atfork(NULL, NULL, fs_atfork_child); }

/* Start workers until there are `want`; returns how many exist (fs_mu held). */
static int fs_grow_pool(int want) {
    pthread_once(&fs_atfork_once, fs_register_atfork);
    while (fs_n_workers < want) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int rc = pthread_create(&t, &attr, fs_worker, (void *)(uintptr_t)atomic_load(&fs_generation));
        pthread_attr_destroy(&attr);
        if (rc != 0) break;   /* out of threads: use the ones we have */
        fs_n_workers++;
    }
    return fs_n_workers;
}

void fs_parallel_run(int threads, int64_t n_items, fs_range_fn fn, void *ctx) {
    if (n_items <= 0) return;
    if (threads <= 1 || n_items == 1 || pthread_mutex_trylock(&fs_submit_mu) != 0) {
        fn(ctx, 0, n_items);
        return;
    }
    int64_t parts = (int64_t)threads * FS_PARTS_PER_THREAD;
    if (parts > n_items) parts = n_items;

    pthread_mutex_lock(&fs_mu);
    int helpers = fs_grow_pool(threads - 1);
    if (helpers > threads - 1) helpers = threads - 1;
    fs_job.fn = fn;
    fs_job.ctx = ctx;
    fs_job.n_items = n_items;
    fs_job.n_parts = (int)parts;
    fs_job.wanted = helpers;
    fs_job.joined = 0;
    fs_job.open = 1;
    atomic_store(&fs_next_part, 0);
    atomic_fetch_add(&fs_generation, 1);
    pthread_cond_broadcast(&fs_cv_work);
    pthread_mutex_unlock(&fs_mu);

    fs_run_parts(fn, ctx, n_items, (int)parts);

    pthread_mutex_lock(&fs_mu);
    fs_job.open = 0;          /* no late joiners; the ones inside finish their parts */
    pthread_mutex_unlock(&fs_mu);
    uint64_t t0 = fs_now_ns();
    while (atomic_load(&fs_active) > 0 && fs_now_ns() - t0 < FS_SPIN_NS) fs_cpu_relax();
    pthread_mutex_lock(&fs_mu);
    while (atomic_load(&fs_active) > 0) pthread_cond_wait(&fs_cv_done, &fs_mu);
    pthread_mutex_unlock(&fs_mu);
    pthread_mutex_unlock(&fs_submit_mu);
}
#endif
