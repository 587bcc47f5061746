"""The fit loop: ``dl.fit(model, data)`` trains any dynlens model on spike counts.

One loop for every model family: it calls only the model contract
(:mod:`dynlens.models.base`): the model's ``loss`` (with its named terms, recorded as
history columns), its ``fit_defaults`` and its neurons. The steps: settings, the data split,
an optimiser and schedule, resumption from ``checkpoint_dir``, then epochs of training,
validation, bookkeeping of the best weights and checkpoints, and early stopping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..errors import DynlensDivergenceError, DynlensTypeError, DynlensValueError
from ..models.base import check_model, inputs_of
from ..models.checkpoint import read_checkpoint, save_model, write_checkpoint
from ..models.trained_on import training_record
from ..threads import ThreadPolicy, check_threads, model_work
from ..utils import (
    changed_fields,
    check_choice,
    check_fields,
    check_fraction,
    check_keywords,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    merge_settings,
    resolve_device,
    seed_everything,
    settings_signature,
)

__all__ = ["FitConfig", "default_fit_config", "fit"]

_COLUMNS = ["epoch", "train_loss", "valid_loss", "scored_bins", "lr", "seconds", "threads"]


@dataclass(frozen=True)
class FitConfig:
    """Settings of :func:`fit`, given as ``fit(..., config=FitConfig(...))`` or as flat
    keywords of the same names (or both; see :func:`default_fit_config`).

    The defaults here are the only ones; a model's ``fit_defaults()`` replaces some (an
    LFADS trains in batches of 32), and :func:`default_fit_config` says what a model gets.
    Frozen: one object can be shared between fits and changed with ``dataclasses.replace``.

    Attributes
    ----------
    max_epochs : int
        Upper bound on passes over the training trials.
    batch_size : int
        Trials per optimisation step.
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
        AdamW weight decay (0: none).
    bins_per_group, epochs_per_group : int
        Gradual trial lengthening: the loss covers the first
        ``min(k * bins_per_group, n_bins)`` bins, ``k = epoch // epochs_per_group + 1``.
        ``bins_per_group=0`` turns lengthening off. When full length would only come after
        half of ``max_epochs``, ``epochs_per_group`` is shortened so that it comes at a
        quarter of ``max_epochs`` (the history's ``scored_bins`` column shows the schedule).
    warmup_epochs : int
        Linear learning-rate warm-up.
    min_lr_ratio : float
        The cosine schedule decays the learning rate to ``lr * min_lr_ratio`` at ``max_epochs``.
    clip_grad_norm : float
        Gradient-norm clipping threshold.
    patience : int
        Early stopping: epochs at full trial length without a better validation loss.
    min_delta : float
        Relative improvement of the validation loss that counts as better.

    Examples
    --------
    >>> FitConfig()
    FitConfig(max_epochs=300, batch_size=128, lr=0.001, weight_decay=1e-05, bins_per_group=10, epochs_per_group=20, warmup_epochs=5, min_lr_ratio=0.02, clip_grad_norm=10.0, patience=60, min_delta=0.0001)
    >>> FitConfig(max_epochs=0)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: max_epochs: expected a positive integer, found 0
    """  # noqa: E501

    max_epochs: int = 300
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-5
    bins_per_group: int = 10
    epochs_per_group: int = 20
    warmup_epochs: int = 5
    min_lr_ratio: float = 0.02
    clip_grad_norm: float = 10.0
    patience: int = 60
    min_delta: float = 1e-4

    def __post_init__(self) -> None:
        check_fields(self, _CHECKS)


#: The check of each FitConfig field (it returns the value in its canonical type).
_CHECKS = {
    "max_epochs": check_positive_int, "batch_size": check_positive_int,
    "lr": check_positive_float, "weight_decay": check_nonnegative_float,
    "bins_per_group": check_nonnegative_int, "epochs_per_group": check_positive_int,
    "warmup_epochs": check_nonnegative_int,
    "min_lr_ratio": lambda value, name: check_fraction(value, name, inclusive_high=True),
    "clip_grad_norm": check_positive_float, "patience": check_positive_int,
    "min_delta": check_fraction,
}


def default_fit_config(model: torch.nn.Module, config: FitConfig | None = None,
                       **overrides: Any) -> FitConfig:
    """The :class:`FitConfig` that :func:`fit` uses for ``model``, given ``config`` and
    ``overrides``.

    Each setting comes from, in order of precedence: ``overrides`` (flat keywords; None
    counts as not given), a field of ``config`` changed from :class:`FitConfig`'s default,
    the model's own ``fit_defaults()``, then :class:`FitConfig`'s default. A setting given
    both as a keyword and as a changed field of ``config``, with different values, is an
    error (:func:`dynlens.utils.merge_settings`).

    Parameters
    ----------
    model : dynlens.models.Model
        The model to train (its ``fit_defaults()`` are read).
    config : FitConfig, optional
        Settings as one object.
    **overrides
        Settings as flat keywords (the fields of :class:`FitConfig`).

    Examples
    --------
    >>> import dynlens as dl
    >>> lfads = dl.models.LFADS(n_neurons=4, gen_dim=8, ic_dim=2, n_factors=2, co_dim=0)
    >>> default_fit_config(lfads).batch_size  # the model's own; FitConfig's is 128
    32
    >>> default_fit_config(lfads, FitConfig(max_epochs=20), batch_size=64).batch_size
    64
    >>> default_fit_config(lfads, FitConfig(lr=0.01), lr=0.02)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: lr: expected one value, found lr=0.02 and config.lr=0.01; pass one of them
    """  # noqa: E501
    check_keywords(overrides, _CHECKS, "fit")
    model_defaults = dict(check_model(model).fit_defaults())
    foreign = set(model_defaults) - set(_CHECKS)
    if foreign:
        raise DynlensTypeError(
            f"model.fit_defaults(): expected FitConfig fields, found {sorted(foreign)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    config = merge_settings(FitConfig, config, given, "config")
    chosen = set(given) | changed_fields(config)
    return replace(config, **{k: v for k, v in model_defaults.items() if k not in chosen})


def _lr_factor(epoch: int, config: FitConfig) -> float:
    """Linear warm-up, then cosine decay from 1 to ``min_lr_ratio`` over ``max_epochs``."""
    if epoch < config.warmup_epochs:
        return (epoch + 1) / (config.warmup_epochs + 1)
    progress = (epoch - config.warmup_epochs) / max(1, config.max_epochs - config.warmup_epochs)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (
        1 + math.cos(math.pi * progress)
    )


def _epochs_per_group(n_bins: int, config: FitConfig) -> int:
    """``epochs_per_group``, shortened when full length would come after half of max_epochs.

    Then the trials reach full length by a quarter of ``max_epochs`` instead, so that short
    runs still spend most epochs on whole trials (and early stopping can act).
    """
    groups = -(-n_bins // config.bins_per_group)  # ceil
    if groups * config.epochs_per_group <= config.max_epochs // 2:
        return config.epochs_per_group
    return max(1, (config.max_epochs // 4) // groups)


def _scored_bins(epoch: int, n_bins: int, config: FitConfig) -> int:
    if config.bins_per_group == 0:
        return n_bins
    per_group = _epochs_per_group(n_bins, config)
    return min((epoch // per_group + 1) * config.bins_per_group, n_bins)


def _split_arrays(data, name: str, model, device: torch.device) -> dict:
    """A split's spikes, and its external inputs when the model takes them, as tensors."""
    try:
        part = data.split(name)
    except AttributeError as err:
        raise DynlensTypeError(
            f"data: expected a NeuralDataset with train/valid splits, found {type(data).__name__}"
        ) from err
    arrays = {"spikes": torch.as_tensor(np.asarray(part.spikes, dtype=np.float32),
                                        device=device), "inputs": None}
    inputs = inputs_of(part, model.n_ext_inputs)
    if inputs is not None:
        arrays["inputs"] = torch.as_tensor(inputs, device=device)
    return arrays


def _batch(arrays: dict, index) -> tuple[torch.Tensor, dict]:
    """The spikes of ``index`` and the keyword arguments (``inputs=``) that go with them."""
    inputs = arrays["inputs"]
    return arrays["spikes"][index], ({} if inputs is None else {"inputs": inputs[index]})


def _check_model_data(model, data) -> None:
    n_model = model.n_neurons
    spikes = getattr(data, "spikes", None)
    if spikes is None:
        raise DynlensTypeError(f"data: expected a NeuralDataset, found {type(data).__name__}")
    if spikes.shape[-1] != n_model:
        raise DynlensValueError(
            f"data: the model predicts {n_model} neurons, found data with {spikes.shape[-1]}"
        )
    held_model = list(model.heldout_neurons)
    held_data = [
        int(i) for i in np.asarray(getattr(data, "heldout_neurons", []), dtype=int).ravel()
    ]
    if held_model != held_data:
        raise DynlensValueError(
            f"data: the model holds out neurons {held_model} but the data holds out {held_data}; "
            f"build the model with heldout_neurons=data.heldout_neurons"
        )
    model.adopt_forward(int(getattr(data, "n_forward", 0)))


def fit(
    model: torch.nn.Module,
    data,
    *,
    config: FitConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    checkpoint_dir: str | Path | None = None,
    resume: bool | str = True,
    checkpoint_every: int = 10,
    progress: bool = True,
    callback: Callable[[int, torch.nn.Module, dict[str, float]], Any] | None = None,
    threads: int | str = "auto",
    **settings: Any,
) -> pd.DataFrame:
    """Train ``model`` on ``data``'s train split, early-stopping on its valid split.

    AdamW with a warm-up + cosine learning-rate schedule, gradient clipping and gradual trial
    lengthening (the loss first covers the first bins only and grows to the whole trial,
    which keeps the generator from being pulled into divergent dynamics early on; the
    forward-prediction bins, ``data.n_forward``, come last, so they are scored once the
    trials reach full length, from then on always). After the
    trial reaches full length, training stops when the validation loss has not improved
    for ``patience`` epochs; the best full-length weights are restored either way (a run
    too short to reach full-length trials keeps its last weights).

    The training settings, ``max_epochs`` to ``min_delta``, are the fields of
    :class:`FitConfig`, given as one ``config`` object, as flat keywords, or both (a
    setting given both ways with different values is an error). One not given (None in
    the signature) takes the model's own value, ``model.fit_defaults()``, where the model
    names one, else :class:`FitConfig`'s default: an LFADS trains in batches of 32, not
    128, unless told otherwise. :func:`default_fit_config` shows what a model gets.

    Parameters
    ----------
    model : dynlens.models.Model
        The model to train, in place (any registered family: it supplies its loss and its
        default settings). ``model.trained_on`` records what it is trained on
        (:func:`~dynlens.models.training_record`: system, parameters, neurons, bin width,
        a fingerprint of the spikes), saved in its checkpoint, so that
        :func:`dynlens.evaluate` and ``dynlens analyze`` warn when given other data.
    data : NeuralDataset
        Spike counts with ``train`` and ``valid`` splits. A model whose ``n_forward`` is
        unset takes ``data.n_forward``; one set to another count is refused.
    config : FitConfig, optional
        The training settings as one object; a field left at :class:`FitConfig`'s default
        counts as not given (the model's own value applies).
    seed : int
        Seeds batch order and dropout; the same seed (and model initialisation) gives
        bit-identical results on the same machine with the same thread count (the history's
        ``threads`` column; pass an integer ``threads`` for reruns that must match bit for
        bit, since ``"auto"`` follows the machine's load and a NODE's sums differ in the
        last digits between 1 and 2 threads).
    device : {"cpu", "cuda", "auto"} or torch.device
        Where to train; the model stays there afterwards.
    checkpoint_dir : path, optional
        Where ``best.pt`` (best weights, loadable with :func:`dynlens.load_model`) and
        ``last.pt`` (everything needed to resume) are written.
    resume : bool or "adapt"
        Continue from ``checkpoint_dir/last.pt`` when it exists (True: refusing one written
        with other settings). ``"adapt"`` continues with the settings given now where they
        differ (what population-based training does after perturbing them): the optimiser
        keeps its moments but takes the new ``lr`` and ``weight_decay``, and the schedule
        its new shape at the saved epoch.
    checkpoint_every : int
        Write ``last.pt`` every this many epochs (and at the last epoch).
    progress : bool
        Show a tqdm progress bar with the current losses.
    callback : callable, optional
        Called as ``callback(epoch, model, row)`` after every epoch (and after that epoch's
        checkpoints are written), ``row`` being that epoch's history row (a dict). Use it to
        log or to evaluate along the way; the model is in train mode and must be left so.
        Its time is not counted in ``seconds``; it must not consume the global random state
        if bit-identical runs matter (evaluation with :func:`dynlens.evaluate` does not).
    threads : "auto" or int
        torch's CPU threads while training (restored afterwards). ``"auto"`` uses the cores
        that other processes leave free, re-checked every epoch, so that a busy neighbour
        does not slow training 2-10x (see :mod:`dynlens.threads`).
    max_epochs : int, optional
        Most passes over the training trials.
    batch_size : int, optional
        Trials per optimisation step.
    lr, weight_decay : float, optional
        AdamW's peak learning rate and weight decay.
    bins_per_group, epochs_per_group : int, optional
        Gradual trial lengthening: the loss covers the first
        ``min(k * bins_per_group, n_bins)`` bins, ``k = epoch // epochs_per_group + 1``
        (``bins_per_group=0`` turns it off; see :class:`FitConfig` for when
        ``epochs_per_group`` is shortened).
    warmup_epochs, min_lr_ratio : int, float, optional
        Linear learning-rate warm-up over ``warmup_epochs``, then cosine decay to
        ``lr * min_lr_ratio`` at ``max_epochs``.
    clip_grad_norm : float, optional
        Gradient-norm clipping threshold.
    patience, min_delta : int, float, optional
        Early stopping at full trial length: after ``patience`` epochs without a validation
        loss better by the relative ``min_delta``.

    Returns
    -------
    pandas.DataFrame
        One row per epoch: ``epoch, train_loss, valid_loss, scored_bins, lr, seconds,
        threads``, then ``train_<term>`` for every named term of the model's loss (an SAE
        has none; LFADS has its KL terms and ramp weights).

    Raises
    ------
    DynlensDivergenceError
        When the loss becomes NaN/inf; the best weights are restored (and saved) first.

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=5, n_trials=20, n_bins=10, seed=0)
    >>> model = dl.models.SAE(n_neurons=5, latent_dim=3, hidden_size=16, encoder_size=8)
    >>> history = dl.fit(model, data, max_epochs=3, progress=False)
    >>> list(history.columns)
    ['epoch', 'train_loss', 'valid_loss', 'scored_bins', 'lr', 'seconds', 'threads']
    """
    config = default_fit_config(model, config, **settings)
    seed = check_nonnegative_int(seed, "seed")
    check_choice(resume, (True, False, "adapt"), "resume")
    checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
    threads = check_threads(threads)
    _check_model_data(model, data)
    model.trained_on = training_record(data)  # saved with it; evaluate compares
    device = resolve_device(device)
    with ThreadPolicy(threads, work=model_work(model, config.batch_size)) as policy:
        run = _Run(model, config, seed, device,
                   None if checkpoint_dir is None else Path(checkpoint_dir), checkpoint_every)
        train, valid = run.tensors(data)
        if run.ckpt_dir is not None and resume and (run.ckpt_dir / "last.pt").is_file():
            run.resume(adapt=resume == "adapt")
        bar = tqdm(range(run.start_epoch, config.max_epochs), disable=not progress, desc="fit",
                   unit="epoch", initial=run.start_epoch, total=config.max_epochs)
        model.train()
        for epoch in bar:
            policy.update()  # a neighbour that started or stopped since the last epoch
            row = run.epoch(epoch, train, valid, policy.threads)
            stop = run.finish_epoch(epoch)  # checkpoints first: a callback may copy them
            if callback is not None:
                callback(epoch, model, row)
                model.train()
            bar.set_postfix(train=f"{row['train_loss']:.4f}", valid=f"{row['valid_loss']:.4f}",
                            bins=row["scored_bins"], refresh=False)
            if stop:
                break
        bar.close()
    history = run.history()
    history.attrs["loss_label"] = model.loss_label
    return history


# the settings spelt out for help(); None in the signature: not given
fit.__signature__ = settings_signature(fit, FitConfig, not_given=True)


class _Run:
    """The state of one fit: optimiser, schedule, random stream, history and best weights."""

    def __init__(self, model, config: FitConfig, seed: int, device: torch.device,
                 ckpt_dir: Path | None, checkpoint_every: int = 10) -> None:
        self.model, self.config, self.device, self.ckpt_dir = model, config, device, ckpt_dir
        self.checkpoint_every = checkpoint_every
        self.generator = seed_everything(seed)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda e: _lr_factor(e, config))
        self.rows: list[dict[str, float]] = []
        self.best = {"loss": math.inf, "state": _copy_state(model), "epoch": -1}
        self.start_epoch = self.stale = self.n_bins = 0

    def tensors(self, data) -> tuple[dict, dict]:
        """The train and valid spikes (and external inputs, for models that take them) on
        the device; the model is moved there."""
        self.model.to(self.device)
        train, valid = (_split_arrays(data, name, self.model, self.device)
                        for name in ("train", "valid"))
        if train["spikes"].shape[0] == 0 or valid["spikes"].shape[0] == 0:
            raise DynlensValueError(
                f"data: expected non-empty train and valid splits, found "
                f"{train['spikes'].shape[0]} and {valid['spikes'].shape[0]} trials"
            )
        self.n_bins = train["spikes"].shape[1]
        return train, valid

    def resume(self, adapt: bool = False) -> None:
        """Continue from ``last.pt``, refusing one written with other settings unless
        ``adapt``."""
        path = self.ckpt_dir / "last.pt"
        state = read_checkpoint(path)
        now = asdict(self.config)
        changed = {k: (v, now[k]) for k, v in state["fit_config"].items() if now.get(k) != v}
        if changed and not adapt:
            raise DynlensValueError(
                f"checkpoint_dir: {path} was written with other settings (saved vs now: "
                f"{changed}); resume with the same settings, or pass resume=False or another "
                f"checkpoint_dir to start afresh"
            )
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if changed:  # the new peak lr and weight decay; LambdaLR computes from base_lrs
            self.scheduler.base_lrs = [self.config.lr] * len(self.optimizer.param_groups)
            for group in self.optimizer.param_groups:
                group.update(initial_lr=self.config.lr, weight_decay=self.config.weight_decay,
                             lr=self.config.lr * _lr_factor(int(state["epoch"]) + 1,
                                                            self.config))
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.best = {"loss": state["best_loss"], "state": state["best_state"],
                     "epoch": state["best_epoch"]}
        self.rows = [dict(zip(state["history_columns"], r)) for r in state["history"]]
        self.start_epoch = int(state["epoch"]) + 1
        self.stale = _stale_epochs(self.rows, self.best["epoch"], self.n_bins)
        if self.stale >= self.config.patience:  # the resumed run had already stopped early
            self.start_epoch = self.config.max_epochs

    def epoch(self, epoch: int, train: dict, valid: dict, threads: int) -> dict[str, float]:
        """Train one epoch, validate, and append the history row."""
        tic = time.perf_counter()
        scored = _scored_bins(epoch, self.n_bins, self.config)
        epoch_lr = self.optimizer.param_groups[0]["lr"]
        losses, terms = self.train_epoch(epoch, train, scored)
        self.scheduler.step()
        valid_loss = self.validation_loss(valid, epoch)
        if not math.isfinite(valid_loss):
            _diverged(self.model, self.best, self.ckpt_dir, epoch, "validation loss")
        self.rows.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                          "valid_loss": valid_loss, "scored_bins": scored, "lr": epoch_lr,
                          "seconds": time.perf_counter() - tic, "threads": threads,
                          **{f"train_{k}": float(np.mean(v)) for k, v in terms.items()}})
        return self.rows[-1]

    def train_epoch(self, epoch: int, train: dict,
                    scored: int) -> tuple[list[float], dict[str, list[float]]]:
        """One pass over the shuffled training trials; the losses and terms of each batch."""
        n_trials = train["spikes"].shape[0]
        order = torch.randperm(n_trials, generator=self.generator).to(self.device)
        losses: list[float] = []
        terms: dict[str, list[float]] = {}
        for start in range(0, n_trials, self.config.batch_size):
            batch, extra = _batch(train, order[start:start + self.config.batch_size])
            # the encoder sees the whole trial but its forward-prediction bins; the loss covers
            # the scored bins only
            out = self.model.loss(batch, n_bins=scored, epoch=epoch, **extra)
            if not torch.isfinite(out.total):
                _diverged(self.model, self.best, self.ckpt_dir, epoch, "training loss")
            self.optimizer.zero_grad(set_to_none=True)
            out.total.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
            self.optimizer.step()
            losses.append(out.total.item())
            for name, value in out.terms.items():
                terms.setdefault(name, []).append(
                    value.item() if isinstance(value, torch.Tensor) else float(value))
        return losses, terms

    @torch.no_grad()
    def validation_loss(self, valid: dict, epoch: int) -> float:
        """The model's loss on the validation trials (eval mode, whole trials)."""
        self.model.eval()
        batch_size = max(self.config.batch_size, 256)
        n_trials = valid["spikes"].shape[0]
        total = 0.0
        for start in range(0, n_trials, batch_size):
            batch, extra = _batch(valid, slice(start, start + batch_size))
            total += float(self.model.loss(batch, epoch=epoch, **extra).total) * batch.shape[0]
        self.model.train()
        return total / n_trials

    def finish_epoch(self, epoch: int) -> bool:
        """Keep the best full-length weights, write checkpoints; True to stop early."""
        row, config = self.rows[-1], self.config
        full_length = row["scored_bins"] == self.n_bins
        if full_length and row["valid_loss"] < self.best["loss"] * (1 - config.min_delta):
            self.best = {"loss": row["valid_loss"], "state": _copy_state(self.model),
                         "epoch": epoch}
            self.stale = 0
            if self.ckpt_dir is not None:
                _save_best(self.model, self.best, self.ckpt_dir)
        elif full_length:
            self.stale += 1
        stop = self.stale >= config.patience
        every = self.checkpoint_every
        if self.ckpt_dir is not None and (stop or epoch % every == every - 1
                                          or epoch == config.max_epochs - 1):
            self.save_last(epoch)
        return stop

    def save_last(self, epoch: int) -> None:
        write_checkpoint(self.ckpt_dir / "last.pt", {
            "format": "dynlens-checkpoint", "model_type": "training-state", "epoch": epoch,
            "state_dict": _copy_state(self.model), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(), "best_loss": self.best["loss"],
            "best_state": self.best["state"], "best_epoch": self.best["epoch"],
            "history_columns": list(self.rows[0]),
            "history": [list(r.values()) for r in self.rows],
            "fit_config": asdict(self.config),
        })

    def history(self) -> pd.DataFrame:
        """Restore the best full-length weights; the history as a DataFrame."""
        if self.best["epoch"] >= 0:
            self.model.load_state_dict(self.best["state"])
        self.model.eval()
        terms = [c for r in self.rows for c in r if c not in _COLUMNS]
        return pd.DataFrame(self.rows, columns=_COLUMNS + list(dict.fromkeys(terms)))


def _copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _stale_epochs(rows: list[dict], best_epoch: int, n_bins: int) -> int:
    return sum(1 for r in rows if r["epoch"] > best_epoch and r["scored_bins"] == n_bins)


def _save_best(model, best: dict, ckpt_dir: Path) -> None:
    current = _copy_state(model)
    model.load_state_dict(best["state"])
    save_model(model, ckpt_dir / "best.pt")
    model.load_state_dict(current)


def _diverged(model, best: dict, ckpt_dir: Path | None, epoch: int, what: str) -> None:
    if best["epoch"] >= 0:
        model.load_state_dict(best["state"])
        if ckpt_dir is not None:
            save_model(model, ckpt_dir / "best.pt")
    kept = f"the best weights (epoch {best['epoch']}) were restored" if best["epoch"] >= 0 else \
        "no full-length epoch had finished, so the model holds its last finite weights"
    raise DynlensDivergenceError(
        f"fit: the {what} became NaN/inf at epoch {epoch}; {kept}. Try a lower lr or a "
        f"smaller clip_grad_norm."
    )
