/* driver_body.h -- the public entry points of one dtype, included by
 * dispatch.c with FS_T and FS_SFX.
 *
 * Design: each call is checked, then split over threads (parallel.c):
 *   - rows up to FS_L2_ROW_BYTES: ranges of rows, one row-kernel call per
 *     range (each row is computed exactly as on one thread);
 *   - longer rows: fixed chunks of FS_CHUNK_BYTES.  Phase 1 computes each
 *     (row, chunk) partial -- online (max, sum of exp), or a compensated dot
 *     product -- in parallel; a serial merge per row combines the partials in
 *     chunk order (max, then sum of s_k * exp(m_k - max) with Neumaier
 *     compensation) and writes per-row results; phase 2 writes the output
 *     chunk by chunk in parallel.  Rows go through in batches of about
 *     FS_BATCH_BYTES per thread, so phase 2 re-reads x from cache, not DRAM.
 *     That is one DRAM read and one write per element, or two reads when a
 *     single row outgrows the caches.  Rows the chunk pieces cannot take
 *     (a +inf entry, all -inf, NaN before any finite value, NaN sums) are
 *     handed whole to the row kernel, which applies scipy's rules.
 * The arithmetic of a row never depends on the thread count or the batch.
 */
#define FS_D_CAT_(a, b) a##_##b
#define FS_D_CAT(a, b) FS_D_CAT_(a, b)
#define FS_D(name) FS_D_CAT(name, FS_SFX)
#define FS_TAB(field) FS_D_CAT(field, FS_SFX)

typedef struct {
    const fs_kernel_table *tab;
    int op;
    const FS_T *a;     /* x, or grad for the backward ops */
    int64_t as;
    const FS_T *b;     /* y or logp (backward ops) */
    int64_t bs;
    FS_T *y;           /* elementwise output, or grad (CE) */
    int64_t ys;
    FS_T *red;         /* logsumexp output */
    const int64_t *target;
    double *loss;
    double scale;
    int64_t n_cols;
    /* long rows */
    int64_t row0, chunk, n_chunks;
    fs_partial *part;  /* [batch rows][n_chunks] */
    fs_rowstate *rows; /* [batch rows] */
} FS_D(fs_job);

/* Row kernels on rows [begin, end). */
static void FS_D(fs_rows_task)(void *ctx, int64_t begin, int64_t end) {
    const FS_D(fs_job) *j = ctx;
    const fs_kernel_table *t = j->tab;
    int64_t n = end - begin, c = j->n_cols;
    const FS_T *a = j->a + begin * j->as;
    switch (j->op) {
    case FS_OP_SOFTMAX:
        t->FS_TAB(softmax)(a, j->as, j->y + begin * j->ys, j->ys, n, c);
        break;
    case FS_OP_LOG_SOFTMAX:
        t->FS_TAB(log_softmax)(a, j->as, j->y + begin * j->ys, j->ys, n, c);
        break;
    case FS_OP_LOGSUMEXP:
        t->FS_TAB(logsumexp)(a, j->as, j->red + begin, n, c);
        break;
    case FS_OP_SOFTMAX_BW:
        t->FS_TAB(softmax_backward)(a, j->as, j->b + begin * j->bs, j->bs,
                                    j->y + begin * j->ys, j->ys, n, c);
        break;
    case FS_OP_LOG_SOFTMAX_BW:
        t->FS_TAB(log_softmax_backward)(a, j->as, j->b + begin * j->bs, j->bs,
                                        j->y + begin * j->ys, j->ys, n, c);
        break;
    case FS_OP_CE:
        t->FS_TAB(cross_entropy)(a, j->as, j->target + begin, j->loss + begin, n, c);
        break;
    case FS_OP_CE_GRAD:
        t->FS_TAB(cross_entropy_with_grad)(a, j->as, j->target + begin, j->loss + begin,
                                           j->scale, j->y + begin * j->ys, j->ys, n, c);
        break;
    }
}

