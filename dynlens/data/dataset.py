"""`NeuralDataset`: spike counts with optional ground truth, splits and metadata.

Arrays follow the dynlens convention ``[trials, bins, features]``. Spikes are integer counts
per bin; ``rates`` are expected counts per bin (not Hz) and ``log_rates`` their logarithm.

Examples
--------
>>> import numpy as np
>>> from dynlens.data import NeuralDataset
>>> spikes = np.random.default_rng(0).poisson(1.0, size=(50, 20, 4))
>>> data = NeuralDataset.from_arrays(spikes, bin_width=0.01)
>>> data
NeuralDataset(50 trials x 20 bins x 4 neurons; truth: none; splits: train 32, valid 8, test 10; bin_width 0.01)
>>> data.split("train").n_trials, len(data[:5])
(32, 5)
"""  # noqa: E501

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import DynlensTypeError, DynlensValueError
from ..utils import (
    as_numpy,
    check_fraction,
    check_nonnegative_int,
    check_positive_float,
    json_default,
)

__all__ = ["SPLIT_NAMES", "NeuralDataset", "make_splits"]

#: The split names a dataset may hold, in their canonical order.
SPLIT_NAMES = ("train", "valid", "test")

_TRUTH_FIELDS = ("latents", "log_rates", "rates", "inputs")


