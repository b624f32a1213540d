"""Every kind of bad input gets a clear exception, identical on both backends."""
import numpy as np
import pytest
from numpy.exceptions import AxisError

import fastsoftmax as fs
from fastsoftmax import reference as ref

IMPLS = pytest.mark.parametrize("impl", [fs, ref], ids=["fastsoftmax", "reference"])
UNARY = ["softmax", "log_softmax", "logsumexp"]
X = np.arange(12, dtype=np.float64).reshape(3, 4) / 7


@IMPLS
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("bad", [np.ones(3, complex), np.array([object(), 1]),
                                 np.array(["a", "b"]), np.array([1, 2], "datetime64[s]")],
                         ids=["complex", "object", "str", "datetime"])
def test_unsupported_dtype(impl, name, bad):
    with pytest.raises(TypeError, match="dtype"):
        getattr(impl, name)(bad)


@IMPLS
@pytest.mark.parametrize("name", UNARY)
def test_axis_errors(impl, name):
    f = getattr(impl, name)
    with pytest.raises(AxisError):
        f(X, axis=2)
    with pytest.raises(AxisError):
        f(X, axis=-3)
    with pytest.raises(AxisError):
        f(np.float64(1.0), axis=-1)
    with pytest.raises(TypeError, match="axis"):
        f(X, axis=1.0)
    with pytest.raises(TypeError, match="axis"):
        f(X, axis=True)


@IMPLS
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_out_errors(impl, name):
    f = getattr(impl, name)
    with pytest.raises(ValueError, match="shape"):
        f(X, out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="dtype"):
        f(X, out=np.empty((3, 4), np.float32))
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(X, out=ro)
    with pytest.raises(TypeError, match="ndarray"):
        f(X, out=[[0.0] * 4] * 3)


@IMPLS
def test_logsumexp_out_errors(impl):
    with pytest.raises(ValueError, match="shape"):
        impl.logsumexp(X, axis=1, out=np.empty(4))
    with pytest.raises(ValueError, match="shape"):
        impl.logsumexp(X, axis=1, keepdims=True, out=np.empty(3))
    with pytest.raises(TypeError, match="dtype"):
        impl.logsumexp(X, axis=1, out=np.empty(3, np.float32))


@IMPLS
@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward"])
def test_backward_errors(impl, name):
    f = getattr(impl, name)
    with pytest.raises(ValueError, match="shape"):
        f(X, X[:, :3])
    with pytest.raises(TypeError, match="dtype"):
        f(X.astype(complex), X)
    with pytest.raises(ValueError, match="shape"):
        f(X, X, out=np.empty(12))


CE = pytest.mark.parametrize("ce", ["cross_entropy", "cross_entropy_with_grad"])


@IMPLS
@CE
def test_target_out_of_range_names_position_and_value(impl, ce):
    f = getattr(impl, ce)
    with pytest.raises(ValueError, match=r"target\[2\] = 4 .*\[0, 4\)"):
        f(X, np.array([0, 3, 4]))
    with pytest.raises(ValueError, match=r"target\[1\] = -1 "):
        f(X, np.array([0, -1, 7]))
    z = np.zeros((2, 3, 5))
    t = np.zeros((2, 5), np.int64)
    t[1, 3] = 3
    with pytest.raises(ValueError, match=r"target\[1, 3\] = 3 "):
        f(z, t, axis=1)
    with pytest.raises(ValueError, match=r"target\[0\] = 18446744073709551615"):
        f(X, np.array([2**64 - 1, 0, 0], np.uint64))


@IMPLS
@CE
def test_target_dtype_shape_errors(impl, ce):
    f = getattr(impl, ce)
    with pytest.raises(TypeError, match="integer"):
        f(X, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer"):
        f(X, np.array([True, False, True]))
    with pytest.raises(ValueError, match="shape"):
        f(X, np.array([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        f(X, np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="zero classes"):
        f(np.zeros((3, 0)), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="reduction"):
        f(X, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(AxisError):
        f(X, np.array([0, 1, 2]), axis=2)
    with pytest.raises(TypeError, match="axis"):
        f(X, np.array([0, 1, 2]), axis=None)
    with pytest.raises(ValueError, match="dimension"):
        f(np.float64(1.0), np.int64(0))
    with pytest.raises(TypeError, match="dtype"):
        f(X.astype(complex), np.array([0, 1, 2]))


@IMPLS
def test_grad_out_errors(impl):
    t = np.array([0, 1, 2])
    f = impl.cross_entropy_with_grad
    with pytest.raises(ValueError, match="grad_out has shape"):
        f(X, t, grad_out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="grad_out has dtype"):
        f(X, t, grad_out=np.empty((3, 4), np.float32))
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(X, t, grad_out=ro)


@IMPLS
@pytest.mark.parametrize("target", [np.array([0, 1, 9]), np.array([[0.5, 0.5, 0, 0]] * 2 + [[-1, 2, 0, 0]])],
                         ids=["class", "probs"])
def test_several_errors_report_the_same_first(impl, target):
    """A bad grad_out and a bad target at once: grad_loss, grad_out, then the targets, on
    both backends."""
    with pytest.raises(TypeError, match="grad_out has dtype"):
        impl.cross_entropy_with_grad(X, target, grad_out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="grad_loss"):
        impl.cross_entropy_with_grad(X, target, reduction="none", grad_loss=np.ones(5),
                                     grad_out=np.empty((3, 4), np.float32))


@IMPLS
def test_bad_target_leaves_in_place_logits_untouched(impl):
    z = X.copy()
    with pytest.raises(ValueError):
        impl.cross_entropy_with_grad(z, np.array([0, 1, 9]), grad_out=z)
    assert np.array_equal(z, X)
