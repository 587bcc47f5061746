"""LFADS: latent factor analysis via dynamical systems (Sussillo et al. 2016; Pandarinath et
al. 2018), written from the papers.

A variational sequential autoencoder. A bidirectional GRU reads a trial's held-in spikes and
gives a Gaussian posterior over the initial condition ``g0`` of a generator GRU (prior
``N(0, ic_prior_var)``). With a controller (``co_dim > 0``), a second bidirectional GRU
(forward only with ``causal_controller``) feeds a controller GRU that, bin by bin, also sees
the previous factors and emits a Gaussian posterior over an inferred input ``u_t`` to the
generator (prior: a learned AR(1) process).
Factors are a row-normalised linear map of the generator state without bias; log-rates are
an affine readout of the factors (Poisson observations). The loss is the reconstruction
(Poisson negative log-likelihood summed over bins and neurons, averaged over trials) plus
the two KL terms and an L2 penalty on the recurrent weights, KL and L2 ramped in over the
first epochs. Coordinated dropout (training only) hides a random fraction of the encoders'
input entries and scores the reconstruction on exactly those.

``model.dynamics`` is the generator (:class:`~dynlens.models.lfads_parts.LFADSGenerator`,
discrete, input ``u`` = inferred inputs then external inputs), opened like an SAE's.

Training on a CPU runs the recurrent layers through hand-written backwards, the same math on
the same parameters: the controller-generator loop as one autograd node (:mod:`.lfads_loop`);
small encoders in one loop over time (:func:`.gru_sequence.run_grus`), a small generator
without a controller likewise (large ones keep torch's ``nn.GRU``, as fast there).
``dynlens.models.gru_sequence.hand_backward(False, False)`` switches back to torch's GRUs with
autograd; ``benchmarks/bench_lfads.md`` measures both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import DynlensValueError
from ..utils import (
    check_fraction,
    check_keywords,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    settings_signature,
)
from .base import LossTerms, Model, check_forward, check_heldout, register
from .encoder import BidirectionalGRUEncoder
from .gru_sequence import enabled, run_grus
from .inference import Inference
from .lfads_loop import LoopWeights, controlled_loop
from .lfads_parts import AR1Prior, LFADSGenerator, gaussian_kl
from .losses import poisson_nll_terms

__all__ = ["LFADS", "LFADSConfig"]

_SIZES = ("ic_dim", "n_factors", "ic_enc_dim", "gen_dim", "ci_enc_dim", "con_dim")


@dataclass
class LFADSConfig:
    """Everything needed to rebuild an :class:`LFADS` (JSON in checkpoints); see LFADS.

    Attributes
    ----------
    n_neurons : int
        Neurons the readout predicts (held-in plus held-out).
    ic_dim, n_factors, ic_enc_dim, gen_dim, ci_enc_dim, con_dim : int
        Sizes: initial-condition latent, factors, IC encoder units per direction, generator,
        controller-input encoder units per direction, controller.
    co_dim : int
        Inferred input dimensions (0: no controller).
    ext_input_dim : int
        External inputs given to the generator.
    heldout_neurons : list of int
        Predicted but never given to the encoders (sorted).
    dropout, cd_rate : float
        Dropout; the coordinated-dropout fraction of held-in input entries (0: off).
    cell_clip : float
        Generator state clipping.
    ic_prior_var, ic_post_var_min : float
        Variance of the initial condition's prior; floor of its posterior variance.
    co_prior_tau, co_prior_nvar : float
        Initial time constant (bins) and innovation variance of the inferred inputs' prior.
    ci_lag : int
        The controller sees the encoder's output this many bins back.
    causal_controller : bool
        The controller-input encoder runs forward in time only.
    kl_ramp_epochs, l2_ramp_epochs : int
        Epochs over which the KL and L2 weights rise from 0 to 1.
    kl_ic_scale, kl_co_scale : float
        Scales of the initial condition's and the inferred inputs' KL terms (>= 0).
    l2_gen_scale, l2_con_scale : float
        L2 penalty scales of the generator's and controller's recurrent weights.
    n_forward : int or None
        Forward-prediction bins at the end of every trial (None: unset, taken from the data).

    Examples
    --------
    >>> config = LFADSConfig(n_neurons=6, heldout_neurons=[5, 2], co_dim=0)
    >>> config.heldout_neurons, config.gen_dim  # sorted; the published default size
    ([2, 5], 200)
    >>> LFADSConfig(**config.to_dict()) == config  # the JSON round trip of checkpoints
    True
    >>> LFADSConfig(n_neurons=6, dropout=1.5)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: dropout: ...
    """

    n_neurons: int
    ic_dim: int = 64
    n_factors: int = 50
    ic_enc_dim: int = 128
    gen_dim: int = 200
    ci_enc_dim: int = 128
    con_dim: int = 128
    co_dim: int = 1
    ext_input_dim: int = 0
    heldout_neurons: list[int] = field(default_factory=list)
    dropout: float = 0.05
    cd_rate: float = 0.3
    cell_clip: float = 5.0
    ic_prior_var: float = 0.1
    ic_post_var_min: float = 1e-4
    co_prior_tau: float = 10.0
    co_prior_nvar: float = 0.1
    ci_lag: int = 1
    causal_controller: bool = False
    kl_ramp_epochs: int = 50
    l2_ramp_epochs: int = 50
    kl_ic_scale: float = 1.0
    kl_co_scale: float = 1.0
    l2_gen_scale: float = 2000.0
    l2_con_scale: float = 0.0
    n_forward: int | None = None

    def __post_init__(self) -> None:
        self.n_neurons = check_positive_int(self.n_neurons, "n_neurons")
        for name in _SIZES:
            setattr(self, name, check_positive_int(getattr(self, name), name))
        for name in ("co_dim", "ext_input_dim", "ci_lag", "kl_ramp_epochs", "l2_ramp_epochs"):
            setattr(self, name, check_nonnegative_int(getattr(self, name), name))
        self.dropout = check_fraction(self.dropout, "dropout")
        self.cd_rate = check_fraction(self.cd_rate, "cd_rate")
        for name in ("cell_clip", "ic_prior_var", "ic_post_var_min", "co_prior_tau",
                     "co_prior_nvar"):
            setattr(self, name, check_positive_float(getattr(self, name), name))
        for name in ("kl_ic_scale", "kl_co_scale", "l2_gen_scale", "l2_con_scale"):
            setattr(self, name, check_nonnegative_float(getattr(self, name), name))
        self.heldout_neurons = check_heldout(self.heldout_neurons, self.n_neurons)
        self.n_forward = check_forward(self.n_forward)
        if not isinstance(self.causal_controller, (bool, np.bool_)):
            raise DynlensValueError("causal_controller: expected True or False, found "
                                    f"{self.causal_controller!r}")
        self.causal_controller = bool(self.causal_controller)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@register
class LFADS(Model):
    """LFADS with an initial-condition posterior, an optional controller and inferred inputs.

    Parameters
    ----------
    n_neurons : int
        Neurons the readout predicts (held-in plus held-out).
    ic_dim, n_factors, ic_enc_dim, gen_dim, ci_enc_dim, con_dim : int
        Sizes: initial-condition latent, factors, IC encoder units per direction, generator,
        controller-input encoder units per direction, controller. Defaults are the published
        ones (64, 50, 128, 200, 128, 128); scale them down for small data or a CPU.
    co_dim : int
        Inferred input dimensions; 0 switches the controller off (no controller parameters).
    ext_input_dim : int
        External inputs given to the generator (``data.inputs`` must have this many).
    heldout_neurons : sequence of int, optional
        Predicted but never given to the encoders (co-smoothing); always in the loss.
    dropout : float
        Dropout on the encoders' input and on the generator states (the published keep
        probability 0.95).
    cd_rate : float
        Coordinated dropout: fraction of held-in input entries hidden from the encoders in
        training, and the only held-in entries the reconstruction scores (0: off).
    cell_clip : float
        Generator state clipping.
    ic_prior_var, ic_post_var_min : float
        Variance of the ``N(0, .)`` prior of the initial condition; floor of its posterior
        variance.
    co_prior_tau, co_prior_nvar : float
        Initial time constant (bins) and innovation variance of the AR(1) prior of inferred
        inputs (both learned).
    ci_lag : int
        The controller sees the encoder's output this many bins back.
    causal_controller : bool
        The controller-input encoder runs forward in time only, so the inferred input at bin
        ``t`` depends on the spikes before ``t - ci_lag + 1`` (through the controller; the
        initial condition still reads the whole trial). Default False: a bidirectional
        encoder, which may place an input before the spikes that reveal it. With
        ``ci_lag=0`` a causal controller can place an input at the bin it acts on
        (``studies/architectures``: every pulse, at .03 of rate R2).
    kl_ramp_epochs, l2_ramp_epochs : int
        The KL and L2 weights rise linearly from 0 to 1 over this many epochs (0: no ramp).
        In eval mode (validation) they are 1, so validation losses compare across epochs.
    kl_ic_scale, kl_co_scale : float
        Scales (>= 0) of the initial condition's and the inferred inputs' KL terms, on top
        of the ramp: the KL weights AutoLFADS searches. 1 (default) gives the evidence lower
        bound; 0 drops the term. Both terms, like the reconstruction, are per trial (summed
        over bins), so a value carries over only from an implementation that normalises its
        loss terms the same way.
    l2_gen_scale, l2_con_scale : float
        L2 penalty ``scale * 0.5 * mean(W_hh ** 2)`` on the generator's and controller's
        recurrent weights.
    n_forward : int, optional
        Forward-prediction bins at the end of every trial: never given to the encoders; the
        generator runs on through them without inferred inputs (zero controller output), and
        they are always in the reconstruction. None (default): taken from the data by
        :func:`dynlens.fit`.

    Examples
    --------
    >>> import torch
    >>> model = LFADS(n_neurons=6, ic_dim=4, n_factors=3, ic_enc_dim=8, gen_dim=10,
    ...               ci_enc_dim=8, con_dim=8, co_dim=1)
    >>> out = model(torch.zeros(2, 15, 6))
    >>> tuple(out["log_rates"].shape), tuple(out["inputs"].shape), model.dynamics.dim
    ((2, 15, 6), (2, 15, 1), 10)
    """

    model_type = "lfads"
    latent_option = "gen_dim"  # the generator's state is LFADS's latent state
    loss_label = "loss per trial\n(NLL summed over bins and neurons, + KL + L2)"

    def __init__(self, n_neurons: int, *, heldout_neurons: Sequence[int] | None = None,
                 **options: Any) -> None:
        # the options and their defaults are LFADSConfig's alone (the signature shown by
        # help() and editors is spelt out from it below the class)
        super().__init__()
        check_keywords(options, set(LFADSConfig.__dataclass_fields__) - {"n_neurons"}, "LFADS")
        self.config = LFADSConfig(
            n_neurons=n_neurons,
            heldout_neurons=[] if heldout_neurons is None else list(heldout_neurons), **options)
        cfg = self.config
        n_in = len(self.heldin_index)
        self.input_dropout = nn.Dropout(cfg.dropout)
        self.ic_encoder = BidirectionalGRUEncoder(n_in, 2 * cfg.ic_dim, cfg.ic_enc_dim,
                                                  cfg.dropout)
        self.ic_to_gen = nn.Linear(cfg.ic_dim, cfg.gen_dim)
        if cfg.co_dim:
            self.ci_encoder = nn.GRU(n_in, cfg.ci_enc_dim, batch_first=True,
                                     bidirectional=not cfg.causal_controller)
            self.controller = nn.GRUCell(self._ci_width + cfg.n_factors, cfg.con_dim)
            self.to_co = nn.Linear(cfg.con_dim, 2 * cfg.co_dim)
            self.co_prior = AR1Prior(cfg.co_dim, cfg.co_prior_tau, cfg.co_prior_nvar)
        self.dynamics = LFADSGenerator(cfg.gen_dim, max(1, cfg.co_dim + cfg.ext_input_dim),
                                       cfg.cell_clip)
        self.state_dropout = nn.Dropout(cfg.dropout)
        self.factor_weight = nn.Parameter(torch.empty(cfg.n_factors, cfg.gen_dim))
        nn.init.normal_(self.factor_weight)
        self.readout = nn.Linear(cfg.n_factors, cfg.n_neurons)

    @property
    def n_ext_inputs(self) -> int:
        """External inputs ``fit`` and ``infer`` must pass (``data.inputs``)."""
        return self.config.ext_input_dim

    @property
    def latent_dim(self) -> int:
        return self.config.gen_dim

    @property
    def _ci_width(self) -> int:
        """Width of the controller-input encoder's output (one or two directions)."""
        cfg = self.config
        return cfg.ci_enc_dim * (1 if cfg.causal_controller else 2)

    @property
    def label(self) -> str:
        """``"LFADS-200 (co 1)"`` or ``"LFADS-200 (no controller)"``."""
        co = f"co {self.config.co_dim}" if self.config.co_dim else "no controller"
        return f"LFADS-{self.config.gen_dim} ({co})"

    def fit_defaults(self) -> dict[str, Any]:
        """Adam at 4e-3 without weight decay (LFADS has its own L2), batches of 32 trials,
        whole trials from the start, the published gradient clip of 200.

        Batches of 32, not the published 128: the KL and L2 ramps count epochs, and with a
        few hundred training trials 128 gives about 5 steps per epoch, so the KL weight
        reaches 1 after some 250 steps (the published ramp lasts 2000) and the initial
        condition's posterior collapses onto the prior before the generator has learned to
        use it. Measured on the chaotic RNN (640 training trials, generator 64, no
        controller, 300 epochs at most): test rate R2 0.00 with batches of 128, 0.76 with 32.
        """
        return {"lr": 4e-3, "weight_decay": 0.0, "batch_size": 32, "bins_per_group": 0,
                "clip_grad_norm": 200.0}

    # -- the forward pass -------------------------------------------------------------
    def factors_of(self, states: torch.Tensor) -> torch.Tensor:
        """Factors from generator states: rows of the factor map have unit norm, no bias."""
        return self.state_dropout(states) @ self._factor_map().T

    def _factor_map(self) -> torch.Tensor:
        return self.factor_weight / self.factor_weight.norm(dim=1, keepdim=True)

    def forward(self, spikes: torch.Tensor, inputs: torch.Tensor | None = None, *,
                sample: bool | None = None, cd_mask: torch.Tensor | None = None,
                n_forward: int | None = None) -> dict[str, torch.Tensor]:
        """Encode held-in spikes ``[batch, bins, n_neurons]`` and generate every bin.

        ``sample`` draws from the posteriors (default: in training mode only; otherwise
        their means are used). ``cd_mask`` (``[batch, input bins, held-in]``, True = hidden)
        zeroes those entries of the encoders' input and rescales the rest. The last
        ``n_forward`` bins (default: the model's) are never read: the generator runs on
        through them with zero inferred input.
        """
        sample = self.training if sample is None else sample
        x = self.input_spikes(spikes, n_forward)
        if cd_mask is not None:
            x = x.masked_fill(cd_mask, 0.0) / (1 - self.config.cd_rate)
        x = self.input_dropout(x)
        ext = self._external(inputs, spikes)
        encoded = self._encode(x)
        out = self._initial_condition(encoded[0][1], sample)
        if self.config.co_dim:
            out.update(self._controlled_run(x, encoded[1][0], out["g0"], ext, sample))
            out.update(self._free_run(out, spikes.shape[1], ext))
        else:
            states = self.dynamics.run(out["g0"], ext if ext is not None else
                                       spikes.new_zeros(*spikes.shape[:2], 1))
            out.update(states=states, factors=self.factors_of(states))
        out["log_rates"] = self.readout(out["factors"])
        return out

    def _external(self, inputs: torch.Tensor | None, spikes: torch.Tensor) -> torch.Tensor | None:
        n_ext = self.config.ext_input_dim
        if n_ext == 0:
            return None
        if inputs is None or tuple(inputs.shape) != (*spikes.shape[:2], n_ext):
            found = "none" if inputs is None else f"shape {tuple(inputs.shape)}"
            raise DynlensValueError(
                f"inputs: the model takes {n_ext} external input(s); expected shape "
                f"[{spikes.shape[0]}, {spikes.shape[1]}, {n_ext}], found {found}")
        return inputs.to(spikes.dtype)

    def _encode(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Both encoders over ``log1p`` of the input, ``nn.GRU``'s ``(out, h_n)``
        each; in one loop over time when training on a CPU (:func:`.run_grus`)."""
        grus = [self.ic_encoder.gru] + ([self.ci_encoder] if self.config.co_dim else [])
        return run_grus(grus, torch.log1p(x))

    def _initial_condition(self, h_n: torch.Tensor, sample: bool) -> dict[str, torch.Tensor]:
        """The IC posterior from the IC encoder's final states ``[2, batch, ic_enc_dim]``."""
        enc = self.ic_encoder  # its forward, from the final states on
        final = torch.cat([h_n[0], h_n[1]], dim=-1)
        mean, logvar = enc.to_ic(enc.dropout(final)).chunk(2, dim=-1)
        var = torch.exp(logvar) + self.config.ic_post_var_min
        ic = mean + var.sqrt() * torch.randn_like(mean) if sample else mean
        return {"ic_mean": mean, "ic_var": var, "g0": self.ic_to_gen(ic)}

    def _controlled_run(self, x: torch.Tensor, ci: torch.Tensor, g0: torch.Tensor,
                        ext: torch.Tensor | None, sample: bool) -> dict[str, torch.Tensor]:
        """The controller and the generator, bin by bin (each needs the other's last output);
        ``ci`` is the controller-input encoder's output."""
        cfg = self.config
        ci = F.pad(ci, (0, 0, cfg.ci_lag, 0))[:, :x.shape[1]]  # bin t sees bin t - lag
        g = g0.clamp(-cfg.cell_clip, cfg.cell_clip)
        factor = self.factors_of(g)
        if enabled("loop"):
            return self._hand_loop(ci, g, factor, ext, sample)
        con = g.new_zeros(g.shape[0], cfg.con_dim)
        keys = ("states", "factors", "co_mean", "co_var", "inputs")
        steps: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
        for t in range(x.shape[1]):
            con = self.controller(torch.cat([ci[:, t], factor], -1), con)
            mean, logvar = self.to_co(con).chunk(2, dim=-1)
            var = torch.exp(logvar)
            u = mean + var.sqrt() * torch.randn_like(mean) if sample else mean
            g = self.dynamics(g, u if ext is None else torch.cat([u, ext[:, t]], -1))
            factor = self.factors_of(g)
            for key, value in zip(keys, (g, factor, mean, var, u)):
                steps[key].append(value)
        return {k: torch.stack(v, 1) for k, v in steps.items()}

    def _hand_loop(self, ci: torch.Tensor, g: torch.Tensor, factor: torch.Tensor,
                   ext: torch.Tensor | None, sample: bool) -> dict[str, torch.Tensor]:
        """``_controlled_run``'s loop as one autograd node (:mod:`.lfads_loop`), same math."""
        cfg, con, gen = self.config, self.controller, self.dynamics.cell
        n_ci, (n_bins, batch) = self._ci_width, ci.shape[1::-1]
        # the controller's input weights split between the encoder's output and the factors
        # (no concatenation per bin); the encoder part for all bins in one matmul
        ci_proj = F.linear(ci.transpose(0, 1), con.weight_ih[:, :n_ci], con.bias_ih)
        gen_in = (gen.bias_ih.expand(n_bins, batch, -1) if ext is None else
                  F.linear(ext[:, :n_bins].transpose(0, 1), gen.weight_ih[:, cfg.co_dim:],
                           gen.bias_ih))
        eps = g.new_empty(n_bins, batch, cfg.co_dim).normal_() if sample else None
        dropout = self.state_dropout
        mask = (F.dropout(g.new_ones(n_bins, batch, cfg.gen_dim), dropout.p)
                if dropout.training and dropout.p > 0 else None)
        weights = LoopWeights(con.weight_ih[:, n_ci:], con.weight_hh, con.bias_hh,
                              self.to_co.weight, self.to_co.bias, gen.weight_ih[:, :cfg.co_dim],
                              gen.weight_hh, gen.bias_hh, self._factor_map())
        states, factors, co, u = (v.transpose(0, 1) for v in controlled_loop(
            ci_proj, factor, g, gen_in, weights, eps, mask))
        mean, logvar = co.chunk(2, dim=-1)
        return {"states": states, "factors": factors, "co_mean": mean,
                "co_var": torch.exp(logvar), "inputs": u}

    def _free_run(self, out: dict[str, torch.Tensor], n_bins: int,
                  ext: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """States and factors of the bins after the controlled run (the forward-prediction
        bins), with zero inferred input; ``inputs`` padded with those zeros."""
        states, n_seen = out["states"], out["states"].shape[1]
        if n_seen == n_bins:
            return {}
        zeros = states.new_zeros(states.shape[0], n_bins - n_seen, self.config.co_dim)
        u = zeros if ext is None else torch.cat([zeros, ext[:, n_seen:]], -1)
        more = self.dynamics.run(states[:, -1], u)
        return {"states": torch.cat([states, more], 1),
                "factors": torch.cat([out["factors"], self.factors_of(more)], 1),
                "inputs": torch.cat([out["inputs"], zeros], 1)}

    # -- the contract ------------------------------------------------------------------
    def loss(self, batch: torch.Tensor, *, n_bins: int | None = None, epoch: int = 0,
             inputs: torch.Tensor | None = None) -> LossTerms:
        """Reconstruction + ramped, scaled KL (initial condition, inputs) + ramped L2."""
        cfg = self.config
        cd_mask = None
        if self.training and cfg.cd_rate > 0:
            shape = (batch.shape[0], batch.shape[1] - self.n_forward, len(self.heldin_index))
            cd_mask = torch.rand(shape, device=batch.device) < cfg.cd_rate
        out = self(batch, inputs, cd_mask=cd_mask)
        recon = self.reconstruction(out["log_rates"], batch, cd_mask, n_bins)
        kl_ic = gaussian_kl(out["ic_mean"], out["ic_var"], 0.0, cfg.ic_prior_var).sum(-1).mean()
        n_seen = out["co_mean"].shape[1] if cfg.co_dim else 0
        kl_co = (self.co_prior.kl(out["co_mean"], out["co_var"],
                                  out["inputs"][:, :n_seen]).mean()
                 if cfg.co_dim else recon.new_zeros(()))
        l2 = self.l2_penalty()
        kl_w = _ramp(epoch, cfg.kl_ramp_epochs) if self.training else 1.0
        l2_w = _ramp(epoch, cfg.l2_ramp_epochs) if self.training else 1.0
        # scaled after the sum is formed; a scale of 1 is exact, as before the scales
        total = recon + kl_w * (cfg.kl_ic_scale * kl_ic + cfg.kl_co_scale * kl_co) + l2_w * l2
        return LossTerms(total, {"recon": recon.item(), "kl_ic": kl_ic.item(),
                                 "kl_co": kl_co.item(), "l2": l2.item(),
                                 "kl_weight": kl_w, "l2_weight": l2_w})

    def reconstruction(self, log_rates: torch.Tensor, spikes: torch.Tensor,
                       cd_mask: torch.Tensor | None = None,
                       n_bins: int | None = None) -> torch.Tensor:
        """Poisson NLL summed over the scored entries, averaged over trials.

        Scored: held-out neurons and forward-prediction bins always; held-in entries of the
        input bins that ``cd_mask`` hid (all when None); only the first ``n_bins`` bins.
        """
        nll = poisson_nll_terms(log_rates, spikes)
        weight = self.loss_weights(nll, cd_mask, n_bins)
        return (nll * weight).sum((1, 2)).mean()

    def l2_penalty(self) -> torch.Tensor:
        cfg = self.config
        penalty = 0.5 * cfg.l2_gen_scale * self.dynamics.cell.weight_hh.pow(2).mean()
        if cfg.co_dim and cfg.l2_con_scale:
            penalty = penalty + 0.5 * cfg.l2_con_scale * self.controller.weight_hh.pow(2).mean()
        return penalty

    def infer(self, data: Any, batch_size: int = 512, threads: int | str = "auto",
              n_samples: int | None = None) -> Inference:
        """Rates, factors, generator states (latents), initial conditions and inferred inputs.

        Posterior means by default; ``n_samples``: the average over that many posterior
        samples (rates averaged as rates). External inputs come from ``data.inputs``.
        """
        if n_samples is not None:
            n_samples = check_positive_int(n_samples, "n_samples")
        return self.infer_batches(data, batch_size, threads, n_samples=n_samples)

    def infer_batch(self, spikes: torch.Tensor, *, n_forward: int,
                    inputs: torch.Tensor | None = None,
                    n_samples: int | None = None) -> dict[str, torch.Tensor]:
        """One batch of ``infer``: posterior means, or the average of ``n_samples`` draws."""
        draws = [self(spikes, inputs, sample=n_samples is not None, n_forward=n_forward)
                 for _ in range(n_samples or 1)]
        names = {"states": "latents", "factors": "factors", "ic_mean": "initial_conditions",
                 "ic_var": "ic_var"} | ({"inputs": "inputs"} if self.config.co_dim else {})
        out = {name: torch.stack([d[key] for d in draws]).mean(0) for key, name in names.items()}
        out["ic_std"] = out.pop("ic_var").sqrt()
        out["rates"] = torch.stack([d["log_rates"].exp() for d in draws]).mean(0)
        return out


LFADS.__init__.__signature__ = settings_signature(LFADS.__init__, LFADSConfig)


def _ramp(epoch: int, epochs: int) -> float:
    """Linear ramp from 0 (first epoch) to 1 (from epoch ``epochs`` on)."""
    return 1.0 if epochs == 0 else min(1.0, epoch / epochs)
