"""dl.agreement: models compared with each other, no truth. A model agrees with itself and with
an affinely re-coordinated copy of itself perfectly; different dynamics do not."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

import dynlens as dl
from dynlens.analysis.compare import CATEGORIES
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.models import SAE

A = torch.tensor([[1.5, 0.4], [-0.3, 0.8]], dtype=torch.float32)
B = torch.tensor([0.5, -1.0], dtype=torch.float32)


def _bistable(gain: float) -> SAE:
    """A NODE-2 whose field is ``gain * tanh(z) - z`` per coordinate (``-z`` as
    ``-100 tanh(z / 100)``): for gain 2, nine fixed points (four stable nodes, four saddles, a
    source at 0); for gain 0 one stable node at the origin."""
    torch.manual_seed(0)
    model = SAE(n_neurons=6, latent_dim=2, generator="node", hidden_size=4, encoder_size=8)
    first, last = model.dynamics.field[0], model.dynamics.field[-1]
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0], [0, 1.0], [0.01, 0], [0, 0.01]]))
        first.bias.zero_()
        last.weight.copy_(torch.tensor([[gain, 0, -100.0, 0], [0, gain, 0, -100.0]]))
        last.bias.zero_()
        model.encoder.to_ic.weight.mul_(20.0)  # initial states spread over the wells
    return model.eval()


def _recoordinated(model: SAE, a: torch.Tensor, b: torch.Tensor) -> SAE:
    """The same model in the coordinates y = a z + b: the encoder emits a z0 + b, the field is
    the conjugate a f(a^-1 (y - b)) and the readout reads z = a^-1 (y - b)."""
    out = copy.deepcopy(model)
    inv = torch.linalg.inv(a)
    first, last = out.dynamics.field[0], out.dynamics.field[-1]
    with torch.no_grad():
        ic = out.encoder.to_ic
        ic.weight.copy_(a @ ic.weight)
        ic.bias.copy_(a @ ic.bias + b)
        first.bias.copy_(first.bias - first.weight @ inv @ b)
        first.weight.copy_(first.weight @ inv)
        last.weight.copy_(a @ last.weight)
        last.bias.copy_(a @ last.bias)
        out.readout.bias.copy_(out.readout.bias - out.readout.weight @ inv @ b)
        out.readout.weight.copy_(out.readout.weight @ inv)
    return out


@pytest.fixture(scope="module")
def result(tiny_data):
    model = _bistable(2.0)
    models = {"m": model, "copy": _recoordinated(model, A, B), "same": model}
    return dl.agreement(models, tiny_data, progress=False, threads=1)


def test_the_copy_has_affine_latents(tiny_data):
    model = _bistable(2.0)
    z = model.infer(tiny_data).latents
    y = _recoordinated(model, A, B).infer(tiny_data).latents
    np.testing.assert_allclose(y, z @ A.numpy().T + B.numpy(), atol=1e-4)


def test_self_and_affine_copy_agree_perfectly(result):
    table = result.table()
    assert table[["a", "b"]].values.tolist() == [["m", "copy"], ["m", "same"], ["copy", "same"]]
    np.testing.assert_allclose(table["score"], 1.0, atol=1e-6)
    np.testing.assert_allclose(table[["latent_r2_ab", "latent_r2_ba"]], 1.0, atol=1e-6)
    np.testing.assert_allclose(table[["fp_score_ab", "fp_score_ba"]], 1.0, atol=1e-6)
    assert result.score == pytest.approx(1.0, abs=1e-6)
    # the fixed-point part is not vacuous: the points the latents visit (the wells at
    # x = -1.915, a saddle between them), all found by every model and matched both ways
    found = result.summary()["n_fixed_points"].tolist()
    assert found == [3, 3, 3]
    assert (table["fp_matched_ab"] == 3).all() and (table["fp_matched_ba"] == 3).all()
    assert sorted(result.comparison("m", "copy").true_fps.stability) == [
        "stable", "stable", "unstable"]
    # identical models have identical spectra; the copy's differ by the estimate's noise only
    assert table.loc[1, "lyapunov_diff"] == 0.0
    assert table.loc[0, "lyapunov_diff"] < 0.05


def test_latents_alone_copy_no_generator_and_give_the_same_latent_columns(result, tiny_data,
                                                                        monkeypatch):
    from dynlens.analysis import model_agreement

    copied = []
    real = model_agreement._dynamics64
    monkeypatch.setattr(model_agreement, "_dynamics64",
                        lambda model: copied.append(model) or real(model))
    model = _bistable(2.0)
    models = {"m": model, "copy": _recoordinated(model, A, B), "same": model}
    latents = dl.agreement(models, tiny_data, fixed_points=False, lyapunov=False,
                           progress=False, threads=1)
    assert copied == []  # neither fixed points nor spectra asked for: nothing to copy
    columns = ["a", "b", "latent_r2_ab", "latent_r2_ba", "latent_r2"]
    pd.testing.assert_frame_equal(latents.table()[columns], result.table()[columns])
    assert latents.table()["fp_score"].isna().all()
    dl.agreement(models, tiny_data, lyapunov=False, n_inits=4, progress=False, threads=1)
    assert len(copied) == 3  # one float64 copy per model when its fixed points are searched


def test_different_dynamics_disagree(tiny_data):
    bistable, monostable = _bistable(2.0), _bistable(0.0)
    agree = dl.agreement([bistable, monostable], tiny_data, labels=["bi", "mono"],
                         lyapunov=False, progress=False, threads=1)
    row = agree.table().iloc[0]
    assert row["fp_score"] < 0.5 and agree.score < 0.9
    # the monostable model as reference: its one point, and the bistable model's extra ones
    cmp = agree.comparison("mono", "bi")
    paired = cmp.counts()["matched"] + cmp.counts()["mislocated"]
    assert paired <= 1 and agree.summary().loc["mono", "n_fixed_points"] == 1
    assert row["fp_spurious_ba"] == cmp.counts()["spurious"] == 3 - paired
    assert {f"fp_{name}_ab" for name in CATEGORIES} <= set(agree.table().columns)


def test_model_without_dynamics_gets_latent_columns_only(tiny_data):
    ndt = dl.models.NDT(n_neurons=6, latent_dim=4)
    agree = dl.agreement({"node": _bistable(2.0), "ndt": ndt}, tiny_data, progress=False,
                         threads=1)
    row = agree.table().iloc[0]
    assert np.isfinite(row["latent_r2_ab"]) and np.isfinite(row["latent_r2_ba"])
    assert np.isnan(row["fp_score"]) and np.isnan(row["lyapunov_diff"])
    assert row["score"] == pytest.approx(float(np.clip(row["latent_r2"], 0, 1)))
    summary = agree.summary()
    assert summary["has_dynamics"].tolist() == [True, False]
    assert summary["n_fixed_points"].isna().tolist() == [False, True]


def test_bad_input(tiny_data):
    with pytest.raises(DynlensValueError, match="at least two models"):
        dl.agreement([_bistable(2.0)], tiny_data, progress=False)
    with pytest.raises(DynlensTypeError, match="models: expected"):
        dl.agreement("node", tiny_data, progress=False)
    with pytest.raises(DynlensValueError, match="labels: expected one label per model"):
        dl.agreement([_bistable(2.0)] * 2, tiny_data, labels=["x"], progress=False)
    with pytest.raises(DynlensValueError, match="reference, other"):
        dl.agreement([_bistable(2.0)] * 2, tiny_data, fixed_points=False, lyapunov=False,
                     progress=False).comparison("a", "b")


def test_report_section(result, tmp_path):
    from dynlens.app.report import Report

    report = Report(tmp_path)
    result.add_to(report)
    text = report.markdown()
    assert "## Agreement between models" in text and "Overall agreement 1.000" in text
    assert text.count("copy") >= 3  # in two pair rows and the per-model row


def test_a_sweeps_cells_read_their_dataset_once_and_agree_as_dl_agreement_says(tmp_path,
                                                                               monkeypatch):
    import dynlens.data
    from dynlens.sweeps import execute, runner
    from dynlens.sweeps.layout import MODEL, SweepFolder

    class Finished:  # a worker process that has already exited, as _run_local polls it
        returncode = 0

        def poll(self):
            return 0

    def in_process(job, run):  # the worker's work, without starting a Python per run
        execute.run_from_folder(job.folder.root, run.run_id, job.threads, job.device)
        return Finished()

    monkeypatch.setattr(runner, "_start", in_process)
    out = tmp_path / "sweep"
    sweep = dl.Sweep(systems=["arneodo"], models=["gru"], latent_dims=[2, 3], seeds=[0, 1],
                     data={"n_neurons": 6, "n_trials": 20, "n_bins": 8},
                     fit={"max_epochs": 1}, analysis={"fixed_points": False})
    sweep.run(out, threads=1, progress=False)
    folder, read = SweepFolder(out), []
    real = dynlens.data.load_dataset
    monkeypatch.setattr(dynlens.data, "load_dataset", lambda path: read.append(path) or real(path))
    table = dl.sweeps.agreement(out, fixed_points=False, write=False, progress=False,
                                threads=1)
    assert read == [folder.dataset("arneodo")]  # two cells, one dataset: read once
    assert (table.n_seed_pairs == 1).all()
    data = real(folder.dataset("arneodo"))
    for latent_dim, runs in table.groupby("latent_dim"):  # each cell's own dl.agreement
        models = {r: dl.load_model(folder.run(r) / MODEL) for r in runs.run_id}
        pair = dl.agreement(models, data, sweep.analysis["split"], fixed_points=False,
                            lyapunov=False, progress=False, threads=1).table().iloc[0]
        assert (runs.agreement_mean == pair["score"]).all()
        assert (runs.latent_r2_agreement_min == pair["latent_r2"]).all()
