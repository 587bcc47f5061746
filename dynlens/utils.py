"""Small shared helpers: argument validation, atomic file writes, seeding, devices.

These are the one place for each of these jobs; every layer may import this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import random
import reprlib
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from .errors import (
    DynlensFileFormatError,
    DynlensFileNotFoundError,
    DynlensTypeError,
    DynlensValueError,
)

__all__ = [
    "as_numpy",
    "atomic_path",
    "changed_fields",
    "check_choice",
    "check_fields",
    "check_fraction",
    "check_keywords",
    "check_nonnegative_float",
    "check_nonnegative_int",
    "check_output_path",
    "check_positive_float",
    "check_positive_int",
    "check_readable_file",
    "current_umask",
    "json_default",
    "merge_settings",
    "parse_toml",
    "resolve_device",
    "seed_everything",
    "settings_signature",
]


_Settings = TypeVar("_Settings")

_REPR = reprlib.Repr()  # keyword arguments need Python 3.12; set the limits instead
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = 6


def short_repr(value) -> str:
    """A repr short enough for an error message (arrays and long lists are abbreviated)."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return f"an array of shape {tuple(value.shape)}"
    return _REPR.repr(value)


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise naming ``name`` if it is not a positive integer.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The argument's name, for the message.

    Examples
    --------
    >>> import numpy as np
    >>> check_positive_int(np.int64(3), "n_trials")
    3
    >>> check_positive_int(0, "n_trials")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: n_trials: expected a positive integer, found 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DynlensValueError(f"{name}: expected a positive integer, found {short_repr(value)}")
    return int(value)


def check_nonnegative_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise naming ``name`` if it is not an integer >= 0.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The argument's name, for the message.

    Examples
    --------
    >>> check_nonnegative_int(0, "n_forward")
    0
    >>> check_nonnegative_int(-1, "n_forward")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: n_forward: expected a non-negative integer, found -1
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise DynlensValueError(
            f"{name}: expected a non-negative integer, found {short_repr(value)}"
        )
    return int(value)


def check_nonnegative_float(value, name: str) -> float:
    """Return ``value`` as a float, or raise naming ``name`` unless it is finite and >= 0
    (a weight or scale that 0 switches off).

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The argument's name, for the message.

    Examples
    --------
    >>> check_nonnegative_float(0, "weight_decay")
    0.0
    >>> check_nonnegative_float(-0.5, "kl_co_scale")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: kl_co_scale: expected a finite number >= 0, found -0.5
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DynlensTypeError(f"{name}: expected a number >= 0, found {short_repr(value)}")
    if not np.isfinite(value) or value < 0:
        raise DynlensValueError(f"{name}: expected a finite number >= 0, found "
                                f"{short_repr(value)}")
    return float(value)


def check_positive_float(value, name: str) -> float:
    """Return ``value`` as a float, or raise naming ``name`` unless it is finite and > 0.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The argument's name, for the message.

    Examples
    --------
    >>> check_positive_float(2, "bin_width")
    2.0
    >>> check_positive_float(float("inf"), "bin_width")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: bin_width: expected a positive finite number, found inf
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DynlensTypeError(f"{name}: expected a positive number, found {short_repr(value)}")
    if not np.isfinite(value) or value <= 0:
        raise DynlensValueError(
            f"{name}: expected a positive finite number, found {short_repr(value)}"
        )
    return float(value)


def check_fraction(value, name: str, *, inclusive_high: bool = False) -> float:
    """Return ``value`` as a float in [0, 1) (or [0, 1]), else raise naming ``name``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The argument's name, for the message.
    inclusive_high : bool
        Accept 1 as well: the interval is [0, 1] instead of [0, 1).

    Examples
    --------
    >>> check_fraction(0, "dropout"), check_fraction(1, "p", inclusive_high=True)
    (0.0, 1.0)
    >>> check_fraction(1.0, "dropout")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: dropout: expected a number in [0, 1), found 1.0
    >>> check_fraction("all", "p", inclusive_high=True)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: p: expected a number in [0, 1], found 'all'
    """
    interval = "[0, 1]" if inclusive_high else "[0, 1)"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DynlensTypeError(f"{name}: expected a number in {interval}, found "
                               f"{short_repr(value)}")
    if not (0 <= value and (value <= 1 if inclusive_high else value < 1)):
        raise DynlensValueError(f"{name}: expected a number in {interval}, found "
                                f"{short_repr(value)}")
    return float(value)


