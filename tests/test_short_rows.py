"""Short rows (at most 16 elements: one or two AVX-512 vectors, two or four AVX2
vectors) run several rows at a time (csrc/body_simd.inc, FS_SHORT_BLOCK): every op
against the reference for row counts around the block sizes, with the blocks' fallback
rows (a non-finite max, a NaN sum, a masked entry) at every position in a block."""
import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference as ref
from _util import EQUIV, assert_close

WIDTHS = [1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 15, 16, 17]
ROWS = [1, 3, 4, 5, 8, 9, 12, 16, 17, 19]


def _data(rows, width, dtype, seed, special=None):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, width)) * 4).astype(dtype)
    if special is not None:
        r, kind = special
        if kind == "nan":
            x[r, width // 2] = np.nan
        elif kind == "inf":
            x[r, 0] = np.inf
        elif kind == "ninf_row":
            x[r, :] = -np.inf
        elif kind == "masked":
            x[r, width - 1] = -np.inf
        elif kind == "wide":
            x[r, 0] = x[r].max() + 60      # a lane below max - 31: the corrected exp
    return x


def _check(x, t, dtype, what):
    tol = EQUIV[np.dtype(dtype)]
    tiny = np.finfo(dtype).tiny * 1e3
    assert_close(fs.softmax(x), ref.softmax(x), tol, atol=tiny, what="softmax " + what)
    want = ref.log_softmax(x)
    assert_close(fs.log_softmax(x), want, tol, scale=np.maximum(1, np.abs(want)), what="log_softmax " + what)
    want = ref.logsumexp(x, axis=-1)
    assert_close(fs.logsumexp(x, axis=-1), want, tol, scale=np.maximum(1, np.abs(want)),
                 what="logsumexp " + what)
    with np.errstate(invalid="ignore"):
        want = ref.cross_entropy(x, t, reduction="none")
        got = fs.cross_entropy(x, t, reduction="none")
        assert_close(got, want, tol, scale=np.maximum(1, np.abs(want)), what="cross_entropy " + what)
        lw, gw = ref.cross_entropy_with_grad(x, t, reduction="sum")
        lg, gg = fs.cross_entropy_with_grad(x, t, reduction="sum")
    assert_close(gg, gw, tol, atol=tol, what="grad " + what)
    assert_close(lg, lw, tol, scale=np.maximum(1, np.abs(lw)), what="loss " + what)


@pytest.mark.parametrize("width", WIDTHS)
def test_short_rows_every_op(isa, dtype, width):
    for rows in ROWS:
        x = _data(rows, width, dtype, seed=rows * 100 + width)
        t = np.random.default_rng(rows).integers(0, width, rows)
        _check(x, t, dtype, f"isa={isa} rows={rows} width={width}")


@pytest.mark.parametrize("kind", ["nan", "inf", "ninf_row", "masked", "wide"])
def test_short_rows_fallbacks_in_a_block(isa, dtype, kind):
    for width in (3, 10, 16):
        for r in range(9):
            x = _data(9, width, dtype, seed=r, special=(r, kind))
            # the target of the -inf row, or of a masked entry, is a finite entry where one exists
            t = np.zeros(9, dtype=np.int64)
            _check(x, t, dtype, f"isa={isa} width={width} special={kind} at row {r}")
