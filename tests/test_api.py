"""The documented public names are importable from `dynlens` (the contract users rely on)."""

from __future__ import annotations

import pytest

import dynlens as dl

DESIGN_NAMES = [
    # systems and data
    "systems.get", "systems.available", "systems.from_dysts",
    "simulate", "NeuralDataset", "NeuralDataset.from_arrays", "load_dataset",
    "data.read_lfads_h5", "data.write_lfads_h5",
    # models and training
    "models.SAE", "Inference", "fit", "load_model",
    # analysis
    "find_fixed_points", "FixedPoints", "linearize", "AffineAlignment", "evaluate",
    "metrics.rate_r2", "metrics.state_r2", "metrics.co_bps", "metrics.cycle_consistency",
    # errors and the Dynamics contract
    "DynlensError", "Dynamics", "check_dynamics",
]


@pytest.mark.parametrize("dotted", DESIGN_NAMES)
def test_design_name_is_importable(dotted):
    obj = dl
    for part in dotted.split("."):
        obj = getattr(obj, part)
    assert obj is not None


def test_all_lists_only_existing_names():
    missing = [name for name in dl.__all__ if not hasattr(dl, name)]
    assert missing == []