/* Phase 1: partials of (row, chunk) items of the current batch. */
static void FS_D(fs_reduce_task)(void *ctx, int64_t begin, int64_t end) {
    const FS_D(fs_job) *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        int64_t r = j->row0 + i / j->n_chunks, c0 = (i % j->n_chunks) * j->chunk;
        int64_t len = j->n_cols - c0 < j->chunk ? j->n_cols - c0 : j->chunk;
        const FS_T *a = j->a + r * j->as + c0;
        fs_partial *p = &j->part[i];
        if (fs_op_is_backward(j->op)) {
            p->ok = 1;
            p->m = 0.0;
            p->s = j->tab->FS_TAB(dot)(a, j->op == FS_OP_SOFTMAX_BW ? j->b + r * j->bs + c0 : NULL, len);
        } else {
            p->ok = j->tab->FS_TAB(online)(a, len, &p->m, &p->s);
        }
    }
}

/* Phase 2: elementwise writes of (row, chunk) items. */
static void FS_D(fs_write_task)(void *ctx, int64_t begin, int64_t end) {
    const FS_D(fs_job) *j = ctx;
    int kind = fs_write_kind(j->op);
    for (int64_t i = begin; i < end; i++) {
        const fs_rowstate *st = &j->rows[i / j->n_chunks];
        if (st->whole) continue;
        int64_t r = j->row0 + i / j->n_chunks, c0 = (i % j->n_chunks) * j->chunk;
        int64_t len = j->n_cols - c0 < j->chunk ? j->n_cols - c0 : j->chunk;
        j->tab->FS_TAB(write)(kind, j->a + r * j->as + c0,
                              j->b ? j->b + r * j->bs + c0 : NULL,
                              j->y + r * j->ys + c0, len, st->p0, st->p1);
    }
}

/* Merge the partials of row r (batch index k) and write its per-row results. */
static void FS_D(fs_merge_row)(FS_D(fs_job) *j, int64_t k) {
    const fs_partial *p = j->part + k * j->n_chunks;
    fs_rowstate *st = &j->rows[k];
    int64_t r = j->row0 + k;
    st->whole = 0;
    if (fs_op_is_backward(j->op)) {
        fs_acc acc = {0.0, 0.0};
        for (int64_t c = 0; c < j->n_chunks; c++) fs_acc_add(&acc, p[c].s);
        st->p0 = fs_acc_value(&acc);
        st->p1 = 0.0;
        return;
    }
    double m = -INFINITY;
    for (int64_t c = 0; c < j->n_chunks; c++) {
        if (!p[c].ok) { st->whole = 1; break; }
        if (p[c].m > m) m = p[c].m;
    }
    double s = 0.0;
    if (!st->whole && m != -INFINITY) {
        fs_acc acc = {0.0, 0.0};
        for (int64_t c = 0; c < j->n_chunks; c++)
            if (p[c].m != -INFINITY) fs_acc_add(&acc, p[c].s * exp(p[c].m - m));
        s = fs_acc_value(&acc);
    }
    if (st->whole || m == -INFINITY || s != s) {  /* the row kernel's rules apply */
        st->whole = 1;
        FS_D(fs_rows_task)(j, r, r + 1);
        return;
    }
    double ls = log(s);
    switch (j->op) {
    case FS_OP_SOFTMAX:
        st->p0 = m;
        st->p1 = 1.0 / s;
        break;
    case FS_OP_LOG_SOFTMAX:
        st->p0 = m;
        st->p1 = ls;
        break;
    case FS_OP_LOGSUMEXP:
        j->red[r] = (FS_T)(m + ls);
        break;
    case FS_OP_CE:
    case FS_OP_CE_GRAD: {
        int64_t t = j->target[r];
        double xt = (double)j->a[r * j->as + t];   /* read before grad (maybe x) is written */
        j->loss[r] = (m - xt) + ls;
        st->p0 = m;
        st->p1 = j->scale / s;
        st->fix = (exp(xt - m) / s - 1.0) * j->scale;
        break;
    }
    }
}

