"""Docstring audit: every public function and class has an ``Examples`` section with a doctest.

The public API is the ``__all__`` of ``dynlens`` and of its subpackages and foundation modules
below. Each function or class listed there (modules and constants are skipped) must carry its
own docstring (an inherited one does not count) with a numpydoc ``Examples`` heading followed
by at least one ``>>>`` line. The examples themselves run as doctests in the suite
(``pytest --doctest-modules``, set in pyproject.toml).

The parameters are documented too. For every public function, each parameter of its signature
other than ``*args``/``**kwargs`` has an entry in a numpydoc ``Parameters`` (or ``Other
Parameters``) section, and no entry names a parameter the signature lacks, unless the signature
takes ``**kwargs`` (a function forwarding flat keywords may document them by name). A public
class is checked the same way, its ``__init__`` signature against its own docstring; the fields
of a dataclass or NamedTuple may be documented under ``Attributes`` instead.

``MISSING_EXAMPLES`` lists, by defining module, the objects that still lack examples, all in
packages whose owners have not added them yet. The list may only shrink: an entry that gains
examples or stops being public fails the test until it is removed here.
"""

from __future__ import annotations

import dataclasses
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
    "dynlens.tuning",
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
#: A numpydoc section heading: a title line underlined by dashes at the same indentation.
_HEADING = re.compile(r"^(?P<indent>[ \t]*)(?P<title>[A-Za-z][A-Za-z ]*?)[ \t]*\n"
                      r"(?P=indent)-{3,}[ \t]*$", re.MULTILINE)
#: An entry line of a Parameters-like section: ``name``, ``name : type`` or ``a, b : type``.
_ENTRY = re.compile(r"(?P<names>\*{0,2}[A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)"
                    r"\s*(?::.*)?")


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


def documented_names(doc: str | None, sections=("Parameters", "Other Parameters")) -> set[str]:
    """The names a numpydoc docstring documents in the given sections.

    A section runs from its heading (a title underlined by at least three dashes) to the next
    heading or the end of the docstring. Its entries are the lines at the heading's own
    indentation (descriptions are indented deeper); each holds ``name``, ``name : type`` or
    ``name1, name2 : type``, and leading ``*``/``**`` are dropped from the names. Lines at that
    indentation that do not read as an entry (prose) are skipped.
    """
    if not doc:
        return set()
    doc = inspect.cleandoc(doc)
    headings = list(_HEADING.finditer(doc))
    names: set[str] = set()
    for heading, following in zip(headings, [*headings[1:], None]):
        if heading["title"] not in sections:
            continue
        body = doc[heading.end():following.start() if following else len(doc)]
        indent = heading["indent"]
        for line in body.splitlines():
            if not line.strip() or not line.startswith(indent) or line[len(indent)].isspace():
                continue
            entry = _ENTRY.fullmatch(line[len(indent):].rstrip())
            if entry:
                names.update(name.strip().lstrip("*") for name in entry["names"].split(","))
    return names


def _is_record(cls) -> bool:
    """A dataclass or a NamedTuple: its fields may be documented under ``Attributes``."""
    return dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields"))


def parameter_problems(obj) -> tuple[list[str], list[str]]:
    """``(missing, extra)``: signature parameters without an entry, entries without a parameter.

    A function is read against its own docstring; a class's ``__init__`` signature (as
    ``inspect.signature(cls)`` gives it, without ``self``) against the class docstring, where
    a dataclass's or NamedTuple's fields may also be documented under ``Attributes``. Entries
    naming no parameter are only extra when the signature takes no ``**kwargs``; the
    ``Attributes`` section is never searched for extras (it may document properties). A
    class whose constructor has no signature Python can read (an exception's, inherited
    from the builtin) has nothing to check.
    """
    try:
        parameters = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return [], []
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    wanted = [p.name for p in parameters if p.kind not in variadic]
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    in_parameters = documented_names(obj.__doc__)
    documented = set(in_parameters)
    if inspect.isclass(obj) and _is_record(obj):
        documented |= documented_names(obj.__doc__, sections=("Attributes",))
    missing = [name for name in wanted if name not in documented]
    every_name = {p.name for p in parameters}
    extra = [] if takes_kwargs else sorted(in_parameters - every_name)
    return missing, extra


def _parameter_problems() -> dict[str, str]:
    """``{object: what is wrong}`` for every public object failing `parameter_problems`."""
    problems = {}
    for key, (where, obj) in sorted(_public_objects().items()):
        missing, extra = parameter_problems(obj)
        if missing or extra:
            parts = ([f"missing {missing}"] if missing else []) + (
                [f"not in the signature {extra}"] if extra else [])
            problems[f"{key} (public as {where})"] = "; ".join(parts)
    return problems


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


def test_documented_names_reads_numpydoc_entries():
    def documented(a, b, c=1, *args, d=None, **kwargs):
        """Do nothing.

        Parameters
        ----------
        a : int
            The first. An indented description line is no entry:
            b : not an entry
        b, c : float
        *args
            Anything.

        Returns
        -------
        r : float
            Not a parameter.

        Other Parameters
        ----------------
        d
        **kwargs : dict
        """

    assert documented_names(documented.__doc__) == {"a", "b", "c", "args", "d", "kwargs"}
    assert documented_names(documented.__doc__, sections=("Returns",)) == {"r"}
    assert documented_names(None) == set()
    assert documented_names("No sections at all.") == set()


def test_parameter_problems_names_missing_and_extra_entries():
    def partly(a, b, *args):
        """Do nothing.

        Parameters
        ----------
        a : int
        z : int
            Not in the signature.
        """

    def forwards(a, **kwargs):
        """Do nothing.

        Parameters
        ----------
        a : int
        lr : float
            A keyword passed on through ``**kwargs``.
        """

    @dataclasses.dataclass
    class Record:
        """A record.

        Parameters
        ----------
        x : int

        Attributes
        ----------
        y : int
        total : int
            A property, not a field: never extra.
        """

        x: int
        y: int

    class Plain:
        """A class whose fields in Attributes do not count.

        Attributes
        ----------
        x : int
        """

        def __init__(self, x):
            self.x = x

    assert parameter_problems(partly) == (["b"], ["z"])
    assert parameter_problems(forwards) == ([], [])
    assert parameter_problems(Record) == ([], [])
    assert parameter_problems(Plain) == (["x"], [])
    assert parameter_problems(ValueError) == ([], [])


def test_every_public_parameter_is_documented():
    problems = _parameter_problems()
    listing = "\n".join(f"  {key}: {what}" for key, what in problems.items())
    assert not problems, (
        f"{len(problems)} public objects whose numpydoc Parameters (or Other Parameters; "
        f"Attributes for dataclass and NamedTuple fields) do not match the signature; "
        f"document each missing name as 'name : type' and drop or fix each extra one:\n"
        f"{listing}")
