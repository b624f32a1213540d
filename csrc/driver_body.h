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
    const double *rs;  /* CE: per-row gradient factor, or NULL */
    int64_t ignore;    /* CE: targets equal to it are skipped (when has_ignore) */
    int has_ignore;
    const fs_ce_ext *ext;  /* CE: the general kernel's options, or NULL */
    double *lse;       /* CE through the general kernel: per-row logsumexp, or NULL */
    int64_t n_cols;
    /* long rows */
    int64_t row0, chunk, n_chunks;
    fs_partial *part;  /* [batch rows][n_chunks] */
    fs_rowstate *rows; /* [batch rows] */
} FS_D(fs_job);

static int FS_D(fs_ignored)(const FS_D(fs_job) *j, int64_t r) {
    return j->has_ignore && j->target && j->target[r] == j->ignore;
}

/* Cross-entropy on rows [begin, end): runs of samples that are not ignored go
 * to the kernel; ignored ones get loss 0 and a zero gradient row. */
static void FS_D(fs_ce_range)(const FS_D(fs_job) *j, int64_t begin, int64_t end) {
    const fs_kernel_table *t = j->tab;
    int64_t c = j->n_cols;
    FS_T *grad = j->op == FS_OP_CE_GRAD ? j->y : NULL;
    for (int64_t r = begin; r < end;) {
        if (FS_D(fs_ignored)(j, r)) {
            j->loss[r] = 0.0;
            if (j->lse) j->lse[r] = 0.0;
            if (grad) memset(grad + r * j->ys, 0, (size_t)c * sizeof(FS_T));
            r++;
            continue;
        }
        int64_t e = r + 1;
        while (e < end && !FS_D(fs_ignored)(j, e)) e++;
        const FS_T *a = j->a + r * j->as;
        const int64_t *tg = j->target ? j->target + r : NULL;
        const double *rs = j->rs ? j->rs + r : NULL;
        if (j->ext)
            t->FS_TAB(ce_ext)(a, j->as, tg, j->ext, r, j->loss + r, j->lse ? j->lse + r : NULL,
                              j->scale, rs, grad ? grad + r * j->ys : NULL, j->ys, e - r, c);
        else if (grad)
            t->FS_TAB(cross_entropy_with_grad)(a, j->as, tg, j->loss + r, j->scale, rs,
                                               grad + r * j->ys, j->ys, e - r, c);
        else
            t->FS_TAB(cross_entropy)(a, j->as, tg, j->loss + r, e - r, c);
        r = e;
    }
}

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
    case FS_OP_CE_GRAD:
        FS_D(fs_ce_range)(j, begin, end);
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
        if (FS_D(fs_ignored)(j, r)) {      /* merged as ignored: nothing to read */
            p->ok = 1, p->m = -INFINITY, p->s = 0.0;
        } else if (fs_op_is_backward(j->op)) {
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
        int64_t r = j->row0 + i / j->n_chunks, c0 = (i % j->n_chunks) * j->chunk;
        int64_t len = j->n_cols - c0 < j->chunk ? j->n_cols - c0 : j->chunk;
        if (st->whole == FS_ROW_ZERO)
            memset(j->y + r * j->ys + c0, 0, (size_t)len * sizeof(FS_T));
        if (st->whole) continue;
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
    if (FS_D(fs_ignored)(j, r)) {
        j->loss[r] = 0.0;
        st->whole = FS_ROW_ZERO;
        return;
    }
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
        double sc = j->rs ? j->scale * j->rs[r] : j->scale;
        j->loss[r] = (m - xt) + ls;
        st->p0 = m;
        st->p1 = sc / s;
        st->fix = (exp(xt - m) / s - 1.0) * sc;
        break;
    }
    }
}

