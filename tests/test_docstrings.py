"""Docstring audit: every public function and class has an ``Examples`` section with a doctest.

The public API is the ``__all__`` of ``dynlens`` and of its subpackages and foundation modules
below. Each function or class listed there (modules and constants are skipped) must carry its
own docstring (an inherited one does not count) with a numpydoc ``Examples`` heading followed
by at least one ``>>>`` line. The examples themselves run as doctests in the suite
(``pytest --doctest-modules``, set in pyproject.toml).

``MISSING_EXAMPLES`` lists, by defining module, the objects that still lack examples, all in
packages whose owners have not added them yet. The list may only shrink: an entry that gains
examples or stops being public fails the test until it is removed here.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

MODULES = [
    "dynlens",
    "dynlens.systems",
    "dynlens.data",
    "dynlens.plotting",
    "dynlens.sweeps",
    "dynlens.threads",
    "dynlens.utils",
    "dynlens.dynamics",
    "dynlens.models",
    "dynlens.analysis",
    "dynlens.app",
]

# Public objects still without an Examples section, by where they are defined. Only
# dynlens.models, dynlens.analysis and dynlens.app may appear here; remove a line as soon as
# its object gets a runnable example.
MISSING_EXAMPLES: dict = {}

ALLOWED_OWNERS = ("dynlens.models.", "dynlens.analysis.", "dynlens.app.")

_EXAMPLES = re.compile(r"^Examples\n-{8,}\n", re.MULTILINE)


def _public_objects() -> dict[str, tuple[str, object]]:
    """``{defining-module.qualname: (where it is public, object)}`` for every function and class
    in the ``__all__`` of MODULES (one entry per object, however often it is re-exported)."""
    found: dict[str, tuple[str, object]] = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None)
        assert names is not None, f"{module_name} has no __all__"
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            key = f"{obj.__module__}.{obj.__qualname__}"
            found.setdefault(key, (f"{module_name}.{name}", obj))
    return found


def has_examples(obj) -> bool:
    """Its own docstring has an ``Examples`` heading and a ``>>>`` line after it."""
    doc = obj.__doc__  # not inspect.getdoc: an inherited docstring does not count
    if not doc:
        return False
    doc = inspect.cleandoc(doc)
    heading = _EXAMPLES.search(doc)
    return bool(heading) and ">>>" in doc[heading.end():]


def test_the_walk_finds_the_public_api():
    public = _public_objects()
    assert len(public) > 100
    for key in ("dynlens.training.fit.fit", "dynlens.data.dataset.NeuralDataset",
                "dynlens.dynamics.Dynamics", "dynlens.sweeps.spec.Sweep"):
        assert key in public, key


def test_has_examples_reads_the_heading_and_a_doctest():
    def with_examples():
        """Do nothing.

        Examples
        --------
        >>> with_examples()
        """

    def heading_only():
        """Do nothing.

        Examples
        --------
        Nothing to run.
        """

    def prompt_only():
        """Do nothing.

        >>> prompt_only()
        """

    class Inherits(ValueError):
        pass

    assert has_examples(with_examples)
    assert not has_examples(heading_only)
    assert not has_examples(prompt_only)
    assert not has_examples(Inherits)


def test_every_public_function_and_class_has_examples():
    missing = sorted(f"{key} (public as {where})" for key, (where, obj) in
                     _public_objects().items() if not has_examples(obj)
                     and key not in MISSING_EXAMPLES)
    assert not missing, ("public objects without an 'Examples' section with a >>> line "
                         f"(add a short runnable doctest): {missing}")


def test_the_allow_list_only_shrinks():
    public = _public_objects()
    gone = sorted(key for key in MISSING_EXAMPLES if key not in public)
    done = sorted(key for key in MISSING_EXAMPLES if key in public and has_examples(public[key][1]))
    assert not gone, f"no longer public: remove them from MISSING_EXAMPLES: {gone}"
    assert not done, f"these have examples now: remove them from MISSING_EXAMPLES: {done}"


@pytest.mark.parametrize("key", sorted(MISSING_EXAMPLES))
def test_the_allow_list_holds_only_other_packages(key):
    assert key.startswith(ALLOWED_OWNERS), key
