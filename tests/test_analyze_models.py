"""``dynlens analyze`` of several models: what the one-model report says about each model, it
says of every one, naming the model; both reports share one scaffolding (AnalysisRun)."""

from __future__ import annotations

import json

import pytest
import torch

import dynlens as dl
from dynlens.app.analyze import AnalysisRun, other_data_note
from dynlens.app.cli import main
from dynlens.errors import DynlensValueError
from dynlens.models import other_data_message, training_record


def _data(system: str = "arneodo", seed: int = 0):
    return dl.simulate(system, n_neurons=6, n_trials=20, n_bins=10, seed=seed)


def _model(trained_on) -> dl.models.SAE:
    model = dl.models.SAE(n_neurons=6, latent_dim=2, hidden_size=8, encoder_size=8)
    model.trained_on = training_record(trained_on)  # as dl.fit records it, without training
    return model


def test_other_data_note_names_the_model_only_when_asked():
    model = _model(_data("lorenz"))
    data = _data()
    message = other_data_message(model, data)
    assert message.startswith("the model was trained on lorenz data, given arneodo data")
    assert other_data_note(model, data) == message
    assert other_data_note(model, data, "'b.pt'") == (
        "the model 'b.pt' was trained on" + message[len("the model was trained on"):])
    assert other_data_note(_model(data), data, "'a.pt'") is None  # its own data


def test_several_models_each_warned_of_by_file_in_the_command_and_the_report(tmp_path, capsys):
    data = _data()
    data_path, own, other = tmp_path / "d.h5", tmp_path / "a.pt", tmp_path / "b.pt"
    data.save(data_path)
    _model(data).save(own)
    _model(_data("lorenz")).save(other)
    out = tmp_path / "report"
    assert main(["analyze", str(own), str(other), str(data_path), "--out", str(out),
                 "--n-inits", "8", "--lyapunov-steps", "10", "--quiet", "--threads", "1"]) == 0
    message = other_data_message(dl.load_model(other), data)
    rest = message[len("the model "):]  # "was trained on lorenz data, given arneodo data ..."
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [f"dynlens analyze: warning: the model {str(other)!r} {rest}"]
    text = (out / "report.md").read_text()
    # the report names the model by its section's name and by its file
    assert text.count("> **Other data.**") == 1
    assert f"> **Other data.** The model NODE-2 (b) from {str(other)!r} {rest}." in text
    assert [s["model"] for s in json.loads((out / "summary.json").read_text())["models"]] == [
        "NODE-2 (a)", "NODE-2 (b)"]


def test_the_run_checks_before_any_work_and_holds_its_thread_count(tmp_path):
    data = _data()
    model = _model(data)
    with pytest.raises(DynlensValueError, match="n_inits"):
        AnalysisRun(tmp_path / "never", data, {"m": model}, n_inits=0)
    assert not (tmp_path / "never").exists()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with AnalysisRun(tmp_path / "r", data, {"m": model, "n": model}, threads=1) as run:
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2  # the caller's count is back
    finally:
        torch.set_num_threads(before)
    text = run.report.markdown()
    assert "Models: m, n. True system compared against: arneodo" in text
    assert "Other data" not in text  # both trained on these very data
