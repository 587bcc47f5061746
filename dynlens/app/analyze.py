"""``dynlens analyze``: open a trained model and write what it learned as a small report.

The fixed points of the model's generator on its own latent trajectories, their
eigenvalue spectra and the fixed-point graph; when the data carry true latents, an affine
alignment of the model's latents onto them; when a true system is known (given, or recorded
in the data by :func:`dynlens.simulate`), the comparison of the model's fixed points with the
system's. ``dynlens demo`` writes its analysis with the same :func:`analysis_section`.

Examples
--------
>>> import dynlens as dl
>>> from dynlens.app.analyze import run_analysis
>>> data = dl.simulate("arneodo", n_neurons=10, n_trials=40, n_bins=20, seed=0)
>>> model = dl.models.SAE(n_neurons=10, latent_dim=3, hidden_size=16, encoder_size=8)
>>> path = run_analysis(model, data, "analysis-doctest", n_inits=64, progress=False)
>>> path.name
'report.md'
>>> import shutil; shutil.rmtree("analysis-doctest")
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import plotting
from ..analysis import true_system
from ..errors import DynlensNoDynamicsError, DynlensTypeError, DynlensValueError
from ..utils import (
    check_nonnegative_int,
    check_output_path,
    check_positive_int,
    json_default,
)
from .report import Report

__all__ = ["GOOD_R2", "POOR_R2", "analysis_section", "interpretation", "run_analysis"]

#: An R2 (rates, or latents aligned onto the truth) at or above this is a good fit.
GOOD_R2 = 0.8
#: Below this R2 the fit is too poor for a fixed-point comparison to mean anything.
POOR_R2 = 0.5


def _check(model: Any, data: Any, system: Any, split: str) -> tuple[Any, Any]:
    """The model's generator and the data's ``split``, after checking that the system fits
    the data (before any work or file is written)."""
    try:
        dynamics = model.dynamics
    except DynlensNoDynamicsError:
        raise  # says why this model has none and what to use instead
    except AttributeError as err:
        raise DynlensTypeError(
            f"model: expected a dynlens model with a `dynamics` generator (an SAE or LFADS), "
            f"found {type(model).__name__}") from err
    part = data.split(split)  # an unknown split is refused here, before any work
    latents = getattr(data, "latents", None)
    if system is not None and latents is not None and system.dim != latents.shape[-1]:
        raise DynlensValueError(
            f"system: expected a system of the data's latent dimension {latents.shape[-1]}, "
            f"found {getattr(system, 'name', system)!r} of dimension {system.dim}")
    return dynamics, part


def analysis_section(report: Report, model: Any, data: Any, *, label: str, heading: str,
                     system: Any = None, split: str = "train", n_inits: int = 1024,
                     seed: int = 0, progress: bool = True, prefix: str = "",
                     invariants: bool = True, lyapunov_steps: int | None = None) -> dict:
    """Append the analysis of ``model`` on ``data`` to ``report`` and return its numbers.

    Fixed points of ``model.dynamics`` from the latents it infers on ``split``, their
    spectra and graph; the affine alignment of its latents onto the true ones when the data
    have them; the comparison with ``system``'s fixed points when a system is given too.
    Writes ``fixed_points.csv`` (and ``fixed_point_comparison.csv``) next to the report;
    every file name starts with ``prefix`` (several models in one report). With
    ``invariants``, the model's Lyapunov spectrum next to the system's (and the DSA distance
    of its latents to the true ones) follow. The returned summary holds what
    :func:`interpretation` needs (``rate_r2`` on ``split`` when the data have true rates,
    ``alignment_r2``, the comparison's counts and matching threshold).
    """
    from .. import analysis

    dynamics, part = _check(model, data, system, split)
    inference = model.infer(part)
    latents = inference.latents
    fps = analysis.find_fixed_points(dynamics, latents, n_inits=n_inits, seed=seed,
                                     progress=progress)
    counts = ", ".join(f"{int((fps.stability == s).sum())} {s}"
                       for s in ("stable", "unstable", "marginal") if (fps.stability == s).any())
    field = "vector field" if fps.kind == "continuous" else "map"
    report.text(heading, f"`dl.find_fixed_points` on the {label} {field} found {len(fps)} "
                         f"fixed point(s){f' ({counts})' if counts else ''}, from "
                         f"{n_inits} starts on its latents of the {split} split.")
    report.write_file(f"{prefix}fixed_points.csv", fps.to_dataframe().to_csv(index=False))
    summary: dict = {"model": label, "split": split, "n_fixed_points": len(fps),
                     "stability": fps.stability.tolist(),
                     "n_unstable": fps.n_unstable.tolist()}
    if part.rates is not None:
        summary["rate_r2"] = analysis.metrics.rate_r2(part.rates, inference.rates)
    comparison = _comparison_section(report, fps, latents, part, system, label, prefix,
                                     summary)
    _fixed_point_figures(report, dynamics, fps, latents, label, prefix, seed, summary)
    if comparison is not None:
        report.figure(comparison.plot(), f"{prefix}fixed_point_comparison",
                      "Model fixed points mapped into true coordinates vs the true fixed points")
    if invariants and data.bin_width is not None:
        summary.update(_chaos_section(report, model, data, system, label, split, seed, prefix,
                                      lyapunov_steps, latents))
    elif invariants:
        report.text("The data have no bin width, so the model's Lyapunov spectrum cannot be "
                    "put on a clock; no chaos section.")
    return summary


def _comparison_section(report: Report, fps: Any, latents: Any, part: Any, system: Any,
                        label: str, prefix: str, summary: dict) -> Any:
    """The affine alignment of the latents onto the true ones (a figure) and the comparison
    of the fixed points with ``system``'s (a sentence and a table); numbers go into
    ``summary``. Returns the comparison, or None when there is nothing to compare with."""
    from .. import analysis

    alignment = comparison = None
    if part.latents is not None and part.latents.shape[-1] > 0:
        alignment = analysis.AffineAlignment().fit(latents, part.latents)
        summary["alignment_r2"] = float(alignment.score(latents, part.latents))
        report.figure(plotting.latents_vs_truth(latents, part.latents, alignment=alignment),
                      f"{prefix}latents_vs_truth",
                      f"{label} latents mapped affinely onto the true ones")
    if system is not None and alignment is not None:
        true_fps = analysis.FixedPoints.from_points(system, system.fixed_points())
        comparison = analysis.compare_fixed_points(fps, true_fps, alignment,
                                                   true_trajectories=part.latents)
        table = comparison.table()
        report.text(comparison.summary())
        report.table(table)
        report.write_file(f"{prefix}fixed_point_comparison.csv", table.to_csv(index=False))
        summary.update(system=getattr(system, "name", type(system).__name__),
                       matched=len(comparison.matched),
                       matched_with_stability=int(np.sum(comparison.stability_agrees)),
                       missing=len(comparison.missing),
                       spurious=len(comparison.spurious), score=float(comparison.score),
                       match_threshold=float(comparison.threshold))
    elif system is None:
        report.text("No true system to compare with (give one, or analyse data simulated by "
                    "`dl.simulate`, which records it).")
    else:
        report.text("The data carry no true latents, so the model's fixed points cannot be "
                    "mapped into the system's coordinates and compared.")
    return comparison


def _fixed_point_figures(report: Report, dynamics: Any, fps: Any, latents: Any, label: str,
                         prefix: str, seed: int, summary: dict) -> None:
    """The fixed points on the latents, their eigenvalues and the fixed-point graph."""
    from .. import analysis

    report.figure(plotting.fixed_points(fps, trajectories=latents[:20]),
                  f"{prefix}fixed_points", f"{label} fixed points on its latent trajectories")
    if not len(fps):
        report.text("No fixed point lies within the region the latents visit (2 RMS radii "
                    "of them), so there are no spectra or graph to draw.")
        return
    report.figure(plotting.eigenvalues(fps), f"{prefix}eigenvalues",
                  f"Eigenvalues of the {label} Jacobian at its fixed points")
    graph = analysis.fixed_point_graph(dynamics, fps, seed=seed)
    report.figure(plotting.fixed_point_graph(graph), f"{prefix}fixed_point_graph",
                  "Fixed-point graph: where the unstable manifolds lead")
    summary["graph_edges"] = graph.number_of_edges()


def interpretation(summaries: list[dict]) -> str:
    """"What the numbers mean", in words: the thresholds, then one verdict per model.

    Each summary is one :func:`analysis_section` returned. A model recovered the true
    dynamics when its rate and alignment R2 are at least :data:`GOOD_R2` and every true
    fixed point is matched with the right number of unstable directions, with no spurious
    one; below :data:`POOR_R2` the comparison is not judged at all.

    >>> print(interpretation([{"model": "NODE-3", "split": "train", "rate_r2": 0.9,
    ...     "alignment_r2": 0.95, "system": "arneodo", "matched": 3,
    ...     "matched_with_stability": 3, "missing": 0, "spurious": 0, "score": 0.81,
    ...     "match_threshold": 0.25}]).split(" **NODE-3** ")[1])
    (train split): rate R2 0.90, alignment R2 0.95. Yes: it recovered the true dynamics' fixed
    points (3 of 3 true fixed points matched with the right stability, 0 missing, 0 spurious;
    score 0.81).
    """
    threshold = next((s["match_threshold"] for s in summaries if "match_threshold" in s), None)
    system = next((s["system"] for s in summaries if "system" in s), None)
    rule = (f"the true dynamics count as recovered when every fixed point of the true "
            f"system{f' ({system})' if system else ''} is matched by a model fixed point "
            f"(within {threshold:.2f} of the attractor's size after the affine alignment"
            if threshold is not None else
            "the true dynamics count as recovered when every true fixed point is matched by "
            "a model fixed point (after the affine alignment")
    text = [(f"**What the numbers mean.** Thresholds: an R2 of at least {GOOD_R2} (rates: "
            f"true vs inferred; alignment: the model's latents mapped affinely onto the true "
            f"latents) is a good fit; below {POOR_R2} the model fits too poorly for its fixed "
            f"points to be compared with the truth; {rule}) with the same number of unstable "
            f"directions, and no spurious fixed point appears. The score (0 to 1) also "
            f"weighs location and eigenvalue errors; 1 is a perfect recovery.")]
    text.extend(_verdict(s) for s in summaries)
    return " ".join(text)


def _verdict(s: dict) -> str:
    """One model's numbers and its answer to "did it recover the true dynamics?"."""
    fits = {name: s[key] for name, key in (("rate", "rate_r2"), ("alignment", "alignment_r2"))
            if key in s}
    shown = ", ".join(f"{name} R2 {value:.2f}" for name, value in fits.items())
    head = f"**{s['model']}** ({s['split']} split){': ' + shown if shown else ''}."
    poor = [name for name, value in fits.items() if not value >= POOR_R2]
    if "alignment_r2" not in s:
        return (f"{head} Cannot say: without true latents the model's fixed points cannot be "
                f"put in the true system's coordinates; a good rate R2 shows that it fits the "
                f"data, not that its dynamics are the true ones.")
    if poor:
        return (f"{head} No verdict: the {' and '.join(poor)} R2 is below {POOR_R2}, so the "
                f"model has not learned the data well enough for its fixed points to say "
                f"anything about the true dynamics (train longer or on more data).")
    if "matched" not in s:
        return (f"{head} Its latents carry the true state, but no true system is known, so "
                f"its fixed points cannot be checked.")
    n_true = s["matched"] + s["missing"]
    counts = (f"{s['matched_with_stability']} of {n_true} true fixed points matched with the "
              f"right stability, {s['missing']} missing, {s['spurious']} spurious; score "
              f"{s['score']:.2f}")
    moderate = min(fits.values()) < GOOD_R2
    if s["matched_with_stability"] == n_true and not s["spurious"]:
        return (f"{head} {'Probably' if moderate else 'Yes'}: it recovered the true "
                f"dynamics' fixed points ({counts})"
                + (f", but with a fit below {GOOD_R2}, so take it as tentative." if moderate
                   else "."))
    caveat = (" It fits the data well all the same: reproducing the data does not mean a "
              "model learned the true dynamics." if not moderate else "")
    answer = "Partly" if s["matched_with_stability"] else "No"
    return f"{head} {answer}: not the true fixed-point structure ({counts}).{caveat}"


def _chaos_section(report: Report, model: Any, data: Any, system: Any, label: str,
                   split: str, seed: int, prefix: str, n_steps: int | None,
                   latents: Any) -> dict:
    """Lyapunov spectra and Kaplan-Yorke dimensions of the model and the system, and the
    DSA distance of the latents, as text, a figure and summary numbers."""
    from .. import analysis

    row = analysis.compare_dynamics(model, data, system, split=split, seed=seed,
                                    n_steps=n_steps, latents=latents)
    spectra = row.pop("spectra")
    lines = [(f"**Chaos.** {label}: largest Lyapunov exponent {row['lambda1_model']:.3f} per "
             f"time unit of the true system, Kaplan-Yorke dimension {row['ky_model']:.2f}")]
    if "lambda1_true" in row:
        lines.append(f"; the true system: {row['lambda1_true']:.3f} and "
                     f"{row['ky_true']:.2f}")
    if "dsa_to_truth" in row:
        lines.append(f". DSA distance of its latents to the true latents: "
                     f"{row['dsa_to_truth']:.3f} (0: the same linearised dynamics)")
    report.text("".join(lines) + ".")
    report.figure(plotting.lyapunov_spectra({f"{label} (model)": spectra["model"], **(
        {"true system": spectra["true"]} if "true" in spectra else {})},
        unit="per time unit of the true system"), f"{prefix}lyapunov_spectra",
        f"Lyapunov spectra of {label} and the true system")
    return row


def run_analysis(model: Any, data: Any, out: str | Path = "dynlens-analysis", *,
                 system: Any = None, split: str = "train", n_inits: int = 1024, seed: int = 0,
                 progress: bool = True, lyapunov_steps: int | None = None) -> Path:
    """Analyse a trained model on a dataset and write ``report.md`` with figures, CSV tables
    and ``summary.json`` to ``out``; returns the report's path.

    Parameters
    ----------
    model : SAE or LFADS
        A trained model with a ``dynamics`` generator (e.g. from :func:`dynlens.load_model`).
    data : NeuralDataset
        The data it was trained on (or any data of the same neurons).
    out : path
        Report folder (created if needed; existing files are overwritten).
    system : str or system, optional
        True system to compare with; default the one recorded in ``data.metadata`` by
        :func:`dynlens.simulate`, if any.
    split : str
        Split whose inferred latents seed the fixed-point search and fit the alignment.
    n_inits, seed : int
        Passed to :func:`dynlens.find_fixed_points`.
    progress : bool
        Show the search's progress bar.
    lyapunov_steps : int, optional
        Bins per start of the Lyapunov spectra (default: :func:`dynlens.lyapunov_spectrum`'s).
    """
    started = time.perf_counter()
    check_output_path(out, "out", folder=True)  # before the search, not after it
    n_inits = check_positive_int(n_inits, "n_inits")
    seed = check_nonnegative_int(seed, "seed")
    truth = true_system(data, system)
    label = getattr(model, "label", type(model).__name__)
    report = Report(Path(out))
    report.text("# dynlens analysis report", f"Model: {label}.", f"```\n{data!r}\n```")
    summary = analysis_section(report, model, data, label=label, heading=f"## Opening {label}",
                               system=truth, split=split, n_inits=n_inits, seed=seed,
                               progress=progress, lyapunov_steps=lyapunov_steps)
    report.text("## What the numbers mean", interpretation([summary]))
    report.text("---", f"Generated by `dynlens analyze` in {time.perf_counter() - started:.0f} s "
                       f"(seed {seed}).")
    report.write_file("summary.json", json.dumps(summary, indent=2, default=json_default))
    return report.write()
