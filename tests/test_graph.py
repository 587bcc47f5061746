"""fixed_point_graph: heteroclinic edges, attractor and divergence nodes, figure, bad inputs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from dynlens import Dynamics, systems
from dynlens.analysis import FixedPoints, find_fixed_points, fixed_point_graph
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.plotting import analysis as plots


@pytest.fixture(scope="module")
def bistable():
    sys = systems.get("bistable2d")
    traj = sys.trajectory(400, x0=[0.1, 0.6])
    return sys, find_fixed_points(sys, np.concatenate([traj, -traj]), n_inits=128)


def test_saddle_connects_to_both_foci(bistable):
    sys, fps = bistable
    assert fps.stability.tolist() == ["stable", "unstable", "stable"]  # x = -1, 0, 1
    graph = fixed_point_graph(sys, fps, n_steps=500)
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.nodes) == {0, 1, 2}
    assert sorted(graph.out_edges(1)) == [(1, 0), (1, 2)]
    # the field is odd, f(-x) = -f(x), and launches come in antithetic pairs (+d, -d): each
    # pair splits between the two wells, so exactly 5 of the 10 launches reach each
    assert graph.edges[1, 0]["count"] == 5 and graph.edges[1, 2]["count"] == 5
    assert graph.edges[1, 0]["weight"] == graph.edges[1, 2]["weight"] == 0.5
    assert graph.out_degree(0) == 0 and graph.out_degree(2) == 0
    node = graph.nodes[1]
    assert node["kind"] == "fixed_point" and node["n_unstable"] == 1
    np.testing.assert_allclose(node["position"], [0, 0], atol=1e-9)
    assert node["n_launches"] == 10 and node["n_stayed"] == 0
    fig = plots.fixed_point_graph(graph)
    assert isinstance(fig, Figure) and fig.axes[0].get_xlabel() == "x0"


def test_lorenz_points_all_lead_to_one_chaotic_attractor():
    sys = systems.get("lorenz")
    fps = FixedPoints.from_points(sys, sys.fixed_points())
    graph = fixed_point_graph(sys, fps, n_steps=1000, n_random=1)
    attractors = [n for n, k in graph.nodes(data="kind") if k == "attractor"]
    assert attractors == ["attractor 0"]
    for i in range(3):
        assert graph.edges[i, "attractor 0"]["weight"] == pytest.approx(1.0)


def test_runs_on_a_chaotic_attractor_stop_once_they_return():
    sys = systems.get("arneodo")
    fps = FixedPoints.from_points(sys, sys.fixed_points())
    graph = fixed_point_graph(sys, fps, progress=False)
    assert {v for _, v in graph.edges} == {"attractor 0"}
    # a run is on an attractor once its path returns near a state it had left: here every
    # run has by its third stretch (when only returns to the final state counted, they ran
    # to the bound of 5 stretches)
    assert graph.graph["bins_run"] == 3000 < graph.graph["max_bins"]
    assert graph.graph["note"] == ""


def test_a_run_drifting_slowly_to_a_point_is_not_taken_for_an_attractor():
    class Creeping(Dynamics):  # away from 0 at speed 0.02 until +-1: 5 stretches of 100 bins
        def __init__(self):
            super().__init__(dim=1, kind="continuous", dt=0.1)

        def forward(self, x, u=None):
            return 0.02 * torch.tanh(50 * x) * torch.tanh(50 * (1 - x ** 2))

    f = Creeping()
    fps = FixedPoints.from_points(f, [[-1.0], [0.0], [1.0]])
    graph = fixed_point_graph(f, fps, n_steps=100, max_bins=3000, progress=False)
    # moving in every stretch until they arrive, yet never returning: no attractor
    assert [n for n, k in graph.nodes(data="kind") if k == "attractor"] == []
    assert graph.edges[1, 0]["weight"] == 0.5 and graph.edges[1, 2]["weight"] == 0.5


def test_one_limit_cycle_is_one_node_even_when_sampled_coarsely():
    class QuarterTurn(Dynamics):  # unstable origin, attracting unit circle, a quarter turn per bin
        def __init__(self):
            super().__init__(dim=2, kind="discrete")

        def forward(self, x, u=None):
            r = x.norm(dim=-1, keepdim=True)
            rot = torch.stack([-x[..., 1], x[..., 0]], -1)
            return rot * (1 + 0.3 * (1 - r ** 2))

    # each run visits 4 points of the circle, 1.41 apart; runs launched at other phases never
    # come within 2 radius (0.1) of each other's samples, yet they share one limit cycle
    fps = FixedPoints.from_points(QuarterTurn(), [[0.0, 0.0]])
    graph = fixed_point_graph(QuarterTurn(), fps, n_steps=300, n_random=8, perturbation=1e-3)
    attractors = [n for n, k in graph.nodes(data="kind") if k == "attractor"]
    assert attractors == ["attractor 0"]
    assert graph.edges[0, "attractor 0"]["weight"] == 1.0
    np.testing.assert_allclose(graph.nodes["attractor 0"]["position"], [0, 0], atol=0.2)


def test_discrete_limit_cycle_and_divergence():
    class Ring(Dynamics):  # unstable origin, attracting unit circle, rotation by 0.3 rad
        def __init__(self):
            super().__init__(dim=2, kind="discrete")

        def forward(self, x, u=None):
            r = x.norm(dim=-1, keepdim=True)
            c, s = np.cos(0.3), np.sin(0.3)
            rot = torch.stack([c * x[..., 0] - s * x[..., 1], s * x[..., 0] + c * x[..., 1]], -1)
            return rot * (1 + 0.3 * (1 - r ** 2))

    fps = FixedPoints.from_points(Ring(), [[0.0, 0.0]])
    assert fps.n_unstable.tolist() == [2]
    graph = fixed_point_graph(Ring(), fps, n_steps=300, perturbation=1e-3)
    assert graph.nodes["attractor 0"]["kind"] == "attractor"
    assert graph.edges[0, "attractor 0"]["weight"] == 1.0

    class Runaway(Dynamics):
        def __init__(self):
            super().__init__(dim=1, kind="continuous", dt=0.1)

        def forward(self, x, u=None):
            return x ** 2 + x

    fps = FixedPoints.from_points(Runaway(), [[0.0], [-1.0]])
    graph = fixed_point_graph(Runaway(), fps, n_steps=400)
    assert graph.edges[0, "diverges"]["weight"] == pytest.approx(0.5)
    assert graph.edges[0, 1]["weight"] == pytest.approx(0.5)


def test_constant_input_is_held_along_the_runs():
    class TiltedWell(Dynamics):  # x'' = x - x^3 - 0.5 x' + u: wells and saddle move with u
        def __init__(self):
            super().__init__(dim=2, kind="continuous", dt=0.1)

        def forward(self, x, u=None):
            tilt = 0.0 if u is None else u[..., 0]
            return torch.stack([x[..., 1], x[..., 0] - x[..., 0] ** 3 - 0.5 * x[..., 1] + tilt],
                               -1)

    f, u = TiltedWell(), np.array([0.2])
    roots = np.sort(np.roots([-1.0, 0.0, 1.0, 0.2]).real)  # x - x^3 + 0.2 = 0
    fps = FixedPoints.from_points(f, np.c_[roots, np.zeros(3)], inputs=u)
    assert fps.stability.tolist() == ["stable", "unstable", "stable"]
    graph = fixed_point_graph(f, fps, n_steps=300, substeps=3)
    assert sorted(graph.out_edges(1)) == [(1, 0), (1, 2)]  # no unlisted point: u was held
    assert graph.nodes[1]["n_launches"] == 10 and graph.number_of_nodes() == 3


def test_bad_inputs(bistable):
    sys, fps = bistable
    with pytest.raises(DynlensTypeError, match="fps"):
        fixed_point_graph(sys, fps.xstar)
    with pytest.raises(DynlensValueError, match="fps"):
        fixed_point_graph(systems.get("lorenz"), fps)
    with pytest.raises(DynlensValueError, match="n_steps"):
        fixed_point_graph(sys, fps, n_steps=0)


def test_link_runs_joins_runs_that_pass_within_tol():
    from dynlens.analysis._cluster import link_runs

    t = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], -1)
    runs = np.stack([circle, circle[::-1] * 1.01, circle + 10.0, circle[:1].repeat(50, 0)])
    for tol in (0.05, 0.011):  # runs 0 and 1 pass 0.01 apart; run 3 sits on a sample of run 0
        labels = link_runs(runs, tol=tol)
        assert labels[0] == labels[1] == labels[3] != labels[2]
    for tol in (0.004, 1e-9):  # under half the 0.01 gap: only identical samples still meet
        labels = link_runs(runs, tol=tol)
        assert labels[0] == labels[3] and len({labels[0], labels[1], labels[2]}) == 3


class _Slow(Dynamics):
    """dx/dt = 0.01 x: an unstable point that launches take some 5000 bins to leave."""

    def __init__(self):
        super().__init__(dim=1, kind="continuous", dt=0.1)

    def forward(self, x, u=None):
        return 0.01 * x


def test_the_bound_cuts_a_run_that_would_stall_and_says_so():
    f = _Slow()
    fps = FixedPoints.from_points(f, [[0.0]])
    assert fps.n_unstable.tolist() == [1]
    # 5 stretches of 10**6 bins each without the bound: minutes; with it, 2000 bins
    graph = fixed_point_graph(f, fps, n_steps=10**6, max_bins=2000, progress=False)
    assert graph.graph["bins_run"] == 2000 and graph.graph["max_bins"] == 2000
    node = graph.nodes[0]
    assert node["n_launches"] == 10 and node["n_stayed"] == 10 and graph.out_degree(0) == 0
    note = graph.graph["note"]
    assert note.startswith("max_bins=2000 reached with 10 launch(es) still next to their source")
    # the default bound is 5 stretches; launches that settle stop after their first one
    graph = fixed_point_graph(f, fps, n_steps=40, progress=False)
    assert graph.graph["max_bins"] == 200 and graph.graph["bins_run"] == 200


def test_runs_escaping_a_saturating_field_diverge_and_stop_early():
    class Saturating(Dynamics):  # dx/dt = tanh(x): runs from 0 escape linearly, forever
        def __init__(self):
            super().__init__(dim=1, kind="continuous", dt=0.1)

        def forward(self, x, u=None):
            return torch.tanh(x)

    f = Saturating()
    fps = FixedPoints.from_points(f, [[0.0]])
    graph = fixed_point_graph(f, fps, n_steps=500, progress=False)
    assert graph.edges[0, "diverges"]["weight"] == 1.0
    assert [n for n, k in graph.nodes(data="kind") if k == "attractor"] == []
    # escape is recognised after the first stretch (at x ~ 43, beyond 10 and receding), not
    # at the bound; the old rule (beyond 1e6) saw a moving run and named it an attractor
    assert graph.graph["bins_run"] == 500 < graph.graph["max_bins"] == 2500
    assert graph.graph["note"] == ""


def test_progress_bar_threads_and_automatic_substeps(bistable, capsys):
    sys, fps = bistable
    seen = []

    class Watched(torch.nn.Module):  # records torch's thread count at every evaluation
        dim, kind, dt = 2, "continuous", sys.dt

        def forward(self, x, u=None):
            seen.append(torch.get_num_threads())
            return sys(x)

    before = torch.get_num_threads()
    graph = fixed_point_graph(Watched(), fps, n_steps=100, threads=1)
    assert set(seen) == {1} and torch.get_num_threads() == before
    assert "fixed-point graph" in capsys.readouterr().err
    # bistable2d's fastest eigenvalue is sqrt(2) per unit time, dt = 0.1: one RK4 step per bin
    assert graph.graph["substeps"] == 1
    assert sorted(graph.out_edges(1)) == [(1, 0), (1, 2)]
    # one RK4 step per bin (4 evaluations; the solver adds one per call)
    assert 4 * graph.graph["bins_run"] <= len(seen) < 5 * graph.graph["bins_run"]


def test_bad_settings_of_the_bound(bistable):
    sys, fps = bistable
    with pytest.raises(DynlensValueError, match="max_bins"):
        fixed_point_graph(sys, fps, max_bins=0)
    with pytest.raises(DynlensTypeError, match="progress"):
        fixed_point_graph(sys, fps, progress="yes")
    with pytest.raises(DynlensValueError, match="threads"):
        fixed_point_graph(sys, fps, threads=0)
