"""Dataset files: own .h5/.npz layouts, LFADS HDF5 layouts, atomic writes, bad files."""

from __future__ import annotations

import os
import types

import h5py
import numpy as np
import pytest

import dynlens.data.io as data_io
from dynlens.data import (
    NeuralDataset,
    load_dataset,
    read_lfads_h5,
    read_lfads_output,
    simulate,
    write_lfads_h5,
)
from dynlens.errors import (
    DynlensFileFormatError,
    DynlensFileNotFoundError,
    DynlensTypeError,
    DynlensValueError,
)


@pytest.fixture
def data() -> NeuralDataset:
    rng = np.random.default_rng(0)
    rates = rng.uniform(0.1, 4.0, size=(25, 7, 6))
    return NeuralDataset.from_arrays(
        rng.poisson(rates).astype(np.int32), latents=rng.normal(size=(25, 7, 3)), rates=rates,
        inputs=rng.normal(size=(25, 7, 2)).astype(np.float32), bin_width=0.0904,
        heldout_neurons=[1, 4], seed=3,
        metadata={"system": "arneodo", "params": {"a": -5.5}, "readout": rng.uniform(size=(3, 6)),
                  "seed": 3, "nested": {"x": [1, None, "s"], "nan": float("nan")}},
    )


def _assert_same(a: NeuralDataset, b: NeuralDataset, *, rtol: float = 0.0) -> None:
    assert a.spikes.dtype == b.spikes.dtype and np.array_equal(a.spikes, b.spikes)
    for name in ("latents", "rates", "log_rates", "inputs"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            if rtol:
                assert np.allclose(x, y, rtol=rtol, atol=0), name
            else:
                assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.splits.keys() == b.splits.keys()
    assert all(np.array_equal(a.splits[k], b.splits[k]) for k in a.splits)
    assert np.array_equal(a.heldout_neurons, b.heldout_neurons)
    assert a.bin_width == b.bin_width


def _same_metadata(a: dict, b: dict) -> bool:
    # NaN != NaN, so compare the JSON texts
    import json

    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("suffix", [".h5", ".hdf5", ".npz"])
def test_own_format_round_trip_is_exact(tmp_path, data, suffix):
    path = tmp_path / "sub" / f"data{suffix}"
    data.save(path)
    back = load_dataset(str(path))
    _assert_same(data, back)
    assert _same_metadata(back.metadata, data.metadata)
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temp files left


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_round_trip_without_truth_or_bin_width(tmp_path, suffix):
    plain = NeuralDataset.from_arrays(np.ones((4, 2, 3), dtype=np.int64),
                                      splits={"train": [0, 1, 2, 3]})
    plain.save(tmp_path / f"p{suffix}")
    back = load_dataset(tmp_path / f"p{suffix}")
    _assert_same(plain, back)
    assert back.metadata == {} and back.bin_width is None and not back.has_truth


def test_npz_is_loadable_without_pickle(tmp_path, data):
    data.save(tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz", allow_pickle=False) as z:
        assert str(z["format"]) == "dynlens.NeuralDataset"
        assert z["spikes"].shape == (25, 7, 6)


def test_h5_layout_is_as_documented(tmp_path, data):
    data.save(tmp_path / "d.h5")
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert f.attrs["format"] == "dynlens.NeuralDataset" and f.attrs["format_version"] == 1
        assert {"spikes", "latents", "rates", "log_rates", "inputs", "heldout_neurons",
                "splits"} <= set(f)
        assert set(f["splits"]) == {"train", "valid", "test"}


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_interrupted_save_leaves_previous_file_intact(tmp_path, data, monkeypatch, suffix):
    path = tmp_path / f"d{suffix}"
    data[:5].save(path)
    before = path.read_bytes()
    real = data_io._write_h5 if suffix == ".h5" else data_io._write_npz
    name = "_write_h5" if suffix == ".h5" else "_write_npz"

    def crash(d, tmp):
        real(d, tmp)  # the temp file is fully written ...
        raise KeyboardInterrupt("killed mid-save")  # ... but the process dies before the rename

    monkeypatch.setattr(data_io, name, crash)
    with pytest.raises(KeyboardInterrupt):
        data.save(path)
    assert path.read_bytes() == before
    assert load_dataset(path).n_trials == 5
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_save_rejects_bad_paths_and_objects(tmp_path, data):
    with pytest.raises(DynlensValueError,
                       match=(r"path: expected a file ending in .h5, .hdf5 or .npz, "
                              r"found '.*data.csv'")):
        data.save(tmp_path / "data.csv")
    with pytest.raises(DynlensTypeError, match="path: expected a file path, found int"):
        data.save(3)
    with pytest.raises(DynlensTypeError, match="data: expected a NeuralDataset, found dict"):
        data_io.save_dataset({}, tmp_path / "x.h5")


def test_load_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(DynlensFileNotFoundError, match=f"path: no such file '{missing}'"):
        load_dataset(missing)
    with pytest.raises(FileNotFoundError):  # also a built-in FileNotFoundError
        load_dataset(tmp_path / "nope.npz")


def test_load_unsupported_extension(tmp_path):
    (tmp_path / "d.mat").write_bytes(b"x")
    with pytest.raises(DynlensValueError, match="path: expected a file ending in .h5"):
        load_dataset(tmp_path / "d.mat")


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_load_empty_file_names_the_path(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.touch()
    with pytest.raises(DynlensFileFormatError, match=f"path: '{path}' is empty"):
        load_dataset(path)


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_load_corrupt_file_names_the_path(tmp_path, data, suffix):
    good = tmp_path / f"good{suffix}"
    data.save(good)
    path = tmp_path / f"corrupt{suffix}"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 3])  # truncated
    with pytest.raises(DynlensFileFormatError, match=f"'{path}'"):
        load_dataset(path)
    garbage = tmp_path / f"garbage{suffix}"
    garbage.write_bytes(os.urandom(300))
    with pytest.raises(DynlensFileFormatError, match=f"path: '{garbage}' could not be read"):
        load_dataset(garbage)


def test_load_foreign_files_names_the_path(tmp_path):
    foreign = tmp_path / "other.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(DynlensFileFormatError,
                       match=f"format marker 'dynlens.NeuralDataset'.*'{foreign}'"):
        load_dataset(foreign)
    lfads = tmp_path / "lfads.h5"
    with h5py.File(lfads, "w") as f:
        f["train_data"] = np.ones((2, 3, 4), int)
    with pytest.raises(DynlensFileFormatError, match="use dynlens.data.read_lfads_h5"):
        load_dataset(lfads)
    npz = tmp_path / "other.npz"
    np.savez(npz, a=np.arange(3))
    with pytest.raises(DynlensFileFormatError, match=f"'{npz}', found arrays \\['a'\\]"):
        load_dataset(npz)