static int FS_D(fs_run)(FS_D(fs_job) *j, int64_t n_rows, int n_threads) {
    int64_t c = j->n_cols;
    if ((uint64_t)c * sizeof(FS_T) <= FS_L2_ROW_BYTES) {
        int th = fs_threads_for(n_threads, n_rows * c, FS_MIN_WORK, n_rows);
        fs_parallel_run(th, n_rows, FS_D(fs_rows_task), j);
        return FS_OK;
    }
    j->chunk = FS_CHUNK_BYTES / (int64_t)sizeof(FS_T);
    j->n_chunks = (c + j->chunk - 1) / j->chunk;
    int th = fs_threads_for(n_threads, n_rows * c, FS_MIN_WORK, n_rows * j->n_chunks);
    int64_t row_bytes = c * (int64_t)sizeof(FS_T);
    int64_t batch = (int64_t)th * FS_BATCH_BYTES / row_bytes;
    if (batch < 1) batch = 1;
    if (batch > n_rows) batch = n_rows;
    j->part = malloc((size_t)(batch * j->n_chunks) * sizeof(fs_partial));
    j->rows = malloc((size_t)batch * sizeof(fs_rowstate));
    if (!j->part || !j->rows) {
        free(j->part);
        free(j->rows);
        return FS_ENOMEM;
    }
    int writes = fs_write_kind(j->op) >= 0;
    for (int64_t r0 = 0; r0 < n_rows; r0 += batch) {
        int64_t nb = n_rows - r0 < batch ? n_rows - r0 : batch;
        j->row0 = r0;
        fs_parallel_run(th, nb * j->n_chunks, FS_D(fs_reduce_task), j);
        for (int64_t k = 0; k < nb; k++) FS_D(fs_merge_row)(j, k);
        if (writes) fs_parallel_run(th, nb * j->n_chunks, FS_D(fs_write_task), j);
        if (j->op == FS_OP_CE_GRAD)
            for (int64_t k = 0; k < nb; k++)
                if (!j->rows[k].whole)
                    j->y[(r0 + k) * j->ys + j->target[r0 + k]] = (FS_T)j->rows[k].fix;
    }
    free(j->part);
    free(j->rows);
    return FS_OK;
}

static FS_D(fs_job) FS_D(fs_job_new)(int op, int64_t n_cols) {
    FS_D(fs_job) j;
    memset(&j, 0, sizeof(j));
    j.tab = fs_table();
    j.op = op;
    j.n_cols = n_cols;
    return j;
}

/* ---- non-last axis: fixed tiles of columns, split across threads ---------------- */
typedef struct {
    const fs_kernel_table *tab;
    int kind;
    const FS_T *x;
    int64_t xo, xm;
    FS_T *y;
    int64_t yo, ym;
    FS_T *red;
    const int64_t *target;
    double *loss, scale;
    const FS_T *b;     /* backward ops: y or logp */
    int64_t bo, bm;
    int64_t n, inner, tile, n_tiles;
    int failed;   /* FS_ENOMEM from some tile (written by any thread: any value but 0 is failure) */
} FS_D(fs_cols_job);

static void FS_D(fs_cols_task)(void *ctx, int64_t begin, int64_t end) {
    FS_D(fs_cols_job) *j = ctx;
    for (int64_t it = begin; it < end; it++) {
        int64_t o = it / j->n_tiles, j0 = (it % j->n_tiles) * j->tile;
        int64_t w = j->inner - j0 < j->tile ? j->inner - j0 : j->tile;
        fs_cols_extra ce = {j->target ? j->target + o * j->inner + j0 : NULL,
                         j->loss ? j->loss + o * j->inner + j0 : NULL, j->scale,
                         j->b ? j->b + o * j->bo + j0 : NULL, j->bo, j->bm};
        int rc = j->tab->FS_TAB(cols)(j->kind, j->x + o * j->xo + j0, j->xm,
                                      j->y ? j->y + o * j->yo + j0 : NULL, j->ym,
                                      j->red ? j->red + o * j->inner + j0 : NULL, &ce, j->n, w);
        if (rc != FS_OK) j->failed = rc;
    }
}

