"""The Neural Latents Benchmark's tensor layout: read its files, write its submissions.

``nlb_tools`` turns an NLB dataset into arrays of spike counts (``make_train_input_tensors``,
``make_eval_input_tensors``, ``make_eval_target_tensors``) with these keys:

- ``train_spikes_heldin`` / ``train_spikes_heldout``: [trials, bins, held-in or held-out
  neurons]; with forward prediction also ``train_spikes_heldin_forward`` /
  ``train_spikes_heldout_forward``: [trials, forward bins, neurons];
- ``eval_spikes_heldin`` (and ``eval_spikes_heldout`` where the split is local);
- the targets, under the dataset's name (``mc_maze``, ...): ``eval_spikes_heldout``,
  ``eval_spikes_heldin_forward``, ``eval_spikes_heldout_forward``.

:func:`read_nlb` puts them in one :class:`~dynlens.data.NeuralDataset`: held-in neurons
first, held-out neurons last (``heldout_neurons``), the forward bins after the observed ones
(``n_forward``), the training trials in the ``train`` and ``valid`` splits and the
evaluation trials in ``test``. :func:`nlb_submission` turns a trained model's rates into the
dictionary ``nlb_tools.evaluation.evaluate`` scores (co-bps, fp-bps, ...), so dynlens's own
``dl.evaluate`` and NLB's evaluation can be read side by side.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DynlensFileFormatError, DynlensValueError
from ..utils import check_readable_file
from .dataset import NeuralDataset, make_splits

__all__ = ["nlb_submission", "read_nlb"]


def _arrays(source: Any, what: str, group: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of an NLB file (path) or dict, from ``group`` when given."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        table = source[group] if group and group in source else source
        return {k: np.asarray(v) for k, v in table.items() if not isinstance(v, Mapping)}
    path = check_readable_file(Path(os.fspath(source)), what)
    try:
        with h5py.File(path, "r") as f:
            node = f[group] if group and group in f else f
            return {k: node[k][()] for k in node if isinstance(node[k], h5py.Dataset)}
    except OSError as err:
        raise DynlensFileFormatError(f"{what}: expected an HDF5 file, found {path}") from err


def _need(arrays: dict, key: str, what: str) -> np.ndarray:
    if key not in arrays:
        raise DynlensValueError(f"{what}: expected the NLB key {key!r}, found {sorted(arrays)}")
    return arrays[key]


def _trials(arrays: dict, prefix: str, what: str, heldout: np.ndarray | None,
            forward: tuple | None) -> np.ndarray:
    """[trials, bins (+ forward), held-in + held-out] counts of one NLB part."""
    heldin = _need(arrays, f"{prefix}_spikes_heldin", what)
    heldout = _need(arrays, f"{prefix}_spikes_heldout", what) if heldout is None else heldout
    spikes = np.concatenate([heldin, heldout], axis=-1)
    if forward is not None:
        spikes = np.concatenate([spikes, np.concatenate(forward, axis=-1)], axis=1)
    return spikes


def _forward(arrays: dict, prefix: str) -> tuple | None:
    keys = (f"{prefix}_spikes_heldin_forward", f"{prefix}_spikes_heldout_forward")
    return tuple(arrays[k] for k in keys) if all(k in arrays for k in keys) else None


def read_nlb(train: Any, eval_inputs: Any = None, targets: Any = None, *,
             dataset: str | None = None, bin_width: float | None = None,
             valid_fraction: float = 0.2, seed: int = 0) -> NeuralDataset:
    """Read NLB tensors (files written by ``nlb_tools`` or their dicts) into a dataset.

    Parameters
    ----------
    train : path or dict
        ``train_spikes_heldin``, ``train_spikes_heldout`` (and the ``*_forward`` pair).
    eval_inputs : path or dict, optional
        ``eval_spikes_heldin`` (and ``eval_spikes_heldout`` when the file holds it).
    targets : path or dict, optional
        The evaluation targets (``eval_spikes_heldout`` and the ``*_forward`` pair), under
        the group ``dataset`` when given (NLB's target files are nested by dataset name).
        Evaluation trials need their held-out neurons from ``eval_inputs`` or ``targets``.
    dataset : str, optional
        The NLB dataset name (``"mc_maze"``, ...), kept in the metadata.
    bin_width : float, optional
        Seconds per bin (NLB's 5 ms is 0.005).
    valid_fraction : float
        Training trials held back as the ``valid`` split (for early stopping).
    seed : int
        Seeds the train / valid split.

    Returns
    -------
    NeuralDataset
        Held-in neurons first, held-out last; forward bins last (``n_forward``); splits
        ``train``, ``valid`` (training trials) and ``test`` (evaluation trials).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> train = {"train_spikes_heldin": rng.poisson(1, (10, 8, 4)),
    ...          "train_spikes_heldout": rng.poisson(1, (10, 8, 2)),
    ...          "train_spikes_heldin_forward": rng.poisson(1, (10, 3, 4)),
    ...          "train_spikes_heldout_forward": rng.poisson(1, (10, 3, 2))}
    >>> data = read_nlb(train, bin_width=0.005)
    >>> data.spikes.shape, data.heldout_neurons.tolist(), data.n_forward
    ((10, 11, 6), [4, 5], 3)
    """
    train_arrays = _arrays(train, "train")
    spikes = [_trials(train_arrays, "train", "train", None, _forward(train_arrays, "train"))]
    eval_arrays = {**_arrays(eval_inputs, "eval_inputs"), **_arrays(targets, "targets", dataset)}
    if eval_arrays:
        spikes.append(_trials(eval_arrays, "eval", "eval_inputs/targets",
                              eval_arrays.get("eval_spikes_heldout"),
                              _forward(eval_arrays, "eval")))
    if len(spikes) == 2 and spikes[0].shape[1:] != spikes[1].shape[1:]:
        raise DynlensValueError(
            f"targets: expected evaluation trials shaped like the training ones [trials, "
            f"{spikes[0].shape[1]}, {spikes[0].shape[2]}] (forward bins included), found "
            f"{spikes[1].shape}; give the targets with the forward bins, or none of them")
    n_train, n_heldin = spikes[0].shape[0], train_arrays["train_spikes_heldin"].shape[-1]
    forward = _forward(train_arrays, "train")
    splits = make_splits(n_train, (0.0, valid_fraction), seed=seed)  # train and valid
    if len(spikes) == 2:
        splits["test"] = np.arange(n_train, n_train + spikes[1].shape[0])
    all_spikes = np.concatenate(spikes)
    return NeuralDataset.from_arrays(
        all_spikes, bin_width=bin_width, splits=splits,
        heldout_neurons=np.arange(n_heldin, all_spikes.shape[-1]),
        n_forward=0 if forward is None else forward[0].shape[1],
        metadata={"source_format": "nlb", "nlb_dataset": dataset})


def nlb_submission(model: Any, data: NeuralDataset, dataset: str) -> dict:
    """A trained model's rates in NLB's submission layout, for ``nlb_tools`` to score.

    Training-trial rates (``train`` and ``valid`` splits, in trial order) go to
    ``train_rates_heldin`` / ``train_rates_heldout``; the ``test`` split's to
    ``eval_rates_heldin`` / ``eval_rates_heldout`` and, with forward bins,
    ``eval_rates_heldin_forward`` / ``eval_rates_heldout_forward``. Rates are expected counts
    per bin, as NLB's bits per spike take them.

    Parameters
    ----------
    model : Model
        A trained model (anything with ``infer(data).rates``) of all the data's neurons.
    data : NeuralDataset
        NLB data (:func:`read_nlb`) with a ``test`` split of evaluation trials.
    dataset : str
        The NLB dataset's name (``"mc_maze"``, ...), the submission's top-level key.

    Returns
    -------
    dict
        ``{dataset: {array name: rates [trials, bins, neurons]}}``.

    Examples
    --------
    >>> import numpy as np
    >>> import dynlens as dl
    >>> rng = np.random.default_rng(0)
    >>> train = {"train_spikes_heldin": rng.poisson(1, (10, 8, 4)),
    ...          "train_spikes_heldout": rng.poisson(1, (10, 8, 2))}
    >>> target = {"eval_spikes_heldin": rng.poisson(1, (3, 8, 4)),
    ...           "eval_spikes_heldout": rng.poisson(1, (3, 8, 2))}
    >>> data = read_nlb(train, targets=target)
    >>> model = dl.models.SAE(n_neurons=6, latent_dim=2, generator="gru",
    ...                       heldout_neurons=[4, 5])
    >>> sub = nlb_submission(model, data, "mc_maze")["mc_maze"]
    >>> sub["train_rates_heldout"].shape, sub["eval_rates_heldin"].shape
    ((10, 8, 2), (3, 8, 4))
    """
    if "test" not in data.splits:
        raise DynlensValueError(
            f"data: expected a 'test' split of evaluation trials, found {sorted(data.splits)}")
    heldin, heldout = data.heldin_neurons, data.heldout_neurons
    observed = data.n_bins - data.n_forward
    train_idx = np.sort(np.concatenate([data.splits["train"], data.splits.get(
        "valid", np.zeros(0, dtype=np.int64))]))
    out = {}
    for prefix, idx in (("train", train_idx), ("eval", data.splits["test"])):
        rates = model.infer(data[idx]).rates
        out[f"{prefix}_rates_heldin"] = rates[:, :observed, heldin]
        out[f"{prefix}_rates_heldout"] = rates[:, :observed, heldout]
        if prefix == "eval" and data.n_forward:
            out["eval_rates_heldin_forward"] = rates[:, observed:, heldin]
            out["eval_rates_heldout_forward"] = rates[:, observed:, heldout]
    return {dataset: out}
