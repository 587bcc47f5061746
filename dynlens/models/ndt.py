"""The Neural Data Transformer (Ye & Pandarinath 2021), written from the paper.

Time bins are tokens. A trial's held-in spike counts (one token per bin) are embedded (as they
are, so ``d_model`` is the number of held-in neurons, or through a linear map), given learned
or sinusoidal positions, and passed through pre-norm transformer encoder layers whose
attention is limited to a band of bins around each bin; a linear readout gives every neuron's
log-rate in every bin. Training is masked modelling: a fraction of the bins of each trial
(the whole population at once) is hidden from the input, and the Poisson loss is taken on
exactly those bins, plus the held-out neurons, which are never input and always scored.

An NDT has no generator, so it has no ``dynamics``; its latents (a chosen layer's outputs, or
a low-dimensional linear bottleneck when ``latent_dim`` is given) go to the alignment metrics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import DynlensValueError
from ..utils import (
    check_choice,
    check_fraction,
    check_keywords,
    check_nonnegative_int,
    check_positive_int,
)
from .base import LossTerms, Model, check_forward, check_heldout, register

__all__ = ["NDT", "NDTConfig"]

POSITIONS = ("learned", "sinusoidal")


@dataclass
class NDTConfig:
    """Everything needed to rebuild an :class:`NDT` (JSON in checkpoints); see NDT.

    Attributes
    ----------
    n_neurons : int
        Neurons the readout predicts (held-in plus held-out).
    latent_dim : int or None
        Size of the linear bottleneck before the readout (None: none).
    d_model : int or None
        Token width (None: the held-in neurons, embedded as they are).
    n_layers, n_heads, ff_dim : int
        Encoder layers, attention heads, feed-forward width.
    context_backward, context_forward : int or None
        Bins each bin may attend to before / after it (None: all).
    mask_ratio : float
        Fraction of each trial's bins hidden from the input in training.
    mask_span : int
        Longest run of masked bins.
    positions : str
        Position embedding, ``"learned"`` or ``"sinusoidal"``.
    max_bins : int
        Bins the learned position embedding covers.
    dropout_embedding, dropout_attention, dropout_rates : float
        Dropout on the embedded input, inside each layer, and before the readout.
    latent_layer : int
        Which layer's outputs are the latents when there is no bottleneck.
    heldout_neurons : list of int
        Predicted but never input (sorted).
    n_forward : int or None
        Forward-prediction bins at the end of every trial (None: unset, taken from the data).

    Examples
    --------
    >>> config = NDTConfig(n_neurons=6, n_layers=2, n_heads=1, n_forward=5)
    >>> config.n_forward, config.to_dict()["mask_ratio"]
    (5, 0.25)
    >>> NDT(**config.to_dict()).config == config
    True
    """

    n_neurons: int
    latent_dim: int | None = None
    d_model: int | None = None
    n_layers: int = 4
    n_heads: int = 2
    ff_dim: int = 128
    context_backward: int | None = None
    context_forward: int | None = None
    mask_ratio: float = 0.25
    mask_span: int = 1
    positions: str = "learned"
    max_bins: int = 512
    dropout_embedding: float = 0.2
    dropout_attention: float = 0.2
    dropout_rates: float = 0.2
    latent_layer: int = -1
    heldout_neurons: list[int] = field(default_factory=list)
    n_forward: int | None = None

    def __post_init__(self) -> None:
        self.n_neurons = check_positive_int(self.n_neurons, "n_neurons")
        self.heldout_neurons = check_heldout(self.heldout_neurons, self.n_neurons)
        self.n_forward = check_forward(self.n_forward)
        for name in ("n_layers", "n_heads", "ff_dim", "mask_span", "max_bins"):
            setattr(self, name, check_positive_int(getattr(self, name), name))
        for name in ("latent_dim", "d_model"):
            if getattr(self, name) is not None:
                setattr(self, name, check_positive_int(getattr(self, name), name))
        for name in ("context_backward", "context_forward"):
            if getattr(self, name) is not None:
                setattr(self, name, check_nonnegative_int(getattr(self, name), name))
        ratio = check_fraction(self.mask_ratio, "mask_ratio")
        if ratio == 0:
            raise DynlensValueError(
                f"mask_ratio: expected a fraction of bins in (0, 1), found {self.mask_ratio}")
        self.mask_ratio = ratio
        check_choice(self.positions, POSITIONS, "positions")
        for name in ("dropout_embedding", "dropout_attention", "dropout_rates"):
            setattr(self, name, check_fraction(getattr(self, name), name))
        width = self.d_model or self.n_neurons - len(self.heldout_neurons)
        if width % self.n_heads:
            raise DynlensValueError(
                f"n_heads: expected a divisor of d_model={width} (the number of held-in "
                f"neurons unless d_model is given), found {self.n_heads}")
        if not -self.n_layers <= self.latent_layer < self.n_layers:
            raise DynlensValueError(
                f"latent_layer: expected a layer index in [{-self.n_layers}, {self.n_layers}),"
                f" found {self.latent_layer}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@register
class NDT(Model):
    """Masked-modelling transformer autoencoder of spike counts (no generator).

    Parameters
    ----------
    n_neurons : int
        Neurons the readout predicts (held-in plus held-out).
    latent_dim : int, optional
        A linear bottleneck of this size before the readout; its values are the latents.
        None: the latents are the outputs of layer ``latent_layer``.
    d_model : int, optional
        Token width; None embeds the held-in counts as they are (the published identity
        embedding, ``d_model`` = held-in neurons), an integer through a linear map.
    n_layers, n_heads, ff_dim : int
        Encoder layers, attention heads (must divide ``d_model``), feed-forward width.
    context_backward, context_forward : int, optional
        Each bin attends to at most this many bins before / after it (None: all).
    mask_ratio : float
        Fraction of each trial's bins hidden from the input in training (in (0, 1)).
    mask_span : int
        Masked bins come in runs of up to this many bins (1: single bins).
    positions : {"learned", "sinusoidal"}
        Position embedding; learned ones cover up to ``max_bins`` bins.
    dropout_embedding, dropout_attention, dropout_rates : float
        Dropout on the embedded input, inside each layer (attention and residual), and
        before the readout.
    latent_layer : int
        Which layer's outputs are the latents when there is no bottleneck (default: last).
    heldout_neurons : sequence of int, optional
        Predicted but never input; always in the loss (co-smoothing).
    n_forward : int, optional
        Forward-prediction bins at the end of every trial: their tokens are always zero
        (hidden, as masked bins), and they are always in the loss. None (default): taken
        from the data by :func:`dynlens.fit`.

    Examples
    --------
    >>> import torch
    >>> model = NDT(n_neurons=6, n_layers=2, n_heads=1, ff_dim=16, latent_dim=3)
    >>> out = model(torch.zeros(2, 15, 6))
    >>> tuple(out["log_rates"].shape), tuple(out["latents"].shape)
    ((2, 15, 6), (2, 15, 3))
    """

    model_type = "ndt"
    loss_label = "Poisson NLL per scored entry\n(masked bins, held-out neurons, forward bins)"
    #: Whether the encoder layers may take PyTorch's fused eval-mode kernel
    #: (``nn.TransformerEncoderLayer``'s fast path) on the CPU. Off: on the CPU that kernel
    #: was slower than the layers' ordinary path, whose attention is
    #: ``F.scaled_dot_product_attention`` (1.14x at one trial, 1.3x at 256 trials, with a
    #: band mask, one thread; ``benchmarks/bench_inference.md``). Other devices keep PyTorch's
    #: choice.
    cpu_fast_path: ClassVar[bool] = False

    def __init__(self, n_neurons: int, latent_dim: int | None = None,
                 heldout_neurons: Sequence[int] | None = None, **options: Any) -> None:
        super().__init__()
        check_keywords(options, NDTConfig.__dataclass_fields__, "NDT")
        self.config = NDTConfig(
            n_neurons=n_neurons, latent_dim=latent_dim,
            heldout_neurons=[] if heldout_neurons is None else list(heldout_neurons), **options)
        cfg = self.config
        n_in = len(self.heldin_index)
        width = cfg.d_model or n_in
        self.embed = nn.Identity() if cfg.d_model is None else nn.Linear(n_in, width)
        if cfg.positions == "learned":
            self.position = nn.Parameter(torch.zeros(cfg.max_bins, width))
            nn.init.normal_(self.position, std=0.02)
        self.embedding_dropout = nn.Dropout(cfg.dropout_embedding)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(width, cfg.n_heads, cfg.ff_dim, cfg.dropout_attention,
                                       batch_first=True, norm_first=True)
            for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(width)
        self.rates_dropout = nn.Dropout(cfg.dropout_rates)
        self.bottleneck = None if cfg.latent_dim is None else nn.Linear(width, cfg.latent_dim)
        self.readout = nn.Linear(cfg.latent_dim or width, cfg.n_neurons)
        self._constants: dict[tuple, torch.Tensor] = {}  # band masks, sinusoidal positions

    @property
    def label(self) -> str:
        latent = f", latents {self.config.latent_dim}" if self.config.latent_dim else ""
        return f"NDT-{self.config.n_layers}x{self.config.n_heads}{latent}"

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim or (self.config.d_model or len(self.heldin_index))

    def no_dynamics_reason(self) -> str:
        return ("an NDT is a transformer without a generator, so there are no dynamics to "
                "open; align its latents with the truth instead (model.infer(data).latents, "
                "a bottleneck when latent_dim is given, with dl.AffineAlignment or "
                "dl.metrics.state_r2)")

    def fit_defaults(self) -> dict[str, Any]:
        """The published optimiser settings: AdamW 1e-3, weight decay 5e-5, batch 64,
        gradient clip 200, whole trials from the start."""
        return {"lr": 1e-3, "weight_decay": 5e-5, "batch_size": 64, "clip_grad_norm": 200.0,
                "bins_per_group": 0}

    # -- the forward pass -------------------------------------------------------------
    def _constant(self, name: str, n_bins: int, device: torch.device, dtype: torch.dtype,
                 build: Any) -> torch.Tensor:
        """``build(n_bins, device, dtype)``, built once per length, device and dtype and then
        reused (outside inference mode, so that training may use what inference built)."""
        key = (name, n_bins, str(device), dtype)
        if key not in self._constants:
            with torch.inference_mode(False), torch.no_grad():
                self._constants[key] = build(n_bins, device, dtype)
        return self._constants[key]

    def attention_mask(self, n_bins: int, device: torch.device,
                       dtype: torch.dtype = torch.float32) -> torch.Tensor | None:
        """``[bins, bins]`` additive mask: ``-inf`` where bin i may not attend to bin j
        (outside the band), 0 elsewhere; None without a band. Cached per length."""
        if self.config.context_backward is None and self.config.context_forward is None:
            return None
        return self._constant("band", n_bins, device, dtype, self._band)

    def _band(self, n_bins: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        back, fwd = self.config.context_backward, self.config.context_forward
        offset = (torch.arange(n_bins, device=device)[None, :]
                  - torch.arange(n_bins, device=device)[:, None])  # j - i
        blocked = torch.zeros(n_bins, n_bins, dtype=torch.bool, device=device)
        if back is not None:
            blocked |= offset < -back
        if fwd is not None:
            blocked |= offset > fwd
        return torch.zeros(n_bins, n_bins, device=device, dtype=dtype).masked_fill(
            blocked, float("-inf"))

    def positions_for(self, n_bins: int, width: int, device: torch.device) -> torch.Tensor:
        """``[bins, width]`` position embeddings (sinusoidal ones cached per length)."""
        if self.config.positions == "learned":
            if n_bins > self.config.max_bins:
                raise DynlensValueError(
                    f"spikes: expected at most max_bins={self.config.max_bins} bins for "
                    f"learned positions, found {n_bins}")
            return self.position[:n_bins]
        return self._constant("sinusoid", n_bins, device, torch.float32,
                             lambda n, dev, dtype: _sinusoid(n, width, dev, dtype))

    def forward(self, spikes: torch.Tensor, bin_mask: torch.Tensor | None = None, *,
                n_forward: int | None = None) -> dict[str, torch.Tensor]:
        """Log-rates and latents of spikes ``[batch, bins, n_neurons]``; ``bin_mask``
        ``[batch, input bins]`` (True = hidden) zeroes those bins of the input. The last
        ``n_forward`` bins (default: the model's) are never read: their tokens are zeros."""
        x = self.input_spikes(spikes, n_forward)
        if bin_mask is not None:
            x = x.masked_fill(bin_mask[..., None], 0.0)
        x = F.pad(x, (0, 0, 0, spikes.shape[1] - x.shape[1]))  # forward bins: zero tokens
        h = self.embed(torch.log1p(x))
        h = self.embedding_dropout(h + self.positions_for(h.shape[1], h.shape[-1], h.device))
        mask = self.attention_mask(h.shape[1], h.device, h.dtype)
        outputs = []
        with self._layer_path(h.device):
            for layer in self.layers:
                h = layer(h, src_mask=mask)
                outputs.append(h)
        h = self.norm(h)
        latents = outputs[self.config.latent_layer] if self.bottleneck is None else \
            self.bottleneck(h)
        features = h if self.bottleneck is None else latents
        return {"log_rates": self.readout(self.rates_dropout(features)), "latents": latents}

    def _layer_path(self, device: torch.device) -> contextlib.AbstractContextManager:
        """The fused-kernel switch for the encoder layers (see ``cpu_fast_path``)."""
        if device.type == "cpu" and not self.cpu_fast_path:
            return _without_fast_path()
        return contextlib.nullcontext()

    # -- the contract ------------------------------------------------------------------
    def sample_mask(self, n_trials: int, n_bins: int, device: torch.device,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """``[trials, bins]``, True on the hidden bins: ``round(mask_ratio * bins)`` distinct
        bins of each trial (at least one), or with ``mask_span > 1`` runs of 1 to
        ``mask_span`` bins starting at distinct bins, about as many bins in all."""
        span = self.config.mask_span
        n_hidden = max(1, round(self.config.mask_ratio * n_bins))
        n_runs = max(1, min(n_bins, round(n_hidden / ((1 + span) / 2))))
        starts = torch.rand(n_trials, n_bins, generator=generator).argsort(1)[:, :n_runs]
        lengths = torch.randint(1, span + 1, (n_trials, n_runs), generator=generator)
        t = torch.arange(n_bins)
        hidden = ((t[None, None] >= starts[..., None])
                  & (t[None, None] < (starts + lengths)[..., None])).any(1)
        return hidden.to(device)

    def loss(self, batch: torch.Tensor, *, n_bins: int | None = None,
             epoch: int = 0) -> LossTerms:
        """Poisson NLL on the hidden bins' held-in neurons, on every held-out entry and on
        every forward-prediction bin.

        The hidden bins are drawn among the input bins (all but the forward bins). In eval
        mode (validation) they are drawn from a fixed seed, so that validation losses
        compare across epochs.
        """
        generator = None if self.training else torch.Generator().manual_seed(0)
        n_seen = batch.shape[1] - self.n_forward
        hidden = self.sample_mask(batch.shape[0], max(n_seen, 1), batch.device, generator)
        log_rates = self(batch, hidden)["log_rates"]
        total = self.reconstruction(log_rates, batch, hidden, n_bins)
        return LossTerms(total, {"masked_fraction": hidden.float().mean().item()})

    def reconstruction(self, log_rates: torch.Tensor, spikes: torch.Tensor,
                       hidden: torch.Tensor, n_bins: int | None = None) -> torch.Tensor:
        """Mean Poisson NLL over the scored entries: held-in neurons in the ``hidden`` bins
        ``[trials, input bins]``, held-out neurons and forward-prediction bins (the bins
        after ``hidden``'s) everywhere; only the first ``n_bins`` bins."""
        nll = F.poisson_nll_loss(log_rates, spikes, log_input=True, full=True, reduction="none")
        weight = self.loss_weights(nll, hidden[..., None], n_bins)
        return (nll * weight).sum() / weight.sum().clamp_min(1.0)

    def infer_batch(self, spikes: torch.Tensor, *, n_forward: int,
                    inputs: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Log-rates and latents of one batch (nothing hidden but the forward-prediction
        bins; see ``Model.infer``)."""
        out = self(spikes, n_forward=n_forward)
        return {"log_rates": out["log_rates"], "latents": out["latents"]}


def _sinusoid(n_bins: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The sinusoidal position embeddings of Vaswani et al. ``[bins, width]``."""
    t = torch.arange(n_bins, device=device, dtype=dtype)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, device=device, dtype=dtype)
                     * (-math.log(10000.0) / width))
    pe = torch.zeros(n_bins, width, device=device, dtype=dtype)
    pe[:, 0::2] = torch.sin(t * freq)
    pe[:, 1::2] = torch.cos(t * freq[: width // 2])
    return pe


@contextlib.contextmanager
def _without_fast_path() -> Iterator[None]:
    """PyTorch's multi-head-attention fast path off for the block, then as it was."""
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)