def check_choice(value, choices, name: str):
    """Return ``value`` if it is one of ``choices``; otherwise raise, suggesting close names.

    Parameters
    ----------
    value : object
        The value to check.
    choices : collection
        The accepted values; the message lists them and the closest ones to ``value``.
    name : str
        The argument's name, for the message.

    Examples
    --------
    >>> check_choice("lorenz", ["lorenz", "rossler"], "system")
    'lorenz'
    >>> check_choice("lorentz", ["lorenz", "rossler"], "system")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: system: expected one of 'lorenz', 'rossler', found 'lorentz'; did you mean 'lorenz'?
    """  # noqa: E501
    if value in choices:
        return value
    import difflib

    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise DynlensValueError(
        f"{name}: expected one of {', '.join(repr(c) for c in choices)}, found {value!r}{hint}"
    )


def check_keywords(given, allowed, owner: str) -> None:
    """Raise naming ``owner`` when ``given`` holds names outside ``allowed``.

    Parameters
    ----------
    given : iterable of str
        The keyword names received (a ``**kwargs`` dict works).
    allowed : iterable of str
        The keyword names accepted.
    owner : str
        The function or option receiving them, for the message.

    Examples
    --------
    >>> check_keywords({"lr"}, {"lr", "seed"}, "fit")
    >>> check_keywords({"lr", "colour"}, {"lr"}, "fit")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: fit: unexpected keyword(s) ['colour']; expected any of ['lr']
    """
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise DynlensTypeError(
            f"{owner}: unexpected keyword(s) {unknown}; expected any of {sorted(allowed)}")


def check_fields(settings: Any, checks: Mapping[str, Callable[[Any, str], Any]]) -> None:
    """Check fields of a dataclass in place (frozen ones too), each under its own name.

    The ``__post_init__`` of every option group calls this, so that a bad value is refused
    when the group is made, naming the field; the canonical value each check returns
    (e.g. an int for a NumPy integer) is stored.

    Parameters
    ----------
    settings : dataclass instance
        The option group being made.
    checks : mapping of str to callable
        Field name -> ``check(value, name)`` returning the value to store (or raising).

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Steps:
    ...     n: int = 3
    ...     def __post_init__(self):
    ...         check_fields(self, {"n": check_positive_int})
    >>> Steps(n=np.int64(4)).n, type(Steps(n=np.int64(4)).n).__name__
    (4, 'int')
    >>> Steps(n=0)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: n: expected a positive integer, found 0
    """
    for name, check in checks.items():
        object.__setattr__(settings, name, check(getattr(settings, name), name))


def changed_fields(settings: Any) -> set[str]:
    """The fields of a dataclass instance whose values differ from the class's defaults.

    An option group passed as an object counts these as given; the others are left to the
    caller's own defaults (a model's fit settings, say).

    Parameters
    ----------
    settings : dataclass instance
        An option group whose every field has a default.

    Examples
    --------
    >>> from dynlens.analysis import SolverOptions
    >>> changed_fields(SolverOptions(patience=8)), changed_fields(SolverOptions(max_iter=50))
    ({'patience'}, set())
    """
    default = type(settings)()
    return {f.name for f in dataclasses.fields(settings)
            if getattr(settings, f.name) != getattr(default, f.name)}