def test_load_file_with_invalid_content_names_the_path(tmp_path, data):
    path = tmp_path / "bad.h5"
    data.save(path)
    with h5py.File(path, "a") as f:
        f["spikes"][0, 0, 0] = -3
    with pytest.raises(DynlensFileFormatError,
                       match=(f"path: '{path}' holds an invalid dataset: "
                              "spikes: expected non-negative")):
        load_dataset(path)


# ----------------------------------------------------------------------------- LFADS HDF5
@pytest.mark.parametrize("layout", ["lfads", "lfads_torch"])
def test_lfads_round_trip_preserves_everything(tmp_path, data, layout):
    path = tmp_path / f"{layout}.h5"
    write_lfads_h5(data, path, layout=layout)
    back = read_lfads_h5(path)
    _assert_same(data, back)
    assert _same_metadata(back.metadata, data.metadata)


@pytest.mark.parametrize("layout", ["lfads", "lfads_torch"])
def test_lfads_truth_is_scaled_by_conversion_factor(tmp_path, data, layout):
    path = tmp_path / "cf.h5"
    write_lfads_h5(data, path, conversion_factor=1 / 0.01, layout=layout)
    with h5py.File(path, "r") as f:
        key = "train_data" if layout == "lfads" else "train_recon_data"
        assert key in f and "valid_inds" in f and f["conversion_factor"][()] == 100.0
        order = (np.concatenate([data.heldin_neurons, data.heldout_neurons])
                 if layout == "lfads_torch" else np.arange(data.n_neurons))
        idx = f["train_inds"][()]
        assert np.allclose(f["train_truth"][()], data.rates[idx][..., order] * 100.0)
        if layout == "lfads_torch":
            assert np.array_equal(f["train_encod_data"][()],
                                  data.spikes[idx][..., data.heldin_neurons])
    back = read_lfads_h5(path)
    _assert_same(data, back, rtol=1e-12)


