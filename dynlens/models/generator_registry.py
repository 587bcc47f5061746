"""The SAE's generators by name: :func:`register_generator` and :func:`available_generators`.

A generator is a factory ``factory(latent_dim, **options) -> Dynamics``. The options are the
SAE's generator options, :data:`GENERATOR_OPTIONS`: ``hidden_size`` (the MLP width or other
capacity), ``n_layers`` and ``bin_dt`` (one bin in model time, for continuous generators).
A factory is given only the options its signature names (all of them when it takes
``**options``), and ``hidden_size`` only when it is set (else the factory's own default
holds); one that does not take ``hidden_size`` has its capacity tied to the
latent size, so the SAE refuses a ``hidden_size`` other than None or ``latent_dim`` for it.
A class whose ``__init__`` takes ``(dim, ...)`` is a factory as it stands.

The built-in generators (:mod:`dynlens.models.generators`) register through the same call.
A checkpoint of an SAE records the generator's name and its factory's ``module:qualname``;
loading it needs that name registered again (import the module that registers it): dynlens
never imports a module named in a file.

Examples
--------
>>> import torch
>>> import dynlens as dl
>>> class Leak(dl.Dynamics):  # x <- a * x, one learned rate per latent
...     def __init__(self, dim):
...         super().__init__(dim=dim, kind="discrete")
...         self.rate = torch.nn.Parameter(torch.full((dim,), 0.9))
...     def forward(self, x, u=None):
...         return self.rate * x
>>> dl.models.register_generator("leak", Leak, fit_defaults={"lr": 1e-2})
>>> "leak" in dl.models.available_generators()
True
>>> model = dl.models.SAE(n_neurons=4, latent_dim=2, generator="leak")
>>> model.label, model.fit_defaults()
('LEAK-2', {'lr': 0.01})
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..dynamics import check_dynamics
from ..errors import DynlensNotRegisteredError, DynlensTypeError, DynlensValueError
from ..utils import check_choice

__all__ = ["GENERATOR_OPTIONS", "GeneratorEntry", "available_generators", "build_generator",
           "check_generator", "generator_entry", "register_generator", "registered_name_of",
           "resolve_generator", "source_of"]

#: The SAE's options a generator factory may take (by these keyword names).
GENERATOR_OPTIONS = ("hidden_size", "n_layers", "bin_dt")


@dataclass(frozen=True)
class GeneratorEntry:
    """A registered generator: its name, factory, the options it takes and its fit defaults.

    Attributes
    ----------
    name : str
        The registry name (``SAE(generator=name)``).
    factory : callable
        ``factory(latent_dim, **options) -> Dynamics``.
    options : tuple of str
        The :data:`GENERATOR_OPTIONS` the factory is given.
    fit_defaults : dict
        Training settings of :func:`dynlens.fit` for SAEs with this generator.
    """

    name: str
    factory: Callable[..., Any]
    options: tuple[str, ...]
    fit_defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """``module:qualname`` of the factory (what a checkpoint records)."""
        return source_of(self.factory)

    def build(self, latent_dim: int, **options: Any) -> nn.Module:
        """The factory's generator for ``latent_dim``, given the options it takes, checked."""
        taken = {k: v for k, v in options.items() if k in self.options and v is not None}
        return check_generator(self.factory(latent_dim, **taken), latent_dim,
                               f"generator {self.name!r}")


_GENERATORS: dict[str, GeneratorEntry] = {}


def source_of(obj: Any) -> str:
    """``module:qualname`` of a function or class."""
    return f"{obj.__module__}:{obj.__qualname__}"


def _options_taken(factory: Callable[..., Any]) -> tuple[str, ...]:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError) as err:
        raise DynlensTypeError(
            f"factory: expected a callable whose signature can be read, found {factory!r}"
        ) from err
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return GENERATOR_OPTIONS
    return tuple(name for name in GENERATOR_OPTIONS if name in params)


