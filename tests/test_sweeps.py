"""Sweeps: the specification, its checks, local and Ray execution, resuming, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

import dynlens as dl
from dynlens.errors import DynlensError
from dynlens.sweeps.results import run_status

TINY_DATA = {"n_neurons": 6, "n_trials": 40, "n_bins": 15}
TINY_FIT = {"max_epochs": 2, "batch_size": 16}
TINY_ANALYSIS = {"n_inits": 32}


def tiny_sweep(**overrides) -> dl.Sweep:
    spec = {"systems": ["arneodo", "lorenz"], "models": ["node", "gru"], "latent_dims": [3],
            "seeds": [0], "data": TINY_DATA, "fit": TINY_FIT, "analysis": TINY_ANALYSIS}
    return dl.Sweep(**{**spec, **overrides})


# -- the specification ----------------------------------------------------------------------


def test_runs_expand_the_grid_in_order():
    sweep = tiny_sweep(latent_dims=[2, 5], seeds=[0, 1])
    ids = [run.run_id for run in sweep.runs()]
    assert len(ids) == 2 * 2 * 2 * 2 == len(set(ids))
    assert ids[:3] == ["arneodo-node-d2-s0", "arneodo-node-d2-s1", "arneodo-node-d5-s0"]


def test_model_tables_and_latent_options():
    sweep = tiny_sweep(models=[
        "gru", {"name": "node_w32", "model": "sae", "generator": "node", "hidden_size": 32},
        {"name": "lfads_small", "model": "lfads", "ic_dim": 4, "n_factors": 3,
         "ic_enc_dim": 8, "ci_enc_dim": 8, "con_dim": 8, "latent_dims": [12]}])
    runs = {run.run_id: run for run in sweep.runs()}
    node = runs["arneodo-node_w32-d3-s0"].model.build(6, 3)
    assert node.config.hidden_size == 32 and node.config.latent_dim == 3
    lfads = runs["arneodo-lfads_small-d12-s0"].model.build(6, 12)
    assert lfads.config.gen_dim == 12  # LFADS's latent size is its generator's
    assert "arneodo-lfads_small-d3-s0" not in runs


def test_toml_round_trip(tmp_path):
    sweep = tiny_sweep(systems=["arneodo", {"name": "lorenz20", "system": "lorenz",
                                            "n_neurons": 20}],
                       models=["node", {"name": "big", "model": "sae", "generator": "node",
                                        "hidden_size": 16, "fit": {"bins_per_group": 0}}])
    sweep.to_toml(tmp_path / "spec.toml")
    again = dl.Sweep.from_toml(tmp_path / "spec.toml")
    assert again == sweep
    assert [r.run_id for r in again.runs()] == [r.run_id for r in sweep.runs()]
    assert again.datasets[1].options["n_neurons"] == 20
    runs = again.runs()  # a model's own fit keywords update the sweep's for its runs only
    assert runs[0].fit_options(again.fit) == TINY_FIT
    assert runs[1].fit_options(again.fit) == {**TINY_FIT, "bins_per_group": 0}
    assert again.keep_models  # the default
    dropped = tiny_sweep(keep_models=False)
    assert dl.Sweep.from_toml_string(dropped.to_toml_string()) == dropped != sweep
    assert "keep_models = false" in dropped.to_toml_string()


def test_data_file_paths_are_relative_to_the_toml(tmp_path):
    (tmp_path / "spec.toml").write_text(
        'systems = [{name = "mine", path = "data/rec.h5"}]\nmodels = ["gru"]\n')
    sweep = dl.Sweep.from_toml(tmp_path / "spec.toml")
    assert sweep.datasets[0].path == str(tmp_path / "data" / "rec.h5")


@pytest.mark.parametrize("text, match", [
    ('systems = ["arneodo"\nmodels = ["gru"]\n', "line 2"),
    ('systems = ["arneodo"]\nmodels = ["gru"]\ncolour = 1\n', "colour"),
    ('systems = []\nmodels = ["gru"]\n', "systems: expected at least one"),
    ('systems = ["arneodo"]\nmodels = ["gru"]\nlatent_dims = []\n', "latent_dims"),
    ('systems = ["arneodo"]\nmodels = ["gru"]\nseeds = [0, 0]\n', "distinct"),
    ('systems = ["arnedo"]\nmodels = ["gru"]\n', "did you mean 'arneodo'"),
    ('systems = ["arneodo"]\nmodels = ["transformer"]\n', "models entry model"),
    ('systems = ["arneodo", "arneodo"]\nmodels = ["gru"]\n', "distinct names"),
    ('systems = ["arneodo"]\nmodels = ["gru"]\n[data]\nneurons = 5\n', "neurons"),
    ('systems = ["arneodo"]\nmodels = ["gru"]\n[fit]\nepochs = 5\n', "epochs"),
    ('systems = ["arneodo"]\nmodels = ["gru"]\n[fit]\nseed = 5\n', "sets"),
    ('systems = ["arneodo"]\nmodels = ["gru"]\n[analysis]\nn_init = 5\n', "n_init"),
    ('models = ["gru"]\n', "'systems'"),
    ('keep_models = "no"\nsystems = ["arneodo"]\nmodels = ["gru"]\n', "keep_models: expected"),
])
def test_bad_specifications_are_refused_naming_the_problem(tmp_path, text, match):
    (tmp_path / "spec.toml").write_text(text)
    with pytest.raises(DynlensError, match=match):
        dl.Sweep.from_toml(tmp_path / "spec.toml")


def test_unbuildable_combination_refused_before_anything_is_written(tmp_path):
    sweep = tiny_sweep(models=[{"name": "lin", "model": "sae", "generator": "gru",
                                "hidden_size": 7}])  # a GRU's size is its latent size
    with pytest.raises(DynlensError, match="cannot be built"):
        sweep.run(tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs, match", [({"workers": 0}, "workers"),
                                           ({"executor": "slurm"}, "executor"),
                                           ({"threads": 0}, "threads")])
def test_bad_run_arguments_refused(tmp_path, kwargs, match):
    with pytest.raises(DynlensError, match=match):
        tiny_sweep().run(tmp_path / "out", progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_folder_of_another_sweep_or_other_files_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    tiny_sweep(seeds=[5]).to_toml(out / "sweep.toml")
    before = (out / "sweep.toml").read_bytes()
    with pytest.raises(DynlensError, match="different sweep"):
        tiny_sweep().run(out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["sweep.toml"]
    assert (out / "sweep.toml").read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(DynlensError, match="other files"):
        tiny_sweep().run(other, progress=False)


# -- running ----------------------------------------------------------------------------------


SCRIPT = """
import dynlens as dl
sweep = dl.Sweep(systems=["arneodo", "lorenz"], models=["node", "gru"], latent_dims=[3],
                 seeds=[0], data={data}, fit={fit}, analysis={analysis})