static int FS_D(fs_run)(FS_D(fs_job) *j, int64_t n_rows, int n_threads) {
    int64_t c = j->n_cols;
    if ((uint64_t)c * sizeof(FS_T) <= FS_L2_ROW_BYTES || j->ext) {
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
    double *loss, *lse, scale;
    const double *rs;  /* cross-entropy: per-sample gradient factor, or NULL */
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
        int64_t at = o * j->inner + j0;
        fs_cols_extra ce = {.target = j->target ? j->target + at : NULL,
                            .loss = j->loss ? j->loss + at : NULL,
                            .lse = j->lse ? j->lse + at : NULL, .scale = j->scale,
                            .rs = j->rs ? j->rs + at : NULL,
                            .b = j->b ? j->b + o * j->bo + j0 : NULL, .bo = j->bo, .bm = j->bm};
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
    if (is_ce) j.target = ce->target, j.loss = ce->loss, j.lse = ce->lse, j.scale = ce->scale, j.rs = ce->rs;
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
    fs_cols_extra extra = {.scale = 1.0, .b = y, .bo = yo, .bm = ym};
    return FS_D(fs_run_cols)(FS_C_SOFTMAX_BW, g, go, gm, out, oo, om, NULL, &extra, n_outer, n,
                             inner, n_threads);
}

int FS_D(fs_log_softmax_backward_cols)(const FS_T *g, int64_t go, int64_t gm, const FS_T *lp,
                                       int64_t lo, int64_t lm, FS_T *out, int64_t oo, int64_t om,
                                       int64_t n_outer, int64_t n, int64_t inner, int n_threads) {
    fs_cols_extra extra = {.scale = 1.0, .b = lp, .bo = lo, .bm = lm};
    return FS_D(fs_run_cols)(FS_C_LOG_SOFTMAX_BW, g, go, gm, out, oo, om, NULL, &extra, n_outer, n,
                             inner, n_threads);
}

/* Weights must be finite and >= 0; *sum gets their sum (n_cols without weights). */
static int FS_D(fs_weights_ok)(const FS_T *w, int64_t n_cols, double *sum) {
    if (!w) {
        *sum = (double)n_cols;
        return 1;
    }
    fs_acc acc = {0.0, 0.0};
    for (int64_t c = 0; c < n_cols; c++) {
        if (!(w[c] >= 0) || !isfinite((double)w[c])) return 0;
        fs_acc_add(&acc, (double)w[c]);
    }
    *sum = fs_acc_value(&acc);
    return 1;
}

/* The divisor of reduction "mean" (see fs_ce_options.total_weight), for
 * validated targets. */
static double FS_D(fs_total_weight)(const fs_ce_options *o, int64_t ns) {
    if (!o->target) return (double)ns;
    const FS_T *w = (const FS_T *)o->weight;
    fs_acc acc = {0.0, 0.0};
    int64_t count = 0;
    for (int64_t i = 0; i < ns; i++) {
        int64_t t = o->target[i];
        if (o->ignore_index != FS_NO_IGNORE && t == o->ignore_index) continue;
        if (w) fs_acc_add(&acc, (double)w[t]);
        else count++;
    }
    return w ? fs_acc_value(&acc) : (double)count;
}

/* grad_scale, divided by the total weight for "mean"; reports the total. */
static double FS_D(fs_effective_scale)(const fs_ce_options *o, int64_t ns) {
    if (!o->grad_mean && !o->total_weight) return o->grad_scale;
    double total = FS_D(fs_total_weight)(o, ns);
    if (o->total_weight) *o->total_weight = total;
    if (!o->grad_mean) return o->grad_scale;
    return total > 0 ? o->grad_scale / total : 0.0;
}

/* Per-sample gradient factors of the plain kernels: weight[target] times the
 * upstream gradient (0 for ignored samples); NULL when all are 1. */
static double *FS_D(fs_row_factors)(const fs_ce_options *o, int64_t ns, int *failed) {
    const FS_T *w = (const FS_T *)o->weight;
    *failed = 0;
    if (!w && !o->grad_rows) return NULL;
    double *rs = malloc((size_t)ns * sizeof(double));
    if (!rs) {
        *failed = 1;
        return NULL;
    }
    for (int64_t i = 0; i < ns; i++) {
        int64_t t = o->target[i];
        if (o->ignore_index != FS_NO_IGNORE && t == o->ignore_index) {
            rs[i] = 0.0;
            continue;
        }
        rs[i] = (w ? (double)w[t] : 1.0) * (o->grad_rows ? o->grad_rows[i] : 1.0);
    }
    return rs;
}

int64_t FS_D(fs_cross_entropy_ex_cols)(const FS_T *x, int64_t xo, int64_t xm,
                                       const fs_ce_options *o, double *loss, FS_T *grad,
                                       int64_t go, int64_t gm, int64_t n_outer, int64_t n,
                                       int64_t inner, int n_threads) {
    if (!o || n_outer < 0 || n < 0 || inner < 0) return FS_EINVAL;
    if (fs_ce_is_ext(o) || !fs_ce_options_ok(o)) return FS_EINVAL;
    int64_t ns = n_outer * inner;
    if (ns == 0) return FS_TARGETS_OK;
    if (n == 0 || !x || !o->target || !loss) return FS_EINVAL;
    const FS_T *w = (const FS_T *)o->weight;
    double wsum;
    if (!FS_D(fs_weights_ok)(w, n, &wsum)) return FS_EINVAL;
    int64_t bad = fs_first_bad_target(o->target, ns, n, o->ignore_index);
    if (bad != FS_TARGETS_OK) return bad;
    double scale = FS_D(fs_effective_scale)(o, ns);
    int has_ignore = o->ignore_index != FS_NO_IGNORE, any_ignored = 0;
    if (has_ignore)
        for (int64_t i = 0; i < ns && !any_ignored; i++) any_ignored = o->target[i] == o->ignore_index;
    /* ignored samples run as class 0 and are cleared afterwards */
    int64_t *tcopy = any_ignored ? malloc((size_t)ns * sizeof(int64_t)) : NULL;
    int failed = 0;
    double *rs = grad ? FS_D(fs_row_factors)(o, ns, &failed) : NULL;
    int rc = FS_OK;
    if ((any_ignored && !tcopy) || failed) rc = FS_ENOMEM;
    if (rc == FS_OK) {
        if (tcopy)
            for (int64_t i = 0; i < ns; i++)
                tcopy[i] = o->target[i] == o->ignore_index ? 0 : o->target[i];
        fs_cols_extra ce = {.target = tcopy ? tcopy : o->target, .loss = loss, .lse = o->lse,
                            .scale = scale, .rs = rs};
        rc = FS_D(fs_run_cols)(grad ? FS_C_CE_GRAD : FS_C_CE, x, xo, xm, grad, go, gm, NULL, &ce,
                               n_outer, n, inner, n_threads);
    }
    if (rc == FS_OK)
        for (int64_t i = 0; i < ns; i++) {
            int64_t t = o->target[i];
            if (any_ignored && t == o->ignore_index) {
                loss[i] = 0.0;
                if (o->lse) o->lse[i] = 0.0;
                if (grad)
                    for (int64_t c = 0; c < n; c++) grad[(i / inner) * go + c * gm + i % inner] = 0;
                continue;
            }
            if (w) loss[i] *= (double)w[t];
        }
    free(tcopy);
    free(rs);
    return rc == FS_OK ? FS_TARGETS_OK : rc;
}

int64_t FS_D(fs_cross_entropy_cols)(const FS_T *x, int64_t xo, int64_t xm, const int64_t *target,
                                    double *loss, int64_t n_outer, int64_t n, int64_t inner,
                                    int n_threads) {
    fs_ce_options o = {.target = target, .ignore_index = FS_NO_IGNORE, .grad_scale = 1.0};
    return FS_D(fs_cross_entropy_ex_cols)(x, xo, xm, &o, loss, NULL, 0, 0, n_outer, n, inner,
                                          n_threads);
}

int64_t FS_D(fs_cross_entropy_with_grad_cols)(const FS_T *x, int64_t xo, int64_t xm,
                                              const int64_t *target, double *loss, double scale,
                                              FS_T *grad, int64_t go, int64_t gm, int64_t n_outer,
                                              int64_t n, int64_t inner, int n_threads) {
    if (!grad && n_outer * inner > 0 && n > 0) return FS_EINVAL;
    fs_ce_options o = {.target = target, .ignore_index = FS_NO_IGNORE, .grad_scale = scale};
    return FS_D(fs_cross_entropy_ex_cols)(x, xo, xm, &o, loss, grad, go, gm, n_outer, n, inner,
                                          n_threads);
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

/* First row with a negative or NaN probability, or FS_TARGETS_OK. */
static int64_t FS_D(fs_first_bad_probs)(const FS_T *p, int64_t ps, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; r++, p += ps) {
        int bad = 0;
        for (int64_t c = 0; c < n_cols; c++) bad |= !(p[c] >= 0);
        if (bad) return r;
    }
    return FS_TARGETS_OK;
}

/* Whether n_rows rows of n_cols elements at x (rows xs apart) and at y share memory. */
static int FS_D(fs_rows_overlap)(const FS_T *x, int64_t xs, const FS_T *y, int64_t ys,
                                 int64_t n_rows, int64_t n_cols) {
    const FS_T *xl = xs < 0 ? x + (n_rows - 1) * xs : x, *xh = (xs < 0 ? x : x + (n_rows - 1) * xs) + n_cols;
    const FS_T *yl = ys < 0 ? y + (n_rows - 1) * ys : y, *yh = (ys < 0 ? y : y + (n_rows - 1) * ys) + n_cols;
    return (uintptr_t)xl < (uintptr_t)yh && (uintptr_t)yl < (uintptr_t)xh;
}

int64_t FS_D(fs_cross_entropy_ex)(const FS_T *x, int64_t xs, const fs_ce_options *o, double *loss,
                                  FS_T *grad, int64_t gs, int64_t n_rows, int64_t n_cols,
                                  int n_threads) {
    if (!o || fs_bad_sizes(n_rows, n_cols) || (n_rows > 0 && n_cols == 0)) return FS_EINVAL;
    if (!fs_ce_options_ok(o) || (o->target == NULL) == (o->probs == NULL)) return FS_EINVAL;
    if (n_rows == 0) return FS_TARGETS_OK;
    if (!x || !loss) return FS_EINVAL;
    const FS_T *w = (const FS_T *)o->weight;
    double wsum;
    if (!FS_D(fs_weights_ok)(w, n_cols, &wsum)) return FS_EINVAL;
    int64_t bad = o->target ? fs_first_bad_target(o->target, n_rows, n_cols, o->ignore_index)
                            : FS_D(fs_first_bad_probs)((const FS_T *)o->probs, o->probs_stride,
                                                       n_rows, n_cols);
    if (bad != FS_TARGETS_OK) return bad;
    FS_D(fs_job) j = FS_D(fs_job_new)(grad ? FS_OP_CE_GRAD : FS_OP_CE, n_cols);
    j.a = x, j.as = xs, j.target = o->target, j.loss = loss;
    j.scale = FS_D(fs_effective_scale)(o, n_rows);
    j.y = grad, j.ys = gs;
    j.has_ignore = o->target && o->ignore_index != FS_NO_IGNORE;
    j.ignore = o->ignore_index;
    fs_ce_ext e = {o->probs, o->probs_stride, w, wsum, o->label_smoothing, o->z_loss, o->softcap};
    /* the general kernel: the options; and lse with a gradient written over the
     * logits (the plain kernels' lse needs them afterwards, see below) */
    if (fs_ce_is_ext(o) || (o->lse && grad && FS_D(fs_rows_overlap)(x, xs, grad, gs, n_rows, n_cols))) {
        j.ext = &e, j.lse = o->lse, j.rs = o->grad_rows;
        int rc = FS_D(fs_run)(&j, n_rows, n_threads);
        return rc == FS_OK ? FS_TARGETS_OK : rc;
    }
    /* the plain kernels: weights as per-row factors; lse = loss + x[t], whose
     * rounding (of m - x[t], and the loss's own error, absolute ~eps |loss|)
     * stays below 4e-15 of max(1, |lse|) in float64 while |loss| <= 8 max(1, |lse|).
     * Other rows -- x[t] far below the max (8e-13 off at x[t] ~ -2e4 with
     * loss + x[t]), non-finite values (inf - inf) -- take logsumexp again. */
    int failed = 0;
    double *rs = grad ? FS_D(fs_row_factors)(o, n_rows, &failed) : NULL;
    double *xt = o->lse ? malloc((size_t)n_rows * sizeof(double)) : NULL;
    int rc = (failed || (o->lse && !xt)) ? FS_ENOMEM : FS_OK;
    if (rc == FS_OK) {
        if (xt)
            for (int64_t r = 0; r < n_rows; r++)
                xt[r] = FS_D(fs_ignored)(&j, r) ? 0.0 : (double)x[r * xs + o->target[r]];
        j.rs = rs;
        rc = FS_D(fs_run)(&j, n_rows, n_threads);
    }
    if (rc == FS_OK && (w || xt))
        for (int64_t r = 0; r < n_rows; r++) {
            if (FS_D(fs_ignored)(&j, r)) {
                if (xt) o->lse[r] = 0.0;
                continue;
            }
            if (xt) {
                double l = loss[r] + xt[r];
                if (!(fabs(loss[r]) <= 8.0 * fmax(1.0, fabs(l)))) {   /* NaN included */
                    FS_T v;
                    j.tab->FS_TAB(logsumexp)(x + r * xs, xs, &v, 1, n_cols);
                    l = (double)v;
                }
                o->lse[r] = l;
            }
            if (w) loss[r] *= (double)w[o->target[r]];
        }
    free(rs);
    free(xt);
    return rc == FS_OK ? FS_TARGETS_OK : rc;
}

int64_t FS_D(fs_cross_entropy)(const FS_T *x, int64_t xs, const int64_t *target, double *loss,
                               int64_t n_rows, int64_t n_cols, int n_threads) {
    fs_ce_options o = {.target = target, .ignore_index = FS_NO_IGNORE, .grad_scale = 1.0};
    return FS_D(fs_cross_entropy_ex)(x, xs, &o, loss, NULL, 0, n_rows, n_cols, n_threads);
}

int64_t FS_D(fs_cross_entropy_with_grad)(const FS_T *x, int64_t xs, const int64_t *target,
                                         double *loss, double scale, FS_T *grad, int64_t gs,
                                         int64_t n_rows, int64_t n_cols, int n_threads) {
    if (!grad && n_rows > 0 && n_cols > 0) return FS_EINVAL;
    fs_ce_options o = {.target = target, .ignore_index = FS_NO_IGNORE, .grad_scale = scale};
    return FS_D(fs_cross_entropy_ex)(x, xs, &o, loss, grad, gs, n_rows, n_cols, n_threads);
}

/* y += x, split over threads in fixed blocks (the linear cross-entropy's dW). */
typedef struct { FS_T *y; const FS_T *x; int64_t n; } FS_D(fs_acc_job);
#define FS_ACC_BLOCK 65536
static void FS_D(fs_accumulate_task)(void *ctx, int64_t begin, int64_t end) {
    const FS_D(fs_acc_job) *j = ctx;
    int64_t lo = begin * FS_ACC_BLOCK, hi = end * FS_ACC_BLOCK < j->n ? end * FS_ACC_BLOCK : j->n;
    FS_T *restrict y = j->y;
    const FS_T *restrict x = j->x;
    for (int64_t i = lo; i < hi; i++) y[i] += x[i];
}

int FS_D(fs_accumulate)(FS_T *y, const FS_T *x, int64_t n, int n_threads) {
    if (n < 0) return FS_EINVAL;
    if (n == 0) return FS_OK;
    if (!x || !y) return FS_EINVAL;
    FS_D(fs_acc_job) j = {y, x, n};
    int64_t blocks = (n + FS_ACC_BLOCK - 1) / FS_ACC_BLOCK;
    fs_parallel_run(fs_threads_for(n_threads, n, 4 * FS_MIN_WORK, blocks), blocks,
                    FS_D(fs_accumulate_task), &j);
    return FS_OK;
}
#undef FS_ACC_BLOCK

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
