"""``dynlens analyze`` of one model and of several share one scaffolding (AnalysisRun)."""

from __future__ import annotations

import pytest
import torch

import dynlens as dl
from dynlens.app.analyze import AnalysisRun
from dynlens.errors import DynlensValueError
from dynlens.models import training_record


def _data(system: str = "arneodo", seed: int = 0):
    return dl.simulate(system, n_neurons=6, n_trials=20, n_bins=10, seed=seed)


def _model(trained_on) -> dl.models.SAE:
    model = dl.models.SAE(n_neurons=6, latent_dim=2, hidden_size=8, encoder_size=8)
    model.trained_on = training_record(trained_on)  # as dl.fit records it, without training
    return model


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
