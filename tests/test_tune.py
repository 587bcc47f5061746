"""dl.tune: the space checked before Ray starts, dl.fit's hooks for it, a search that is
interrupted (Ctrl-C in `dynlens tune`) and resumed to the end on a local Ray instance, and a
population-based search whose trials copy each other's weights."""

from __future__ import annotations

import glob
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import dynlens as dl
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.models.checkpoint import read_checkpoint
from dynlens.training.fit import _lr_factor, default_fit_config
from dynlens.tuning import load_search, parse_space
from dynlens.tuning.result import RESULTS_FILE
from dynlens.tuning.search import _within_space
from dynlens.tuning.space import check_search

DATA_KW = {"n_neurons": 5, "n_trials": 40, "n_bins": 10}
SPACE = {"lr": ("loguniform", 1e-3, 3e-2), "hidden_size": [8, 16]}
FIXED = {"latent_dim": 3, "encoder_size": 8, "bins_per_group": 0}
MAX_EPOCHS = 8


@pytest.fixture(scope="module")
def data():
    return dl.simulate("arneodo", seed=0, **DATA_KW)


# --- the space, checked before anything runs --------------------------------------------------

@pytest.mark.parametrize("entry, message", [
    (("loguniform", 0.0, 1e-2), "expected 0 < lo for 'loguniform'"),
    (("uniform", 0.5, 0.1), "expected finite bounds lo < hi, found 0.5, 0.1"),
    (["logunifrom", 1e-4, 1e-2], "did you mean 'loguniform'"),  # a TOML list, misspelt
    (("randint", 1.5, 4), "expected integer bounds for 'randint'"),
    ([], "expected at least one choice"),
    ([32, 32], "expected distinct choices"),
    ({"lo": 1}, "expected (kind, lo, hi)"),
])
def test_a_bad_entry_is_one_error_naming_its_key(entry, message):
    with pytest.raises((DynlensValueError, DynlensTypeError), match=r"space\['x'\]") as err:
        parse_space({"x": entry})
    assert message in str(err.value)


def test_ranges_and_choices_parse_to_their_extremes():
    dims = parse_space({"lr": ["loguniform", 1e-4, 1e-2], "n": ("randint", 2, 5),
                        "generator": ["gru", "node"]})
    assert [d.kind for d in dims.values()] == ["loguniform", "randint", "choice"]
    assert dims["lr"].extremes() == (1e-4, 1e-2)
    assert dims["n"].extremes() == (2, 4)  # randint's upper bound is excluded, as in range()
    assert dims["generator"].to_plain() == ["gru", "node"]


@pytest.mark.parametrize("family, space, scheduler, message", [
    ("lfads", {"dropuot": ("uniform", 0.0, 0.5)}, "asha",
     "space['dropuot'] = 0.0: the 'lfads' model or dl.fit refuses it"),
    ("lfads", {"dropout": ("uniform", 0.0, 1.5)}, "asha", "space['dropout'] = 1.5"),
    ("node", {"batch_size": [16, 0]}, "asha", "space['batch_size'] = 0"),
    ("node", {"hidden_size": [8, 16]}, "pbt",
     "space['hidden_size']: its values change the model's parameter shapes"),
    ("node", {"max_epochs": [5, 10]}, "asha", "dl.tune's own max_epochs argument"),
    ("lfads", {"kl_co_scale": ("uniform", -1.0, 1.0)}, "pbt",
     ("space['kl_co_scale'] = -1.0: the 'lfads' model or dl.fit refuses it: kl_co_scale: "
      "expected a finite number >= 0")),
])
def test_a_bad_space_is_refused_before_anything_is_written(data, tmp_path, family, space,
                                                           scheduler, message):
    pytest.importorskip("ray.tune")
    out = tmp_path / "search"
    with pytest.raises((DynlensValueError, DynlensTypeError)) as err:
        dl.tune(family, data, space, num_samples=2, out=out, scheduler=scheduler)
    assert message in str(err.value)
    assert not out.exists()


