"""The analysis section of the demo's and `dynlens analyze`'s reports, end to end."""

from __future__ import annotations

import json

import dynlens as dl
from dynlens.analysis.compare import count_words
from dynlens.app.analyze import analysis_section, interpretation
from dynlens.app.report import Report


def test_analysis_section_writes_its_figures_and_table(tmp_path, capfd):
    data = dl.simulate("arneodo", n_neurons=10, n_trials=60, n_bins=30, seed=0)
    dl.utils.seed_everything(0)
    model = dl.models.SAE(n_neurons=10, latent_dim=3, generator="gru", encoder_size=8)
    dl.fit(model, data, max_epochs=3, bins_per_group=0, progress=False)
    report = Report(tmp_path)
    summary = analysis_section(report, model, data, label="GRU-3",
                               heading="## 3. Opening the GRU",
                               system=dl.systems.get("arneodo"), seed=0, progress=False,
                               lyapunov_steps=50)
    text = report.write().read_text()
    assert summary["n_fixed_points"] >= 1  # a stable point near the origin
    assert "## 3. Opening the GRU" in text and "| status |" in text
    assert summary["matched"] + summary["mislocated"] + summary["missing"] == 3
    short = interpretation([summary]).split("\n\n")[0]
    assert short.startswith("**GRU-3** (train split): ")
    said = count_words(summary, summary["mislocated_at"])
    assert f"3 true fixed points: {said}" in text  # the report's comparison sentence
    assert (f"3 true fixed points: {said}" in short and f"{summary['score']:.2f}" in short
            or "No answer" in short)
    assert (tmp_path / "fixed_points.csv").read_text().count("\n") == summary["n_fixed_points"] + 1
    for name in ("latents_vs_truth", "fixed_points", "eigenvalues", "fixed_point_graph",
                 "fixed_point_comparison"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
    assert capfd.readouterr().err == ""  # progress=False reaches the fixed-point search


def test_analysis_section_without_fixed_points_or_truth(tmp_path):
    data = dl.simulate("arneodo", n_neurons=10, n_trials=60, n_bins=30, seed=0)
    dl.utils.seed_everything(0)
    model = dl.models.SAE(n_neurons=10, latent_dim=3, hidden_size=16, encoder_size=8)
    dl.fit(model, data, max_epochs=4, bins_per_group=0, progress=False)
    report = Report(tmp_path)
    summary = analysis_section(report, model, data, label="NODE-3", heading="## NODE",
                               seed=0, progress=False, lyapunov_steps=50)
    text = report.write().read_text()
    assert summary["n_fixed_points"] == 0  # this barely trained field has none near the data
    assert "No fixed point lies within" in text and "No true system" in text
    assert (tmp_path / "fixed_points.png").exists() and not (tmp_path / "eigenvalues.png").exists()


def test_run_analysis_on_recorded_spikes_without_truth(tmp_path):
    from dynlens.app.analyze import run_analysis

    sim = dl.simulate("arneodo", n_neurons=10, n_trials=60, n_bins=30, seed=0)
    data = dl.NeuralDataset.from_arrays(sim.spikes, metadata={"system": "arneodo"})
    dl.utils.seed_everything(0)
    model = dl.models.SAE(n_neurons=10, latent_dim=3, generator="gru", encoder_size=8)
    dl.fit(model, data, max_epochs=3, bins_per_group=0, progress=False)
    path = run_analysis(model, data, tmp_path, n_inits=128, progress=False, lyapunov_steps=50)
    text = path.read_text()
    # a system is named in the metadata, but without true latents there is nothing to align
    assert "The data carry no true latents" in text and "| status |" not in text
    assert "No answer: without true latents" in text  # the verdict in words
    assert "No answer" in (tmp_path / "report.html").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["model"] == "GRU-3" and "matched" not in summary
            and "alignment_r2" not in summary)
    assert ((tmp_path / "fixed_points.png").exists()
            and not (tmp_path / "latents_vs_truth.png").exists())
