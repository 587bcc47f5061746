"""NeuralDataset: validation, splits, subsetting, repr."""

from __future__ import annotations

import numpy as np
import pytest

from dynlens.data import NeuralDataset
from dynlens.data.dataset import make_splits
from dynlens.errors import DynlensError, DynlensTypeError, DynlensValueError


def _counts(trials=20, bins=6, neurons=4, seed=0):
    return np.random.default_rng(seed).poisson(1.5, size=(trials, bins, neurons))


def _full(trials=20, bins=6, neurons=4):
    rng = np.random.default_rng(1)
    rates = rng.uniform(0.2, 3.0, size=(trials, bins, neurons))
    return NeuralDataset.from_arrays(
        rng.poisson(rates), latents=rng.normal(size=(trials, bins, 3)), rates=rates,
        inputs=rng.normal(size=(trials, bins, 2)), bin_width=0.05, heldout_neurons=[3],
        metadata={"system": "toy", "readout": np.eye(3)},
    )


def test_published_split_sizes_are_1280_320_400():
    data = NeuralDataset.from_arrays(np.zeros((2000, 2, 1), dtype=np.int64))
    assert {k: v.size for k, v in data.splits.items()} == {"train": 1280, "valid": 320, "test": 400}
    together = np.concatenate(list(data.splits.values()))
    assert np.array_equal(np.sort(together), np.arange(2000))  # disjoint and covering
    for idx in data.splits.values():
        assert np.all(np.diff(idx) > 0)  # sorted
    # shuffled: the test set is not simply the last 400 trials
    assert not np.array_equal(data.splits["test"], np.arange(1600, 2000))


def test_splits_are_reproducible_from_seed():
    a, b, c = make_splits(100, seed=4), make_splits(100, seed=4), make_splits(100, seed=5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])
    assert {k: v.size for k, v in make_splits(10, (0.5, 0.0)).items()} == {"train": 5, "test": 5}
    assert {k: v.size for k, v in make_splits(1).items()} == {"train": 1}


def test_spikes_stored_as_integers_and_properties():
    data = NeuralDataset.from_arrays(_counts().astype(float))
    assert np.issubdtype(data.spikes.dtype, np.integer)
    assert (data.n_trials, data.n_bins, data.n_neurons, len(data)) == (20, 6, 4, 20)
    assert data.latent_dim is None and not data.has_truth
    assert data.heldout_neurons.size == 0 and data.heldin_neurons.tolist() == [0, 1, 2, 3]
    kept = NeuralDataset.from_arrays(_counts().astype(np.int16))
    assert kept.spikes.dtype == np.int16


def test_rates_and_log_rates_fill_each_other():
    rates = np.full((5, 3, 2), 2.0)
    a = NeuralDataset.from_arrays(np.ones((5, 3, 2), int), rates=rates)
    assert np.allclose(a.log_rates, np.log(2.0))
    b = NeuralDataset.from_arrays(np.ones((5, 3, 2), int), log_rates=np.log(rates))
    assert np.allclose(b.rates, 2.0) and b.has_truth
    zero = NeuralDataset.from_arrays(np.zeros((5, 3, 2), int), rates=np.zeros((5, 3, 2)))
    assert np.all(zero.log_rates == -np.inf)
    with pytest.raises(DynlensValueError, match=r"rates: expected rates == exp\(log_rates\)"):
        NeuralDataset.from_arrays(np.ones((5, 3, 2), int), rates=rates,
                                  log_rates=np.zeros_like(rates))


