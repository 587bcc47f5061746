"""Did a trained model recover the true fixed points? One call from model and data to a
:class:`~dynlens.analysis.FixedPointComparison`."""

from __future__ import annotations

from typing import Any

from ..errors import DynlensValueError
from ..utils import check_choice
from .alignment import AffineAlignment
from .compare import FixedPointComparison, compare_fixed_points
from .fixed_points import FixedPoints, find_fixed_points

__all__ = ["fixed_point_recovery", "true_system"]


def true_system(data: Any, system: Any = None) -> Any:
    """The true system behind ``data``: ``system`` (a name or an object) when given, else
    the one :func:`dynlens.simulate` recorded in ``data.metadata`` (with its parameters),
    else None.

    Parameters
    ----------
    data : NeuralDataset
        The data; ``data.metadata["system"]`` and ``["params"]`` name the recorded system.
    system : str or GroundTruthSystem, optional
        The system to use instead: a name (built with its default parameters) or an object,
        returned as it is.

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("lorenz", n_neurons=5, n_trials=4, n_bins=10, seed=0)
    >>> dl.analysis.true_system(data).name  # recorded by dl.simulate
    'lorenz'
    >>> dl.analysis.true_system(data, "rossler").name  # given: it wins
    'rossler'
    >>> print(dl.analysis.true_system(dl.NeuralDataset(data.spikes)))  # recorded spikes
    None
    """
    from .. import systems

    if system is None:
        name = data.metadata.get("system") if isinstance(data.metadata, dict) else None
        if name is None or name not in systems.available():
            return None
        return systems.get(name, **dict(data.metadata.get("params") or {}))
    if isinstance(system, str):
        return systems.get(check_choice(system, systems.available(), "system"))
    return system


def fixed_point_recovery(model: Any, data: Any, system: Any = None, *, split: str = "train",
                         n_inits: int = 1024, seed: int = 0, latents: Any = None,
                         progress: bool = False,
                         threads: int | str = "auto") -> FixedPointComparison:
    """Find the fixed points of ``model.dynamics`` and match them with the true system's.

    The model's fixed points are searched from ``n_inits`` states of its latents on
    ``split``; an affine map from those latents to the data's true latents puts them in the
    system's coordinates, where :func:`compare_fixed_points` matches them.

    Parameters
    ----------
    model : dynlens model with a ``dynamics`` generator (SAE, LFADS)
    data : NeuralDataset with true latents
    system : str or ground-truth system, optional
        Default: the system ``data`` was simulated from (:func:`true_system`).
    split : str
        Split whose latents seed the search and fit the alignment.
    n_inits, seed, progress
        Passed to :func:`find_fixed_points`.
    latents : array [trials, bins, latent_dim], optional
        The model's latents on ``split`` when already inferred.
    threads : "auto" or int
        torch's CPU threads while inferring the latents and searching (see
        :func:`find_fixed_points`).

    Returns
    -------
    FixedPointComparison

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=8, n_trials=40, n_bins=30, seed=0)
    >>> model = dl.models.SAE(n_neurons=8, latent_dim=3, generator="node")
    >>> cmp = dl.analysis.fixed_point_recovery(model, data, n_inits=64)  # untrained model
    >>> cmp.numbers()["fp_true"]  # Arneodo's three fixed points
    3
    """
    dynamics = model.dynamics  # a model without one raises, saying why
    system = true_system(data, system)
    part = data.split(split)
    if system is None or part.latents is None:
        raise DynlensValueError(
            "data: expected data with true latents from a known system (or give `system`), "
            "found " + ("no system" if system is None else "no true latents"))
    if latents is None:
        latents = model.infer(part, threads=threads).latents
    fps = find_fixed_points(dynamics, latents, n_inits=n_inits, seed=seed, progress=progress,
                            threads=threads)
    alignment = AffineAlignment().fit(latents, part.latents)
    true_fps = FixedPoints.from_points(system, system.fixed_points())
    return compare_fixed_points(fps, true_fps, alignment, true_trajectories=part.latents)
