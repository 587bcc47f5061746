"""The sequential autoencoder (SAE): encoder -> latent generator -> readout to log-rates."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..dynamics import ADAPTIVE_SOLVERS, FIXED_STEP_SOLVERS, rollout
from ..errors import DynlensValueError
from ..utils import check_choice, check_fraction, check_positive_float, check_positive_int
from .base import LossTerms, Model, check_forward, check_heldout, register
from .encoder import BidirectionalGRUEncoder
from .generator_registry import GENERATOR_OPTIONS, generator_entry, resolve_generator
from .losses import poisson_nll

__all__ = ["SAE", "SAEConfig"]


@dataclass
class SAEConfig:
    """Everything needed to rebuild an :class:`SAE` (serialised as JSON in checkpoints).

    See :class:`SAE` for the meaning of each field.

    Attributes
    ----------
    n_neurons : int
        Number of neurons the readout predicts (held-in plus held-out).
    latent_dim : int
        Latent state dimension.
    generator : str
        The generator: a registered name (:func:`~dynlens.models.available_generators`) or
        the ``module:qualname`` of an unregistered Dynamics class.
    hidden_size : int or None
        Capacity of generators whose factory takes it (the MLP width; None: the factory's
        default, 128 for the built-in MLPs); None or ``latent_dim`` for the others.
    n_layers : int
        Hidden layers of the MLP.
    encoder_size : int
        GRU units per direction in the encoder.
    dropout : float
        Dropout in the encoder.
    heldout_neurons : list of int
        Neurons the encoder never sees (sorted).
    solver, substeps, rtol, atol : str, int, float, float
        torchdiffeq method for ``"node"``, fixed-step solver steps per bin, and the
        tolerances of adaptive solvers.
    bin_dt : float
        One bin in model time units (NODE).
    n_forward : int or None
        Forward-prediction bins at the end of every trial (None: unset, taken from the data).
    generator_source : str or None
        ``module:qualname`` of the generator's factory (set from the registry; a checkpoint's
        value names the module to import when the generator is not registered).

    Examples
    --------
    >>> import dynlens as dl
    >>> config = SAEConfig(n_neurons=5, latent_dim=2, generator="gru")
    >>> config.hidden_size, config.heldout_neurons, config.n_forward  # unset, none, unset
    (None, [], None)
    >>> dl.models.SAE(**config.to_dict()).config == config  # what checkpoints rebuild
    True
    >>> config.generator_source
    'dynlens.models.generators:GRUDynamics'
    >>> SAEConfig(n_neurons=5, latent_dim=2, generator="gru", hidden_size=8)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: hidden_size: a 'gru' generator's capacity is tied to ...
    """

    n_neurons: int
    latent_dim: int = 3
    generator: str = "node"
    hidden_size: int | None = None
    n_layers: int = 1
    encoder_size: int = 64
    dropout: float = 0.05
    heldout_neurons: list[int] = field(default_factory=list)
    solver: str = "rk4"
    substeps: int = 1
    rtol: float = 1e-3
    atol: float = 1e-3
    bin_dt: float = 0.1
    n_forward: int | None = None
    generator_source: str | None = None

    def __post_init__(self) -> None:
        self.n_neurons = check_positive_int(self.n_neurons, "n_neurons")
        self.latent_dim = check_positive_int(self.latent_dim, "latent_dim")
        options: tuple[str, ...] = ()
        if isinstance(self.generator, str) and ":" in self.generator:  # an unregistered class
            self.generator_source = self.generator
        else:
            entry = generator_entry(self.generator, self.generator_source)
            self.generator_source, options = entry.source, entry.options
        if self.hidden_size is not None:
            self.hidden_size = check_positive_int(self.hidden_size, "hidden_size")
            if "hidden_size" not in options and self.hidden_size != self.latent_dim:
                raise DynlensValueError(
                    f"hidden_size: a {self.generator!r} generator's capacity is tied to its latent "
                    f"size; expected None or {self.latent_dim}, found {self.hidden_size}"
                )
        self.n_layers = check_positive_int(self.n_layers, "n_layers")
        self.encoder_size = check_positive_int(self.encoder_size, "encoder_size")
        self.dropout = check_fraction(self.dropout, "dropout")
        check_choice(self.solver, FIXED_STEP_SOLVERS + ADAPTIVE_SOLVERS, "solver")
        self.substeps = check_positive_int(self.substeps, "substeps")
        self.rtol = check_positive_float(self.rtol, "rtol")
        self.atol = check_positive_float(self.atol, "atol")
        self.bin_dt = check_positive_float(self.bin_dt, "bin_dt")
        self.heldout_neurons = check_heldout(self.heldout_neurons, self.n_neurons)
        self.n_forward = check_forward(self.n_forward)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@register
class SAE(Model):
    """Sequential autoencoder: spikes -> initial condition -> latent trajectory -> log-rates.

    The encoder is a bidirectional GRU over the trial's held-in spikes giving the initial
    condition; the generator (``model.dynamics``, a :class:`~dynlens.dynamics.Dynamics`)
    rolls it forward one bin at a time; a linear readout with bias gives log-rates of all
    neurons (held-in and held-out). Deterministic: no KL term, no inferred inputs.

    Parameters
    ----------
    n_neurons : int
        Number of neurons the readout predicts (held-in plus held-out).
    latent_dim : int
        Latent state dimension.
    generator : str or Dynamics
        The generator (``model.dynamics``, the object the analysis opens): a registered name
        (:func:`~dynlens.models.available_generators`, :func:`~dynlens.models.register_generator`
        adds one) or a Dynamics ``nn.Module`` instance of dimension ``latent_dim``, used as it
        is. An instance is recorded under the name its class is registered as (a class can be
        its own factory), else as its class's ``"module:qualname"`` (also accepted as a
        string); a checkpoint must be able to rebuild it from that record and the options
        below, else a DynlensValueError says so here. Built in: ``"node"`` integrates
        a continuous MLP vector field; ``"gru"`` and
        ``"rnn"`` iterate a cell with zero input (capacity tied to ``latent_dim``);
        ``"node_discrete"`` iterates ``x + 0.1 MLP(x)``; ``"lds"`` a linear map;
        ``"rnn_residual"`` iterates ``x + 0.1 tanh(W x + b)`` and ``"mlp_map"`` ``MLP(x)``
        (ablations, see :mod:`dynlens.models.generators`).
    hidden_size : int, optional
        MLP width of ``"node"``, ``"node_discrete"`` and ``"mlp_map"`` (capacity; default
        128), or the capacity of any generator whose factory takes ``hidden_size``. Must be
        None or ``latent_dim`` for the others.
    n_layers : int
        Hidden layers of the MLP.
    encoder_size : int
        GRU units per direction in the encoder.
    dropout : float
        Dropout in the encoder.
    heldout_neurons : sequence of int, optional
        Neurons the encoder never sees (for co-smoothing); the readout still predicts them.
    solver : str
        torchdiffeq method for ``"node"``. Default ``"rk4"`` with one step per bin: a fixed,
        predictable cost of 4 field evaluations per bin that does not depend on how stiff
        the learned field becomes. The published adaptive solver (``"dopri5"`` with
        ``rtol = atol = 1e-3``) stays available; it can step over several bins (the two
        are compared in ``benchmarks/bench_training.md``).
    substeps : int
        Fixed-step solver steps per bin.
    rtol, atol : float
        Tolerances of adaptive solvers.
    bin_dt : float
        One bin in model time units (NODE).
    n_forward : int, optional
        Forward-prediction bins at the end of every trial: the encoder never sees them, the
        generator rolls on through them and they are in the loss. None (default): taken from
        the data by :func:`dynlens.fit`.
    dynamics : str, optional
        Deprecated name of ``generator`` (a ``DeprecationWarning``; ``model.dynamics`` is the
        generator module itself).
    generator_source : str, optional
        What a checkpoint records of the generator's factory (``module:qualname``); used only
        to name the module to import when ``generator`` is not registered.

    Examples
    --------
    >>> model = SAE(n_neurons=10, latent_dim=3, generator="node", hidden_size=32)
    >>> out = model(torch.zeros(2, 15, 10))
    >>> tuple(out["log_rates"].shape), tuple(out["latents"].shape)
    ((2, 15, 10), (2, 15, 3))
    >>> model.dynamics.kind
    'continuous'

    With 5 forward-prediction bins the encoder reads the first 10 bins only:

    >>> model = SAE(n_neurons=10, latent_dim=3, hidden_size=32, n_forward=5).eval()
    >>> spikes = torch.zeros(2, 15, 10)
    >>> later = spikes.clone(); later[:, 10:] = 7.0
    >>> bool(torch.equal(model(spikes)["log_rates"], model(later)["log_rates"]))
    True
    """

    model_type = "sae"
    loss_label = "Poisson NLL per scored bin and neuron"

    def __init__(
        self,
        n_neurons: int,
        latent_dim: int = 3,
        generator: str | nn.Module = "node",
        hidden_size: int | None = None,
        n_layers: int = 1,
        encoder_size: int = 64,
        dropout: float = 0.05,
        heldout_neurons: Sequence[int] | None = None,
        solver: str = "rk4",
        substeps: int = 1,
        rtol: float = 1e-3,
        atol: float = 1e-3,
        bin_dt: float = 0.1,
        n_forward: int | None = None,
        dynamics: str | None = None,
        generator_source: str | None = None,
    ) -> None:
        super().__init__()
        generator = _renamed_generator(generator, dynamics)
        instance = None if isinstance(generator, str) else generator
        config = {
            "n_neurons": n_neurons, "latent_dim": latent_dim, "hidden_size": hidden_size,
            "n_layers": n_layers, "encoder_size": encoder_size, "dropout": dropout,
            "heldout_neurons": [] if heldout_neurons is None else list(heldout_neurons),
            "solver": solver, "substeps": substeps,
            "rtol": rtol, "atol": atol, "bin_dt": bin_dt, "n_forward": n_forward,
        }
        if instance is not None:  # its record first: the config checks the options against it
            generator, generator_source, _ = resolve_generator(
                instance, check_positive_int(latent_dim, "latent_dim"), self._options(config))
        self.config = SAEConfig(generator=generator, generator_source=generator_source,
                                **config)
        cfg = self.config
        self.encoder = BidirectionalGRUEncoder(
            len(self.heldin_index), cfg.latent_dim, cfg.encoder_size, cfg.dropout
        )
        self.dynamics = instance if instance is not None else resolve_generator(
            cfg.generator, cfg.latent_dim, self._options(cfg.to_dict()), cfg.generator_source)[2]
        self.readout = nn.Linear(cfg.latent_dim, cfg.n_neurons)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @staticmethod
    def _options(config: dict[str, Any]) -> dict[str, Any]:
        """The generator options of a config (what factories may take)."""
        return {name: config[name] for name in GENERATOR_OPTIONS}

    @property
    def label(self) -> str:
        """``"NODE-3"``, ``"GRU-25"``, ...: the generator and the latent size."""
        name = self.config.generator.rpartition(":")[2].rpartition(".")[2]
        return f"{name.upper()}-{self.config.latent_dim}"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SAE:
        """Rebuild from a saved config (checkpoints before 0.2 name the generator ``dynamics``)."""
        config = dict(config)
        if "dynamics" in config and "generator" not in config:
            config["generator"] = config.pop("dynamics")
        return cls(**config)

    def fit_defaults(self) -> dict[str, Any]:
        """The fit settings its generator was registered with (the published learning rate
        and weight decay for the built-in ones; none for an unregistered class)."""
        if ":" in self.config.generator:
            return {}
        return dict(generator_entry(self.config.generator).fit_defaults)

    def loss(self, batch: torch.Tensor, *, n_bins: int | None = None,
             epoch: int = 0) -> LossTerms:
        """Poisson NLL of the first ``n_bins`` bins (all by default, forward-prediction bins
        included); the encoder sees every bin before the forward bins."""
        log_rates = self(batch, n_bins=n_bins)["log_rates"]
        return LossTerms(poisson_nll(log_rates, batch[:, :log_rates.shape[1]]))

    def forward(self, spikes: torch.Tensor, n_bins: int | None = None, *,
                n_forward: int | None = None) -> dict[str, torch.Tensor]:
        """Encode held-in spikes ``[batch, bins, n_neurons]`` and generate ``n_bins`` bins.

        ``spikes`` holds all neurons and bins; held-out columns and the last ``n_forward``
        bins (default: the model's) are dropped before the encoder. ``n_bins`` (default: all)
        lets training generate only the bins it scores.
        """
        seen = self.input_spikes(spikes, n_forward)
        n_bins = spikes.shape[1] if n_bins is None else n_bins
        ic = self.encoder(seen)
        cfg = self.config
        latents = rollout(self.dynamics, ic, n_bins, solver=cfg.solver, rtol=cfg.rtol,
                          atol=cfg.atol, substeps=cfg.substeps)
        return {"log_rates": self.readout(latents), "latents": latents, "ic": ic}

    def infer_batch(self, spikes: torch.Tensor, *, n_forward: int,
                    inputs: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Log-rates, latents and initial conditions of one batch (see ``Model.infer``)."""
        out = self(spikes, n_forward=n_forward)
        return {"log_rates": out["log_rates"], "latents": out["latents"],
                "initial_conditions": out["ic"]}


def _renamed_generator(generator: str, dynamics: str | None) -> str:
    """``generator``, or the deprecated ``dynamics=`` keyword's value with a warning."""
    if dynamics is None:
        return generator
    warnings.warn("SAE(dynamics=...) is deprecated; use SAE(generator=...)",
                  DeprecationWarning, stacklevel=3)
    if generator not in ("node", dynamics):
        raise DynlensValueError(
            f"dynamics: the deprecated name of generator; found generator={generator!r} and "
            f"dynamics={dynamics!r}, pass only generator=")
    return dynamics
