"""The demo's report: its analysis section runs end to end on a small trained NODE."""

from __future__ import annotations

import dynlens as dl
from dynlens.demo import _analysis_section, _Report


def test_analysis_section_writes_its_figures_and_table(tmp_path, capfd):
    data = dl.simulate("arneodo", n_neurons=10, n_trials=60, n_bins=30, seed=0)
    dl._utils.seed_everything(0)
    model = dl.models.SAE(n_neurons=10, latent_dim=3, hidden_size=16, encoder_size=8)
    dl.fit(model, data, max_epochs=4, bins_per_group=0, progress=False)
    report = _Report(tmp_path)
    _analysis_section(report, data, {"NODE-3": model}, seed=0, progress=False)
    text = report.write().read_text()
    assert "## 3. Opening the NODE" in text and "| status |" in text
    for name in ("latents_vs_truth", "fixed_points", "eigenvalues", "fixed_point_graph",
                 "fixed_point_comparison"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
    assert capfd.readouterr().err == ""  # progress=False reaches the fixed-point search