def test_reads_hand_built_original_lfads_file(tmp_path):
    rng = np.random.default_rng(2)
    rates_hz = rng.uniform(1, 30, size=(12, 10, 5))
    counts = rng.poisson(rates_hz * 0.01)
    inds_train, inds_valid = np.array([0, 2, 3, 5, 6, 8, 9, 11]), np.array([1, 4, 7, 10])
    path = tmp_path / "orig.h5"
    with h5py.File(path, "w") as f:
        f["train_data"] = counts[inds_train]
        f["valid_data"] = counts[inds_valid]
        f["train_truth"] = rates_hz[inds_train] * 0.01 * 0.5  # counts per bin x factor 0.5
        f["valid_truth"] = rates_hz[inds_valid] * 0.01 * 0.5
        f["conversion_factor"] = 0.5
        f["train_ext_input"] = np.ones((8, 10, 1))
        f["valid_ext_input"] = np.zeros((4, 10, 1))
        f["train_inds"] = inds_train
        f["valid_inds"] = inds_valid
    data = read_lfads_h5(path)
    assert np.array_equal(data.spikes, counts)  # original trial order restored
    assert np.allclose(data.rates, rates_hz * 0.01)
    assert data.splits["train"].tolist() == inds_train.tolist()
    assert data.splits["valid"].tolist() == inds_valid.tolist()
    assert data.inputs[inds_train].min() == 1 and data.inputs[inds_valid].max() == 0
    assert data.heldout_neurons.size == 0 and data.bin_width is None
    assert data.metadata["source_format"] == "lfads" and data.metadata["conversion_factor"] == 0.5


def test_reads_hand_built_lfads_torch_file_with_heldout_and_forward_bins(tmp_path):
    rng = np.random.default_rng(3)
    counts = rng.poisson(1.0, size=(9, 12, 7))  # 12 bins, the last 2 are forward bins
    path = tmp_path / "nlb.h5"
    with h5py.File(path, "w") as f:
        for split, idx in (("train", slice(0, 6)), ("valid", slice(6, 8)), ("test", slice(8, 9))):
            f[f"{split}_encod_data"] = counts[idx, :10, :5]  # 5 held-in neurons
            f[f"{split}_recon_data"] = counts[idx]  # + 2 held-out neurons
    data = read_lfads_h5(path)
    assert np.array_equal(data.spikes, counts)  # no inds: train, valid, test in order
    assert data.heldout_neurons.tolist() == [5, 6]
    assert {k: v.tolist() for k, v in data.splits.items()} == {
        "train": [0, 1, 2, 3, 4, 5], "valid": [6, 7], "test": [8]}
    assert data.metadata["lfads_forward_bins"] == 2 and data.n_forward == 2
    # and it writes back the same encod/recon data
    write_lfads_h5(data, tmp_path / "again.h5", layout="lfads_torch")
    with h5py.File(tmp_path / "again.h5", "r") as f:
        assert np.array_equal(f["valid_encod_data"][()], counts[6:8, :10, :5])
        assert np.array_equal(f["test_recon_data"][()], counts[8:9])


def test_lfads_errors_name_the_argument_or_path(tmp_path, data):
    with pytest.raises(DynlensValueError,
                       match="layout: expected one of 'lfads', 'lfads_torch', found 'torch'"):
        write_lfads_h5(data, tmp_path / "x.h5", layout="torch")
    with pytest.raises(DynlensValueError,
                       match="conversion_factor: expected a positive finite number, found -1"):
        write_lfads_h5(data, tmp_path / "x.h5", conversion_factor=-1)
    with pytest.raises(DynlensValueError,
                       match="data.splits: expected every trial in a split.* 8 of 25"):
        write_lfads_h5(NeuralDataset.from_arrays(data.spikes, splits={"train": np.arange(17)}),
                       tmp_path / "x.h5")
    with pytest.raises(DynlensValueError, match="data.splits: expected a 'train' split"):
        write_lfads_h5(NeuralDataset.from_arrays(data.spikes, splits={"valid": np.arange(25)}),
                       tmp_path / "x.h5")
    with pytest.raises(DynlensTypeError, match="data: expected a NeuralDataset"):
        write_lfads_h5(data.spikes, tmp_path / "x.h5")
    missing = tmp_path / "missing.h5"
    with pytest.raises(DynlensFileNotFoundError, match=f"'{missing}'"):
        read_lfads_h5(missing)
    empty = tmp_path / "empty.h5"
    empty.touch()
    with pytest.raises(DynlensFileFormatError, match=f"'{empty}' is empty"):
        read_lfads_h5(empty)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(200))
    with pytest.raises(DynlensFileFormatError, match=f"'{garbage}' could not be read"):
        read_lfads_h5(garbage)
    own = tmp_path / "own.h5"
    data.save(own)
    with pytest.raises(DynlensFileFormatError, match=f"expected LFADS keys .* in '{own}', found"):
        read_lfads_h5(own)
    mismatched = tmp_path / "mismatch.h5"
    with h5py.File(mismatched, "w") as f:
        f["train_data"] = np.ones((3, 4, 5), int)
        f["valid_data"] = np.ones((2, 4, 6), int)
    with pytest.raises(DynlensFileFormatError, match=r"valid_data .* found \(2, 4, 6\)"):
        read_lfads_h5(mismatched)