/* Checks, then the tiles; `ce` is NULL except for the cross-entropy kinds. */
static int FS_D(fs_run_cols)(int kind, const FS_T *x, int64_t xo, int64_t xm, FS_T *y,
                             int64_t yo, int64_t ym, FS_T *red, const fs_cols_extra *ce,
                             int64_t n_outer, int64_t n, int64_t inner, int n_threads) {
    int is_ce = kind == FS_C_CE || kind == FS_C_CE_GRAD;
    if (n_outer < 0 || n < 0 || inner < 0 || (is_ce && n == 0 && n_outer * inner > 0))
        return FS_EINVAL;
    if (n_outer == 0 || inner == 0) return FS_OK;
    if (n == 0) {
        if (kind != FS_C_LOGSUMEXP) return FS_OK;
        if (!red) return FS_EINVAL;
        for (int64_t i = 0; i < n_outer * inner; i++) red[i] = -(FS_T)INFINITY;
        return FS_OK;
    }
    if (!x || (kind == FS_C_LOGSUMEXP && !red) || (kind != FS_C_LOGSUMEXP && kind != FS_C_CE && !y)
        || (is_ce && (!ce || !ce->target || !ce->loss)))
        return FS_EINVAL;
    FS_D(fs_cols_job) j;
    memset(&j, 0, sizeof(j));
    j.tab = fs_table();
    j.kind = kind;
    j.x = x, j.xo = xo, j.xm = xm, j.y = y, j.yo = yo, j.ym = ym, j.red = red;
    if (is_ce) j.target = ce->target, j.loss = ce->loss, j.scale = ce->scale;
    if (kind == FS_C_SOFTMAX_BW || kind == FS_C_LOG_SOFTMAX_BW) {
        if (!ce || !ce->b) return FS_EINVAL;
        j.b = (const FS_T *)ce->b, j.bo = ce->bo, j.bm = ce->bm;
    }
    j.n = n, j.inner = inner;
    j.tile = FS_COL_TILE_BYTES / (int64_t)sizeof(FS_T);
    j.n_tiles = (inner + j.tile - 1) / j.tile;
    int64_t items = n_outer * j.n_tiles;
    int th = fs_threads_for(n_threads, n_outer * n * inner, FS_MIN_WORK, items);
    fs_parallel_run(th, items, FS_D(fs_cols_task), &j);
    return j.failed ? j.failed : FS_OK;
}

int FS_D(fs_softmax_cols)(const FS_T *x, int64_t xo, int64_t xm, FS_T *y, int64_t yo, int64_t ym,
                          int64_t n_outer, int64_t n, int64_t inner, int n_threads) {
    return FS_D(fs_run_cols)(FS_C_SOFTMAX, x, xo, xm, y, yo, ym, NULL, NULL, n_outer, n, inner,
                             n_threads);
}

int FS_D(fs_log_softmax_cols)(const FS_T *x, int64_t xo, int64_t xm, FS_T *y, int64_t yo,
                              int64_t ym, int64_t n_outer, int64_t n, int64_t inner,
                              int n_threads) {
    return FS_D(fs_run_cols)(FS_C_LOG_SOFTMAX, x, xo, xm, y, yo, ym, NULL, NULL, n_outer, n, inner,
                             n_threads);
}

int FS_D(fs_logsumexp_cols)(const FS_T *x, int64_t xo, int64_t xm, FS_T *out, int64_t n_outer,
                            int64_t n, int64_t inner, int n_threads) {
    return FS_D(fs_run_cols)(FS_C_LOGSUMEXP, x, xo, xm, NULL, 0, 0, out, NULL, n_outer, n, inner,
                             n_threads);
}

/* Backward ops over a non-last axis. */
int FS_D(fs_softmax_backward_cols)(const FS_T *g, int64_t go, int64_t gm, const FS_T *y,
                                   int64_t yo, int64_t ym, FS_T *out, int64_t oo, int64_t om,
                                   int64_t n_outer, int64_t n, int64_t inner, int n_threads) {
    fs_cols_extra extra = {NULL, NULL, 1.0, y, yo, ym};
    return FS_D(fs_run_cols)(FS_C_SOFTMAX_BW, g, go, gm, out, oo, om, NULL, &extra, n_outer, n,
                             inner, n_threads);
}

