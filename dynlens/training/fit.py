"""The fit loop: ``dl.fit(model, data)`` trains a sequential autoencoder on spike counts."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .._utils import (
    check_fraction,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    resolve_device,
    seed_everything,
)
from ..errors import DynlensDivergenceError, DynlensTypeError, DynlensValueError
from ..models.checkpoint import read_checkpoint, save_model, write_checkpoint
from ..threads import ThreadPolicy, check_threads, model_work
from .losses import poisson_nll

__all__ = ["FitConfig", "default_fit_config", "fit"]

# Per-generator learning rate and weight decay (REFERENCE.md section 3, NODE and GRU recipes).
_GENERATOR_DEFAULTS = {
    "node": {"lr": 5e-3, "weight_decay": 1e-5},
    "node_discrete": {"lr": 5e-3, "weight_decay": 1e-5},
    "gru": {"lr": 1e-2, "weight_decay": 1e-4},
    "rnn": {"lr": 1e-2, "weight_decay": 1e-4},
    "lds": {"lr": 1e-2, "weight_decay": 1e-5},
}


@dataclass
class FitConfig:
    """Settings of :func:`fit`; every field is a keyword of ``fit``.

    Attributes
    ----------
    max_epochs : int
        Upper bound on passes over the training trials.
    batch_size : int
        Trials per optimisation step.
    lr : float or None
        Peak learning rate (None: the generator's default).
    weight_decay : float or None
        AdamW weight decay (None: the generator's default).
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
    """

    max_epochs: int = 300
    batch_size: int = 128
    lr: float | None = None
    weight_decay: float | None = None
    bins_per_group: int = 10
    epochs_per_group: int = 20
    warmup_epochs: int = 5
    min_lr_ratio: float = 0.02
    clip_grad_norm: float = 10.0
    patience: int = 60
    min_delta: float = 1e-4

    def __post_init__(self) -> None:
        self.max_epochs = check_positive_int(self.max_epochs, "max_epochs")
        self.batch_size = check_positive_int(self.batch_size, "batch_size")
        if self.lr is not None:
            self.lr = check_positive_float(self.lr, "lr")
        if self.weight_decay is not None and self.weight_decay != 0:
            self.weight_decay = check_positive_float(self.weight_decay, "weight_decay")
        self.bins_per_group = check_nonnegative_int(self.bins_per_group, "bins_per_group")
        self.epochs_per_group = check_positive_int(self.epochs_per_group, "epochs_per_group")
        self.warmup_epochs = check_nonnegative_int(self.warmup_epochs, "warmup_epochs")
        self.min_lr_ratio = check_fraction(self.min_lr_ratio, "min_lr_ratio", inclusive_high=True)
        self.clip_grad_norm = check_positive_float(self.clip_grad_norm, "clip_grad_norm")
        self.patience = check_positive_int(self.patience, "patience")
        self.min_delta = check_fraction(self.min_delta, "min_delta")


def default_fit_config(model: torch.nn.Module, **overrides: Any) -> FitConfig:
    """The :class:`FitConfig` that :func:`fit` uses for ``model``, with ``overrides`` applied."""
    unknown = set(overrides) - set(FitConfig.__dataclass_fields__)
    if unknown:
        raise DynlensTypeError(
            f"fit: unexpected keyword(s) {sorted(unknown)}; expected any of "
            f"{sorted(FitConfig.__dataclass_fields__)}"
        )
    config = FitConfig(**overrides)
    generator = getattr(getattr(model, "config", None), "dynamics", None)
    defaults = _GENERATOR_DEFAULTS.get(generator, {"lr": 1e-3, "weight_decay": 1e-5})
    if config.lr is None:
        config.lr = defaults["lr"]
    if config.weight_decay is None:
        config.weight_decay = defaults["weight_decay"]
    return config


def _lr_factor(epoch: int, config: FitConfig) -> float:
    """Linear warm-up, then cosine decay from 1 to ``min_lr_ratio`` over ``max_epochs``."""
    if epoch < config.warmup_epochs:
        return (epoch + 1) / (config.warmup_epochs + 1)
    progress = (epoch - config.warmup_epochs) / max(1, config.max_epochs - config.warmup_epochs)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


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


def _split_spikes(data, name: str) -> np.ndarray:
    try:
        part = data.split(name)
    except AttributeError as err:
        raise DynlensTypeError(
            f"data: expected a NeuralDataset with train/valid splits, found {type(data).__name__}"
        ) from err
    return np.asarray(part.spikes, dtype=np.float32)


def _check_model_data(model, data) -> None:
    n_model = getattr(model, "n_neurons", None)
    spikes = getattr(data, "spikes", None)
    if spikes is None:
        raise DynlensTypeError(f"data: expected a NeuralDataset, found {type(data).__name__}")
    if n_model is not None and spikes.shape[-1] != n_model:
        raise DynlensValueError(
            f"data: the model predicts {n_model} neurons, found data with {spikes.shape[-1]}"
        )
    held_model = list(getattr(model, "heldout_neurons", []))
    held_data = [int(i) for i in np.asarray(getattr(data, "heldout_neurons", []), dtype=int).ravel()]
    if held_model != held_data:
        raise DynlensValueError(
            f"data: the model holds out neurons {held_model} but the data holds out {held_data}; "
            f"build the model with heldout_neurons=data.heldout_neurons"
        )


@torch.no_grad()
def _validation_loss(model, spikes: torch.Tensor, batch_size: int) -> float:
    model.eval()
    total = 0.0
    for start in range(0, spikes.shape[0], batch_size):
        batch = spikes[start:start + batch_size]
        total += float(poisson_nll(model(batch)["log_rates"], batch)) * batch.shape[0]
    model.train()
    return total / spikes.shape[0]


def fit(
    model: torch.nn.Module,
    data,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    checkpoint_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    callback: Callable[[int, torch.nn.Module, dict[str, float]], Any] | None = None,
    threads: int | str = "auto",
    **settings: Any,
) -> pd.DataFrame:
    """Train ``model`` on ``data``'s train split, early-stopping on its valid split.

    AdamW with a warm-up + cosine learning-rate schedule, gradient clipping and gradual trial
    lengthening (the loss first covers the first bins only and grows to the whole trial,
    which keeps the generator from being pulled into divergent dynamics early on). After the
    trial reaches full length, training stops when the validation loss has not improved
    for ``patience`` epochs; the best full-length weights are restored either way (a run
    too short to reach full-length trials keeps its last weights).

    Parameters
    ----------
    model : SAE
        The model to train, in place.
    data : NeuralDataset
        Spike counts with ``train`` and ``valid`` splits.
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
    resume : bool
        Continue from ``checkpoint_dir/last.pt`` when it exists.
    progress : bool
        Show a tqdm progress bar with the current losses.
    callback : callable, optional
        Called as ``callback(epoch, model, row)`` after every epoch, ``row`` being that
        epoch's history row (a dict). Use it to log or to evaluate along the way; the model is
        in train mode and must be left so. Its time is not counted in ``seconds``; it must
        not consume the global random state if bit-identical runs matter (evaluation with
        :func:`dynlens.evaluate` does not).
    threads : "auto" or int
        torch's CPU threads while training (restored afterwards). ``"auto"`` uses the cores
        that other processes leave free, re-checked every epoch, so that a busy neighbour
        does not slow training 2-10x (see :mod:`dynlens.threads`).
    **settings
        Any field of :class:`FitConfig` (``max_epochs``, ``batch_size``, ``lr``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per epoch: ``epoch, train_loss, valid_loss, scored_bins, lr, seconds,
        threads``.

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
    config = default_fit_config(model, **settings)
    seed = check_nonnegative_int(seed, "seed")
    threads = check_threads(threads)
    _check_model_data(model, data)
    device = resolve_device(device)
    with ThreadPolicy(threads, work=model_work(model, config.batch_size)) as policy:
        return _train(model, data, config, seed, device, checkpoint_dir, resume, progress,
                      callback, policy)


def _train(model, data, config: FitConfig, seed: int, device: torch.device, checkpoint_dir,
           resume: bool, progress: bool, callback, policy: ThreadPolicy) -> pd.DataFrame:
    model.to(device)

    train = torch.as_tensor(_split_spikes(data, "train"), device=device)
    valid = torch.as_tensor(_split_spikes(data, "valid"), device=device)
    if train.shape[0] == 0 or valid.shape[0] == 0:
        raise DynlensValueError(
            f"data: expected non-empty train and valid splits, found {train.shape[0]} and "
            f"{valid.shape[0]} trials"
        )
    n_bins = train.shape[1]
    generator = seed_everything(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: _lr_factor(e, config))

    rows: list[dict[str, float]] = []
    best = {"loss": math.inf, "state": _copy_state(model), "epoch": -1}
    start_epoch = 0
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt_dir is not None and resume and (ckpt_dir / "last.pt").is_file():
        state = read_checkpoint(ckpt_dir / "last.pt")
        changed = {k: (v, asdict(config)[k]) for k, v in state["fit_config"].items()
                   if asdict(config).get(k) != v}
        if changed:
            raise DynlensValueError(
                f"checkpoint_dir: {ckpt_dir / 'last.pt'} was written with other settings "
                f"(saved vs now: {changed}); resume with the same settings, or pass resume=False "
                f"or another checkpoint_dir to start afresh"
            )
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        best = {"loss": state["best_loss"], "state": state["best_state"], "epoch": state["best_epoch"]}
        rows = [dict(zip(state["history_columns"], r)) for r in state["history"]]
        start_epoch = int(state["epoch"]) + 1

    stale = 0 if not rows else _stale_epochs(rows, best["epoch"], n_bins)
    if stale >= config.patience:  # the resumed run had already stopped early
        start_epoch = config.max_epochs
    bar = tqdm(range(start_epoch, config.max_epochs), disable=not progress, desc="fit",
               unit="epoch", initial=start_epoch, total=config.max_epochs)
    model.train()
    for epoch in bar:
        policy.update()  # a neighbour that started or stopped since the last epoch
        tic = time.perf_counter()
        scored = _scored_bins(epoch, n_bins, config)
        epoch_lr = optimizer.param_groups[0]["lr"]
        order = torch.randperm(train.shape[0], generator=generator).to(device)
        losses = []
        for start in range(0, train.shape[0], config.batch_size):
            batch = train[order[start:start + config.batch_size]]
            # the encoder sees the whole trial; the generator runs only over the scored bins
            loss = poisson_nll(model(batch, n_bins=scored)["log_rates"], batch[:, :scored])
            if not torch.isfinite(loss):
                _diverged(model, best, ckpt_dir, epoch, "training loss")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        valid_loss = _validation_loss(model, valid, max(config.batch_size, 256))
        if not math.isfinite(valid_loss):
            _diverged(model, best, ckpt_dir, epoch, "validation loss")
        rows.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "valid_loss": valid_loss,
                     "scored_bins": scored, "lr": epoch_lr,
                     "seconds": time.perf_counter() - tic, "threads": policy.threads})
        full_length = scored == n_bins
        if full_length and valid_loss < best["loss"] * (1 - config.min_delta):
            best = {"loss": valid_loss, "state": _copy_state(model), "epoch": epoch}
            stale = 0
            if ckpt_dir is not None:
                _save_best(model, best, ckpt_dir)
        elif full_length:
            stale += 1
        if callback is not None:
            callback(epoch, model, rows[-1])
            model.train()
        bar.set_postfix(train=f"{rows[-1]['train_loss']:.4f}", valid=f"{valid_loss:.4f}",
                        bins=scored, refresh=False)
        stop = stale >= config.patience
        if ckpt_dir is not None and (stop or epoch % 10 == 9 or epoch == config.max_epochs - 1):
            write_checkpoint(ckpt_dir / "last.pt", {
                "format": "dynlens-checkpoint", "model_type": "training-state", "epoch": epoch,
                "state_dict": _copy_state(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(), "best_loss": best["loss"],
                "best_state": best["state"], "best_epoch": best["epoch"],
                "history_columns": list(rows[0]), "history": [list(r.values()) for r in rows],
                "fit_config": asdict(config),
            })
        if stop:
            break
    bar.close()
    if best["epoch"] >= 0:
        model.load_state_dict(best["state"])
    model.eval()
    return pd.DataFrame(rows, columns=["epoch", "train_loss", "valid_loss", "scored_bins", "lr",
                                       "seconds", "threads"])


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
