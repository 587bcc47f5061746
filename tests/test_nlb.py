"""The Neural Latents Benchmark layout: NLB tensors in, NLB submission out, scored alike."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import dynlens as dl
from dynlens.errors import DynlensError

N_BINS, N_FORWARD = 12, 3


@pytest.fixture(scope="module")
def simulated():
    """Lorenz, 8 neurons (2 held out), 40 trials x (12 + 3 forward) bins."""
    return dl.simulate("lorenz", n_neurons=8, n_trials=40, n_bins=N_BINS, n_heldout=2,
                       n_forward=N_FORWARD, seed=0)


def nlb_tensors(data, n_train: int = 30) -> tuple[dict, dict, dict]:
    """The simulated trials as nlb_tools writes them: train, eval inputs, eval targets."""
    heldin, heldout = data.heldin_neurons, data.heldout_neurons
    s = data.spikes
    part = {"train": slice(0, n_train), "eval": slice(n_train, None)}
    train = {f"train_spikes_{name}": s[part["train"], :N_BINS, idx]
             for name, idx in (("heldin", heldin), ("heldout", heldout))}
    train.update({f"train_spikes_{name}_forward": s[part["train"], N_BINS:, idx]
                  for name, idx in (("heldin", heldin), ("heldout", heldout))})
    eval_inputs = {"eval_spikes_heldin": s[part["eval"], :N_BINS, heldin]}
    targets = {"eval_spikes_heldout": s[part["eval"], :N_BINS, heldout],
               "eval_spikes_heldin_forward": s[part["eval"], N_BINS:, heldin],
               "eval_spikes_heldout_forward": s[part["eval"], N_BINS:, heldout]}
    return train, eval_inputs, targets


def write(path, arrays: dict, group: str | None = None):
    with h5py.File(path, "w") as f:
        node = f.create_group(group) if group else f
        for key, value in arrays.items():
            node[key] = value
    return path


def test_nlb_files_read_into_one_dataset(tmp_path, simulated):
    train, eval_inputs, targets = nlb_tensors(simulated)
    data = dl.data.read_nlb(write(tmp_path / "train.h5", train),
                            write(tmp_path / "eval.h5", eval_inputs),
                            write(tmp_path / "target.h5", targets, "mc_maze_small"),
                            dataset="mc_maze_small", bin_width=0.005)
    order = np.concatenate([simulated.heldin_neurons, simulated.heldout_neurons])
    np.testing.assert_array_equal(data.spikes, simulated.spikes[..., order])
    assert data.n_forward == N_FORWARD and data.heldout_neurons.tolist() == [6, 7]
    assert data.splits["test"].tolist() == list(range(30, 40))
    assert sorted(np.concatenate([data.splits["train"], data.splits["valid"]])) == list(
        range(30))
    assert data.metadata["nlb_dataset"] == "mc_maze_small"


def test_submission_scores_like_dl_evaluate(simulated):
    nlb_eval = pytest.importorskip("nlb_tools.evaluation")
    train, eval_inputs, targets = nlb_tensors(simulated)
    data = dl.data.read_nlb(train, eval_inputs, targets)
    model = dl.models.SAE(n_neurons=8, latent_dim=3, generator="gru",
                          heldout_neurons=data.heldout_neurons)
    dl.fit(model, data, max_epochs=3, progress=False, threads=1)
    submission = dl.data.nlb_submission(model, data, "mc_maze_small")
    rng = np.random.default_rng(0)  # NLB also decodes behaviour: give it some to decode
    target = {"mc_maze_small": {**targets, "train_behavior": rng.normal(size=(30, N_BINS, 2)),
                                "eval_behavior": rng.normal(size=(10, N_BINS, 2))}}
    scores = nlb_eval.evaluate(target, submission)[0]["mc_maze_scaling_split"]
    ours = dl.evaluate(model, data, split="test", threads=1)
    assert scores["[100] co-bps"] == pytest.approx(ours["co_bps"], abs=1e-9)
    assert scores["[100] fp-bps"] == pytest.approx(ours["fp_bps"], abs=1e-9)


def test_bad_nlb_input_is_named(simulated):
    train, eval_inputs, _ = nlb_tensors(simulated)
    with pytest.raises(DynlensError, match="train_spikes_heldout"):
        dl.data.read_nlb({"train_spikes_heldin": train["train_spikes_heldin"]})
    with pytest.raises(DynlensError, match="eval_spikes_heldout"):  # hidden test phase
        dl.data.read_nlb(train, eval_inputs)
    with pytest.raises(DynlensError, match="forward bins"):
        dl.data.read_nlb(train, {**eval_inputs, "eval_spikes_heldout": eval_inputs[
            "eval_spikes_heldin"][..., :2]})
    data = dl.data.read_nlb(train)
    with pytest.raises(DynlensError, match="'test' split"):
        dl.data.nlb_submission(None, data, "mc_maze")