int FS_D(fs_log_softmax_backward_cols)(const FS_T *g, int64_t go, int64_t gm, const FS_T *lp,
                                       int64_t lo, int64_t lm, FS_T *out, int64_t oo, int64_t om,
                                       int64_t n_outer, int64_t n, int64_t inner, int n_threads) {
    fs_cols_extra extra = {NULL, NULL, 1.0, lp, lo, lm};
    return FS_D(fs_run_cols)(FS_C_LOG_SOFTMAX_BW, g, go, gm, out, oo, om, NULL, &extra, n_outer, n,
                             inner, n_threads);
}

int64_t FS_D(fs_cross_entropy_cols)(const FS_T *x, int64_t xo, int64_t xm, const int64_t *target,
                                    double *loss, int64_t n_outer, int64_t n, int64_t inner,
                                    int n_threads) {
    if (n_outer < 0 || n < 0 || inner < 0) return FS_EINVAL;
    if (target && n_outer * inner > 0 && n > 0) {
        int64_t bad = fs_first_bad_target(target, n_outer * inner, n);
        if (bad != FS_TARGETS_OK) return bad;
    }
    fs_cols_extra ce = {target, loss, 1.0, NULL, 0, 0};
    int rc = FS_D(fs_run_cols)(FS_C_CE, x, xo, xm, NULL, 0, 0, NULL, &ce, n_outer, n, inner,
                               n_threads);
    return rc == FS_OK ? FS_TARGETS_OK : rc;
}

int64_t FS_D(fs_cross_entropy_with_grad_cols)(const FS_T *x, int64_t xo, int64_t xm,
                                              const int64_t *target, double *loss, double scale,
                                              FS_T *grad, int64_t go, int64_t gm, int64_t n_outer,
                                              int64_t n, int64_t inner, int n_threads) {
    if (n_outer < 0 || n < 0 || inner < 0) return FS_EINVAL;
    if (target && n_outer * inner > 0 && n > 0) {
        int64_t bad = fs_first_bad_target(target, n_outer * inner, n);
        if (bad != FS_TARGETS_OK) return bad;
    }
    fs_cols_extra ce = {target, loss, scale, NULL, 0, 0};
    int rc = FS_D(fs_run_cols)(FS_C_CE_GRAD, x, xo, xm, grad, go, gm, NULL, &ce, n_outer, n, inner,
                               n_threads);
    return rc == FS_OK ? FS_TARGETS_OK : rc;
}

/* ---- public entry points ------------------------------------------------------ */
int FS_D(fs_softmax)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys, int64_t n_rows,
                     int64_t n_cols, int n_threads) {
    if (fs_bad_sizes(n_rows, n_cols)) return FS_EINVAL;
    if (fs_empty(n_rows, n_cols)) return FS_OK;
    if (!x || !y) return FS_EINVAL;
    FS_D(fs_job) j = FS_D(fs_job_new)(FS_OP_SOFTMAX, n_cols);
    j.a = x, j.as = xs, j.y = y, j.ys = ys;
    return FS_D(fs_run)(&j, n_rows, n_threads);
}

int FS_D(fs_log_softmax)(const FS_T *x, int64_t xs, FS_T *y, int64_t ys, int64_t n_rows,
                         int64_t n_cols, int n_threads) {
    if (fs_bad_sizes(n_rows, n_cols)) return FS_EINVAL;
    if (fs_empty(n_rows, n_cols)) return FS_OK;
    if (!x || !y) return FS_EINVAL;
    FS_D(fs_job) j = FS_D(fs_job_new)(FS_OP_LOG_SOFTMAX, n_cols);
    j.a = x, j.as = xs, j.y = y, j.ys = ys;
    return FS_D(fs_run)(&j, n_rows, n_threads);
}

int FS_D(fs_logsumexp)(const FS_T *x, int64_t xs, FS_T *out, int64_t n_rows, int64_t n_cols,
                       int n_threads) {
    if (fs_bad_sizes(n_rows, n_cols)) return FS_EINVAL;
    if (n_rows == 0) return FS_OK;
    if (!out) return FS_EINVAL;
    if (n_cols == 0) { /* log of an empty sum */
        for (int64_t r = 0; r < n_rows; r++) out[r] = -(FS_T)INFINITY;
        return FS_OK;
    }
    if (!x) return FS_EINVAL;
    FS_D(fs_job) j = FS_D(fs_job_new)(FS_OP_LOGSUMEXP, n_cols);
    j.a = x, j.as = xs, j.red = out;
    return FS_D(fs_run)(&j, n_rows, n_threads);
}

