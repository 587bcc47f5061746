"""The `dynlens` command: help texts and a simulate -> train -> evaluate round trip."""

from __future__ import annotations

import json
import shlex
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
            "for argv in (['--help'], ['train', '--help'], ['simulate', '--help'],\n"
            "             ['analyze', '--help'], ['--version']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "False False"
    assert f"dynlens {dl.__version__}" in out


def test_the_names_checked_are_the_registries_and_help_names_none_of_its_own(capsys):
    from dynlens.app import cli, demo

    assert not {"SYSTEMS", "MODELS", "GENERATORS", "DEMO_MODELS"} & set(vars(cli))
    for argv, names in ((["simulate", "lorenzz", "--out", "x.h5"], dl.systems.available()),
                        (["train", "d.h5", "--out", "m.pt", "--model", "lfad"],
                         dl.models.available()),
                        (["train", "d.h5", "--out", "m.pt", "--generator", "grus"],
                         dl.models.available_generators()),
                        (["demo", "--model", "lfad"], demo.MODELS)):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"expected one of {', '.join(map(repr, names))}, found" in err, err
    helps = {name: " ".join(p.format_help().split())
             for name, p in build_parser().commands.items()}
    assert all(name in helps["demo"] for name in demo.MODELS)
    assert "dl.systems.available()" in helps["simulate"] and "--import" in helps["simulate"]
    assert "dl.models.available_generators()" in helps["train"]


def test_train_help_states_the_sae_defaults_and_show_defaults_prints_each_models_own(capsys):
    from dataclasses import asdict, fields

    from dynlens.models import SAEConfig
    from dynlens.training.fit import default_fit_config

    own = {f.name: f.default for f in fields(SAEConfig)}
    text = " ".join(build_parser().commands["train"].format_help().split())
    assert f"(default: the SAE's own, {own['generator']};" in text
    assert f"(default: the SAE's own, {own['latent_dim']})" in text
    for flag in ("--max-epochs", "--batch-size", "--lr"):  # no number of its own to drift
        action = next(a for a in build_parser().commands["train"]._actions
                      if flag in a.option_strings)
        assert action.help.endswith("(default: the model's own; --show-defaults)")
    cases = [["--model", name] for name in dl.models.available()]
    cases += [["--generator", name] for name in dl.models.available_generators()]
    for case in cases:
        assert main(["train", "--show-defaults", *case]) == 0
        shown = json.loads(capsys.readouterr().out)
        options = {"generator": case[1]} if case[0] == "--generator" else {}
        model = dl.models.build(case[1] if case[0] == "--model" else "sae", n_neurons=2,
                                **options)
        assert shown == {"model": model.label, **asdict(default_fit_config(model))}, case
    assert main(["train", "--show-defaults", "--model", "lfads"]) == 0
    assert json.loads(capsys.readouterr().out)["batch_size"] == 32  # LFADS's, not 128
    with pytest.raises(SystemExit) as stop:  # without --show-defaults, DATA is needed
        main(["train", "--out", "m.pt"])
    assert stop.value.code == 2 and "required: data" in capsys.readouterr().err


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


def _small(system: str, path, seed: int = 0) -> list[str]:
    return ["simulate", system, "--out", str(path), "--neurons", "5", "--trials", "16",
            "--bins", "8", "--seed", str(seed)]


def test_simulate_refuses_to_replace_a_file_unless_forced_and_its_hint_can_be_pasted(tmp_path,
                                                                                     capsys):
    path = tmp_path / "my data.h5"  # a space, as in a folder of a user's
    assert main(_small("lorenz", path)) == 0
    hint = capsys.readouterr().out.splitlines()[-1]
    command = hint.split("next: ", 1)[1]
    assert shlex.split(command) == ["dynlens", "train", str(path), "--out", "model.pt"]
    before = path.read_bytes()
    assert main(_small("rossler", path)) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"dynlens simulate: error: --out: expected a new file, found the "
                            f"existing file {str(path)!r} (--force replaces it)\n")
    assert path.read_bytes() == before and captured.out == ""
    assert main([*_small("rossler", path), "--force"]) == 0
    assert dl.load_dataset(path).metadata["system"] == "rossler"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my data.h5"]  # no temporary left


