"""A trained model's attractor next to the true system's: Lyapunov spectra, Kaplan-Yorke
dimensions and the DSA distance, as one flat row."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DynlensMissingDependencyError, DynlensValueError
from ..utils import check_nonnegative_int, check_positive_int
from .lyapunov import LyapunovSpectrum, lyapunov_spectrum
from .similarity import dynamics_similarity

__all__ = ["compare_dynamics"]


def compare_dynamics(model: Any, data: Any, system: Any = None, *, split: str = "test",
                     n_steps: int | None = None, n_starts: int = 64, seed: int = 0,
                     latents: Any = None) -> dict[str, Any]:
    """The model's chaos next to the truth's: a flat dict, ready to be a table row.

    The spectrum of ``model.dynamics`` starts from ``n_starts`` of its latents on ``split``
    and is expressed per unit of the true system's time (one bin is ``data.bin_width``;
    :meth:`LyapunovSpectrum.rescaled`), so it reads on the scale of ``system``'s own
    spectrum. The DSA distance compares the model's
    latents with the true latents of ``split`` (when the data have them, ``dsa-metric`` is
    installed and the split is long enough for its delay embedding).

    Parameters
    ----------
    model : Model
        A trained model with a generator (``model.dynamics``).
    data : NeuralDataset
        The data it was trained on; ``data.bin_width`` (required) puts both spectra on the
        true system's clock.
    system : GroundTruthSystem, optional
        The true system, whose spectrum is computed alongside. Its starting states are the
        data's true latents at the same picks when the data came from it, else its
        ``default_x0``.
    split : str
        The split whose latents give the starting states.
    n_steps : int, optional
        Bins measured per start (:func:`lyapunov_spectrum`'s default when None).
    n_starts : int
        Starting states, drawn at random from the model's latents on ``split``.
    seed : int
        Seed of that draw and of :func:`lyapunov_spectrum`.
    latents : array-like [trials, bins, latent_dim], optional
        The model's latents on ``split`` when the caller has them already (they are
        inferred otherwise).

    Returns
    -------
    dict
        ``lambda1_model``, ``ky_model``, ``sum_model`` and, with a ``system``,
        ``lambda1_true``, ``ky_true``, ``sum_true`` (a Kaplan-Yorke dimension is NaN where
        it is not defined or not resolved: the spectrum's ``kaplan_yorke_note`` says why);
        ``dsa_to_truth``; ``spectra`` (the :class:`LyapunovSpectrum` objects, by ``"model"``
        and ``"true"``, for figures).

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=5, n_trials=20, n_bins=20, seed=0)
    >>> model = dl.models.SAE(n_neurons=5, latent_dim=3, generator="gru", encoder_size=8)
    >>> row = dl.compare_dynamics(model, data, dl.systems.get("arneodo"), n_steps=50,
    ...                           n_starts=4)
    >>> sorted(k for k in row if k != "spectra")  # doctest: +ELLIPSIS
    ['dsa_to_truth', 'ky_model', 'ky_true', 'lambda1_model', 'lambda1_true', 'sum_model', ...]
    """
    n_starts = check_positive_int(n_starts, "n_starts")
    seed = check_nonnegative_int(seed, "seed")
    if data.bin_width is None:  # before any work: the two spectra need one clock
        raise DynlensValueError(
            "data.bin_width: expected the bin width in the true system's time units, to put "
            "the two spectra on one clock; found None")
    part = data.split(split)
    latents = model.infer(part).latents if latents is None else np.asarray(latents)
    flat = latents.reshape(-1, latents.shape[-1])
    pick = np.random.default_rng(seed).choice(len(flat), min(n_starts, len(flat)),
                                              replace=False)
    spec = lyapunov_spectrum(model.dynamics, flat[pick], n_steps=n_steps, seed=seed)
    spec = spec.rescaled(data.bin_width)  # on the true system's clock
    model_lam = spec.exponents
    row: dict[str, Any] = {"lambda1_model": float(model_lam[0]),
                           "ky_model": spec.kaplan_yorke,  # NaN where not resolved
                           "sum_model": float(model_lam.sum())}
    spectra: dict[str, LyapunovSpectrum] = {"model": spec}
    if system is not None:
        recorded = data.metadata.get("system") if isinstance(data.metadata, dict) else None
        own = recorded is None or recorded == getattr(system, "name", recorded)
        # the data's true states lie on the system's attractor only when they came from it;
        # otherwise as many starts drawn on the attractor
        starts = (part.latents.reshape(-1, part.latents.shape[-1])[pick]
                  if own and part.latents is not None and part.latents.shape[-1] == system.dim
                  else system.sample_on_attractor(len(pick), seed=seed))
        truth = lyapunov_spectrum(system, starts, n_steps=n_steps, seed=seed)
        spectra["true"] = truth
        row.update(lambda1_true=float(truth.exponents[0]), ky_true=truth.kaplan_yorke,
                   sum_true=truth.sum)
    if part.latents is not None:
        try:
            row["dsa_to_truth"] = dynamics_similarity(latents, part.latents)
        except (DynlensMissingDependencyError, DynlensValueError):
            pass  # an optional extra, or too few samples for the delay embedding
    row["spectra"] = spectra
    return row