int FS_D(fs_softmax_backward)(const FS_T *g, int64_t gs, const FS_T *y, int64_t ys, FS_T *out,
                              int64_t os, int64_t n_rows, int64_t n_cols, int n_threads) {
    if (fs_bad_sizes(n_rows, n_cols)) return FS_EINVAL;
    if (fs_empty(n_rows, n_cols)) return FS_OK;
    if (!g || !y || !out) return FS_EINVAL;
    FS_D(fs_job) j = FS_D(fs_job_new)(FS_OP_SOFTMAX_BW, n_cols);
    j.a = g, j.as = gs, j.b = y, j.bs = ys, j.y = out, j.ys = os;
    return FS_D(fs_run)(&j, n_rows, n_threads);
}

int FS_D(fs_log_softmax_backward)(const FS_T *g, int64_t gs, const FS_T *lp, int64_t ls,
                                  FS_T *out, int64_t os, int64_t n_rows, int64_t n_cols,
                                  int n_threads) {
    if (fs_bad_sizes(n_rows, n_cols)) return FS_EINVAL;
    if (fs_empty(n_rows, n_cols)) return FS_OK;
    if (!g || !lp || !out) return FS_EINVAL;
    FS_D(fs_job) j = FS_D(fs_job_new)(FS_OP_LOG_SOFTMAX_BW, n_cols);
    j.a = g, j.as = gs, j.b = lp, j.bs = ls, j.y = out, j.ys = os;
    return FS_D(fs_run)(&j, n_rows, n_threads);
}

int64_t FS_D(fs_cross_entropy)(const FS_T *x, int64_t xs, const int64_t *target, double *loss,
                               int64_t n_rows, int64_t n_cols, int n_threads) {
    if (fs_bad_sizes(n_rows, n_cols) || (n_rows > 0 && n_cols == 0)) return FS_EINVAL;
    if (n_rows == 0) return FS_TARGETS_OK;
    if (!x || !target || !loss) return FS_EINVAL;
    int64_t bad = fs_first_bad_target(target, n_rows, n_cols);
    if (bad != FS_TARGETS_OK) return bad;
    FS_D(fs_job) j = FS_D(fs_job_new)(FS_OP_CE, n_cols);
    j.a = x, j.as = xs, j.target = target, j.loss = loss;
    int rc = FS_D(fs_run)(&j, n_rows, n_threads);
    return rc == FS_OK ? FS_TARGETS_OK : rc;
}

int64_t FS_D(fs_cross_entropy_with_grad)(const FS_T *x, int64_t xs, const int64_t *target,
                                         double *loss, double scale, FS_T *grad, int64_t gs,
                                         int64_t n_rows, int64_t n_cols, int n_threads) {
    if (fs_bad_sizes(n_rows, n_cols) || (n_rows > 0 && n_cols == 0)) return FS_EINVAL;
    if (n_rows == 0) return FS_TARGETS_OK;
    if (!x || !target || !loss || !grad) return FS_EINVAL;
    int64_t bad = fs_first_bad_target(target, n_rows, n_cols);
    if (bad != FS_TARGETS_OK) return bad;
    FS_D(fs_job) j = FS_D(fs_job_new)(FS_OP_CE_GRAD, n_cols);
    j.a = x, j.as = xs, j.target = target, j.loss = loss, j.scale = scale, j.y = grad, j.ys = gs;
    int rc = FS_D(fs_run)(&j, n_rows, n_threads);
    return rc == FS_OK ? FS_TARGETS_OK : rc;
}

int FS_D(fs_exp)(const FS_T *x, FS_T *y, int64_t n) {
    if (n < 0) return FS_EINVAL;
    if (n == 0) return FS_OK;
    if (!x || !y) return FS_EINVAL;
    fs_table()->FS_TAB(exp)(x, y, n);
    return FS_OK;
}

#undef FS_D
#undef FS_D_CAT
#undef FS_D_CAT_
#undef FS_TAB