def test_lfads_write_is_atomic(tmp_path, data, monkeypatch):
    path = tmp_path / "l.h5"
    write_lfads_h5(data[:4], path)
    before = path.read_bytes()

    class Boom(RuntimeError):
        pass

    def explode(*args, **kwargs):
        raise Boom("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", explode)
    with pytest.raises(Boom):
        write_lfads_h5(data, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["l.h5"]


# ----------------------------------------------------------------------------- LFADS outputs
def _fake_inference(data: NeuralDataset, **overrides) -> types.SimpleNamespace:
    """A stand-in for dynlens.Inference: arrays that differ per trial, bin and feature."""
    rng = np.random.default_rng(1)
    n, t = data.n_trials, data.n_bins
    fields = {"rates": rng.uniform(0.1, 3.0, size=(n, t, data.n_neurons)),
              "log_rates": None, "latents": rng.normal(size=(n, t, 4)),
              "initial_conditions": rng.normal(size=(n, 4)),
              "factors": rng.normal(size=(n, t, 3)), "inputs": rng.normal(size=(n, t, 2)),
              "extras": {"ic_std": rng.uniform(0.1, 1.0, size=(n, 4)), "other": 1}}
    fields.update(overrides)
    return types.SimpleNamespace(**fields)


@pytest.mark.parametrize("layout", ["lfads", "lfads_torch"])
def test_lfads_output_keys_round_trip(tmp_path, layout):
    data = simulate("arneodo", n_neurons=6, n_trials=24, n_bins=12, n_heldout=2, seed=0)
    inf = _fake_inference(data)
    path = tmp_path / "out.h5"
    write_lfads_h5(data, path, conversion_factor=20.0, layout=layout, inference=inf)
    out = read_lfads_output(path)
    assert set(out) == set(data.splits) == {"train", "valid", "test"}
    sources = {"factors": inf.factors, "gen_states": inf.latents,
               "ic_mean": inf.initial_conditions, "ic_std": inf.extras["ic_std"],
               "co_means": inf.inputs}
    back = read_lfads_h5(path)
    with h5py.File(path, "r") as f:
        for split, idx in data.splits.items():
            assert set(out[split]) == {"output_params", *sources}
            assert np.array_equal(f[f"{split}_inds"][()], idx)  # rows follow {split}_data
            for key, full in sources.items():
                assert np.array_equal(f[f"{split}_{key}"][()], full[idx]), key
                assert np.array_equal(out[split][key], full[idx]), key
            # stored like truth (x conversion_factor); read back in counts per bin
            assert np.allclose(f[f"{split}_output_params"][()], inf.rates[idx] * 20.0)
            assert np.allclose(out[split]["output_params"], inf.rates[idx], rtol=1e-12, atol=0)
            assert np.array_equal(back.splits[split], idx)
    assert np.array_equal(back.spikes, data.spikes)  # the input keys are untouched


def test_lfads_torch_output_params_follow_the_recon_neuron_order(tmp_path, data):
    # the fixture holds out neurons 1 and 4, so lfads-torch stores neurons [0, 2, 3, 5, 1, 4]
    inf = _fake_inference(data)
    path = tmp_path / "torch.h5"
    write_lfads_h5(data, path, layout="lfads_torch", inference=inf)
    order = [0, 2, 3, 5, 1, 4]
    out = read_lfads_output(path)
    with h5py.File(path, "r") as f:
        for split, idx in data.splits.items():
            stored = f[f"{split}_output_params"][()]
            assert np.array_equal(stored, inf.rates[idx][..., order])
            assert np.array_equal(f[f"{split}_recon_data"][()], data.spikes[idx][..., order])
            assert np.array_equal(out[split]["output_params"], inf.rates[idx])


def test_lfads_output_absent_fields_give_no_keys(tmp_path, data):
    bare = types.SimpleNamespace(rates=data.rates)  # no other attribute at all
    write_lfads_h5(data, tmp_path / "bare.h5", inference=bare)
    assert {k: sorted(v) for k, v in read_lfads_output(tmp_path / "bare.h5").items()} == {
        s: ["output_params"] for s in data.splits}
    nones = _fake_inference(data, factors=None, inputs=None, initial_conditions=None,
                            extras={"other": 1})
    write_lfads_h5(data, tmp_path / "nones.h5", inference=nones)
    with h5py.File(tmp_path / "nones.h5", "r") as f:
        outputs = sorted(k for k in f if k.startswith("train_") and k != "train_inds")
    assert outputs == ["train_data", "train_ext_input", "train_gen_states", "train_latents",
                       "train_output_params", "train_truth"]
    write_lfads_h5(data, tmp_path / "plain.h5")  # without inference: no output key at all
    with pytest.raises(DynlensFileFormatError,
                       match=f"path: expected LFADS output keys .* in '{tmp_path / 'plain.h5'}'"):
        read_lfads_output(tmp_path / "plain.h5")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"rates": np.ones((24, 7, 6))},
     r"inference: expected rates for 25 trials \(data.n_trials\), found 24"),
    ({"rates": np.ones((25, 7, 5))},
     r"inference: expected rates for 6 neurons \(data.n_neurons\), found 5"),
    ({"rates": np.ones((25, 6, 6))}, r"expected rates for 7 bins \(data.n_bins\), found 6"),
    ({"factors": np.ones((20, 7, 3))}, r"inference: expected factors for 25 trials .* found 20"),
    ({"initial_conditions": np.ones((3, 4))}, r"expected initial_conditions for 25 trials"),
    ({"extras": {"ic_std": np.ones((25, 7, 4))}},
     r"inference: expected extras\['ic_std'\] of shape \[trials, ic_dim\], found shape"),
    ({"inputs": np.ones((25, 7))}, r"expected inputs of shape \[trials, bins, co_dim\]"),
], ids=["trials", "neurons", "bins", "factors", "ic_mean", "ic_std", "co_means"])
def test_lfads_output_wrong_sizes_are_refused(tmp_path, data, overrides, message):
    path = tmp_path / "o.h5"
    with pytest.raises(DynlensValueError, match=message):
        write_lfads_h5(data, path, inference=_fake_inference(data, **overrides))
    assert list(tmp_path.iterdir()) == []  # refused before anything is written