def test_train_and_analyze_refuse_to_replace_unless_forced(tmp_path, capsys):
    data_path, model_path, out = tmp_path / "d.h5", tmp_path / "m.pt", tmp_path / "report"
    dl.simulate("arneodo", n_neurons=5, n_trials=12, n_bins=8, seed=0).save(data_path)
    dl.models.SAE(n_neurons=5, latent_dim=3, hidden_size=8, encoder_size=4).save(model_path)
    before = model_path.read_bytes()
    train = ["train", str(data_path), "--out", str(model_path), "--max-epochs", "1", "--quiet",
             "--threads", "1"]
    assert main(train) == 2 and "--force replaces it" in capsys.readouterr().err
    assert model_path.read_bytes() == before
    assert main([*train, "--force"]) == 0 and model_path.read_bytes() != before
    assert dl.load_model(model_path).trained_on["system"] == "arneodo"
    capsys.readouterr()

    out.mkdir()
    (out / "old.txt").write_text("kept until replaced\n")
    analyze = ["analyze", str(model_path), str(data_path), "--out", str(out), "--n-inits", "8",
               "--lyapunov-steps", "10", "--quiet", "--threads", "1"]
    assert main(analyze) == 2
    assert capsys.readouterr().err == (
        f"dynlens analyze: error: --out: expected a new or empty folder, found {str(out)!r} "
        f"holding files (--force replaces it)\n")
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert main([*analyze, "--force"]) == 0
    assert not (out / "old.txt").exists() and (out / "report.md").is_file()
    assert f"report written to {out / 'report.md'}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5", "m.pt", "report"]
    # --force never replaces a folder that holds the inputs
    assert main([*analyze[:3], "--out", str(tmp_path), "--force"]) == 2
    assert "holding" in capsys.readouterr().err and data_path.is_file()


def test_a_replaced_folder_stays_as_it_was_when_the_command_fails(tmp_path):
    from dynlens.app.cli import _replacing

    out = tmp_path / "report"
    out.mkdir()
    (out / "old.txt").write_text("old\n")
    with pytest.raises(RuntimeError), _replacing(out) as where:
        assert where != out and where.parent == tmp_path
        (where / "new.txt").write_text("new\n")
        raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    with _replacing(out) as where:
        (where / "new.txt").write_text("new\n")
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    with _replacing(tmp_path / "fresh") as where:  # a new folder is written in place
        assert where == tmp_path / "fresh"


def test_a_setting_given_twice_is_refused(tmp_path, capsys):
    data_path = tmp_path / "d.npz"
    dl.simulate("arneodo", n_neurons=5, n_trials=12, n_bins=8, seed=0).save(data_path)
    base = ["train", str(data_path), "--out", str(tmp_path / "m.pt")]
    assert main([*base, "--set", "latent_dim=2", "--set", "latent-dim=4"]) == 2
    assert capsys.readouterr().err == (
        "dynlens train: error: --set latent_dim: expected each setting once, found it twice: "
        "--set latent_dim=2 and --set latent-dim=4\n")
    assert main([*base, "--generator", "gru", "--set", "generator=node"]) == 2
    assert "found it twice: --generator gru and --set generator=node" in \
        capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()


