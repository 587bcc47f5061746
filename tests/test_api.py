"""The public names of DESIGN.md are importable from `dynlens` (the contract users rely on)."""

from __future__ import annotations

import importlib
import pathlib
import re

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


@pytest.mark.parametrize("layer, forbidden", [
    ("systems", ("data", "models", "training", "analysis", "studies", "plotting", "cli")),
    ("data", ("models", "training", "analysis", "studies", "plotting", "cli")),
    ("models", ("training", "analysis", "studies", "plotting", "cli")),
    ("training", ("analysis", "studies", "plotting", "cli")),
    ("analysis", ("training", "studies", "plotting", "cli")),
])
def test_layers_import_only_layers_above_them(layer, forbidden):
    """DESIGN.md: data flows one way; a layer never imports a layer below it."""
    package = importlib.import_module(f"dynlens.{layer}")
    root = package.__path__[0]
    offenders = []
    for path in pathlib.Path(root).rglob("*.py"):
        text = path.read_text()
        for name in forbidden:
            if re.search(rf"^\s*(from|import)\s+(\.\.|dynlens\.){name}\b", text, re.MULTILINE):
                offenders.append(f"{path.name} imports {name}")
    assert offenders == []