def merge_settings(cls: type[_Settings], grouped: Any, given: Mapping[str, Any], argument: str,
                   *, names: Mapping[str, str] | None = None) -> _Settings:
    """An option group given as an object, as flat keywords, or both: ``grouped`` with
    ``given`` applied.

    The one rule for every option group (:class:`~dynlens.training.FitConfig`,
    :class:`~dynlens.analysis.SolverOptions`, :class:`~dynlens.analysis.Tolerances`): a flat
    keyword overrides the object's field, unless that field was changed from its default to
    another value, which is an error naming both (the same value both ways is fine). The
    defaults live in ``cls`` alone.

    Parameters
    ----------
    cls : type
        The option group, a dataclass whose every field has a default.
    grouped : cls or None
        The object the caller received (None: ``cls()``).
    given : mapping of str to object
        The flat keywords the caller received, only those given.
    argument : str
        The name of the caller's object argument, for messages.
    names : mapping of str to str, optional
        Flat keyword -> field, where they differ (default: the same name).

    Returns
    -------
    cls
        A new object (``grouped`` is frozen or left untouched); made through ``cls``, so
        its checks run.

    Raises
    ------
    DynlensTypeError
        ``grouped`` is not a ``cls``.
    DynlensValueError
        A setting given both ways with different values.

    Examples
    --------
    >>> from dynlens.analysis import SolverOptions
    >>> merge_settings(SolverOptions, SolverOptions(patience=8), {"max_iter": 9}, "solver")
    SolverOptions(max_iter=9, patience=8, adam_steps=0, adam_lr=None)
    >>> merge_settings(SolverOptions, SolverOptions(patience=8), {"patience": 8}, "solver")
    SolverOptions(max_iter=50, patience=8, adam_steps=0, adam_lr=None)
    >>> merge_settings(SolverOptions, SolverOptions(patience=8), {"patience": 2}, "solver")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: patience: expected one value, found patience=2 and solver.patience=8; pass one of them
    """  # noqa: E501
    if grouped is None:
        grouped = cls()
    elif not isinstance(grouped, cls):
        raise DynlensTypeError(
            f"{argument}: expected a {cls.__name__} or None, found {type(grouped).__name__}")
    changed = changed_fields(grouped)
    names = {} if names is None else names
    changes = {}
    for keyword, value in given.items():
        field = names.get(keyword, keyword)
        held = getattr(grouped, field)
        if field in changed and held != value:
            raise DynlensValueError(
                f"{keyword}: expected one value, found {keyword}={short_repr(value)} and "
                f"{argument}.{field}={short_repr(held)}; pass one of them")
        changes[field] = value
    return dataclasses.replace(grouped, **changes)


def settings_signature(function: Callable, cls: type, *,
                       not_given: bool = False) -> inspect.Signature:
    """``function``'s signature with its ``**kwargs`` spelt out as the fields of the option
    group ``cls`` (those it does not name itself), so that ``help()`` and editors show them.

    Assign it to ``function.__signature__``: the defaults stay in ``cls`` alone.

    Parameters
    ----------
    function : callable
        A function whose ``**kwargs`` are the fields of ``cls``.
    cls : type
        The option group (a dataclass).
    not_given : bool
        Show every field's default as None (the function reads None as "not given" and
        resolves it itself) instead of the dataclass's default.

    Examples
    --------
    >>> from dynlens.analysis import SolverOptions
    >>> def search(x, **options):
    ...     return SolverOptions(**options)
    >>> [(p.name, p.default) for p in settings_signature(search, SolverOptions).parameters.values()]
    [('x', <class 'inspect._empty'>), ('max_iter', 50), ('patience', 5), ('adam_steps', 0), ('adam_lr', None)]
    >>> settings_signature(search, SolverOptions, not_given=True).parameters["max_iter"]
    <Parameter "max_iter: 'int | None' = None">
    """  # noqa: E501
    signature = inspect.signature(function)
    params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    named = {p.name for p in params}
    for field in dataclasses.fields(cls):
        if field.name in named:
            continue
        if not_given:
            optional = "None" in str(field.type)
            default, annotation = None, field.type if optional else f"{field.type} | None"
        else:
            default = (field.default_factory() if field.default is dataclasses.MISSING
                       else field.default)
            annotation = field.type
        params.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY,
                                        default=default, annotation=annotation))
    return signature.replace(parameters=params)


