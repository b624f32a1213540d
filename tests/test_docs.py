"""Every public function reads well under help(): a docstring, and its examples run."""
import doctest
import inspect

import pytest

import fastsoftmax as fs

FUNCTIONS = [n for n in fs.__all__ if inspect.isfunction(getattr(fs, n))]
# The ops: each has an Examples section that runs on both backends.
OPS = ["softmax", "log_softmax", "logsumexp", "softmax_backward", "log_softmax_backward",
       "cross_entropy", "cross_entropy_with_grad", "nll_loss", "linear_cross_entropy",
       "linear_cross_entropy_with_grad"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_function_has_a_docstring(name):
    fn = getattr(fs, name)
    doc = fn.__doc__
    assert doc and len(doc.strip()) > 40, name
    assert fn.__module__ in ("fastsoftmax", "fastsoftmax.scipy"), (name, fn.__module__)
    if name in OPS:
        assert "Examples" in doc and ">>>" in doc, name


@pytest.mark.parametrize("name", OPS)
def test_docstring_examples_run(name):
    fn = getattr(fs, name)
    test = doctest.DocTestParser().get_doctest(fn.__doc__, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0, name


@pytest.mark.parametrize("name", OPS)
def test_both_backends_take_the_public_signature(name):
    """The public function, the compiled API and the reference agree on every parameter."""
    public = inspect.signature(getattr(fs, name))
    assert inspect.signature(getattr(fs.reference, name)) == public, name
    if fs.backend == "c":
        from fastsoftmax import _api
        assert inspect.signature(getattr(_api, name)) == public, name
