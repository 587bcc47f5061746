"""dynamics_similarity: DSA through the dsa-metric package (runs when it is installed)."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

import dynlens as dl
from dynlens.errors import DynlensError, DynlensMissingDependencyError


def halves(system: str) -> tuple[np.ndarray, np.ndarray]:
    z = dl.simulate(system, n_neurons=3, n_trials=80, n_bins=70, seed=0).latents
    return z[:40], z[40:]


def limit_cycle(n_trials: int = 40, n_bins: int = 70) -> np.ndarray:
    phase = np.random.default_rng(0).uniform(0, 2 * np.pi, (n_trials, 1))
    t = phase + np.arange(n_bins)[None] * 2 * np.pi / 35
    return np.stack([np.cos(t), np.sin(t), 0.3 * np.cos(2 * t)], -1)


def test_the_same_system_is_close_and_another_one_far():
    pytest.importorskip("DSA")
    arneodo, arneodo_later = halves("arneodo")
    lorenz, lorenz_later = halves("lorenz")
    rossler, _ = halves("rossler")
    same_lorenz = dl.dynamics_similarity(lorenz, lorenz_later)
    same_arneodo = dl.dynamics_similarity(arneodo, arneodo_later)
    assert same_lorenz < 0.05 and same_arneodo < 0.05
    assert dl.dynamics_similarity(lorenz, rossler) > 10 * same_lorenz
    assert dl.dynamics_similarity(arneodo, limit_cycle()) > 5 * same_arneodo


def test_the_default_score_ignores_a_linear_change_of_coordinates():
    pytest.importorskip("DSA")
    arneodo, later = halves("arneodo")
    mixing = np.random.default_rng(1).standard_normal((3, 3))
    mixed = dl.dynamics_similarity(arneodo, later @ mixing.T + 5.0)
    assert mixed < 0.1 < dl.dynamics_similarity(arneodo, limit_cycle())


def test_bad_input_is_refused_before_the_package_is_asked():
    with pytest.raises(DynlensError, match="a: expected more bins than n_delays=10"):
        dl.dynamics_similarity(np.zeros((2, 5, 3)), np.zeros((2, 30, 3)))
    with pytest.raises(DynlensError, match="b: expected at least n_delays x dim = 30"):
        dl.dynamics_similarity(np.zeros((2, 30, 3)), np.zeros((1, 12, 3)))
    with pytest.raises(DynlensError, match="score"):
        dl.dynamics_similarity(np.zeros((2, 30, 3)), np.zeros((2, 30, 3)), score="cosine")


def test_a_missing_package_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_dsa(name, *args, **kwargs):
        if name == "DSA":
            raise ImportError("No module named 'DSA'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dsa)
    with pytest.raises(DynlensMissingDependencyError, match=r"dynlens\[dsa\]"):
        dl.dynamics_similarity(np.ones((2, 30, 3)), np.ones((2, 30, 3)))