sweep.run({out!r}, workers=2, threads=1, progress=False)  # no __main__ guard: not needed
"""


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """The 2x2x1 sweep run once with 2 local workers from a plain script (shared by the
    tests below)."""
    folder = tmp_path_factory.mktemp("sweep")
    out = folder / "out"
    script = folder / "sweep_script.py"
    script.write_text(SCRIPT.format(data=TINY_DATA, fit=TINY_FIT, analysis=TINY_ANALYSIS,
                                    out=str(out)))
    done = subprocess.run([sys.executable, str(script)], check=False, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, dl.sweeps.load_results(out)


def test_local_sweep_table(local_sweep):
    out, table = local_sweep
    assert table.shape[0] == 4 and (table.status == "done").all()
    for column in ("run_id", "dataset", "model", "latent_dim", "seed", "epochs", "wall_s",
                   "rate_r2", "state_r2", "fp_matched", "fp_missing", "fp_spurious",
                   "fp_eigenvalue_error", "fp_stability_agree"):
        assert column in table.columns
    assert (table.epochs == 2).all() and (table.fp_true == 3).all()
    assert pd.read_csv(out / "results.csv").shape == table.shape
    pd.testing.assert_frame_equal(dl.sweeps.load_results(out), table)
    model = dl.load_model(out / "runs" / "lorenz-gru-d3-s0" / "model.pt")
    assert model.config.generator == "gru"
    # each run's numbers are dl.evaluate's of its saved model on its cached dataset (the
    # test split), and its epochs and best loss those of its own history
    for run in table.itertuples():
        folder = out / "runs" / run.run_id
        data = dl.load_dataset(out / "datasets" / f"{run.dataset}.h5")
        expected = dl.evaluate(dl.load_model(folder / "model.pt"), data, threads=1)
        assert expected["split"] == "test" and set(expected) - {"split", "n_trials"} <= set(
            table.columns)
        for key, value in expected.items():
            if key not in ("split", "n_trials"):
                assert getattr(run, key) == pytest.approx(value, rel=1e-9, abs=1e-12), (
                    run.run_id, key)
        history = pd.read_csv(folder / "history.csv")
        assert run.epochs == len(history)
        assert run.best_valid_loss == pytest.approx(history.valid_loss.min(), rel=1e-12)
        assert run.fp_matched + run.fp_missing == run.fp_true
    assert dl.sweeps.sweep_status(out) == {"done": 4, "failed": 0, "running": 0, "pending": 0}
    for log in out.glob("runs/*/worker.log"):  # no runpy warning about the worker module
        assert "RuntimeWarning" not in log.read_text(), log


def test_rerun_skips_finished_runs(local_sweep):
    out, table = local_sweep
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/result.json")}
    again = tiny_sweep().run(out, workers=2, threads=1, progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/result.json")} == stamps
    pd.testing.assert_frame_equal(again, table)


def test_ray_gives_the_same_table(local_sweep, tmp_path):
    pytest.importorskip("ray")
    _, local = local_sweep
    table = tiny_sweep().run(tmp_path / "ray", executor="ray", workers=2, threads=1,
                             progress=False)
    assert (table.status == "done").all()
    numbers = ["rate_r2", "state_r2", "decode_r2", "bps", "fp_matched", "fp_spurious"]
    np.testing.assert_allclose(table[numbers].to_numpy(float), local[numbers].to_numpy(float),
                               rtol=1e-6, atol=1e-9)


USER_FAMILY = """
import dynlens as dl