def test_a_lorenz_model_given_rossler_data_names_both_systems(tmp_path, capsys):
    lorenz, rossler, model = tmp_path / "lorenz.h5", tmp_path / "rossler.h5", tmp_path / "m.pt"
    assert main(_small("lorenz", lorenz)) == 0 and main(_small("rossler", rossler)) == 0
    assert main(["train", str(lorenz), "--out", str(model), "--max-epochs", "1", "--quiet",
                 "--threads", "1"]) == 0
    capsys.readouterr()
    expected = dl.models.other_data_message(dl.load_model(model), dl.load_dataset(rossler))
    assert expected.startswith("the model was trained on lorenz data, given rossler data")
    assert main(["evaluate", str(model), str(lorenz), "--threads", "1"]) == 0
    assert "warning" not in capsys.readouterr().err  # its own data
    assert main(["evaluate", str(model), str(rossler), "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert f"dynlens evaluate: warning: {expected}\n" in captured.err
    assert json.loads(captured.out)["n_trials"] > 0  # scored all the same
    out = tmp_path / "a"
    assert main(["analyze", str(model), str(rossler), "--out", str(out), "--n-inits", "8",
                 "--lyapunov-steps", "10", "--quiet", "--threads", "1"]) == 0
    assert f"dynlens analyze: warning: {expected}\n" in capsys.readouterr().err
    assert f"> **Other data.** T{expected[1:]}." in (out / "report.md").read_text()


@pytest.fixture
def own_registries(monkeypatch):
    """What a test's --import registers (generators, systems, modules, sys.path) is undone."""
    from dynlens.models import generator_registry

    registries = (generator_registry._GENERATORS, dl.systems._REGISTRY)
    saved = [dict(registry) for registry in registries]
    monkeypatch.setattr(sys, "path", list(sys.path))
    modules = set(sys.modules)
    yield
    for registry, entries in zip(registries, saved):
        registry.clear()
        registry.update(entries)
    for name in set(sys.modules) - modules:
        if name.startswith(("my_parts", "typo_parts")):
            del sys.modules[name]


@pytest.mark.usefixtures("own_registries")
def test_import_registers_a_users_generator_and_system_before_names_are_checked(tmp_path,
                                                                               capsys):
    module = tmp_path / "my_parts.py"
    module.write_text(
        "import torch\nimport dynlens as dl\n\n\n"
        "class Leak(dl.Dynamics):\n"
        "    def __init__(self, dim):\n"
        "        super().__init__(dim=dim, kind='discrete')\n"
        "        self.rate = torch.nn.Parameter(torch.full((dim,), 0.9))\n\n"
        "    def forward(self, x, u=None):\n"
        "        return self.rate * x\n\n\n"
        "dl.models.register_generator('cli_leak', Leak, fit_defaults={'lr': 0.02})\n\n\n"
        "@dl.systems.register\n"
        "class CliLorenz(dl.systems.Lorenz):\n"
        "    name = 'cli_lorenz'\n")
    data, model = tmp_path / "d.h5", tmp_path / "m.pt"
    assert main([*_small("cli_lorenz", data), "--import", str(module)]) == 0
    assert dl.load_dataset(data).metadata["system"] == "cli_lorenz"
    assert main(["train", str(data), "--out", str(model), "--generator", "cli_leak",
                 "--max-epochs", "1", "--quiet", "--threads", "1", "--import",
                 "my_parts"]) == 0  # by name: its folder is on the path since the first import
    assert "trained CLI_LEAK-3: 1 epochs (batch size 128, learning rate 0.02)" in \
        capsys.readouterr().out
    assert dl.load_model(model).config.generator == "cli_leak"


@pytest.mark.usefixtures("own_registries")
def test_a_failing_import_is_one_line(tmp_path, capsys):
    broken = tmp_path / "typo_parts.py"
    broken.write_text("import dynlens as dl\ndl.models.register_generatr('x', None)\n")
    assert main(["evaluate", "m.pt", "d.h5", "--import", str(broken)]) == 2
    assert capsys.readouterr().err == (
        f"dynlens evaluate: error: --import: importing {str(broken)!r} failed at "
        f"typo_parts.py:2: AttributeError: module 'dynlens.models' has no attribute "
        f"'register_generatr'\n")
    assert main(["analyze", "m.pt", "d.h5", "--import", "no_such_module_here"]) == 2
    assert capsys.readouterr().err == (
        "dynlens analyze: error: --import: importing 'no_such_module_here' failed: "
        "ModuleNotFoundError: No module named 'no_such_module_here'\n")


SWEEP_SPEC = """name = "tiny"
systems = ["arneodo"]
models = ["node"]
latent_dims = [2]
seeds = [0, 1]
[data]
n_neurons = 5
n_trials = 24
n_bins = 10
[fit]
max_epochs = 2
[analysis]
fixed_points = false
"""


def test_sweep_with_agreement_writes_the_columns_and_prints_the_recommendation(tmp_path,
                                                                                capsys):
    import pandas as pd

    spec, out = tmp_path / "spec.toml", tmp_path / "runs"
    spec.write_text(SWEEP_SPEC)
    # dropping the models leaves --agreement nothing to compare: refused before any run
    assert main(["sweep", str(spec), "--out", str(out), "--agreement", "--no-keep-models"]) == 2
    assert "--agreement: expected a sweep that keeps its models" in capsys.readouterr().err
    assert not out.exists()
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "2", "--threads", "1",
                 "--quiet", "--agreement", "--agreement-n-inits", "8"]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "agreement.csv")
    assert len(table) == 2 and (table.status == "done").all()
    assert (table.n_seed_pairs == 1).all()
    assert table.agreement_mean.between(0, 1).all()
    assert table.agreement_mean.nunique() == 1  # the two seeds of the cell share its numbers
    choice = dl.sweeps.select(table, dataset="arneodo")
    assert f"arneodo: {choice.summary()}\n" in printed
    assert (choice.family, choice.latent_dim) == ("node", 2)


