"""What a model was trained on: recorded by fit, kept by checkpoints, compared by evaluate."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import dynlens as dl
from dynlens.errors import DynlensOtherDataWarning
from dynlens.models import other_data_message, training_record
from dynlens.models.checkpoint import read_checkpoint, write_checkpoint


def _data(system="lorenz", seed=0, **kw):
    kw = {"n_neurons": 5, "n_trials": 16, "n_bins": 8, **kw}
    return dl.simulate(system, seed=seed, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A NODE SAE fitted for one epoch on Lorenz data, saved and loaded back."""
    data = _data()
    model = dl.models.SAE(n_neurons=5, latent_dim=3, hidden_size=8, encoder_size=4)
    dl.fit(model, data, max_epochs=1, progress=False, threads=1)
    path = tmp_path_factory.mktemp("m") / "model.pt"
    model.save(path)
    return data, model, path


def test_the_record_names_system_parameters_neurons_bin_width_and_a_fingerprint(tmp_path):
    data = _data(n_heldout=1)
    record = training_record(data)
    assert record["system"] == "lorenz" and record["params"] == data.metadata["params"]
    assert (record["n_neurons"], record["n_trials"], record["n_bins"]) == (5, 16, 8)
    assert record["bin_width"] == data.bin_width
    json.dumps(record)  # JSON-ready, as the checkpoint stores it
    for suffix in (".h5", ".npz"):  # a file of the same data has the same record
        data.save(tmp_path / f"d{suffix}")
        assert training_record(dl.load_dataset(tmp_path / f"d{suffix}")) == record
    changed = data.spikes.copy()
    changed[0, 0, 0] += 1
    other = dl.NeuralDataset.from_arrays(changed, bin_width=data.bin_width)
    assert training_record(other)["fingerprint"] != record["fingerprint"]
    assert training_record(other)["system"] is None and training_record(other)["params"] is None


def test_fit_records_the_data_and_the_checkpoint_keeps_it(trained):
    data, model, path = trained
    assert model.trained_on == training_record(data)
    assert dl.load_model(path).trained_on == model.trained_on


def test_every_difference_is_named_in_one_line():
    model = dl.models.SAE(n_neurons=5, latent_dim=3)
    lorenz = _data()
    model.trained_on = training_record(lorenz)
    assert other_data_message(model, lorenz) is None
    said = other_data_message(model, _data("rossler"))
    assert said.startswith("the model was trained on lorenz data, given rossler data (")
    assert "bin width" in said and "fingerprint" not in said  # other systems: no hash to read
    said = other_data_message(model, _data(seed=1))
    assert said == (f"the model was trained on other lorenz data: spikes fingerprint "
                    f"{model.trained_on['fingerprint']}, given "
                    f"{training_record(_data(seed=1))['fingerprint']}")
    said = other_data_message(model, _data(system_params={"rho": 35.0}))
    assert said.startswith("the model was trained on other lorenz data: parameters rho=28, "
                           "given rho=35; ")
    said = other_data_message(model, _data(n_trials=12, n_bins=6))
    assert "16 trials of 8 bins, given 12 of 6" in said
    said = other_data_message(model, _data(n_neurons=6))
    assert "5 neurons, given 6" in said
    plain = dl.NeuralDataset.from_arrays(lorenz.spikes, bin_width=lorenz.bin_width)
    assert other_data_message(model, plain) == (
        "the model was trained on lorenz data, given data of no recorded system")
    for said in (other_data_message(model, d) for d in (_data("rossler"), _data(seed=1))):
        assert "\n" not in said


def test_evaluate_warns_on_other_data_and_not_on_its_own(trained):
    data, _, path = trained
    model = dl.load_model(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DynlensOtherDataWarning)
        dl.evaluate(model, data, threads=1)  # the data it was trained on: no warning
    with pytest.warns(DynlensOtherDataWarning) as caught:
        row = dl.evaluate(model, _data("rossler"), threads=1)
    assert len(caught) == 1 and row["n_trials"] > 0  # scored all the same
    message = str(caught[0].message)
    assert "trained on lorenz data, given rossler data" in message
    assert message == other_data_message(model, _data("rossler"))


def test_a_checkpoint_without_the_record_loads_and_does_not_warn(trained, tmp_path):
    path = trained[2]
    payload = read_checkpoint(path)
    del payload["trained_on"]  # as written before dynlens recorded it
    old = tmp_path / "old.pt"
    write_checkpoint(old, payload)
    model = dl.load_model(old)
    assert getattr(model, "trained_on", None) is None
    assert other_data_message(model, _data("rossler")) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", DynlensOtherDataWarning)
        dl.evaluate(model, _data("rossler"), threads=1)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 dl.load_model(path).state_dict().values()))
