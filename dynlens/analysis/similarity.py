"""Alignment-free similarity of two dynamics from their trajectories: Dynamical Similarity
Analysis (Ostrow et al. 2023), computed by its authors' ``dsa-metric`` package."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import DynlensMissingDependencyError, DynlensValueError
from ..utils import check_choice, check_positive_int
from ._prepare import as_states

__all__ = ["dynamics_similarity"]

SCORES = ("wasserstein", "angular", "euclidean")


def dynamics_similarity(a: Any, b: Any, *, n_delays: int = 10, rank: int = 20,
                        score: str = "wasserstein", iters: int = 1000, lr: float = 0.01,
                        device: str = "cpu") -> float:
    """The DSA distance between the dynamics behind two sets of trajectories.

    Each set (``[trials, bins, dim]`` or one trajectory ``[bins, dim]``; the dimensions of
    ``a`` and ``b`` may differ) is centred, delay-embedded with ``n_delays`` delays, and
    fitted with a linear (HAVOK DMD) model of rank ``rank`` by the ``dsa-metric`` package,
    which then compares the two linear models.

    Parameters
    ----------
    a, b : array-like
        Trajectories: a model's latents, the true latents, or recorded data.
    n_delays, rank : int
        Delay embedding and DMD rank. The defaults suit dynlens's trials (tens of bins,
        a few to tens of dimensions); ``rank`` is capped at ``n_delays`` times the smaller
        dimension and below the number of delay-embedded samples.
    score : {"wasserstein", "angular", "euclidean"}
        ``"wasserstein"`` (default) compares the two models' eigenvalue spectra, so the
        distance does not change under any invertible linear change of coordinates (a
        model's latents relate to the truth only up to such a map); ``"angular"`` and
        ``"euclidean"`` are DSA's Procrustes distances over orthogonal transforms.
    iters, lr : int, float
        Optimiser settings of the Procrustes scores.
    device : str
        Where ``dsa-metric`` computes.

    Returns
    -------
    float
        0 for identical dynamics; larger for less similar ones.

    Raises
    ------
    DynlensMissingDependencyError
        When ``dsa-metric`` is not installed (``pip install "dynlens[dsa]"``).

    Examples
    --------
    >>> import dynlens as dl
    >>> lorenz = dl.simulate("lorenz", n_neurons=3, n_trials=80, n_bins=70, seed=0).latents
    >>> rossler = dl.simulate("rossler", n_neurons=3, n_trials=40, n_bins=70, seed=0).latents
    >>> same = dl.dynamics_similarity(lorenz[:40], lorenz[40:])  # two stretches of one system
    >>> other = dl.dynamics_similarity(lorenz[:40], rossler)
    >>> bool(same < 0.05 < 0.5 < other)
    True
    """
    n_delays = check_positive_int(n_delays, "n_delays")
    rank = check_positive_int(rank, "rank")
    score = check_choice(score, SCORES, "score")
    sets = [_centred(x, name, n_delays) for x, name in ((a, "a"), (b, "b"))]
    try:
        from DSA import DSA
    except ImportError as err:
        raise DynlensMissingDependencyError(
            "dynamics_similarity: needs the optional dsa-metric package; install it with "
            "pip install \"dynlens[dsa]\"") from err
    for x, name in zip(sets, ("a", "b")):
        samples, width = x.shape[0] * (x.shape[1] - n_delays), n_delays * x.shape[-1]
        if samples < width:  # dsa-metric needs a full-rank delay embedding
            raise DynlensValueError(
                f"{name}: expected at least n_delays x dim = {width} delay-embedded samples "
                f"(trials x (bins - n_delays)), found {samples}; give more trials or fewer "
                f"delays")
    rank = min(rank, n_delays * min(x.shape[-1] for x in sets))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package's own deprecation chatter
        result = DSA(sets[0], sets[1], n_delays=n_delays, rank=rank, score_method=score,
                     iters=iters, lr=lr, device=device).fit_score()
    return float(np.asarray(result, dtype=np.float64).ravel()[0])


def _centred(x: Any, name: str, n_delays: int) -> np.ndarray:
    """``x`` as float64 ``[trials, bins, dim]`` minus its mean state; enough bins checked."""
    flat, lead = as_states(x, name, ndims=(2, 3))
    arr = flat.reshape(*lead, flat.shape[-1])
    arr = arr[None] if arr.ndim == 2 else arr
    if arr.shape[1] <= n_delays:
        raise DynlensValueError(
            f"{name}: expected more bins than n_delays={n_delays}, found {arr.shape[1]}")
    return arr - flat.mean(0)