def register_generator(name: str, factory: Callable[..., Any], *,
                       fit_defaults: Mapping[str, Any] | None = None) -> None:
    """Make ``factory`` the SAE generator called ``name`` (``SAE(generator=name)``).

    Parameters
    ----------
    name : str
        The registry name, a non-empty string (a generator registered under the same name
        before is replaced).
    factory : callable
        ``factory(latent_dim, **options)`` returning a :class:`~dynlens.dynamics.Dynamics`
        (an ``nn.Module`` with ``dim == latent_dim``); it is given only the options of
        :data:`GENERATOR_OPTIONS` its signature names (``hidden_size`` only when set). A
        class taking ``(dim, ...)`` works.
    fit_defaults : mapping, optional
        :func:`dynlens.fit` settings (e.g. ``{"lr": 5e-3, "weight_decay": 1e-5}``) used for
        SAEs with this generator unless the caller passes them.

    Examples
    --------
    >>> import dynlens as dl
    >>> dl.models.register_generator("tiny_node", lambda latent_dim, n_layers:
    ...     dl.models.NODEDynamics(latent_dim, hidden_size=8, n_layers=n_layers))
    >>> dl.models.SAE(n_neurons=3, latent_dim=2, generator="tiny_node").dynamics.kind
    'continuous'
    >>> dl.models.register_generator("", dl.models.GRUDynamics)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: name: expected a non-empty string without ':', found ''
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise DynlensTypeError(f"name: expected a non-empty string without ':', found {name!r}")
    if not callable(factory):
        raise DynlensTypeError(
            f"factory: expected a callable factory(latent_dim, **options) -> Dynamics, found "
            f"{type(factory).__name__}")
    if fit_defaults is not None and not (
            isinstance(fit_defaults, Mapping) and all(isinstance(k, str) for k in fit_defaults)):
        raise DynlensTypeError(
            f"fit_defaults: expected a mapping of dynlens.fit settings (e.g. {{'lr': 1e-3}}), "
            f"found {fit_defaults!r}")
    _GENERATORS[name] = GeneratorEntry(name, factory, _options_taken(factory),
                                       dict(fit_defaults or {}))


def available_generators() -> list[str]:
    """Names of the registered SAE generators, sorted.

    Examples
    --------
    >>> import dynlens as dl
    >>> {"gru", "lds", "node"} <= set(dl.models.available_generators())
    True
    """
    return sorted(_GENERATORS)


def generator_entry(name: str, source: str | None = None) -> GeneratorEntry:
    """The registered generator ``name``; ``source`` (its factory's ``module:qualname``, from
    a checkpoint) turns the error for an unregistered name into one naming the module."""
    if name not in _GENERATORS and source:
        module, _, qualname = source.partition(":")
        raise DynlensNotRegisteredError(
            f"generator: {name!r} is not registered; import the module {module!r} (whose "
            f"{qualname} is registered as {name!r} with dynlens.models.register_generator) "
            f"before building or loading this model")
    return _GENERATORS[check_choice(name, available_generators(), "generator")]


def registered_name_of(dynamics: nn.Module) -> str | None:
    """The name under which ``type(dynamics)`` itself is registered as a factory, if any."""
    for entry in _GENERATORS.values():
        if entry.factory is type(dynamics):
            return entry.name
    return None


def check_generator(dynamics: Any, latent_dim: int, name: str = "generator") -> nn.Module:
    """``dynamics`` if it is a Dynamics ``nn.Module`` of dimension ``latent_dim``, else raise."""
    if not isinstance(dynamics, nn.Module):
        raise DynlensTypeError(
            f"{name}: expected a Dynamics nn.Module (its parameters are trained), found "
            f"{type(dynamics).__name__}")
    dim = check_dynamics(dynamics, name).dim
    if dim != latent_dim:
        raise DynlensValueError(
            f"{name}: expected a Dynamics of dim latent_dim={latent_dim}, found dim={dim}")
    return dynamics


def build_generator(name: str, latent_dim: int, **options: Any) -> nn.Module:
    """The registered generator ``name`` for ``latent_dim`` (see :func:`register_generator`).

    Parameters
    ----------
    name : str
        One of :func:`available_generators`.
    latent_dim : int
        The state dimension.
    **options
        Any of :data:`GENERATOR_OPTIONS`; those the factory does not take are not passed.

    Examples
    --------
    >>> build_generator("gru", 3, hidden_size=None, n_layers=2).dim
    3
    """
    return generator_entry(name).build(latent_dim, **options)


def _class_at(source: str) -> type:
    """The class a ``module:qualname`` source names, from a module already imported."""
    module_name, _, qualname = source.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        raise DynlensNotRegisteredError(
            f"generator: {qualname} of module {module_name!r} is not available; import "
            f"{module_name!r} (or register the generator with "
            f"dynlens.models.register_generator) before building or loading this model")
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
    if not isinstance(target, type):
        raise DynlensValueError(
            f"generator: expected a class {qualname} in module {module_name!r}, found "
            f"{type(target).__name__}")
    return target


def resolve_generator(generator: Any, latent_dim: int, options: Mapping[str, Any],
                      source: str | None = None) -> tuple[str, str, nn.Module]:
    """``(name, source, module)``: the SAE's generator and what its config records.

    ``generator`` is a registered name, the ``"module:qualname"`` of a Dynamics class taking
    ``(dim)`` from a module already imported, or a Dynamics instance: the instance itself is
    used, recorded under the name its class is registered as, else as its class's
    ``module:qualname``, which must rebuild it (``cls(latent_dim)`` has the same parameter
    shapes) so that checkpoints can. ``source`` (from a checkpoint) names the module to import
    when a name is not registered.
    """
    if isinstance(generator, str) and ":" in generator:
        return generator, generator, check_generator(
            _class_at(generator)(latent_dim), latent_dim, f"generator {generator!r}")
    if isinstance(generator, str):
        entry = generator_entry(generator, source)
        return entry.name, entry.source, entry.build(latent_dim, **options)
    dynamics = check_generator(generator, latent_dim)
    name = registered_name_of(dynamics)
    if name is not None:
        entry = _GENERATORS[name]
        _check_rebuilds(dynamics, lambda: entry.build(latent_dim, **options),
                        f"generator {name!r} with the SAE's options {dict(options)}")
        return name, entry.source, dynamics
    source = source_of(type(dynamics))
    _check_rebuilds(dynamics, lambda: type(dynamics)(latent_dim), f"{source}({latent_dim})")
    return source, source, dynamics


def _check_rebuilds(dynamics: nn.Module, rebuild: Callable[[], Any], how: str) -> None:
    """Raise unless ``rebuild()`` (what a checkpoint runs) has ``dynamics``'s parameter shapes."""
    def shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in module.state_dict().items()}

    try:
        with torch.random.fork_rng(devices=[]):  # the caller's random stream stays untouched
            rebuilt = rebuild()
    except Exception as err:  # noqa: BLE001 - any failure means it cannot be rebuilt
        rebuilt = err
    if not isinstance(rebuilt, nn.Module) or shapes(rebuilt) != shapes(dynamics):
        found = rebuilt if isinstance(rebuilt, Exception) else "other parameter shapes"
        raise DynlensValueError(
            f"generator: a checkpoint would rebuild this {type(dynamics).__name__} as {how}, "
            f"which gives {found}; register a factory that builds it with "
            f"dynlens.models.register_generator(name, factory) and pass the name")
