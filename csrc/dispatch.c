/* dispatch.c -- the public C API: argument checks, then the active kernel set.
 *
 * Design: the kernel set is chosen once, on first use, from what the CPU
 * reports (cpuid) AND what the OS saves on context switch (xgetbv): an
 * AVX-512 CPU under an OS that does not save ZMM state must not run AVX-512
 * code; on aarch64 the NEON set needs no probe.  FASTSOFTMAX_ISA=scalar|neon|avx2|avx512
 * forces a set (ignored, with the
 * best set kept, when the CPU lacks it); fs_set_isa() forces one at run time.
 * The sets compiled into this build are the entries of kernel_sets.h
 * (setup.py defines FS_HAVE_<SET> where it compiles one); every table and
 * lookup below is built from that list.
 */
#include "fastsoftmax.h"
#include "kernel_sets.h"
#include "kernels.h"

#include "compensated.h"
#include "parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FS_DECLARE_TABLE(set, needs) extern const fs_kernel_table FS_TABLE_OF(set);
FS_KERNEL_SETS(FS_DECLARE_TABLE)
#undef FS_DECLARE_TABLE

/* ---- CPU probe: the FS_CPU_* bits of kernel_sets.h ------------------------- */

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#if defined(_MSC_VER)
#include <intrin.h>
static void fs_cpuid(int leaf, int sub, unsigned r[4]) {
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
static unsigned long long fs_xgetbv0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void fs_cpuid(int leaf, int sub, unsigned r[4]) {
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
static unsigned long long fs_xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif
static int fs_cpu_features(void) {
    unsigned r[4];
    fs_cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    if (max_leaf < 7) return 0;
    fs_cpuid(1, 0, r);
    int osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
    int f16c = (r[2] >> 29) & 1;
    if (!osxsave || !avx) return 0;
    unsigned long long xcr0 = fs_xgetbv0();
    int ymm_saved = (xcr0 & 0x6) == 0x6;            /* XMM and YMM state */
    int zmm_saved = (xcr0 & 0xe6) == 0xe6;          /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    fs_cpuid(7, 0, r);
    int avx2 = (r[1] >> 5) & 1, bmi2 = (r[1] >> 8) & 1;
    int avx512f = (r[1] >> 16) & 1, avx512dq = (r[1] >> 17) & 1;
    int avx512bw = (r[1] >> 30) & 1, avx512vl = (r[1] >> 31) & 1;
    unsigned max_sub = r[0];
    int feats = 0;
    if (ymm_saved && avx2 && fma && bmi2 && f16c) feats |= FS_CPU_AVX2;
    if ((feats & FS_CPU_AVX2) && zmm_saved && avx512f && avx512dq && avx512bw && avx512vl)
        feats |= FS_CPU_AVX512;
    if ((feats & FS_CPU_AVX512) && max_sub >= 1) {
        fs_cpuid(7, 1, r);
        if ((r[0] >> 5) & 1) feats |= FS_CPU_AVX512_BF16;   /* EAX bit 5: AVX512_BF16 */
    }
    return feats;
}
#else
static int fs_cpu_features(void) { return 0; }
#endif

/* ---- the table of kernel sets, best last ----------------------------------- */
typedef struct { const char *name; const fs_kernel_table *table; int needs; } fs_isa_entry;

#define FS_ISA_ENTRY(set, needs) {FS_STR(set), &FS_TABLE_OF(set), needs},
static const fs_isa_entry fs_isas[] = {FS_KERNEL_SETS(FS_ISA_ENTRY)};
#undef FS_ISA_ENTRY
#define FS_N_ISAS ((int)(sizeof(fs_isas) / sizeof(fs_isas[0])))

/* The active set: read on every call, written on first use and by fs_set_isa. */
#if defined(__STDC_NO_ATOMICS__) || defined(_MSC_VER)
static const fs_kernel_table *volatile fs_active = NULL;
#define FS_ACTIVE_LOAD() (fs_active)
#define FS_ACTIVE_STORE(t) (fs_active = (t))
#else
#include <stdatomic.h>
static _Atomic(const fs_kernel_table *) fs_active = NULL;
#define FS_ACTIVE_LOAD() atomic_load_explicit(&fs_active, memory_order_acquire)
#define FS_ACTIVE_STORE(t) atomic_store_explicit(&fs_active, (t), memory_order_release)
#endif

static const fs_isa_entry *fs_find_isa(const char *name) {
    if (name == NULL) return NULL;
    for (int i = 0; i < FS_N_ISAS; i++)
        if (strcmp(fs_isas[i].name, name) == 0) return &fs_isas[i];
    return NULL;
}

static int fs_entry_runs_here(const fs_isa_entry *e) {
    return e != NULL && (fs_cpu_features() & e->needs) == e->needs;
}

int fs_bf16_hw = 0;
static int fs_bf16_probed = 0;

/* whether this build and CPU can round with vcvtneps2bf16 */
static int fs_bf16_hw_here(void) {
    return FS_BF16_ASM && (fs_cpu_features() & FS_CPU_AVX512_BF16) != 0;
}

/* fs_bf16_hw from the CPU, once (before any kernel runs: on the first choice of a set) */
static void fs_bf16_probe(void) {
    if (fs_bf16_probed) return;
    fs_bf16_hw = fs_bf16_hw_here();
    fs_bf16_probed = 1;
}

#if defined(__GNUC__)
/* at load time, before any thread can call a kernel: no race on the two flags */
__attribute__((constructor)) static void fs_bf16_at_load(void) { fs_bf16_probe(); }
#endif

int fs_bf16_rounding(int mode) {
    fs_bf16_probe();
    int old = fs_bf16_hw;
    if (mode < -1 || mode > 1) return FS_EINVAL;
    if (mode == 1 && !fs_bf16_hw_here()) return FS_EINVAL;
    if (mode >= 0) fs_bf16_hw = mode;
    return old;
}

static const fs_kernel_table *fs_choose(void) {
    fs_bf16_probe();
    const fs_isa_entry *forced = fs_find_isa(getenv("FASTSOFTMAX_ISA"));
    if (fs_entry_runs_here(forced)) return forced->table;
    int feats = fs_cpu_features();
    for (int i = FS_N_ISAS - 1; i >= 0; i--)
        if ((feats & fs_isas[i].needs) == fs_isas[i].needs) return fs_isas[i].table;
    return fs_isas[0].table;
}

static const fs_kernel_table *fs_table(void) {
    const fs_kernel_table *t = FS_ACTIVE_LOAD();
    if (t == NULL) {
        t = fs_choose();   /* idempotent: a race only computes the same answer twice */
        FS_ACTIVE_STORE(t);
    }
    return t;
}

const char *fs_get_isa(void) { return fs_table()->name; }

int fs_isa_supported(const char *name) { return fs_entry_runs_here(fs_find_isa(name)); }

const char *fs_isa_name(int i) { return i >= 0 && i < FS_N_ISAS ? fs_isas[i].name : NULL; }

int fs_set_isa(const char *name) {
    const fs_isa_entry *e = fs_find_isa(name);
    if (!fs_entry_runs_here(e)) return FS_EINVAL;
    fs_bf16_probe();
    FS_ACTIVE_STORE(e->table);
    return FS_OK;
}

/* ---- public entry points ---------------------------------------------------- */
static int fs_bad_sizes(int64_t n_rows, int64_t n_cols) { return n_rows < 0 || n_cols < 0; }
static int fs_empty(int64_t n_rows, int64_t n_cols) { return n_rows == 0 || n_cols == 0; }

static int64_t fs_first_bad_target(const int64_t *target, int64_t n_rows, int64_t n_cols,
                                   int64_t ignore_index) {
    /* blocks of 64 with a branch-free range check (one unsigned compare per
     * target: negative ones wrap past n_cols), then a scan of a flagged block */
    for (int64_t r0 = 0; r0 < n_rows; r0 += 64) {
        int64_t r1 = n_rows - r0 < 64 ? n_rows : r0 + 64;
        int out = 0;
        for (int64_t r = r0; r < r1; r++) out |= (uint64_t)target[r] >= (uint64_t)n_cols;
        if (!out) continue;
        for (int64_t r = r0; r < r1; r++)
            if ((uint64_t)target[r] >= (uint64_t)n_cols
                && (ignore_index == FS_NO_IGNORE || target[r] != ignore_index))
                return r;
    }
    return FS_TARGETS_OK;
}

/* The option values the kernels accept (weights are checked per dtype). */
static int fs_ce_options_ok(const fs_ce_options *o) {
    return o->label_smoothing >= 0.0 && o->label_smoothing <= 1.0 && isfinite(o->z_loss)
           && o->softcap >= 0.0 && isfinite(o->softcap);
}

static int fs_ce_is_ext(const fs_ce_options *o) {
    return o->probs || o->label_smoothing > 0.0 || o->z_loss != 0.0 || o->softcap > 0.0;
}

/* ---- the threaded drivers (driver.inc), one per dtype ---------------------- */
enum { FS_OP_SOFTMAX, FS_OP_LOG_SOFTMAX, FS_OP_LOGSUMEXP, FS_OP_SOFTMAX_BW,
       FS_OP_LOG_SOFTMAX_BW, FS_OP_CE, FS_OP_CE_GRAD };

/* Elements per thread below which another thread costs more than it saves
 * (waking a worker is a few microseconds; 32768 elements take ~15 us). */
#define FS_MIN_WORK 32768
/* Long rows go through in batches of about this many bytes per thread. */
#define FS_BATCH_BYTES (1024 * 1024)

/* a chunk's partial: its max m and s = sum(exp(x - m)) - 1, the rest beside the
 * max's term (the backward ops: m = 0 and s their chunk's sum) */
typedef struct { double m, s; int ok; } fs_partial;
typedef struct { double p0, p1, fix; int whole; } fs_rowstate;
/* fs_rowstate.whole: 0 chunked, 1 done by the row kernel, FS_ROW_ZERO an
 * ignored cross-entropy sample (its gradient row is zeroed) */
#define FS_ROW_ZERO 2

static int fs_op_is_backward(int op) { return op == FS_OP_SOFTMAX_BW || op == FS_OP_LOG_SOFTMAX_BW; }

/* The chunk write of an op, or -1 when it writes nothing elementwise. */
static int fs_write_kind(int op) {
    switch (op) {
    case FS_OP_SOFTMAX: case FS_OP_CE_GRAD: return FS_W_SOFTMAX;
    case FS_OP_LOG_SOFTMAX: return FS_W_LOG_SOFTMAX;
    case FS_OP_SOFTMAX_BW: return FS_W_SOFTMAX_BW;
    case FS_OP_LOG_SOFTMAX_BW: return FS_W_LOG_SOFTMAX_BW;
    default: return -1;
    }
}

#define FS_T float
#define FS_SFX f32
#include "driver.inc"
#undef FS_T
#undef FS_SFX

#define FS_T double
#define FS_SFX f64
#include "driver.inc"
#undef FS_T
#undef FS_SFX

/* the half types (storage.h): 16-bit patterns, computed in float32 */
#define FS_T uint16_t
#define FS_SFX f16
#include "driver.inc"
#undef FS_SFX
#define FS_SFX bf16
#include "driver.inc"
#undef FS_T
#undef FS_SFX
