"""Huge float32 arrays: one row longer than 2^31 elements, and more than 2^31 elements
in total (rows of 1024).  Every index and offset in the kernels must be 64-bit.

The arrays are periodic, so the exact results are known in float64 without a
float64 copy of 8.6 GB: each is checked against them entry by entry, with the
accuracy contract's bounds.  Each test holds one 8.6 GB array (the results are
written in place) and needs about 10 GiB of free memory; it is skipped, saying
so, where /proc/meminfo shows less.  Marked `slow` and `huge`; on its own:

    pytest -m huge tests/test_huge.py

(about a minute and a half on the 2-core development VM).
"""
import os

import numpy as np
import pytest

import fastsoftmax as fs

NEED_GIB = 10.0
P = 7                                   # the period of the values
PATTERN = np.array([0.5, -3.0, 2.0, 7.25, -1.0, 4.0, 1e-3], np.float32)


def _available_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


pytestmark = [
    pytest.mark.slow,
    pytest.mark.huge,
    pytest.mark.skipif(fs.backend != "c", reason="the NumPy reference would need float64 "
                       "copies of 17 GB; the huge-array tests are for the kernels"),
    pytest.mark.skipif(_available_gib() < NEED_GIB,
                       reason=f"needs {NEED_GIB:.0f} GiB of free memory "
                              f"(/proc/meminfo: {_available_gib():.1f} GiB available)"),
]

N_ROW = 2**31 + 2**20 + 3               # one row: 2,148,532,227 elements (8.6 GB)
ROWS, COLS = 2**21 + 10, 1024           # 2,147,493,888 elements in total


def _fill_periodic(flat, pattern):
    """flat[i] = pattern[i % len(pattern)]: one period, then copies of what is filled
    (doubling: memcpy speed, no index array)."""
    p = len(pattern)
    full = len(flat) - len(flat) % p
    flat[:p] = pattern
    done = p
    while done < full:
        k = min(done, full - done)
        flat[done:done + k] = flat[:k]
        done += k
    flat[full:] = pattern[: len(flat) - full]


def _check_periodic(flat, want, what, rtol, log):
    """Every entry of flat equals want[i % P] within the contract (relative for
    probabilities, absolute * max(1, |v|) for log values): the smallest and the largest
    entry of each residue class both are (one pass each, no float64 copy)."""
    p = len(want)
    wide = p * 1024                             # rows of p * 1024: a fast column min / max
    body = len(flat) - len(flat) % wide
    v = flat[:body].reshape(-1, wide)
    scale = np.maximum(1.0, np.abs(want)) if log else np.abs(want)
    tail = flat[body:]
    idx = np.arange(len(tail)) % p
    for got, w, s in ((v.min(axis=0).reshape(-1, p).min(axis=0), want, scale),
                      (v.max(axis=0).reshape(-1, p).max(axis=0), want, scale),
                      (tail, want[idx], scale[idx])):
        err = np.abs(got.astype(np.float64) - w) / s     # NaN (min / max keep it) fails
        assert err.max(initial=0.0) <= rtol, f"{what}: worst error {err.max():.3g} > {rtol}"


def _exact_row(pattern, n):
    """(softmax values, log_softmax values, lse) of a row of n periodic entries, in float64."""
    p = pattern.astype(np.float64)
    counts = np.full(len(p), n // len(p), np.float64)
    counts[: n % len(p)] += 1
    m = p.max()
    e = np.exp(p - m)
    log_s = np.log(np.sum(counts * e))
    return e / np.exp(log_s), (p - m) - log_s, m + log_s


REL = 2e-6


@pytest.fixture(scope="module")
def huge_row():
    x = np.empty(N_ROW, np.float32)
    yield x
    del x


def test_one_row_longer_than_2_31(huge_row):
    x = huge_row.reshape(1, -1)
    flat = huge_row
    sm, lsm, lse = _exact_row(PATTERN, N_ROW)

    _fill_periodic(flat, PATTERN)
    got = fs.logsumexp(x)
    assert abs(float(got[0]) - lse) <= REL * max(1.0, abs(lse)), (got, lse)

    t = np.array([N_ROW - 5])                       # a target past 2^31
    loss = fs.cross_entropy(x, t)
    want_loss = lse - float(PATTERN[(N_ROW - 5) % P])
    assert abs(float(loss) - want_loss) <= REL * max(1.0, abs(want_loss)), (loss, want_loss)

    assert fs.softmax(x, out=x) is x                 # in place
    _check_periodic(flat, sm, "softmax", REL, log=False)

    _fill_periodic(flat, PATTERN)
    assert fs.log_softmax(x, out=x) is x
    _check_periodic(flat, lsm, "log_softmax", REL, log=True)

    _fill_periodic(flat, PATTERN)
    loss, grad = fs.cross_entropy_with_grad(x, t, grad_out=x)
    assert grad is x
    assert abs(float(loss) - want_loss) <= REL * max(1.0, abs(want_loss)), (loss, want_loss)
    k = (N_ROW - 5) % P
    target_grad = float(flat[N_ROW - 5])
    assert abs(target_grad - (sm[k] - 1.0)) <= REL, (target_grad, sm[k] - 1.0)
    flat[N_ROW - 5] = np.float32(sm[k])             # the rest is the softmax
    _check_periodic(flat, sm, "cross-entropy gradient", REL, log=False)


def test_more_than_2_31_elements_in_rows(huge_row):
    n = ROWS * COLS
    assert n > 2**31
    flat = huge_row[:n]
    x = flat.reshape(ROWS, COLS)
    # row r holds PATTERN shifted by r: P distinct rows, repeating every P rows
    rows = np.stack([np.roll(np.resize(PATTERN, COLS + P), -r)[:COLS] for r in range(P)])
    exact = [_exact_row(rows[r], COLS) for r in range(P)]
    sm = np.stack([e[0] for e in exact])
    body = (ROWS // P) * P * COLS                   # whole periods of P rows

    def fill():
        _fill_periodic(flat[:body], rows.reshape(-1))
        for r in range(ROWS - ROWS % P, ROWS):
            x[r] = rows[r % P]

    fill()
    lse = fs.logsumexp(x)
    want_lse = np.array([e[2] for e in exact])
    _check_periodic(lse, want_lse, "logsumexp", REL, log=True)

    t = (np.arange(ROWS) * 37) % COLS
    t[-1] = COLS - 1                                # the very last element
    loss = fs.cross_entropy(x, t, reduction="none")
    want = (want_lse[np.arange(ROWS) % P] - rows[np.arange(ROWS) % P, t]).astype(np.float64)
    err = np.abs(loss - want) / np.maximum(1.0, np.abs(want))
    assert err.max() <= REL, err.max()

    assert fs.softmax(x, out=x) is x
    _check_periodic(flat[:body], sm.reshape(-1), "softmax", REL, log=False)
    tail = x[ROWS - ROWS % P:]
    for i, r in enumerate(range(ROWS - ROWS % P, ROWS)):
        assert np.max(np.abs(tail[i] - sm[r % P]) / sm[r % P]) <= REL
