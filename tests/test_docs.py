"""Every public function reads well under help(): a docstring, and its examples run."""
import doctest

import pytest

import fastsoftmax as fs
from fastsoftmax._docs import DOCS

FUNCTIONS = [n for n in fs.__all__ if callable(getattr(fs, n)) and n != "reference"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_function_has_a_docstring(name):
    doc = getattr(fs, name).__doc__
    assert doc and len(doc.strip()) > 40, name
    if name in DOCS:
        assert "Examples" in doc and ">>>" in doc, name


@pytest.mark.parametrize("name", sorted(DOCS))
def test_docstring_examples_run(name):
    fn = getattr(fs, name)
    test = doctest.DocTestParser().get_doctest(fn.__doc__, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0, name
