"""Figures a reader can read: nothing hidden under another node or a legend, the units and
the meaning of every number in a title stated."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import dynlens as dl
from dynlens import plotting


def _arneodo_graph():
    arneodo = dl.systems.get("arneodo")
    fps = dl.FixedPoints.from_points(arneodo, arneodo.fixed_points())
    return arneodo, fps, dl.fixed_point_graph(arneodo, fps)


def test_the_attractor_node_no_longer_hides_a_fixed_point_and_its_edge():
    _, _, graph = _arneodo_graph()
    # the attractor's mean state lies 0.15 from the saddle at the origin
    assert graph.number_of_nodes() == 4 and graph.number_of_edges() == 3
    fig = plotting.fixed_point_graph(graph)
    ax = fig.axes[0]
    drawn = np.asarray(ax.collections[0].get_offsets())  # the nodes, as drawn
    gaps = np.linalg.norm(drawn[:, None] - drawn[None], axis=-1)[np.triu_indices(4, 1)]
    assert gaps.min() > 0.1 * np.ptp(drawn, axis=0).max()
    assert "4 nodes, 3 edges" in ax.get_title()
    assert any("drawn beside its mean state" in t.get_text() for t in ax.texts)


def test_the_graph_draws_both_axes_on_one_scale():
    graph = nx.DiGraph()  # three points nearly on a line: PC2 spans a hundredth of PC1
    for n, (x, y, stability) in enumerate([(-1.2, -0.01, "stable"), (0.0, 0.016, "unstable"),
                                           (1.2, -0.008, "stable")]):
        graph.add_node(n, kind="fixed_point", position=np.array([x, y, 0.01 * n]),
                       stability=stability)
    graph.add_edge(1, 2, weight=1.0)
    ax = plotting.fixed_point_graph(graph).axes[0]
    assert ax.get_aspect() == 1.0
    ax.apply_aspect()  # what drawing does
    width, height = np.ptp(ax.get_xlim()), np.ptp(ax.get_ylim())
    assert height > 0.5 * width  # the tiny PC2 is not stretched over the whole height


def test_fixed_points_in_3d_are_not_viewed_along_the_line_they_lie_on():
    arneodo = dl.systems.get("arneodo")
    kept = plotting.fixed_points(dl.FixedPoints.from_points(arneodo, arneodo.fixed_points()))
    assert (kept.axes[0].elev, kept.axes[0].azim) == (30, -60)  # seen across: default view
    sight = np.array([0.433, -0.75, 0.5])  # matplotlib's default line of sight
    row = np.outer([-2.0, 0.0, 2.0], sight)  # three points along it
    ax = plotting.fixed_points(dl.FixedPoints.from_points(arneodo, row)).axes[0]
    e, a = np.radians([ax.elev, ax.azim])
    eye = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    ranges = np.ptp([ax.get_xlim(), ax.get_ylim(), ax.get_zlim()], axis=1)
    on_screen = sight / ranges * np.asarray(ax.get_box_aspect())
    assert abs(eye @ on_screen) / np.linalg.norm(on_screen) < 0.56  # 56+ degrees across


def test_a_graph_of_one_point_has_no_meaningless_axes():
    graph = nx.DiGraph()
    graph.add_node(0, kind="fixed_point", position=np.array([0.74, -0.57, 0.1]),
                   stability="stable")
    ax = plotting.fixed_point_graph(graph).axes[0]
    assert len(ax.get_xticks()) == 0 and len(ax.get_yticks()) == 0
    assert ax.get_xlabel() == "" and "1 node, 0 edges" in ax.get_title()
    assert any("no edges" in t.get_text() for t in ax.texts)


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_comparison_legends_do_not_cover_the_data():
    arneodo, fps, _ = _arneodo_graph()
    states = arneodo.trajectory(300)
    report = dl.compare_fixed_points(fps, arneodo, dl.AffineAlignment().fit(states, states),
                                     true_trajectories=states)
    fig = plotting.fixed_point_comparison(report)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        legend = ax.get_legend()
        assert legend is not None
        box = ax.get_window_extent(renderer)
        assert not _overlap(legend.get_window_extent(renderer), box), ax.get_title()


def test_eigenvalue_axes_carry_a_time_unit():
    lorenz = dl.systems.get("lorenz")
    fps = dl.FixedPoints.from_points(lorenz, lorenz.fixed_points())
    ax = plotting.eigenvalues(fps).axes[0]
    assert "per time unit" in ax.get_xlabel() and "per time unit" in ax.get_ylabel()
    assert "factor per bin" in plotting.eigenvalues(fps, per_bin=True).axes[0].get_xlabel()


def test_rates_figure_says_how_many_neurons_it_shows():
    data = dl.simulate("arneodo", n_neurons=10, n_trials=4, n_bins=10, seed=0)
    assert "8 of 10 neurons shown" in plotting.rates(data).get_suptitle()
    assert "neurons shown" not in plotting.rates(data, neurons=range(10)).get_suptitle()


def test_latents_title_says_direction_and_split():
    data = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=20, seed=0)
    title = plotting.latents_vs_truth(data.latents + 1.0, data.latents,
                                      split="test").axes[0].get_title()
    assert "model -> true" in title and "fitted and scored on the test split" in title
    fitted = dl.AffineAlignment().fit(data.latents, data.latents)
    title = plotting.latents_vs_truth(data.latents, data.latents, fitted,
                                      split="test").axes[0].get_title()
    assert "scored on the test split" in title and "fitted" not in title


def test_sweep_figure_draws_the_reference_in_its_model_and_dataset_panels():
    import pandas as pd

    table = pd.DataFrame({"dataset": ["a", "a", "b", "b"], "model": "x", "status": "done",
                          "latent_dim": [3, 10, 3, 10], "rate_r2": [.9, .8, .7, .6]})

    def reference_lines(reference):
        fig = plotting.sweep(table, ("rate_r2",), reference=reference)
        return [[line.get_ydata().tolist() for line in ax.lines if line.get_linestyle() == "--"]
                for ax in fig.axes]

    only_b = pd.DataFrame({"dataset": "b", "model": "x", "latent_dim": [10, 3],
                           "rate_r2": [.5, .4]})
    assert reference_lines(only_b) == [[], [[.4, .5]]]  # sorted by latent size
    every_dataset = only_b.drop(columns="dataset")  # no dataset column: every panel
    assert reference_lines(every_dataset) == [[[.4, .5]], [[.4, .5]]]
    assert reference_lines(only_b.assign(model="y")) == [[], []]


def test_runs_figure_draws_every_run_its_mean_and_the_reference_per_row():
    import pandas as pd

    table = pd.DataFrame({"dataset": ["a"] * 4 + ["b"] * 4, "model": ["x", "x", "y", "y"] * 2,
                          "status": ["done"] * 7 + ["failed"],
                          "rate_r2": [.9, .8, .5, .7, .95, .85, .6, np.nan]})
    reference = pd.DataFrame({"dataset": ["b"], "model": ["y"], "rate_r2": [.65]})
    fig = plotting.runs(table, ("rate_r2",), rows="dataset", labels={"x": "model X"},
                        reference=reference, reference_label="published")
    top, bottom = (ax for ax in fig.axes)
    assert [t.get_text() for t in top.get_xticklabels()] == ["model X", "y"]
    assert top.get_ylabel() == "a" and bottom.get_ylabel() == "b"
    means = sorted(line.get_ydata()[0] for line in top.lines)
    assert np.allclose(means, [0.6, 0.85])  # the bars sit at the means over seeds
    dots = np.concatenate([c.get_offsets()[:, 1] for c in bottom.collections])
    assert sorted(dots) == sorted([.95, .85, .6, .65])  # the failed run is left out
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "each run", "mean over runs", "published"]
    assert top.get_ylim()[0] == 0.4  # the tenth below the lowest run, not 0


def test_a_notebook_shows_dynlens_figures_without_matplotlib_inline():
    import pytest

    formatters = pytest.importorskip("IPython.core.formatters")
    fig = plotting.eigenvalues(dl.FixedPoints.from_points(
        dl.systems.get("arneodo"), dl.systems.get("arneodo").fixed_points()))
    data, _ = formatters.DisplayFormatter().format(fig)  # no pyplot, no inline backend
    assert data["image/png"][:4] == b"\x89PNG"


def test_learning_curves_name_the_loss_each_model_minimises():
    import pandas as pd

    def history(model_cls):
        frame = pd.DataFrame({"epoch": [0, 1], "train_loss": [2.0, 1.5],
                              "valid_loss": [2.1, 1.6], "scored_bins": [5, 5]})
        frame.attrs["loss_label"] = model_cls.loss_label
        return frame

    lfads = plotting.training_history(history(dl.models.LFADS)).axes[0].get_ylabel()
    assert lfads.startswith("loss per trial (log scale)") and "KL" in lfads
    sae = plotting.training_history(history(dl.models.SAE)).axes[0].get_ylabel()
    assert sae == "Poisson NLL per scored bin and neuron (log scale)"
    both = {"a": history(dl.models.SAE), "b": history(dl.models.NDT)}
    assert "as each model defines it" in plotting.training_history(both).axes[0].get_ylabel()


def test_fit_records_the_models_loss_label_in_the_history():
    data = dl.simulate("arneodo", n_neurons=4, n_trials=20, n_bins=10)
    model = dl.models.SAE(n_neurons=4, latent_dim=2, generator="gru")
    history = dl.fit(model, data, max_epochs=1, progress=False, threads=1)
    assert history.attrs["loss_label"] == dl.models.SAE.loss_label


def test_runs_figure_says_when_a_metric_was_not_measured_and_starts_bits_at_zero():
    import pandas as pd

    table = pd.DataFrame({"dataset": ["a", "a", "b"], "model": ["x", "y", "x"],
                          "co_bps": [0.28, 0.31, np.nan]})
    top, bottom = plotting.runs(table, ("co_bps",), rows="dataset").axes
    assert top.get_ylim()[0] == 0.0 and top.get_ylim()[1] > 0.31  # no bar on the frame
    assert [t.get_text() for t in bottom.texts] == ["not measured\nfor these data"]
    assert len(top.texts) == 0 and top.get_title() == "co-bps (held-out neurons)"


def test_inferred_pulses_shows_where_and_how_early_each_model_places_the_pulse():
    rng = np.random.default_rng(0)
    true = np.zeros((40, 30, 1))
    pulses = rng.integers(8, 22, size=40)
    true[np.arange(40), pulses, 0] = 20.0
    early = -np.roll(true, -2, axis=1) + 0.05 * rng.standard_normal(true.shape)  # sign flipped
    late = np.roll(true, 4, axis=1) + 0.05 * rng.standard_normal(true.shape)
    fig = plotting.inferred_pulses(true, {"early": early, "late": late}, window=6)
    left, right = fig.axes
    means = [line for line in left.get_lines() if line.get_label().startswith(("early", "late"))]
    peaks = [int(line.get_xdata()[np.argmax(line.get_ydata())]) for line in means]
    assert peaks == [-2, 4]  # the sign of an inferred input is arbitrary: matched to the truth
    labels = [text.get_text() for text in right.get_legend().get_texts()]
    assert "early: 100% within 2 bins" in labels and "late: 0% within 2 bins" in labels
    one = plotting.inferred_pulses(true, early, max_trials=5).axes[0]
    assert len(one.get_lines()) == 5 + 2  # single trials, their mean, the true pulse


def _history(losses, full_from):
    import pandas as pd

    epochs = np.arange(len(losses))
    return pd.DataFrame({"epoch": epochs, "train_loss": losses, "valid_loss": losses,
                         "scored_bins": np.where(epochs >= full_from, 70, 10)})


def test_training_history_labels_the_converged_losses_and_keeps_equal_epochs_apart():
    from matplotlib.ticker import ScalarFormatter

    node = _history(np.geomspace(4.5, 1.39, 60), 30)
    gru = _history(np.geomspace(2.4, 1.58, 60), 30)
    fig = plotting.training_history({"NODE-3": node, "GRU-3": gru})
    ax = fig.axes[0]
    FigureCanvasAgg(fig).draw()
    low, high = ax.get_ylim()
    labelled = [t for t in ax.get_yticks() if low <= t <= high]
    assert isinstance(ax.yaxis.get_major_formatter(), ScalarFormatter)
    # a labelled tick between the two converged losses (a plain log axis labels none there)
    assert any(1.39 < t < 1.58 for t in labelled)
    assert {t.get_text() for t in ax.texts} >= {"1.39", "1.58"}  # each final value written
    full = [t.get_text() for t in ax.get_legend().texts if "full length" in t.get_text()]
    assert full == ["NODE-3, GRU-3: trials at full length from here"]  # one line, both named


def test_titles_name_the_model():
    arneodo, fps, graph = _arneodo_graph()
    assert plotting.fixed_points(fps, name="NODE-3").axes[0].get_title().startswith(
        "NODE-3: 3 fixed points")
    assert plotting.eigenvalues(fps, name="NODE-3").axes[0].get_title().startswith("NODE-3: ")
    assert plotting.fixed_point_graph(graph, name="GRU-3").axes[0].get_title().startswith(
        "GRU-3: Fixed-point graph")
    states = arneodo.trajectory(300)
    report = dl.compare_fixed_points(fps, arneodo, dl.AffineAlignment().fit(states, states),
                                     true_trajectories=states)
    assert plotting.fixed_point_comparison(report, name="GRU-3").get_suptitle().startswith(
        "GRU-3: Fixed points vs the true ones, score 1.00")


def test_a_maps_eigenvalues_near_the_unit_circle_get_a_zoom():
    from dynlens.analysis import Linearization

    map_ = dl.FixedPoints.from_points(dl.systems.get("arneodo"),
                                      dl.systems.get("arneodo").fixed_points())
    per_bin = plotting.eigenvalues(map_, per_bin=True)  # exp(dt J): all near mu = 1
    (inset,) = per_bin.axes[0].child_axes
    low, high = inset.get_ylim()
    assert high - low < 0.5 and low < 1.0 < high  # the moduli around the circle, magnified
    assert "above the line = unstable" in inset.get_title()
    # spread around the circle (a trained GRU-3's, 30 degrees apart), 0.02 outside it
    turn = np.array([[np.cos(0.26), -np.sin(0.26)], [np.sin(0.26), np.cos(0.26)]])
    spread = Linearization.from_jacobians(np.stack([1.02 * turn, 0.97 * turn]), "discrete")
    (inset,) = plotting.eigenvalues(spread).axes[0].child_axes
    moduli = sorted(np.concatenate([line.get_ydata() for line in inset.get_lines()
                                    if line.get_marker() not in (None, "None", "")]))
    assert moduli == pytest.approx([0.97, 0.97, 1.02, 1.02])
    low, high = inset.get_ylim()
    assert low < 0.97 and 1.02 < high < 1.1  # each side of the line at 1 told apart
    far = Linearization.from_jacobians(np.diag([0.5, 0.3]), "discrete")
    assert not plotting.eigenvalues(far).axes[0].child_axes  # well inside: nothing to zoom
    spread = dl.FixedPoints.from_points(dl.systems.get("arneodo"), [[0.0, 0.0, 0.0]])
    assert not plotting.eigenvalues(spread).axes[0].child_axes  # a vector field: no circle


def test_time_units_name_the_system_and_the_rates_figure_names_the_trial():
    data = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=20, seed=0)
    assert plotting.time_unit(data) == "arneodo time units"
    test = data.split("test")
    fig = plotting.rates_vs_truth(test.rates, test.rates, bin_width=data.bin_width,
                                  trial_name=f"test trial 0 (trial {data.splits['test'][0]} "
                                             f"of the data)", time_unit=plotting.time_unit(data))
    assert fig.get_suptitle() == (f"Inferred vs true rates, test trial 0 (trial "
                                  f"{data.splits['test'][0]} of the data)")
    assert fig.axes[-1].get_xlabel() == "time (arneodo time units)"
    assert plotting.rates(data).axes[-1].get_xlabel() == "time (arneodo time units)"


def test_graph_edge_labels_sit_beside_their_arrows():
    _, _, graph = _arneodo_graph()
    fig = plotting.fixed_point_graph(graph)
    ax = fig.axes[0]
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    labels = [t for t in ax.texts if t.get_text() == "1.00"]
    assert len(labels) == graph.number_of_edges()
    # the arrows as drawn: their curves flattened into points on screen
    arrows = [np.concatenate(p.get_path().transformed(p.get_transform()).to_polygons(
        closed_only=False)) for p in ax.patches]
    for label in labels:
        box = label.get_window_extent(renderer)
        centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        gaps = [np.min(np.linalg.norm(a - centre, axis=1)) for a in arrows]
        assert min(gaps) > 0.3 * box.height  # the label's centre is off every arrow


def test_comparison_tells_true_and_model_points_apart_by_marker_and_links_pairs():
    arneodo, fps, _ = _arneodo_graph()
    states = arneodo.trajectory(300)
    report = dl.compare_fixed_points(fps, arneodo, dl.AffineAlignment().fit(states, states),
                                     true_trajectories=states)
    ax = plotting.fixed_point_comparison(report).axes[0]
    legend = {t.get_text(): h for t, h in zip(ax.get_legend().texts,
                                              ax.get_legend().legend_handles)}
    assert legend["true point"].get_marker() != legend["model point"].get_marker()
    assert "matched pair" in legend and ax.get_title().startswith("3 matched, 0 mislocated")


def test_comparison_legend_covers_no_axis_label_of_a_3d_panel_seen_from_the_side():
    # Rossler's fixed points lie on a line that the panel is turned across (azimuth near 0),
    # which drew the x1 label below the 3-d box, where the legend was
    rossler = dl.systems.get("rossler")
    states = rossler.trajectory(2000)
    fps = dl.FixedPoints.from_points(rossler, [[0.138, -1.075, 0.832]])
    report = dl.compare_fixed_points(fps, rossler, dl.AffineAlignment().fit(states, states),
                                     true_trajectories=states)
    fig = plotting.fixed_point_comparison(report)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        texts = [axis.label, *axis.get_ticklabels()]
        assert not any(_overlap(t.get_window_extent(renderer), legend) for t in texts
                       if t.get_text()), axis.label.get_text()


def test_latents_figure_names_the_model():
    data = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=20, seed=0)
    ax = plotting.latents_vs_truth(data.latents, data.latents, name="GRU-3").axes[0]
    assert ax.get_title().startswith("GRU-3 latents mapped affinely onto the true ones")
    assert "GRU-3 latents (aligned)" in [t.get_text() for t in ax.get_legend().texts]


def test_a_vector_fields_eigenvalues_read_on_the_datas_clock():
    from dynlens.analysis import Linearization

    # a model whose bin lasts 0.1 of its own time units, on data binned at 0.05 arneodo units:
    # a rate of -1 per model unit is -2 per arneodo unit
    field = Linearization.from_jacobians(np.array([[[-1.0, 0.0], [0.0, 0.5]]]), "continuous",
                                         dt=0.1)
    ax = plotting.eigenvalues(field, time_unit="arneodo time unit", bin_width=0.05).axes[0]
    (points,) = [line for line in ax.get_lines() if line.get_label() == "point 0: unstable"]
    assert sorted(points.get_xdata()) == pytest.approx([-2.0, 1.0])
    assert ax.get_xlabel() == ("Re $\\lambda$ (per arneodo time unit; 1 bin = 0.05 arneodo "
                               "time units)")
    own = plotting.eigenvalues(field).axes[0]  # no bin width: the model's own clock
    (points,) = [line for line in own.get_lines() if line.get_label() == "point 0: unstable"]
    assert sorted(points.get_xdata()) == pytest.approx([-1.0, 0.5])