def _docs_lfads_space(data):
    """The space of docs/tuning.md's "What to search for LFADS", run on ``data``."""
    text = (Path(__file__).parents[1] / "docs" / "tuning.md").read_text()
    blocks = [piece.split("```")[0] for piece in text.split("```python")[1:]]
    namespace = {"data": data}
    code = next(b for b in blocks if "kl_co_scale" in b and "dl.tune" not in b)
    exec(code, namespace)  # noqa: S102 - the documentation's own example
    return namespace["space"]


def test_the_lfads_space_of_the_docs_suits_population_based_training(data):
    space = _docs_lfads_space(data)
    assert set(space) == {"lr", "dropout", "cd_rate", "l2_gen_scale", "l2_con_scale",
                          "kl_ic_scale", "kl_co_scale"}
    fixed = {"gen_dim": 8, "ic_dim": 4, "n_factors": 3, "ic_enc_dim": 8, "ci_enc_dim": 4,
             "con_dim": 4, "co_dim": 1}
    # every end of every range builds, and nothing changes the parameters' shapes
    check_search("lfads", parse_space(space), fixed, data, same_shapes=True)


def test_a_perturbed_value_is_moved_back_inside_its_range():
    dims = parse_space({"lr": ("loguniform", 1e-3, 1e-2), "n": ("randint", 2, 5),
                        "kind": ["gru", "node"]})
    # population-based training multiplies by 0.8 or 1.2 (rounding integers)
    assert _within_space(dims, {"lr": 1.2e-2, "n": 5, "kind": "node", "seed": 3}) == \
        {"lr": 1e-2, "n": 4, "kind": "node", "seed": 3}
    assert _within_space(dims, {"lr": 0.8e-3, "n": 1, "kind": "gru"}) == \
        {"lr": 1e-3, "n": 2, "kind": "gru"}
    inside = {"lr": 4e-3, "n": 3, "kind": "gru"}
    assert _within_space(dims, inside) == inside


# --- dl.fit's hooks: a callback sees the epoch's checkpoint; resume="adapt" ------------------

def _model():
    torch.manual_seed(0)
    return dl.models.build("sae", n_neurons=5, latent_dim=3, generator="gru", encoder_size=8)


def test_a_callback_sees_the_checkpoint_of_its_epoch(data, tmp_path):
    seen = []
    dl.fit(_model(), data, max_epochs=3, checkpoint_dir=tmp_path, checkpoint_every=1,
           progress=False, threads=1, bins_per_group=0,
           callback=lambda epoch, model, row: seen.append(
               (epoch, read_checkpoint(tmp_path / "last.pt")["epoch"])))
    assert seen == [(0, 0), (1, 1), (2, 2)]


def test_resume_adapt_continues_the_weights_with_new_settings(data, tmp_path):
    first = dl.fit(_model(), data, max_epochs=8, checkpoint_dir=tmp_path, checkpoint_every=1,
                   progress=False, threads=1, bins_per_group=0, lr=1e-2)
    state = read_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 7 and len(first) == 8
    with pytest.raises(DynlensValueError, match="written with other settings"):
        dl.fit(_model(), data, max_epochs=12, checkpoint_dir=tmp_path, progress=False,
               threads=1, bins_per_group=0, lr=3e-3)
    model = _model()
    resumed = dl.fit(model, data, max_epochs=12, checkpoint_dir=tmp_path, resume="adapt",
                     progress=False, threads=1, bins_per_group=0, lr=3e-3)
    assert resumed["epoch"].tolist() == list(range(12))  # epochs 0-7 kept, 8-11 trained
    np.testing.assert_array_equal(resumed["valid_loss"][:8], first["valid_loss"])
    config = default_fit_config(model, max_epochs=12, bins_per_group=0, lr=3e-3)
    for epoch in (8, 11):  # the new peak and the new schedule, from the saved epoch on
        assert resumed["lr"][epoch] == pytest.approx(3e-3 * _lr_factor(epoch, config))


# --- a search on a local Ray instance: interrupted, resumed, read back -------------------------

@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.tune")
    context = ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR",
                       log_to_driver=False)
    yield context.address_info["address"]
    ray.shutdown()


