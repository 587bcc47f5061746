"""AffineAlignment: exact recovery, R2 direction, scikit-learn behaviour, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from dynlens import DynlensError
from dynlens.analysis import AffineAlignment, DynlensNotFittedError
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.plotting import analysis as plots

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 3))
B = RNG.normal(size=3)


def test_recovers_known_affine_map_to_1e8():
    z = RNG.normal(size=(20, 30, 3))  # [trials, bins, dim]
    align = AffineAlignment().fit(z, z @ A.T + B)
    np.testing.assert_allclose(align.coef_, A, atol=1e-8)
    np.testing.assert_allclose(align.intercept_, B, atol=1e-8)
    assert align.n_features_in_ == 3 and align.n_targets_ == 3
    out = align.transform(z)
    assert out.shape == (20, 30, 3)
    np.testing.assert_allclose(align.inverse_transform(out), z, atol=1e-8)
    assert align.score(z, z @ A.T + B) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(align.predict(torch.as_tensor(z[0])), out[0], atol=1e-12)


def test_r2_direction_penalises_invented_dimensions():
    true = RNG.normal(size=(2000, 3))
    inferred = np.concatenate([true @ A.T + B, RNG.normal(size=(2000, 2))], axis=1)  # 2 invented
    true_to_inferred = AffineAlignment().fit(true, inferred).score(true, inferred)
    inferred_to_true = AffineAlignment().fit(inferred, true).score(inferred, true)
    assert true_to_inferred < 0.65  # the 2 noise dims cannot be predicted: about 3/5
    assert inferred_to_true > 0.999


def test_ridge_intercept_and_sklearn_protocol():
    z = RNG.normal(size=(100, 3))
    plain = AffineAlignment().fit(z, z @ A.T)
    shrunk = AffineAlignment(ridge=1e3).fit(z, z @ A.T)
    assert np.linalg.norm(shrunk.coef_) < np.linalg.norm(plain.coef_)
    assert np.all(AffineAlignment(fit_intercept=False).fit(z, z @ A.T + B).intercept_ == 0)
    assert clone(shrunk).get_params() == {"ridge": 1e3, "fit_intercept": True}
    assert AffineAlignment().fit_transform(z, z @ A.T + B).shape == (100, 3)
    wide = AffineAlignment().fit(z, np.c_[z, z])  # injective 3 -> 6
    np.testing.assert_allclose(wide.inverse_transform(np.c_[z, z]), z, atol=1e-10)
    with pytest.raises(DynlensValueError, match="injective"):
        AffineAlignment().fit(np.c_[z, z], z).inverse_transform(z)


def test_latents_vs_truth_figure():
    z = RNG.normal(size=(4, 20, 3)).cumsum(1)
    fig = plots.latents_vs_truth(z, z @ A.T + B)
    assert isinstance(fig, Figure) and "R2 = 1.000" in fig.axes[0].get_title()
    wide = plots.latents_vs_truth(np.c_[z.reshape(-1, 3), z.reshape(-1, 3)].reshape(4, 20, 6),
                                  np.c_[z.reshape(-1, 3), z.reshape(-1, 3) ** 2].reshape(4, 20, 6))
    assert wide.axes[0].get_xlabel().startswith("PC1")


def test_bad_inputs():
    z = RNG.normal(size=(10, 3))
    with pytest.raises(DynlensNotFittedError, match="not fitted"):
        AffineAlignment().transform(z)
    with pytest.raises(NotFittedError):  # also scikit-learn's error
        AffineAlignment().score(z, z)
    bad = z.copy()
    bad[2, 1] = np.nan
    with pytest.raises(DynlensValueError, match="source"):
        AffineAlignment().fit(bad, z)
    with pytest.raises(DynlensValueError, match="target"):
        AffineAlignment().fit(z, z[:5])
    with pytest.raises(DynlensValueError, match="source"):
        AffineAlignment().fit(z, z).transform(np.zeros((4, 2)))
    with pytest.raises(DynlensValueError, match="source"):
        AffineAlignment().fit(z[0], z[0])
    with pytest.raises(DynlensValueError, match="ridge"):
        AffineAlignment(ridge=-1).fit(z, z)
    with pytest.raises(DynlensTypeError, match="source"):
        AffineAlignment().fit(np.array([["a"] * 3] * 4), z[:4])
    assert issubclass(DynlensNotFittedError, DynlensError)


def test_data_without_truth_is_named_as_such():
    import dynlens as dl

    rng = np.random.default_rng(0)
    recording = dl.NeuralDataset.from_arrays(rng.poisson(1.0, size=(10, 6, 4)))
    latents = rng.normal(size=(10, 6, 3))
    with pytest.raises(DynlensValueError, match=r"^target: .*found None.*no true latents"):
        AffineAlignment().fit(latents, recording.latents)
    with pytest.raises(DynlensTypeError, match=r"^target: .*found a NeuralDataset; it has no "
                                               r"true latents"):
        AffineAlignment().fit(latents, recording)
    simulated = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=6, seed=0)
    with pytest.raises(DynlensTypeError, match=r"pass its true latents, data\.latents"):
        AffineAlignment().fit(latents, simulated)