def test_metadata_becomes_plain_json():
    data = _full()
    assert data.metadata["readout"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    with pytest.raises(DynlensTypeError, match="metadata: expected a dict of JSON"):
        NeuralDataset.from_arrays(_counts(), metadata={"f": object()})
    with pytest.raises(DynlensTypeError, match="metadata: expected a dict"):
        NeuralDataset.from_arrays(_counts(), metadata=[1, 2])


@pytest.mark.parametrize(
    "spikes, pattern",
    [
        (np.full((2, 3, 4), np.nan),
         r"spikes: expected finite counts, found 24 non-finite values \(NaN\)"),
        (np.full((2, 3, 4), np.inf), r"spikes: expected finite counts, .*\(inf\)"),
        (-np.ones((2, 3, 4), int), "spikes: expected non-negative counts, found minimum -1"),
        (-np.ones((2, 3, 4)), "spikes: expected non-negative counts"),
        (np.full((2, 3, 4), 0.5), "spikes: expected integer counts, found 24 fractional"),
        (np.ones((3, 4), int),
         r"spikes: expected a 3-D array \[trials, bins, neurons\], found 2-D"),
        (np.ones((0, 3, 4), int),
         "spikes: expected at least one trial, bin and neuron, found empty"),
        (np.ones((2, 3, 0), int), "spikes: expected at least one trial"),
        (np.array([[["a"]]]), "spikes: expected integer counts, found dtype"),
    ],
)
def test_bad_spikes_raise_naming_spikes(spikes, pattern):
    with pytest.raises(DynlensError, match=pattern):
        NeuralDataset.from_arrays(spikes)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"latents": np.zeros((19, 6, 3))},
         r"latents: expected trials and bins matching spikes \(20, 6\), found shape \(19, 6, 3\)"),
        ({"latents": np.zeros((20, 5, 3))}, "latents: expected trials and bins matching"),
        ({"latents": np.zeros((20, 6))},
         r"latents: expected a 3-D array \[trials, bins, latent_dim\]"),
        ({"latents": np.full((20, 6, 3), np.nan)}, "latents: expected finite values"),
        ({"rates": np.ones((20, 6, 5))},
         (r"rates: expected trials, bins, neurons matching spikes \(20, 6, 4\), "
          r"found shape \(20, 6, 5\)")),
        ({"rates": -np.ones((20, 6, 4))}, "rates: expected non-negative"),
        ({"rates": np.full((20, 6, 4), np.inf)}, "rates: expected finite values"),
        ({"log_rates": np.ones((20, 7, 4))}, "log_rates: expected trials, bins, neurons matching"),
        ({"log_rates": np.full((20, 6, 4), np.nan)}, "log_rates: expected finite values"),
        ({"inputs": np.ones((21, 6, 1))}, "inputs: expected trials and bins matching"),
        ({"bin_width": 0.0}, "bin_width: expected a positive finite number, found 0.0"),
        ({"bin_width": "1"}, "bin_width: expected a positive number"),
        ({"heldout_neurons": [4]},
         r"heldout_neurons: expected indices in \[0, 4\), found values from 4"),
        ({"heldout_neurons": [0, 1, 2, 3]}, "heldout_neurons: expected fewer than the 4 neurons"),
        ({"heldout_neurons": [1, 1]}, "heldout_neurons: expected unique indices"),
        ({"heldout_neurons": [0.5]}, "heldout_neurons: expected integer indices"),
        ({"split_fractions": (0.2,)}, r"split_fractions: expected a pair"),
        ({"split_fractions": (1.0, 0.2)},
         r"split_fractions\[0\] \(test\): expected a number in \[0, 1\)"),
        ({"seed": -1}, "seed: expected a non-negative integer, found -1"),
    ],
)
def test_bad_truth_and_options_raise_naming_the_argument(kwargs, pattern):
    with pytest.raises(DynlensError, match=pattern):
        NeuralDataset.from_arrays(_counts(), **kwargs)


@pytest.mark.parametrize(
    "splits, pattern",
    [
        ({"train": [0, 20]},
         r"splits\['train'\]: expected indices in \[0, 20\), found values from 0 to 20"),
        ({"train": [-1, 2]}, r"splits\['train'\]: expected indices in \[0, 20\)"),
        ({"train": [0, 1, 2], "test": [2, 3]},
         (r"splits: expected disjoint splits, found 1 trials in both 'train' and 'test' "
          r"\(e.g. trial 2\)")),
        ({"training": [0]}, "splits: expected names among train, valid, test, found 'training'"),
        ({"train": [[0, 1]]}, r"splits\['train'\]: expected a 1-D array of indices"),
        ({"train": [0, 0]}, r"splits\['train'\]: expected unique indices"),
        ([0, 1], "splits: expected a dict"),
    ],
)
def test_bad_splits_raise_naming_splits(splits, pattern):
    with pytest.raises(DynlensError, match=pattern):
        NeuralDataset.from_arrays(_counts(), splits=splits)


