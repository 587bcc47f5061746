"""The `dynlens` command: help texts and a simulate -> train -> evaluate round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import dynlens as dl
from dynlens.cli import build_parser, main


def test_console_script_help_runs_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-m", "dynlens.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("demo", "simulate", "train", "evaluate"):
        assert command in out


@pytest.mark.parametrize("command", ["demo", "simulate", "train", "evaluate"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: dynlens " + command in capsys.readouterr().out


def test_simulate_train_evaluate_round_trip(tmp_path, capsys):
    data_path, model_path = tmp_path / "data.h5", tmp_path / "model.pt"
    assert main(["simulate", "arneodo", "--out", str(data_path), "--neurons", "5",
                 "--trials", "20", "--bins", "12", "--seed", "3"]) == 0
    data = dl.load_dataset(data_path)
    reference = dl.simulate("arneodo", n_neurons=5, n_trials=20, n_bins=12, seed=3)
    np.testing.assert_array_equal(data.spikes, reference.spikes)

    assert main(["train", str(data_path), "--out", str(model_path), "--dynamics", "gru",
                 "--max-epochs", "2", "--quiet"]) == 0
    model = dl.load_model(model_path)
    assert model.config.dynamics == "gru" and model.n_neurons == 5

    capsys.readouterr()
    assert main(["evaluate", str(model_path), str(data_path)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["split"] == "test" and np.isfinite(row["rate_r2"]) and np.isfinite(row["state_r2"])


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    code = main(["simulate", "arneodoo", "--out", str(tmp_path / "x.h5"), "--trials", "4"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error" in err and "arneodo" in err and "Traceback" not in err
    assert not (tmp_path / "x.h5").exists()
