"""The search space of :func:`dynlens.tune`: plain data, checked before Ray starts.

A space maps setting names (a model family's options or :func:`dynlens.fit` settings) to

- ``("loguniform", lo, hi)``: a real number drawn uniformly in log space, ``0 < lo < hi``;
- ``("uniform", lo, hi)``: a real number in ``[lo, hi]``;
- ``("randint", lo, hi)``: an integer ``lo <= n < hi`` (Ray's convention, as ``range``);
- a list of choices, e.g. ``[32, 64, 128]`` or ``["gru", "node"]``.

A TOML file writes a range as a list, ``["loguniform", 1e-4, 1e-2]``: a list of three whose
first item is a string and whose others are numbers is read as a range.

:func:`check_search` builds the model at every end of every range (and every choice), so a
value the family refuses, or a name that is neither one of its options nor a ``dl.fit``
setting, is one :class:`~dynlens.errors.DynlensError` naming the key before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from ..errors import DynlensError, DynlensTypeError, DynlensValueError
from ..utils import check_choice

__all__ = ["KINDS", "Dimension", "build_trial_model", "check_search", "fit_settings",
           "parse_space"]

KINDS = ("loguniform", "uniform", "randint")
# Set by dl.tune itself, or from the data, or words of a sweep's model table.
_RESERVED = {"max_epochs": "dl.tune's own max_epochs argument sets it",
             "n_neurons": "it is set from the data", "heldout_neurons": "it is set from the data",
             "threads": "dl.tune's threads argument sets it",
             "device": "trials train on the CPU", "progress": "dl.tune sets it",
             "checkpoint_dir": "dl.tune sets it", "resume": "dl.tune sets it",
             "checkpoint_every": "dl.tune sets it", "callback": "dl.tune sets it",
             "name": "not a setting", "model": "the family argument sets it",
             "module": "not a setting", "latent_dims": "search the family's latent option",
             "fit": "give dl.fit settings by name"}


@dataclass(frozen=True)
class Dimension:
    """One searched setting.

    Attributes
    ----------
    name : str
        The setting.
    kind : str
        ``"loguniform"``, ``"uniform"``, ``"randint"`` or ``"choice"``.
    values : tuple
        ``(lo, hi)`` for a range, the choices for ``"choice"``.

    Examples
    --------
    >>> dims = parse_space({"lr": ("loguniform", 1e-4, 1e-2), "batch_size": [32, 64]})
    >>> dims["lr"].extremes(), dims["batch_size"].extremes()
    ((0.0001, 0.01), (32, 64))
    >>> dims["lr"].to_plain()
    ['loguniform', 0.0001, 0.01]
    >>> dims["lr"].clip(0.012), dims["batch_size"].clip(32)  # back inside the range
    (0.01, 32)
    """

    name: str
    kind: str
    values: tuple

    def extremes(self) -> tuple:
        """The values every check builds the model at: both ends of a range, every choice."""
        if self.kind == "randint":
            return (self.values[0], self.values[1] - 1)
        return self.values

    def clip(self, value: Any) -> Any:
        """``value`` moved inside a range (to its nearer end); a choice as it is.

        Population-based training perturbs a value by multiplying it (x0.8 or x1.2), which
        may leave the range, whose ends are all the check before the search tried.

        Parameters
        ----------
        value : object
            A value of this setting.
        """
        if self.kind == "choice":
            return value
        lo, hi = self.extremes()
        value = min(max(value, lo), hi)
        return round(value) if self.kind == "randint" else float(value)

    def to_plain(self) -> list:
        """The JSON / TOML form."""
        return list(self.values) if self.kind == "choice" else [self.kind, *self.values]

    def to_ray(self) -> Any:
        """The Ray Tune search domain."""
        from ray import tune

        if self.kind == "choice":
            return tune.choice(list(self.values))
        return getattr(tune, self.kind)(*self.values)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _parse_entry(name: str, entry: Any) -> Dimension:
    what = f"space[{name!r}]"
    looks_like_range = (isinstance(entry, (tuple, list)) and len(entry) == 3
                        and isinstance(entry[0], str) and all(map(_is_number, entry[1:])))
    if looks_like_range:
        kind = check_choice(entry[0], KINDS, f"{what} range kind")
        lo, hi = entry[1], entry[2]
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise DynlensValueError(f"{what}: expected finite bounds lo < hi, found {lo}, {hi}")
        if kind == "loguniform" and lo <= 0:
            raise DynlensValueError(f"{what}: expected 0 < lo for 'loguniform', found lo={lo}")
        if kind == "randint" and not (isinstance(lo, Integral) and isinstance(hi, Integral)):
            raise DynlensTypeError(f"{what}: expected integer bounds for 'randint', found "
                                   f"{lo!r}, {hi!r}")
        return Dimension(name, kind, (lo, hi) if kind == "randint" else (float(lo), float(hi)))
    if isinstance(entry, list):
        if not entry:
            raise DynlensValueError(f"{what}: expected at least one choice, found []")
        for choice in entry:
            if not (choice is None or isinstance(choice, (str, bool, int, float))):
                raise DynlensTypeError(f"{what}: expected choices that are numbers, strings, "
                                       f"booleans or None, found {choice!r}")
        if len({repr(c) for c in entry}) != len(entry):
            raise DynlensValueError(f"{what}: expected distinct choices, found {entry}")
        return Dimension(name, "choice", tuple(entry))
    raise DynlensTypeError(
        f"{what}: expected (kind, lo, hi) with kind one of {', '.join(KINDS)}, or a list of "
        f"choices; found {entry!r}")


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise DynlensTypeError(f"{where}: expected setting names (str), found {name!r}")
    if name in _RESERVED:
        raise DynlensValueError(f"{where}: {name!r} cannot be set here: {_RESERVED[name]}")
    return name


def parse_space(space: Any) -> dict[str, Dimension]:
    """Check a search space (module docstring) and return its :class:`Dimension` objects.

    Parameters
    ----------
    space : dict
        Setting name -> ``(kind, lo, hi)`` or a list of choices.

    Returns
    -------
    dict of str to Dimension

    Examples
    --------
    >>> parse_space({"dropout": ("uniform", 0.0, 0.5)})["dropout"].kind
    'uniform'
    >>> parse_space({"lr": ("loguniform", 0.0, 1e-2)})
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: space['lr']: expected 0 < lo for 'loguniform', found lo=0.0
    """
    if not isinstance(space, dict):
        raise DynlensTypeError(f"space: expected a dict of setting name -> (kind, lo, hi) or "
                               f"list of choices, found {type(space).__name__}")
    if not space:
        raise DynlensValueError("space: expected at least one setting to search, found {}")
    return {_check_name(name, "space"): _parse_entry(name, entry)
            for name, entry in space.items()}


def fit_settings() -> tuple[str, ...]:
    """The ``dl.fit`` settings a space or the fixed settings may hold: ``seed`` and the
    fields of :class:`~dynlens.training.fit.FitConfig` (``max_epochs`` is tune's own).

    Examples
    --------
    >>> "lr" in fit_settings() and "max_epochs" not in fit_settings()
    True
    """
    from ..training.fit import FitConfig

    return ("seed", *(name for name in FitConfig.__dataclass_fields__ if name != "max_epochs"))


def build_trial_model(family: str, settings: dict, data: Any) -> tuple[Any, dict]:
    """The model of a trial and its ``dl.fit`` keywords (``seed`` among them).

    ``settings`` mixes the family's options and ``dl.fit`` settings; the model is built the
    way a sweep builds it (:class:`dynlens.sweeps.ModelSpec`), sized for ``data``.
    """
    from ..sweeps import ModelSpec
    from ..training.fit import default_fit_config

    names = fit_settings()
    fit = {k: v for k, v in settings.items() if k in names}
    options = {k: v for k, v in settings.items() if k not in names}
    seed = fit.pop("seed", 0)
    spec = ModelSpec.parse({"name": "tuned", "model": family, **options, "fit": fit})
    model = spec.build(data.n_neurons, 0, getattr(data, "heldout_neurons", ()))
    default_fit_config(model, **fit)  # refuses a bad fit setting now, not in a trial
    return model, {**fit, "seed": seed}


def _refused(what: str, err: Exception, family: str, key: str | None) -> DynlensError:
    unknown = isinstance(err, TypeError) and key is not None and key not in fit_settings()
    hint = f" ({key!r} is not a dl.fit setting either: those are {list(fit_settings())})" \
        if unknown else ""
    cls = DynlensTypeError if isinstance(err, TypeError) else DynlensValueError
    return cls(f"{what}: the {family!r} model or dl.fit refuses it: {err}{hint}")


def _shapes(model: Any) -> dict:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_search(family: str, dims: dict[str, Dimension], fixed: dict, data: Any, *,
                 same_shapes: bool = False) -> Any:
    """Build the model with the fixed settings, then at every extreme of every dimension.

    Raises one DynlensError naming the fixed settings or the key (and value) that the family
    or ``dl.fit`` refuses; with ``same_shapes`` (population-based training, which copies
    weights between trials) also a key whose values change the parameters' shapes. Returns
    the model built with the fixed settings.
    """
    for name in fixed:
        _check_name(name, "fixed settings")
    overlap = sorted(set(fixed) & set(dims))
    if overlap:
        raise DynlensValueError(f"space: {overlap} are also given as fixed settings; give each "
                                f"setting once")
    try:
        base, _ = build_trial_model(family, fixed, data)
    except (DynlensError, TypeError, ValueError) as err:
        raise _refused(f"fixed settings {fixed}", err, family, None) from err
    for dim in dims.values():
        for value in dim.extremes():
            try:
                model, _ = build_trial_model(family, {**fixed, dim.name: value}, data)
            except (DynlensError, TypeError, ValueError) as err:
                raise _refused(f"space[{dim.name!r}] = {value!r}", err, family,
                               dim.name) from err
            if same_shapes and _shapes(model) != _shapes(base):
                raise DynlensValueError(
                    f"space[{dim.name!r}]: its values change the model's parameter shapes, "
                    f"so population-based training cannot copy weights between trials; "
                    f"search it with scheduler='asha', or fix it")
    return base
