"""What a model infers from spikes: :class:`Inference`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["Inference"]


@dataclass
class Inference:
    """Model outputs for a set of trials, as NumPy arrays ``[trials, bins, features]``.

    Attributes
    ----------
    rates : ndarray
        Expected spike counts per bin for every neuron (held-in and held-out).
    log_rates : ndarray
        Natural log of ``rates``.
    latents : ndarray or None
        Latent states ``[trials, bins, latent_dim]`` (None for models without a latent state).
    initial_conditions : ndarray or None
        Initial conditions ``[trials, ic_dim]``: the SAE's generator initial states, LFADS's
        posterior means of its initial-condition latent.
    factors : ndarray or None
        LFADS factors ``[trials, bins, n_factors]`` (None for models without factors).
    inputs : ndarray or None
        Inferred inputs ``[trials, bins, co_dim]`` (LFADS with a controller; None elsewhere).
    extras : dict
        Model-specific outputs (e.g. LFADS's ``"ic_std"``).

    Examples
    --------
    >>> import numpy as np
    >>> import dynlens as dl
    >>> model = dl.models.SAE(n_neurons=4, latent_dim=2, generator="gru")
    >>> out = model.infer(np.ones((3, 5, 4)))  # 3 trials x 5 bins x 4 neurons
    >>> out
    Inference(rates=(3, 5, 4), latents=(3, 5, 2))
    >>> out.n_trials, out.initial_conditions.shape, bool(np.allclose(  # float32: atol
    ...     np.log(out.rates), out.log_rates, atol=1e-6))
    (3, (3, 2), True)
    >>> Inference(rates=np.ones((2, 5, 4)), log_rates=np.zeros((2, 5, 4))).latents is None
    True
    """

    rates: np.ndarray
    log_rates: np.ndarray
    latents: np.ndarray | None = None
    initial_conditions: np.ndarray | None = None
    factors: np.ndarray | None = None
    inputs: np.ndarray | None = None
    extras: dict = field(default_factory=dict)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Inference:
        """An Inference of arrays named as its fields; ``rates`` or ``log_rates`` gives the
        other, names that are not fields go to ``extras``.

        Examples
        --------
        >>> out = Inference.from_arrays({"log_rates": np.zeros((2, 3, 4)),
        ...                              "ic_std": np.ones((2, 5))})
        >>> float(out.rates.max()), list(out.extras)
        (1.0, ['ic_std'])
        """
        arrays = dict(arrays)
        if "rates" not in arrays:
            arrays["rates"] = np.exp(arrays["log_rates"])
        if "log_rates" not in arrays:
            arrays["log_rates"] = np.log(arrays["rates"])
        names = {f.name for f in fields(cls)} - {"extras"}
        return cls(**{k: v for k, v in arrays.items() if k in names},
                   extras={k: v for k, v in arrays.items() if k not in names})

    @property
    def n_trials(self) -> int:
        return self.rates.shape[0]

    def __repr__(self) -> str:
        latent = None if self.latents is None else self.latents.shape
        return f"Inference(rates={self.rates.shape}, latents={latent})"