def test_given_splits_are_sorted_and_kept():
    data = NeuralDataset.from_arrays(_counts(), splits={"test": [5, 1], "train": np.arange(6, 20)})
    assert list(data.splits) == ["train", "test"]
    assert data.splits["test"].tolist() == [1, 5]
    assert data.splits["test"].dtype == np.int64


def test_split_returns_those_trials_with_truth():
    data = _full()
    test = data.split("test")
    idx = data.splits["test"]
    assert np.array_equal(test.spikes, data.spikes[idx])
    assert np.array_equal(test.latents, data.latents[idx])
    assert np.array_equal(test.rates, data.rates[idx])
    assert np.array_equal(test.inputs, data.inputs[idx])
    assert test.splits.keys() == {"test"} and test.splits["test"].tolist() == list(range(idx.size))
    assert test.bin_width == 0.05 and test.heldout_neurons.tolist() == [3]
    assert test.metadata == data.metadata and test.metadata is not data.metadata


def test_unknown_split_names_list_the_valid_ones():
    data = _full()
    with pytest.raises(DynlensValueError,
                       match=("name: expected a split name among 'train', 'valid', 'test', "
                              "found 'tst'")):
        data.split("tst")
    only_train = NeuralDataset.from_arrays(_counts(), splits={"train": np.arange(20)})
    with pytest.raises(DynlensValueError,
                       match="name: this dataset has no 'valid' split; it has 'train'"):
        only_train.split("valid")


def test_indexing_by_int_slice_array_and_mask_remaps_splits():
    data = _full()
    one = data[3]
    assert one.n_trials == 1 and np.array_equal(one.spikes[0], data.spikes[3])
    assert np.array_equal(data[-1].spikes[0], data.spikes[-1])
    sub = data[2:10:2]
    assert np.array_equal(sub.spikes, data.spikes[2:10:2])
    picked = np.array([7, 0, 7])  # repeats are allowed (e.g. bootstrap)
    boot = data[picked]
    assert np.array_equal(boot.latents, data.latents[picked])
    mask = np.zeros(20, bool)
    mask[[1, 4, 5]] = True
    masked = data[mask]
    assert np.array_equal(masked.rates, data.rates[[1, 4, 5]])
    # every kept trial stays in its own split, at its new position
    for new_data, old_idx in ((sub, np.arange(2, 10, 2)), (boot, picked), (masked, [1, 4, 5])):
        for name, members in new_data.splits.items():
            assert all(old_idx[j] in data.splits[name] for j in members)
        assert sum(v.size for v in new_data.splits.values()) == len(old_idx)


@pytest.mark.parametrize(
    "key, error, pattern",
    [
        (20, DynlensValueError, r"key: expected a trial index in \[-20, 20\), found 20"),
        (np.array([0, 25]), DynlensValueError, r"key: expected trial indices in \[-20, 20\)"),
        (np.ones(3, bool), DynlensValueError, "key: expected a boolean mask of length 20"),
        (slice(5, 5), DynlensValueError, "key: expected a selection of at least one trial"),
        (np.ones((2, 2), int), DynlensTypeError, "key: expected an int, slice"),
        (np.array([0.5]), DynlensTypeError, "key: expected an int, slice"),
    ],
)
def test_bad_indexing_raises_naming_key(key, error, pattern):
    with pytest.raises(error, match=pattern):
        _full()[key]


def test_repr_shows_shape_truth_splits_and_system():
    text = repr(_full())
    assert text.startswith("NeuralDataset(20 trials x 6 bins x 4 neurons")
    for part in ("latents[3]", "rates", "log_rates", "inputs[2]", "train 13", "valid 3",
                 "test 4", "bin_width 0.05", "heldout 1", "system 'toy'"):
        assert part in text
