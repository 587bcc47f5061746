"""Checkpoints: tensors plus JSON, atomic writes, and no unpickling of arbitrary objects."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dynlens.errors import (
    DynlensFileFormatError,
    DynlensFileNotFoundError,
    DynlensTypeError,
    DynlensUnsafeCheckpointError,
)
from dynlens.models import available_generators, load_model, save_model
from dynlens.models.checkpoint import read_checkpoint


def _assert_same_model(a, b, data) -> None:
    state_a, state_b = a.state_dict(), b.state_dict()
    assert list(state_a) == list(state_b)
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    assert a.config == b.config
    out_a, out_b = a.infer(data), b.infer(data)
    for key in ("rates", "log_rates", "latents", "initial_conditions"):
        assert np.array_equal(getattr(out_a, key), getattr(out_b, key)), key


@pytest.mark.parametrize("dynamics", available_generators())
def test_round_trip_gives_identical_weights_and_outputs(make_sae, tiny_data, tmp_path, dynamics):
    model = make_sae(dynamics)
    with torch.no_grad():  # move off the initialisation so a fresh model would differ
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "model.pt"
    model.save(path)
    clone = load_model(path)
    assert type(clone) is type(model)
    _assert_same_model(model, clone, tiny_data)


def test_round_trip_keeps_heldout_neurons_and_solver(make_sae, heldout_data, tmp_path):
    model = make_sae("node", heldout_neurons=[4, 5], solver="midpoint", substeps=2, bin_dt=0.2)
    save_model(model, tmp_path / "m.pt")
    clone = load_model(tmp_path / "m.pt", device="cpu")
    assert clone.heldout_neurons == [4, 5]
    assert clone.encoder.gru.input_size == 4
    assert (clone.config.solver, clone.config.substeps, clone.dynamics.dt) == ("midpoint", 2, 0.2)
    _assert_same_model(model, clone, heldout_data)


def test_saved_file_holds_tensors_and_a_json_config(make_sae, tmp_path):
    model = make_sae("gru")
    model.save(tmp_path / "m.pt")
    payload = read_checkpoint(tmp_path / "m.pt")
    assert payload["model_type"] == "sae"
    assert (payload["format"], payload["version"]) == ("dynlens-checkpoint", 1)
    assert isinstance(payload["config"], str)  # JSON text, not a pickled dataclass
    assert json.loads(payload["config"]) == model.config.to_dict()
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())
    state = model.state_dict()
    assert list(payload["state_dict"]) == list(state)
    for key, value in payload["state_dict"].items():
        assert value.dtype == state[key].dtype and torch.equal(value, state[key]), key


def test_failed_write_leaves_the_previous_file_intact(make_sae, tiny_data, tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    first = make_sae("gru", init_seed=0)
    first.save(path)
    before = path.read_bytes()
    real_save = torch.save

    def half_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as handle:  # leave a truncated file behind, as a crash would
            handle.truncate(100)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        make_sae("gru", init_seed=1).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temp file left behind
    _assert_same_model(first, load_model(path), tiny_data)


class _Marker:
    """Unpickling this object would create ``path``: proof that code ran during loading."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class _PlainObject:
    """An ordinary custom class: unpickling it needs an import, which a safe load refuses."""

    def __init__(self) -> None:
        self.value = 3


@pytest.mark.parametrize("legacy", [False, True])
def test_pickle_carrying_checkpoint_is_refused_without_running_it(make_sae, tmp_path, legacy):
    marker = tmp_path / "code_ran"
    model = make_sae("gru")
    payload = {"format": "dynlens-checkpoint", "version": 1, "model_type": "sae",
               "config": json.dumps(model.config.to_dict()),
               "state_dict": model.state_dict(), "extra": _Marker(marker)}
    path = tmp_path / "evil.pt"
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    # dynlens writes zip archives; an old-style pickle file may also be refused as foreign
    refused = DynlensFileFormatError if legacy else DynlensUnsafeCheckpointError
    with pytest.raises(refused, match=r"^path:"):
        load_model(path)
    with pytest.raises(refused):
        read_checkpoint(path)
    assert not marker.exists()
    # the file really is dangerous: an unsafe load runs the payload
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_checkpoint_with_a_custom_object_is_refused(tmp_path):
    path = tmp_path / "custom.pt"
    torch.save({"format": "dynlens-checkpoint", "obj": _PlainObject()}, path)
    with pytest.raises(DynlensUnsafeCheckpointError, match=str(path)):
        load_model(path)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope" / "model.pt"
    with pytest.raises(DynlensFileNotFoundError, match=r"^path:.*model\.pt"):
        load_model(path)
    with pytest.raises(DynlensFileNotFoundError, match=r"^path:"):
        load_model(tmp_path)  # a directory is not a checkpoint file


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda p: p.write_bytes(np.random.default_rng(0).bytes(2000)),
                     id="random-bytes"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
        pytest.param(lambda p: p.write_text("hello world\n"), id="text"),
        pytest.param(lambda p: p.write_bytes(b"PK\x03\x04" + bytes(200)), id="broken-zip"),
        pytest.param(lambda p: torch.save({"a": torch.ones(3)}, p), id="plain-torch-dict"),
        pytest.param(lambda p: torch.save([torch.ones(3)], p), id="plain-torch-list"),
        pytest.param(lambda p: torch.save({"format": "dynlens-checkpoint", "model_type": "nope",
                                           "config": "{}", "state_dict": {}}, p),
                     id="unknown-model-type"),
        pytest.param(lambda p: torch.save({"format": "dynlens-checkpoint", "model_type": "sae",
                                           "config": "{not json", "state_dict": {}}, p),
                     id="bad-json"),
        pytest.param(lambda p: torch.save({"format": "dynlens-checkpoint", "model_type": "sae",
                                           "config": '{"n_neurons": 4}',
                                           "state_dict": {"x": torch.ones(1)}}, p),
                     id="wrong-state-dict"),
    ],
)
def test_foreign_or_damaged_files_raise_a_format_error(tmp_path, content):
    path = tmp_path / "foreign.pt"
    content(path)
    with pytest.raises(DynlensFileFormatError, match=r"^path:") as info:
        load_model(path)
    # these files carry no pickled code: calling them unsafe would send users the wrong way
    assert not isinstance(info.value, DynlensUnsafeCheckpointError)


def test_save_model_rejects_a_foreign_module(tmp_path):
    with pytest.raises(DynlensTypeError, match=r"^model:"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()