def _normalise_metadata(metadata: Mapping | None) -> dict:
    """Return a deep, pure-JSON copy of ``metadata`` (so that file round trips are exact)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise DynlensTypeError(
            f"metadata: expected a dict of JSON-serialisable values, found "
            f"{type(metadata).__name__}"
        )
    try:
        text = json.dumps(dict(metadata), default=json_default, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise DynlensTypeError(
            f"metadata: expected a dict of JSON-serialisable values (numbers, strings, lists, "
            f"dicts, NumPy arrays), found a value that is not: {err}"
        ) from err
    return json.loads(text)


def _check_spikes(spikes) -> np.ndarray:
    arr = as_numpy(spikes, "spikes")
    if arr.ndim != 3:
        raise DynlensValueError(
            f"spikes: expected a 3-D array [trials, bins, neurons], found {arr.ndim}-D shape "
            f"{arr.shape}"
        )
    if arr.size == 0:
        raise DynlensValueError(
            f"spikes: expected at least one trial, bin and neuron, found empty shape {arr.shape}"
        )
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.signedinteger) and arr.min() < 0:
            raise DynlensValueError(
                f"spikes: expected non-negative counts, found minimum {arr.min()}"
            )
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise DynlensTypeError(f"spikes: expected integer counts, found dtype {arr.dtype}")
    bad = ~np.isfinite(arr)
    if bad.any():
        kind = "NaN" if np.isnan(arr).any() else "inf"
        raise DynlensValueError(
            f"spikes: expected finite counts, found {int(bad.sum())} non-finite values ({kind})"
        )
    if arr.min() < 0:
        raise DynlensValueError(f"spikes: expected non-negative counts, found minimum {arr.min()}")
    frac = arr != np.round(arr)
    if frac.any():
        example = arr[frac].flat[0]
        raise DynlensValueError(
            f"spikes: expected integer counts, found {int(frac.sum())} fractional values "
            f"(e.g. {example}); pass counts per bin, not rates"
        )
    return arr.astype(np.int64)


def _check_truth(array, name: str, spikes_shape: tuple, *, match_neurons: bool) -> np.ndarray:
    arr = as_numpy(array, name)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DynlensTypeError(f"{name}: expected numbers, found dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    expected = "[trials, bins, neurons]" if match_neurons else f"[trials, bins, {name[:-1]}_dim]"
    if arr.ndim != 3:
        raise DynlensValueError(
            f"{name}: expected a 3-D array {expected}, found {arr.ndim}-D shape {arr.shape}"
        )
    n = 3 if match_neurons else 2
    if arr.shape[:n] != spikes_shape[:n]:
        what = "trials, bins, neurons" if match_neurons else "trials and bins"
        raise DynlensValueError(
            f"{name}: expected {what} matching spikes {spikes_shape[:n]}, found shape {arr.shape}"
        )
    if arr.shape[2] == 0:
        raise DynlensValueError(f"{name}: expected at least one feature, found shape {arr.shape}")
    return arr


def _check_indices(values, name: str, n: int) -> np.ndarray:
    """Validate an array of unique trial/neuron indices in [0, n); return it sorted as int64."""
    arr = as_numpy(values, name)
    if arr.ndim != 1:
        raise DynlensValueError(f"{name}: expected a 1-D array of indices, found shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise DynlensTypeError(f"{name}: expected integer indices, found dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise DynlensValueError(
            f"{name}: expected indices in [0, {n}), found values from {arr.min()} to {arr.max()}"
        )
    unique = np.unique(arr)
    if unique.size != arr.size:
        raise DynlensValueError(f"{name}: expected unique indices, found {arr.size - unique.size} "
                                "repeated")
    return unique


def _check_forward(n_forward, n_bins: int) -> int:
    """``n_forward`` as an int in ``[0, n_bins)``, else an error naming it."""
    n_forward = check_nonnegative_int(n_forward, "n_forward")
    if n_forward >= n_bins:
        raise DynlensValueError(
            f"n_forward: expected fewer forward-prediction bins than the {n_bins} bins of a "
            f"trial, so that a model has input, found {n_forward}")
    return n_forward


def make_splits(n_trials: int, split_fractions: Sequence[float] = (0.2, 0.2),
                seed: int = 0) -> dict[str, np.ndarray]:
    """Draw the published train/valid/test split of ``n_trials`` trials.

    ``split_fractions = (test, valid)``: first ``round(test * n)`` trials go to the test set,
    then ``round(valid * rest)`` of the remaining ones to the validation set, the others to
    training (2000 trials -> 1280 / 320 / 400). Trials are **shuffled** with
    ``numpy.random.default_rng(seed)`` before assignment; each split is returned sorted.
    At least one trial always stays in training. Empty splits are left out.

    Examples
    --------
    >>> {k: len(v) for k, v in make_splits(2000).items()}
    {'train': 1280, 'valid': 320, 'test': 400}
    """
    n_trials = check_nonnegative_int(n_trials, "n_trials")
    if not isinstance(split_fractions, (tuple, list)) or len(split_fractions) != 2:
        raise DynlensValueError(
            f"split_fractions: expected a pair (test fraction, valid fraction), found "
            f"{split_fractions!r}"
        )
    f_test = check_fraction(split_fractions[0], "split_fractions[0] (test)")
    f_valid = check_fraction(split_fractions[1], "split_fractions[1] (valid)")
    seed = check_nonnegative_int(seed, "seed")

    def _round(x: float) -> int:  # round half up, unlike Python's banker's rounding
        return math.floor(x + 0.5)

    n_test = min(_round(f_test * n_trials), max(n_trials - 1, 0))
    rest = n_trials - n_test
    n_valid = min(_round(f_valid * rest), max(rest - 1, 0))
    order = np.random.default_rng(seed).permutation(n_trials)
    parts = {
        "train": order[n_test + n_valid:],
        "valid": order[n_test:n_test + n_valid],
        "test": order[:n_test],
    }
    return {k: np.sort(v).astype(np.int64) for k, v in parts.items() if v.size}


class NeuralDataset:
    """Binned spike counts of many trials, with optional ground truth.

    Build one with :meth:`from_arrays` (which validates everything), with
    :func:`dynlens.simulate`, or by loading a file (:func:`dynlens.load_dataset`,
    :func:`dynlens.data.read_lfads_h5`).

    The constructor takes the same arguments as :meth:`from_arrays`, which documents each,
    and validates them the same way.

    Parameters
    ----------
    spikes, latents, rates, log_rates, inputs : array-like
        Spike counts and optional ground truth, stored as the attributes below.
    bin_width, splits, heldout_neurons, metadata, n_forward
        Stored as the attributes below; ``splits`` None draws a split.
    split_fractions, seed
        The ``(test, valid)`` fractions and the seed of a drawn split.

    Attributes
    ----------
    spikes : ndarray of int, shape [trials, bins, neurons]
        Spike counts per bin.
    latents : ndarray of float, shape [trials, bins, latent_dim], or None
        True latent state (simulated data).
    log_rates, rates : ndarray of float, shape [trials, bins, neurons], or None
        True expected counts per bin and their logarithm (``-inf`` where a rate is exactly 0).
    inputs : ndarray of float, shape [trials, bins, n_inputs], or None
        External inputs given to the system.
    bin_width : float or None
        Width of one bin in the system's own time units (seconds for recordings).
    splits : dict of str -> ndarray of int
        Sorted, disjoint trial indices of the ``"train"``, ``"valid"`` and ``"test"`` sets.
    heldout_neurons : ndarray of int
        Neurons held out of the encoder's input for co-smoothing (possibly empty).
    metadata : dict
        JSON-serialisable facts about the data (system, parameters, readout, seed, recipe...).
    n_forward : int
        Forward-prediction bins: the last ``n_forward`` bins of every trial are predicted by a
        model but never given to it (the Neural Latents Benchmark's fp-bps); 0 when none.

    Examples
    --------
    >>> from dynlens.data import simulate
    >>> data = simulate("lorenz", n_neurons=4, n_trials=10, n_bins=20, n_heldout=1, seed=0)
    >>> data.spikes.shape, data.latents.shape, data.heldout_neurons.tolist()
    ((10, 20, 4), (10, 20, 3), [3])
    >>> {name: len(index) for name, index in data.splits.items()}
    {'train': 6, 'valid': 2, 'test': 2}
    >>> test = data.split("test")  # a NeuralDataset of the test trials
    >>> test.n_trials, test.n_bins, test.n_neurons, test.has_truth
    (2, 20, 4, True)
    """

    def __init__(self, spikes, latents=None, rates=None, log_rates=None, inputs=None,
                 bin_width: float | None = None, splits: Mapping | None = None,
                 heldout_neurons=None, metadata: Mapping | None = None,
                 split_fractions: Sequence[float] = (0.2, 0.2), seed: int = 0,
                 n_forward: int = 0) -> None:
        self.spikes = _check_spikes(spikes)
        shape = self.spikes.shape
        self.latents = (None if latents is None
                        else _check_truth(latents, "latents", shape, match_neurons=False))
        self.inputs = (None if inputs is None
                       else _check_truth(inputs, "inputs", shape, match_neurons=False))
        if self.latents is not None and not np.all(np.isfinite(self.latents)):
            raise DynlensValueError("latents: expected finite values, found NaN or inf")
        if self.inputs is not None and not np.all(np.isfinite(self.inputs)):
            raise DynlensValueError("inputs: expected finite values, found NaN or inf")
        self.rates, self.log_rates = self._check_rates(rates, log_rates, shape)
        self.bin_width = None if bin_width is None else check_positive_float(bin_width,
                                                                            "bin_width")
        if splits is None:
            self.splits = make_splits(shape[0], split_fractions, seed)
        else:
            self.splits = self._check_splits(splits, shape[0])
        self.heldout_neurons = (np.zeros(0, dtype=np.int64) if heldout_neurons is None
                                else _check_indices(heldout_neurons, "heldout_neurons", shape[2]))
        if self.heldout_neurons.size >= shape[2]:
            raise DynlensValueError(
                f"heldout_neurons: expected fewer than the {shape[2]} neurons so that some stay "
                f"held in, found {self.heldout_neurons.size}"
            )
        self.metadata = _normalise_metadata(metadata)
        self.n_forward = _check_forward(n_forward, shape[1])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, spikes, latents=None, rates=None, log_rates=None, inputs=None,
                    bin_width: float | None = None, splits: Mapping | None = None,
                    heldout_neurons=None, metadata: Mapping | None = None,
                    split_fractions: Sequence[float] = (0.2, 0.2),
                    seed: int = 0, n_forward: int = 0) -> NeuralDataset:
        """Build a dataset from arrays, validating every one of them.

        Parameters
        ----------
        spikes : array-like, shape [trials, bins, neurons]
            Non-negative integer counts per bin (a float array of whole numbers is accepted and
            stored as int64; integer dtypes are kept).
        latents, inputs : array-like, shape [trials, bins, dim], optional
            True latent states and external inputs; trials and bins must match ``spikes``.
        rates, log_rates : array-like, shape [trials, bins, neurons], optional
            True expected counts per bin and their log. Given one, the other is computed; given
            both, they must agree (``rates == exp(log_rates)``).
        bin_width : float, optional
            Bin width in the system's time units (seconds for recordings).
        splits : dict, optional
            ``{"train": idx, "valid": idx, "test": idx}`` (any subset of these names) of disjoint
            trial indices. ``None`` draws the published split (see ``split_fractions``).
        heldout_neurons : array-like of int, optional
            Neurons kept out of the encoder's input, for co-smoothing.
        metadata : dict, optional
            JSON-serialisable facts (NumPy arrays/scalars are converted to lists/numbers).
        split_fractions : (float, float)
            ``(test, valid)`` fractions used when ``splits`` is None: ``test`` of all trials go
            to the test set, then ``valid`` of the rest to the validation set (2000 trials ->
            1280 / 320 / 400). Trials are shuffled with ``seed`` before being assigned, so the
            contiguous segments of one cut trajectory land in all three sets.
        seed : int
            Seed of the split shuffle.
        n_forward : int
            The last ``n_forward`` bins of every trial are forward-prediction bins (predicted,
            never given to a model); at least one bin must stay before them.

        Raises
        ------
        DynlensValueError, DynlensTypeError
            On NaN/inf/negative/fractional counts, wrong dimensions, empty data, truth arrays
            whose trials/bins/neurons do not match, bad split indices or names; the message
            names the argument.

        Examples
        --------
        >>> import numpy as np
        >>> rates = np.full((10, 5, 3), 2.0)
        >>> data = NeuralDataset.from_arrays(np.ones((10, 5, 3), int), rates=rates,
        ...                                  splits={"train": [0, 1, 2, 3, 4, 5], "test": [6, 7]})
        >>> float(data.log_rates[0, 0, 0]), sorted(data.splits), data.has_truth
        (0.693..., ['test', 'train'], True)
        >>> NeuralDataset.from_arrays(np.ones((10, 5, 3), int), n_forward=2).n_input_bins
        3
        """
        return cls(spikes, latents=latents, rates=rates, log_rates=log_rates, inputs=inputs,
                   bin_width=bin_width, splits=splits, heldout_neurons=heldout_neurons,
                   metadata=metadata, split_fractions=split_fractions, seed=seed,
                   n_forward=n_forward)

    @staticmethod
    def _check_rates(rates, log_rates, shape):
        if rates is not None:
            rates = _check_truth(rates, "rates", shape, match_neurons=True)
            if not np.all(np.isfinite(rates)):
                raise DynlensValueError("rates: expected finite values, found NaN or inf")
            if rates.min() < 0:
                raise DynlensValueError(
                    f"rates: expected non-negative expected counts per bin, found minimum "
                    f"{rates.min()}"
                )
        if log_rates is not None:
            log_rates = _check_truth(log_rates, "log_rates", shape, match_neurons=True)
            if np.isnan(log_rates).any() or (log_rates == np.inf).any():
                raise DynlensValueError(
                    "log_rates: expected finite values (or -inf for a zero rate), found NaN or +inf"
                )
        if rates is not None and log_rates is not None:
            if not np.allclose(np.exp(log_rates), rates, rtol=1e-5, atol=1e-12):
                worst = float(np.max(np.abs(np.exp(log_rates) - rates)))
                raise DynlensValueError(
                    f"rates: expected rates == exp(log_rates), found differences up to "
                    f"{worst:.3g}; "
                    "pass one of them and let the other be computed"
                )
        elif rates is not None:
            with np.errstate(divide="ignore"):  # a zero rate has log-rate -inf
                log_rates = np.log(rates)
        elif log_rates is not None:
            rates = np.exp(log_rates)
        return rates, log_rates

    @staticmethod
    def _check_splits(splits, n_trials: int) -> dict[str, np.ndarray]:
        if not isinstance(splits, Mapping):
            raise DynlensTypeError(
                f"splits: expected a dict mapping 'train'/'valid'/'test' to trial indices, "
                f"found {type(splits).__name__}"
            )
        out: dict[str, np.ndarray] = {}
        for name, idx in splits.items():
            if name not in SPLIT_NAMES:
                raise DynlensValueError(
                    f"splits: expected names among {', '.join(SPLIT_NAMES)}, found {name!r}"
                )
            out[name] = _check_indices(idx, f"splits[{name!r}]", n_trials)
        names = [n for n in SPLIT_NAMES if n in out]
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                common = np.intersect1d(out[a], out[b])
                if common.size:
                    raise DynlensValueError(
                        f"splits: expected disjoint splits, found {common.size} trials in both "
                        f"{a!r} and {b!r} (e.g. trial {common[0]})"
                    )
        return {n: out[n] for n in names}

    # ------------------------------------------------------------------ properties
    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return int(self.spikes.shape[0])

    @property
    def n_bins(self) -> int:
        """Number of time bins per trial."""
        return int(self.spikes.shape[1])

    @property
    def n_neurons(self) -> int:
        """Number of neurons (held-in plus held-out)."""
        return int(self.spikes.shape[2])

    @property
    def n_input_bins(self) -> int:
        """Bins a model may read in every trial: all but the ``n_forward`` last ones."""
        return self.n_bins - self.n_forward

    @property
    def latent_dim(self) -> int | None:
        """Dimension of the true latents, or None when there are none."""
        return None if self.latents is None else int(self.latents.shape[2])

    @property
    def has_truth(self) -> bool:
        """Whether true latents or true rates are known."""
        return self.latents is not None or self.rates is not None

    @property
    def heldin_neurons(self) -> np.ndarray:
        """Indices of the neurons given to the encoder (all but ``heldout_neurons``)."""
        return np.setdiff1d(np.arange(self.n_neurons), self.heldout_neurons).astype(np.int64)

    # ------------------------------------------------------------------ subsets
    def split(self, name: str) -> NeuralDataset:
        """Return the trials of split ``name`` (``"train"``, ``"valid"`` or ``"test"``).

        The result's own ``splits`` holds only ``name`` (covering all its trials).

        Examples
        --------
        >>> import numpy as np
        >>> data = NeuralDataset.from_arrays(np.zeros((20, 3, 2), int))
        >>> data.split("valid").n_trials
        3
        """
        if name not in self.splits:
            if name in SPLIT_NAMES:
                raise DynlensValueError(
                    f"name: this dataset has no {name!r} split; it has "
                    f"{', '.join(repr(n) for n in self.splits) or 'none'}"
                )
            raise DynlensValueError(
                f"name: expected a split name among {', '.join(repr(n) for n in self.splits)}, "
                f"found {name!r}"
            )
        return self[self.splits[name]]

    def __getitem__(self, key) -> NeuralDataset:
        """Select trials by int, slice, integer index array or boolean mask.

        Truth, metadata and held-out neurons are kept; splits are remapped to the new trial
        positions (a kept trial stays in the split it was in).
        """
        idx = self._trial_index(key)
        position_of = {}
        for name, members in self.splits.items():
            kept = np.flatnonzero(np.isin(idx, members))
            if kept.size:
                position_of[name] = kept

        def take(a):
            return None if a is None else a[idx]

        out = object.__new__(NeuralDataset)
        out.spikes = self.spikes[idx]
        out.latents, out.rates = take(self.latents), take(self.rates)
        out.log_rates, out.inputs = take(self.log_rates), take(self.inputs)
        out.bin_width = self.bin_width
        out.splits = position_of
        out.heldout_neurons = self.heldout_neurons.copy()
        out.metadata = copy.deepcopy(self.metadata)
        out.n_forward = self.n_forward
        return out

    def _trial_index(self, key) -> np.ndarray:
        n = self.n_trials
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not -n <= key < n:
                raise DynlensValueError(f"key: expected a trial index in [-{n}, {n}), found {key}")
            return np.array([key % n])
        if isinstance(key, slice):
            idx = np.arange(n)[key]
        else:
            arr = as_numpy(key, "key")
            if arr.dtype == bool:
                if arr.shape != (n,):
                    raise DynlensValueError(
                        f"key: expected a boolean mask of length {n}, found shape {arr.shape}"
                    )
                idx = np.flatnonzero(arr)
            elif np.issubdtype(arr.dtype, np.integer) and arr.ndim == 1:
                if arr.size and (arr.min() < -n or arr.max() >= n):
                    raise DynlensValueError(
                        f"key: expected trial indices in [-{n}, {n}), found values from "
                        f"{arr.min()} to {arr.max()}"
                    )
                idx = arr % n
            else:
                raise DynlensTypeError(
                    f"key: expected an int, slice, 1-D integer array or boolean mask, found "
                    f"{arr.dtype} array of shape {arr.shape}"
                )
        if idx.size == 0:
            raise DynlensValueError(
                f"key: expected a selection of at least one trial, found {key!r}"
            )
        return idx.astype(np.int64)

    def __len__(self) -> int:
        return self.n_trials

    def __repr__(self) -> str:
        truth = []
        if self.latents is not None:
            truth.append(f"latents[{self.latent_dim}]")
        if self.rates is not None:
            truth.append("rates")
        if self.log_rates is not None:
            truth.append("log_rates")
        if self.inputs is not None:
            truth.append(f"inputs[{self.inputs.shape[2]}]")
        splits = ", ".join(f"{k} {v.size}" for k, v in self.splits.items()) or "none"
        parts = [
            f"{self.n_trials} trials x {self.n_bins} bins x {self.n_neurons} neurons",
            f"truth: {', '.join(truth) or 'none'}",
            f"splits: {splits}",
            f"bin_width {self.bin_width:.4g}" if self.bin_width is not None else "bin_width None",
        ]
        if self.heldout_neurons.size:
            parts.append(f"heldout {self.heldout_neurons.size}")
        if self.n_forward:
            parts.append(f"forward {self.n_forward}")
        if "system" in self.metadata:
            parts.append(f"system {self.metadata['system']!r}")
        return f"NeuralDataset({'; '.join(parts)})"

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write the dataset to ``path`` (``.h5``/``.hdf5`` or ``.npz``), atomically.

        See :mod:`dynlens.data.io` for the layouts. Load it back with
        :func:`dynlens.load_dataset`.
        """
        from .io import save_dataset

        save_dataset(self, path)