def json_default(obj: Any) -> Any:
    """``json.dumps(..., default=json_default)``: NumPy arrays and scalars as plain JSON.

    Parameters
    ----------
    obj : object
        An object ``json`` cannot serialise itself: a NumPy array becomes a list, a NumPy
        scalar a Python number; anything else raises ``TypeError``, as ``json`` expects.

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> json.dumps({"counts": np.arange(3), "rate": np.float32(0.5)}, default=json_default)
    '{"counts": [0, 1, 2], "rate": 0.5}'
    """
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is set and restored at once.

    Examples
    --------
    >>> current_umask() == current_umask() and 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    An interrupted or failed write leaves any previous file at ``path`` untouched. The file
    gets the permissions an ordinary ``open(path, "w")`` would give it: a new file those of
    the user's umask (``0o644`` under the usual umask ``022``; the temporary file itself is
    private until the rename), a replaced file keeps its own.

    Parameters
    ----------
    path : str or PathLike
        The file to write; its folder is created if missing. An existing folder is refused.

    Examples
    --------
    >>> import os, stat, tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    >>> stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()
    True
    """
    path = Path(path)
    if path.is_dir():  # os.replace would fail only after the whole write
        raise DynlensValueError(
            f"path: expected a file name, found the existing folder {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)  # a replaced file keeps its permissions
    except FileNotFoundError:
        mode = 0o666 & ~current_umask()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, mode)  # mkstemp made it 0600; writers may have replaced it
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_output_path(path, name: str, *, folder: bool = False,
                      suffixes: tuple[str, ...] = (), refuse: tuple[str, ...] = ()) -> Path:
    """Check, before any work, that ``path`` can be written: as a file, or as a folder.

    Refuses a file path that names an existing folder, a folder path that names an existing
    file, a file name without one of ``suffixes`` (when given) or with one of ``refuse``,
    a path below an existing file, and a place the user may not write to.

    Parameters
    ----------
    path : str or PathLike
        Where the file (or the folder, created later if needed) will be written.
    name : str
        The argument's name, for the message (``"out"``, ``"--out"``).
    folder : bool
        ``path`` is a folder to write into (it may exist already).
    suffixes, refuse : tuple of str
        Lower-case file endings that are expected, or that are refused.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> where = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_path(where / "data.h5", "out", suffixes=(".h5", ".npz")).name
    'data.h5'
    >>> check_output_path(where, "out")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: out: expected a file name, found the existing folder ...
    """
    if not isinstance(path, (str, os.PathLike)):
        raise DynlensTypeError(f"{name}: expected a path, found {type(path).__name__}")
    path = Path(path)
    shown = str(path)
    if folder and path.exists() and not path.is_dir():
        raise DynlensValueError(
            f"{name}: expected a folder to write into, found the existing file {shown!r}")
    if not folder and path.is_dir():
        raise DynlensValueError(
            f"{name}: expected a file name, found the existing folder {shown!r}")
    suffix = path.suffix.lower()
    if not folder and ((suffixes and suffix not in suffixes) or suffix in refuse):
        wanted = (f"a file name ending in {', '.join(suffixes)}" if suffixes else
                  f"a file name not ending in {', '.join(refuse)}")
        raise DynlensValueError(f"{name}: expected {wanted}, found {shown!r}")
    start = path if folder else path.parent
    existing = next(p for p in (start, *start.parents) if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        raise DynlensValueError(
            f"{name}: expected a path inside a folder, found {shown!r} below the file "
            f"{str(existing)!r}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DynlensValueError(
            f"{name}: expected a folder you may write to, found {str(existing)!r} read-only "
            f"(for {shown!r})")
    return path


def check_readable_file(path: Path, name: str = "path") -> Path:
    """Raise naming ``name`` and the path unless ``path`` is an existing, non-empty file.

    Parameters
    ----------
    path : str or PathLike
        The file to check (returned as a ``Path``).
    name : str
        The argument's name, for the message.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.h5"
    >>> check_readable_file(path, "data")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensFileNotFoundError: data: no such file '...data.h5'
    >>> _ = path.write_text("x")
    >>> check_readable_file(path, "data") == path
    True
    """
    path = Path(path)
    if not path.exists():
        raise DynlensFileNotFoundError(f"{name}: no such file {str(path)!r}")
    if path.is_dir():
        raise DynlensFileFormatError(f"{name}: expected a file, found a directory {str(path)!r}")
    if path.stat().st_size == 0:
        raise DynlensFileFormatError(f"{name}: {str(path)!r} is empty (0 bytes)")
    return path


def parse_toml(text: str, source: str) -> dict:
    """The table a TOML document holds, or an error naming where it came from and what TOML
    found wrong (line and column).

    Parameters
    ----------
    text : str
        The document.
    source : str
        Where it came from, for the message: a file's path, or ``"<string>"``.

    Examples
    --------
    >>> parse_toml('family = "node"', "spec.toml")
    {'family': 'node'}
    >>> parse_toml("family = node", "spec.toml")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensFileFormatError: spec.toml: not valid TOML: Invalid value (at line 1, column 10)
    """  # noqa: E501
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DynlensFileFormatError(f"{source}: not valid TOML: {err}") from err


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch for reproducibility; return a CPU torch Generator.

    Parameters
    ----------
    seed : int
        A non-negative seed (NumPy gets it modulo ``2**32``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> generator = seed_everything(0)
    >>> first = np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=generator).item()
    >>> _ = seed_everything(0)
    >>> np.random.rand() == first[0], torch.rand(1).item() == first[1]
    (True, True)
    """
    seed = check_nonnegative_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"`` or ``None`` into a torch device.

    ``"auto"`` picks CUDA when available, else CPU. Asking for CUDA where there is none
    raises a clear error instead of torch's.

    Parameters
    ----------
    device : str, torch.device or None
        The device asked for; ``None`` means the CPU.

    Examples
    --------
    >>> resolve_device("cpu"), resolve_device(None)
    (device(type='cpu'), device(type='cpu'))
    >>> resolve_device("auto").type in ("cpu", "cuda")
    True
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: device: expected 'cpu', 'cuda', ... or 'auto', found 'gpu'
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise DynlensValueError(
            f"device: expected 'cpu', 'cuda', 'cuda:N' or 'auto', found {device!r}"
        ) from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DynlensValueError(
            f"device: found {device!r} but CUDA is not available on this machine; "
            "use 'cpu' or 'auto'"
        )
    return resolved


def as_numpy(array, name: str, *, dtype=None) -> np.ndarray:
    """Convert an array-like or tensor to a NumPy array, naming ``name`` on failure.

    Parameters
    ----------
    array : array-like or torch.Tensor
        The values; a tensor is detached and moved to the CPU first.
    name : str
        The argument's name, for the message.
    dtype : data-type, optional
        The dtype to convert to (``numpy.asarray``'s); by default the array's own.

    Examples
    --------
    >>> import torch
    >>> as_numpy(torch.ones(2), "x")
    array([1., 1.], dtype=float32)
    >>> as_numpy([1, 2], "x", dtype=float)
    array([1., 2.])
    >>> as_numpy([[1], [1, 2]], "latents")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: latents: expected an array of numbers, found list
    """
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    try:
        out = np.asarray(array, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise DynlensTypeError(
            f"{name}: expected an array of numbers, found {type(array).__name__}"
        ) from err
    if out.dtype == object:
        raise DynlensTypeError(f"{name}: expected an array of numbers, found an object array")
    return out