def test_lfads_output_bad_objects_and_files(tmp_path, data):
    with pytest.raises(DynlensTypeError, match="inference: expected an object with rates .*"
                                               "found dict without rates"):
        write_lfads_h5(data, tmp_path / "o.h5", inference={"rates": data.rates})
    with pytest.raises(DynlensTypeError, match="inference: expected extras to be a dict"):
        write_lfads_h5(data, tmp_path / "o.h5", inference=_fake_inference(data, extras=[1]))
    with pytest.raises(DynlensFileNotFoundError, match="nope.h5"):
        read_lfads_output(tmp_path / "nope.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(200))
    with pytest.raises(DynlensFileFormatError, match=f"'{garbage}' could not be read"):
        read_lfads_output(garbage)


def test_lfads_write_with_outputs_is_atomic(tmp_path, data, monkeypatch):
    path = tmp_path / "l.h5"
    write_lfads_h5(data[:4], path)
    before = path.read_bytes()
    real = h5py.Group.create_dataset

    def fail_on_outputs(self, name, *args, **kwargs):
        if name.endswith("_factors"):  # the input keys and some outputs are already written
            raise OSError("disk full")
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", fail_on_outputs)
    with pytest.raises(OSError, match="disk full"):
        write_lfads_h5(data, path, inference=_fake_inference(data))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["l.h5"]
