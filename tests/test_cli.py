"""The `dynlens` command: help texts and a simulate -> train -> evaluate round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import dynlens as dl
from dynlens.app.cli import build_parser, main


def test_console_script_help_runs_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-m", "dynlens.app.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("demo", "simulate", "train", "evaluate", "analyze"):
        assert command in out


@pytest.mark.parametrize("command", ["demo", "simulate", "train", "evaluate", "analyze"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: dynlens " + command in capsys.readouterr().out


def test_simulate_heldout_and_forward_bins_match_the_api(tmp_path):
    path = tmp_path / "data.h5"
    assert main(["simulate", "lorenz", "--out", str(path), "--neurons", "6", "--trials", "12",
                 "--bins", "10", "--heldout", "2", "--forward", "3"]) == 0
    data = dl.load_dataset(path)
    reference = dl.simulate("lorenz", n_neurons=6, n_trials=12, n_bins=10, n_heldout=2,
                            n_forward=3)
    assert data.n_forward == 3 and data.n_bins == 13
    assert data.heldout_neurons.tolist() == reference.heldout_neurons.tolist()
    np.testing.assert_array_equal(data.spikes, reference.spikes)


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
    assert model.config.generator == "gru" and model.n_neurons == 5

    capsys.readouterr()
    assert main(["evaluate", str(model_path), str(data_path), "--threads", "1"]) == 0
    row = json.loads(capsys.readouterr().out)
    # the printed row is dl.evaluate's, every key and number (JSON keeps floats exactly)
    assert row == dl.evaluate(model, data, threads=1)
    assert row["split"] == "test" and row["n_trials"] == len(data.split("test"))
    assert main(["evaluate", str(model_path), str(data_path), "--split", "valid",
                 "--threads", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == dl.evaluate(model, data, "valid", threads=1)

    out = tmp_path / "analysis"
    assert main(["analyze", str(model_path), str(data_path), "--out", str(out), "--n-inits",
                 "64", "--quiet", "--lyapunov-steps", "50"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "GRU-3" and summary["system"] == "arneodo"
    assert summary["lambda1_true"] > 0.1 and 2 < summary["ky_true"] < 2.4  # Arneodo's chaos
    assert {"lambda1_model", "ky_model"} <= set(summary)  # (too few trials here for DSA)
    assert summary["n_fixed_points"] == len(
        (out / "fixed_points.csv").read_text().splitlines()) - 1
    assert summary["matched"] + summary["missing"] == 3  # Arneodo has 3 fixed points
    text = (out / "report.md").read_text()
    assert "## Opening GRU-3" in text and "latents_vs_truth.png" in text


def test_analyze_rejects_a_system_of_another_dimension(tmp_path, capsys):
    data_path, model_path = tmp_path / "data.npz", tmp_path / "model.pt"
    dl.simulate("arneodo", n_neurons=5, n_trials=12, n_bins=10, seed=0).save(data_path)
    dl.models.SAE(n_neurons=5, latent_dim=3, generator="gru").save(model_path)
    code = main(["analyze", str(model_path), str(data_path), "--out", str(tmp_path / "a"),
                 "--system", "bistable2d", "--n-inits", "16", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "system" in err and "dimension 3" in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()  # refused before any file is written
    code = main(["analyze", str(model_path), str(data_path), "--out", str(tmp_path / "b"),
                 "--system", "lorenzz", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "system: expected one of" in err and "did you mean 'lorenz'" in err
    code = main(["analyze", str(model_path), str(data_path), "--out", str(tmp_path / "c"),
                 "--split", "training", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "split" in err and not (tmp_path / "c").exists()


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    code = main(["simulate", "arneodoo", "--out", str(tmp_path / "x.h5"), "--trials", "4"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error" in err and "arneodo" in err and "Traceback" not in err
    assert not (tmp_path / "x.h5").exists()


def test_train_and_analyze_an_lfads_model_from_the_command_line(tmp_path, capsys):
    data_path, model_path = tmp_path / "data.npz", tmp_path / "lfads.pt"
    dl.simulate("arneodo", n_neurons=5, n_trials=20, n_bins=12, seed=0).save(data_path)
    sizes = ["--set", "ic_dim=3", "--set", "n_factors=3", "--set", "ic_enc_dim=8", "--set",
             "gen_dim=8", "--set", "ci_enc_dim=4", "--set", "con_dim=4"]
    assert main(["train", str(data_path), "--out", str(model_path), "--model", "lfads",
                 *sizes, "--set", "co_dim=0", "--max-epochs", "2", "--quiet",
                 "--threads", "1"]) == 0
    model = dl.load_model(model_path)
    assert type(model).__name__ == "LFADS" and model.config.co_dim == 0
    assert model.config.gen_dim == 8 and "trained LFADS-8 (no controller)" in \
        capsys.readouterr().out
    out = tmp_path / "analysis"
    assert main(["analyze", str(model_path), str(data_path), "--out", str(out), "--n-inits",
                 "32", "--quiet", "--lyapunov-steps", "50"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "LFADS-8 (no controller)" and summary["system"] == "arneodo"


def test_train_refuses_sae_flags_for_another_family_and_bad_settings(tmp_path, capsys):
    data_path = tmp_path / "data.npz"
    dl.simulate("arneodo", n_neurons=5, n_trials=12, n_bins=10, seed=0).save(data_path)
    code = main(["train", str(data_path), "--out", str(tmp_path / "m.pt"), "--model", "lfads",
                 "--generator", "gru"])
    assert code == 2 and "--generator: an SAE option" in capsys.readouterr().err
    code = main(["train", str(data_path), "--out", str(tmp_path / "m.pt"), "--model", "lfads",
                 "--set", "gen_dim"])
    assert code == 2 and "--set: expected KEY=VALUE" in capsys.readouterr().err
    code = main(["train", str(data_path), "--out", str(tmp_path / "m.pt"), "--model", "lfads",
                 "--set", "gen_dim=0"])
    assert code == 2 and "gen_dim" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()


def test_help_and_version_answer_without_importing_torch():
    code = ("import sys\nfrom dynlens.app.cli import main\n"
            "for argv in (['--help'], ['train', '--help'], ['--version']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "False False"
    assert f"dynlens {dl.__version__}" in out


def test_the_names_in_help_are_the_registries():
    from dynlens.app import cli, demo

    assert cli.SYSTEMS == tuple(dl.systems.available())
    assert cli.MODELS == tuple(dl.models.available())
    assert cli.GENERATORS == tuple(dl.models.GENERATORS)
    assert cli.DEMO_MODELS == tuple(demo.MODELS)
    text = build_parser().commands["simulate"].format_help()
    assert all(name in text for name in cli.SYSTEMS)  # all five, not four


def test_train_help_states_the_models_own_defaults():
    from dynlens.training.fit import default_fit_config

    text = " ".join(build_parser().commands["train"].format_help().split())
    for model, lr in ((dl.models.SAE(n_neurons=3, generator="node"), "5e-3 for a NODE SAE"),
                      (dl.models.SAE(n_neurons=3, generator="gru"), "1e-2 for a GRU SAE"),
                      (dl.models.LFADS(n_neurons=3), "4e-3 for lfads"),
                      (dl.models.NDT(n_neurons=4), "1e-3 for ndt")):
        assert lr in text and default_fit_config(model).lr == float(lr.split()[0])
    assert default_fit_config(dl.models.SAE(n_neurons=3)).batch_size == 128
    assert default_fit_config(dl.models.NDT(n_neurons=4)).batch_size == 64
    assert "128, 64 for ndt" in text and "(default: 300)" in text


@pytest.mark.parametrize("command", ["demo", "simulate", "train", "evaluate", "analyze", "sweep"])
def test_every_option_has_help_a_default_and_the_command_an_example(command):
    parser = build_parser().commands[command]
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings or action.dest}: no help"
        shown = parser._get_formatter()._get_help_string(action)
        if action.option_strings and action.default not in (None, False, []) \
                or action.option_strings and action.default is None and not action.required:
            assert "default" in shown or action.dest in ("status", "out", "spec"), \
                f"{command} {action.option_strings}: no default said"
    assert f"examples:\n  dynlens {command}" in parser.format_help()


def test_train_on_an_lfads_file_with_batch_size_and_learning_rate(tmp_path, capsys):
    data = dl.simulate("arneodo", n_neurons=5, n_trials=20, n_bins=10, seed=0)
    lfads_path, model_path = tmp_path / "lfads.h5", tmp_path / "model.pt"
    keep = np.concatenate([data.splits["train"], data.splits["valid"]])
    no_test = dl.NeuralDataset.from_arrays(
        data.spikes[keep], rates=data.rates[keep], latents=data.latents[keep],
        bin_width=data.bin_width, metadata=data.metadata,
        splits={"train": np.arange(len(data.splits["train"])),
                "valid": np.arange(len(data.splits["train"]), len(keep))})
    dl.data.write_lfads_h5(no_test, lfads_path)  # as LFADS writes them: train and valid only
    assert main(["train", str(lfads_path), "--out", str(model_path), "--max-epochs", "2",
                 "--batch-size", "4", "--lr", "0.02", "--quiet", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 epochs (batch size 4, learning rate 0.02)" in out
    assert dl.load_model(model_path).n_neurons == 5
    assert main(["evaluate", str(model_path), str(lfads_path), "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["split"] == "valid"
    assert "no 'test' split; scored the 'valid' split" in captured.err


def test_analyze_warns_when_the_system_is_not_the_datas_and_when_the_fit_is_poor(tmp_path,
                                                                                 capsys):
    data_path, model_path = tmp_path / "data.npz", tmp_path / "model.pt"
    dl.simulate("arneodo", n_neurons=5, n_trials=12, n_bins=10, seed=0).save(data_path)
    dl.models.SAE(n_neurons=5, latent_dim=3, generator="gru").save(model_path)  # untrained
    out = tmp_path / "a"
    assert main(["analyze", str(model_path), str(data_path), "--out", str(out), "--system",
                 "lorenz", "--n-inits", "16", "--lyapunov-steps", "20", "--quiet",
                 "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "warning: The data were simulated from arneodo, but the model is compared with " \
           "lorenz's" in err
    text = (out / "report.md").read_text()
    assert "True system compared against: lorenz (given; the data were simulated from " \
           "arneodo)." in text
    assert "> **Another system.**" in text and "> **Too poor a fit to compare.**" in text
    assert "Compared with the fixed points of **lorenz** (not arneodo" in text
    assert "No answer: its fit is too poor" in text and "Partly" not in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["system"] == "lorenz" and summary["system_recorded"] == "arneodo"