def _spec_toml(path):
    space = "\n".join(f"{k} = {json.dumps(list(v))}" for k, v in SPACE.items())
    fixed = "\n".join(f"{k} = {json.dumps(v)}" for k, v in FIXED.items())
    data = ", ".join(f"{k} = {v}" for k, v in DATA_KW.items())
    path.write_text(f'family = "node"\ndata = {{system = "arneodo", {data}}}\n'
                    f"num_samples = 4\nmax_epochs = {MAX_EPOCHS}\n\n[space]\n{space}\n\n"
                    f"[fixed]\n{fixed}\n")
    return path


@pytest.fixture(scope="module")
def search(ray_address, data, tmp_path_factory):
    """`dynlens tune` stopped by Ctrl-C once a trial has its first epoch's checkpoint (early:
    at 8 tiny epochs a trial, a later trigger let the whole search finish on an idle machine
    before the signal arrived), then dl.tune resuming."""
    folder = tmp_path_factory.mktemp("tune")
    out = folder / "search"
    process = subprocess.Popen(
        [sys.executable, "-m", "dynlens.app.cli", "tune", str(_spec_toml(folder / "s.toml")),
         "--out", str(out), "--address", ray_address, "--threads", "1", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # a guard against a hang only: beside busy processes on 2 cores the command's start,
    # Ray's workers and the first epoch once took more than 120 s
    deadline = time.monotonic() + 600
    while not glob.glob(str(out / "*" / "checkpoint_000000")) and process.poll() is None:
        assert time.monotonic() < deadline, "no trial finished an epoch in 600 s"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    first = load_search(out)
    started = time.perf_counter()
    result = dl.tune("node", data, SPACE, num_samples=4, out=out, max_epochs=MAX_EPOCHS,
                     progress=False, **FIXED)
    return first, result, time.perf_counter() - started


def test_an_interrupted_search_resumes_where_it_stopped(search):
    first, result, _ = search
    before = {t["trial_id"]: len(t["history"].get("epoch", [])) for t in first.trials}
    assert any(first.table().status != "done"), "the search ended before the interruption"
    table = result.table().set_index("trial_id")
    assert (table.status == "done").all() and len(table) == 4
    for trial in result.trials:  # no trial started over: each epoch once, in order
        epochs = trial["history"]["epoch"]
        assert epochs == list(range(len(epochs))), (trial["trial_id"], epochs)
        assert len(epochs) >= before.get(trial["trial_id"], 0)
    # a trial with epochs before the stop kept them (its history above runs 0..n-1 once: it
    # did not start over); the scheduler may end it at once after the restore, so the search as
    # a whole is what must have gone on
    assert any(0 < n <= table.loc[t, "epochs"] for t, n in before.items()), before
    assert table["epochs"].sum() > sum(before.values()), (before, table["epochs"].tolist())


def test_the_search_has_a_row_per_trial_and_a_best_model_that_evaluates(search, data):
    _, result, _ = search
    table = result.table()
    assert len(table) == 4 and table.trial_id.is_unique
    assert set(table.columns) >= {"lr", "hidden_size", "epochs", "best_valid_loss", "history"}
    assert (table.epochs <= MAX_EPOCHS).all() and (table.epochs == MAX_EPOCHS).any()
    best = result.best_config
    assert 1e-3 <= best["lr"] <= 3e-2 and best["hidden_size"] in (8, 16)
    row = table.set_index("trial_id").loc[result.best_trial_id]
    assert row.best_valid_loss == table.best_valid_loss.min()
    model = result.best_model
    assert model.config.hidden_size == best["hidden_size"]
    scores = dl.evaluate(model, data)
    assert math.isfinite(scores["rate_r2"]) and math.isfinite(scores["bps"])
    again = load_search(result.folder)  # read back without Ray
    assert again.best_config == best and again.table().equals(table)


def test_trials_keep_tunes_csv_and_json_records_and_no_tensorboard_files(search):
    # Tune's TensorBoard logger printed "NaN or Inf found in input tensor." for every epoch
    # reported before full trial length (best_valid_loss inf): hundreds of lines a search
    _, result, _ = search
    trials = [p for p in result.folder.iterdir() if p.is_dir() and p.name.startswith("run_")]
    assert len(trials) == 4
    for trial in trials:
        assert (trial / "progress.csv").is_file() and (trial / "result.json").is_file()
    assert not list(result.folder.rglob("events.out.tfevents*"))
    assert "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS" not in os.environ  # set only while it ran


def test_the_figure_draws_one_line_per_trial(search):
    _, result, _ = search
    fig = result.plot()
    ax = fig.axes[0]
    assert len([line for line in ax.get_lines() if len(line.get_xdata()) > 1]) >= 1
    assert ax.get_yscale() == "log" and len(fig.axes) == 2  # the colour bar of lr
    with pytest.raises(DynlensValueError, match="by: expected one of 'lr', 'hidden_size'"):
        result.plot(by="dropout")


# --- population-based training: trials copy better trials' weights and perturb settings -------

PBT_SPACE = {"lr": ("loguniform", 1e-3, 3e-2)}
PBT_FIXED = {**FIXED, "hidden_size": 8}
PBT_EPOCHS = 4  # a perturbation after every epoch (a tenth of the budget, at least one)


@pytest.fixture(scope="module")
def pbt_search(ray_address, data, tmp_path_factory):
    """Three trials on the two CPUs of the module's Ray instance: a trial that reaches a
    perturbation while another waits pauses, so the trials train side by side and copy."""
    out = tmp_path_factory.mktemp("pbt") / "search"
    return dl.tune("node", data, PBT_SPACE, num_samples=3, scheduler="pbt", out=out,
                   max_epochs=PBT_EPOCHS, progress=False, **PBT_FIXED)


def _inside(config):
    return all(lo <= config[k] <= hi for k, (_, lo, hi) in PBT_SPACE.items())


def test_population_based_training_copies_weights_and_perturbs_settings(pbt_search, data):
    result = pbt_search
    ids = {t["trial_id"] for t in result.trials}
    # every reported epoch, as it came (a trial's history keeps only the rows of its weights)
    rows = [json.loads(line) for line in (result.folder / RESULTS_FILE).read_text().splitlines()]
    copies = [r for r in rows if r["restored_from"] is not None]
    assert copies, "no trial took another trial's weights"
    # the one training batch of an epoch is scored before the step: a trial that took another's
    # checkpoint (weights, optimiser and random state) scores that trial's epoch exactly
    assert data.split("train").n_trials <= default_fit_config(result.best_model).batch_size
    for copy in copies:
        assert copy["restored_from"] in ids - {copy["trial_id"]}
        donor = [r["train_loss"] for r in rows if r["trial_id"] == copy["restored_from"]
                 and r["epoch"] == copy["epoch"]]
        assert copy["train_loss"] in donor, (copy, donor)
    # Ray's log of each copy: the donor's settings, perturbed, inside the space
    log = [json.loads(line) for line in (result.folder / "pbt_global.txt").read_text()
           .splitlines()]
    assert len(log) >= len(copies)
    assert all(_inside(new) for *_, new in log)
    assert any(new != old for *_, old, new in log)


def test_a_population_has_a_row_per_trial_and_a_best_model_that_evaluates(pbt_search, data):
    result = pbt_search
    table = result.table()
    assert len(table) == 3 and table.trial_id.is_unique and (table.status == "done").all()
    assert (table.epochs == PBT_EPOCHS).all()  # no early stop in a population
    assert all(_inside(t["config"]) for t in result.trials)
    assert result.best_trial_id in set(table.trial_id)
    assert table.set_index("trial_id").best_valid_loss[result.best_trial_id] == \
        table.best_valid_loss.min()
    scores = dl.evaluate(result.best_model, data)
    assert math.isfinite(scores["rate_r2"]) and math.isfinite(scores["bps"])


def test_a_bad_toml_file_is_one_message_for_a_search_and_a_sweep(tmp_path):
    from dynlens.errors import DynlensFileFormatError
    from dynlens.tuning.command import read_spec

    path = tmp_path / "spec.toml"
    path.write_text('family = "node"\nnum_samples = four\n')
    messages = []
    for read in (read_spec, dl.Sweep.from_toml):
        with pytest.raises(DynlensFileFormatError) as err:
            read(path)
        messages.append(str(err.value))
    assert messages[0] == messages[1] == f"{path}: not valid TOML: Invalid value (at line 2, " \
                                         f"column 15)"