@dl.models.register
class UserSAE(dl.models.SAE):
    model_type = "user_sae"
"""


def test_failing_run_is_recorded_and_the_rest_finish(tmp_path, monkeypatch):
    # a family of the user's own, registered in a module the worker process must import
    (tmp_path / "user_family.py").write_text(USER_FAMILY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(dl.models.base, "_REGISTRY", dict(dl.models.base._REGISTRY))
    __import__("user_family")
    mine = {"name": "mine", "model": "user_sae", "generator": "gru"}
    # an LFADS built for external inputs cannot train on data without them
    broken = {"name": "needs_inputs", "model": "lfads", "ext_input_dim": 1, "ic_dim": 4,
              "n_factors": 3, "ic_enc_dim": 8, "ci_enc_dim": 8, "con_dim": 8,
              "latent_dims": [6]}
    sweep = tiny_sweep(systems=["arneodo"], models=[mine, broken])
    table = sweep.run(tmp_path / "out", workers=2, threads=1, progress=False)
    status = dict(zip(table.run_id, table.status))
    assert status == {"arneodo-mine-d3-s0": "done", "arneodo-needs_inputs-d6-s0": "failed"}
    assert table.family.iloc[0] == "user_sae"
    assert 'module = "user_family"' in (tmp_path / "out" / "sweep.toml").read_text()
    error = table.set_index("run_id").loc["arneodo-needs_inputs-d6-s0", "error"]
    assert "inputs" in error and "Traceback" in error


def test_family_defined_in_the_running_script_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(dl.models.base, "_REGISTRY", dict(dl.models.base._REGISTRY))

    class ScriptSAE(dl.models.SAE):
        model_type = "script_sae"

    ScriptSAE.__module__ = "__main__"  # as if defined in a notebook cell
    dl.models.register(ScriptSAE)
    sweep = tiny_sweep(models=[{"name": "mine", "model": "script_sae", "generator": "gru"}])
    with pytest.raises(DynlensError, match="cannot import"):
        sweep.run(tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_killed_worker_loses_only_its_run(tmp_path):
    out = tmp_path / "out"
    # few epochs: the second run is killed as soon as its marker appears, before its data load
    sweep = tiny_sweep(systems=["arneodo"], models=["gru", "node"],
                       fit={"max_epochs": 3, "batch_size": 16})
    first, second = (out / "runs" / run.run_id for run in sweep.runs())
    worker = threading.Thread(target=sweep.run, args=(out,),
                              kwargs={"workers": 1, "threads": 1, "progress": False})
    worker.start()
    deadline = time.time() + 300
    while time.time() < deadline and not (second / "running.json").is_file():
        time.sleep(0.02)
    assert run_status(first) == "done"  # workers=1: the first finished before the second
    # the marker is written before the run loads its data: the run is surely unfinished
    os.kill(json.loads((second / "running.json").read_text())["pid"], signal.SIGKILL)
    worker.join(60)
    table = dl.sweeps.load_results(out)
    assert list(table.status) == ["done", "failed"]
    assert "code -9" in table.error.iloc[1]
    stamp = (first / "result.json").stat().st_mtime_ns
    table = sweep.run(out, workers=1, threads=1, progress=False)  # the rerun completes it
    assert list(table.status) == ["done", "done"]
    assert (first / "result.json").stat().st_mtime_ns == stamp


def test_a_sweep_that_drops_its_models_keeps_its_results(tmp_path):
    out = tmp_path / "out"
    sweep = tiny_sweep(systems=["arneodo"], models=["gru"], latent_dims=[2],
                       analysis={"fixed_points": False}, keep_models=False)
    table = sweep.run(out, threads=1, progress=False)
    assert list(table.status) == ["done"]
    assert table.rate_r2.notna().all() and table.best_valid_loss.notna().all()
    assert not list(out.glob("runs/*/model.pt"))
    assert sorted(p.name for p in (out / "runs" / "arneodo-gru-d2-s0").iterdir()) == [
        "history.csv", "result.json", "worker.log"]
    with pytest.raises(DynlensError, match="keep_models=False"):
        dl.sweeps.agreement(out, progress=False, threads=1)
    assert not (out / "agreement.csv").exists()
    # a folder whose runs hold no model (written before sweeps kept them) says so too
    spec = (out / "sweep.toml").read_text().replace("keep_models = false", "keep_models = true")
    (out / "sweep.toml").write_text(spec)
    with pytest.raises(DynlensError, match="none of its 1 finished runs holds model.pt"):
        dl.sweeps.agreement(out, progress=False, threads=1)