def test_analyze_several_models_writes_their_agreement_with_and_without_truth(tmp_path, capsys):
    import shutil

    simulated = dl.simulate("arneodo", n_neurons=6, n_trials=30, n_bins=12, seed=0)
    recording = dl.NeuralDataset.from_arrays(simulated.spikes, bin_width=simulated.bin_width,
                                             splits=simulated.splits)  # no latents, no system
    data_path, first, copy = tmp_path / "rec.h5", tmp_path / "a.pt", tmp_path / "b.pt"
    recording.save(data_path)
    dl.models.SAE(n_neurons=6, latent_dim=2, hidden_size=8, encoder_size=8).save(first)
    shutil.copy(first, copy)  # one model twice: a known answer, perfect agreement
    out = tmp_path / "agree"
    assert main(["analyze", str(first), str(copy), str(data_path), "--out", str(out),
                 "--n-inits", "8", "--lyapunov-steps", "20", "--quiet", "--threads", "1"]) == 0
    assert f"report written to {out / 'report.md'}" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    names = ["NODE-2 (a)", "NODE-2 (b)"]  # the same label: told apart by their files
    assert [s["model"] for s in summary["models"]] == names
    pairs = summary["agreement"]["pairs"]
    assert [(row["a"], row["b"]) for row in pairs] == [tuple(names)]
    assert summary["agreement"]["split"] == "test"
    assert summary["agreement"]["score"] == pytest.approx(1.0, abs=1e-6)
    assert pairs[0]["latent_r2"] == pytest.approx(1.0, abs=1e-6)
    text = (out / "report.md").read_text()
    assert "## Opening NODE-2 (a)" in text and "## Opening NODE-2 (b)" in text
    assert "## Agreement between models" in text and "Compared with the fixed points" not in text
    assert (out / "NODE-2_a_fixed_points.csv").is_file()
    assert len((out / "agreement.csv").read_text().splitlines()) == 2  # header and one pair
    # with a truth, each model is compared with it and the models with each other
    simulated.save(tmp_path / "sim.h5")
    assert main(["analyze", str(first), str(copy), str(tmp_path / "sim.h5"), "--out",
                 str(tmp_path / "truth"), "--n-inits", "8", "--lyapunov-steps", "20",
                 "--quiet", "--threads", "1"]) == 0
    summary = json.loads((tmp_path / "truth" / "summary.json").read_text())
    assert [s["system"] for s in summary["models"]] == ["arneodo", "arneodo"]
    assert summary["agreement"]["score"] == pytest.approx(1.0, abs=1e-6)
    text = (tmp_path / "truth" / "report.md").read_text()
    assert text.count("Compared with the fixed points of **arneodo**") == 2
    assert "## Agreement between models" in text
