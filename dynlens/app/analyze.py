"""``dynlens analyze``: open a trained model and write what it learned as a small report.

The fixed points of the model's generator on its own latent trajectories, their
eigenvalue spectra and the fixed-point graph; when the data carry true latents, an affine
alignment of the model's latents onto them; when a true system is known (given, or recorded
in the data by :func:`dynlens.simulate`), the comparison of the model's fixed points with the
system's. ``dynlens demo`` writes its analysis with the same :func:`analysis_section`.

Examples
--------
A report folder from a model and its data (an untrained model here, at toy sizes; see
:func:`run_analysis` for what the folder holds):

>>> import pathlib, shutil, tempfile
>>> import dynlens as dl
>>> from dynlens.app.analyze import run_analysis
>>> data = dl.simulate("arneodo", n_neurons=6, n_trials=8, n_bins=10, seed=0)
>>> model = dl.models.SAE(n_neurons=6, latent_dim=3, hidden_size=8, encoder_size=8)
>>> out = pathlib.Path(tempfile.mkdtemp()) / "analysis"
>>> path = run_analysis(model, data, out, n_inits=16, progress=False, lyapunov_steps=20)
>>> path == out / "report.md", (out / "report.html").is_file()
(True, True)
>>> shutil.rmtree(out.parent)
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from typing_extensions import Self

from .. import plotting
from ..analysis import true_system
from ..analysis.compare import CATEGORIES, count_words
from ..analysis.verdicts import GOOD_R2, POOR_R2, rule_table, verdict
from ..errors import DynlensNoDynamicsError, DynlensTypeError, DynlensValueError
from ..models import check_model, other_data_message
from ..threads import ThreadPolicy
from ..utils import (
    check_nonnegative_int,
    check_output_path,
    check_positive_int,
    json_default,
)
from .report import Report, markdown_table

__all__ = ["GOOD_R2", "POOR_R2", "AnalysisRun", "add_interpretation", "analysis_section",
           "interpretation", "other_data_note", "other_system_warning", "run_analysis",
           "system_line"]


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
    recorded = data.metadata.get("system") if isinstance(data.metadata, dict) else None
    if recorded is not None:
        summary["system_recorded"] = recorded
    if part.rates is not None:
        summary["rate_r2"] = analysis.metrics.rate_r2(part.rates, inference.rates)
    comparison = _comparison_section(report, fps, latents, part, system, label, prefix,
                                     summary, split)
    _fixed_point_figures(report, dynamics, fps, latents, label, prefix, seed, summary, data)
    if comparison is not None:
        report.figure(comparison.plot(name=label), f"{prefix}fixed_point_comparison",
                      "Model fixed points mapped into true coordinates vs the true fixed points")
    if invariants and data.bin_width is not None:
        summary.update(_chaos_section(report, model, data, system, label, split, seed, prefix,
                                      lyapunov_steps, latents))
    elif invariants:
        report.text("The data have no bin width, so the model's Lyapunov spectrum cannot be "
                    "put on a clock; no chaos section.")
    return summary


def _comparison_section(report: Report, fps: Any, latents: Any, part: Any, system: Any,
                        label: str, prefix: str, summary: dict, split: str) -> Any:
    """The affine alignment of the latents onto the true ones (a figure) and the comparison
    of the fixed points with ``system``'s (a sentence and a table); numbers go into
    ``summary``. Returns the comparison, or None when there is nothing to compare with."""
    from .. import analysis

    alignment = comparison = None
    if part.latents is not None and part.latents.shape[-1] > 0:
        alignment = analysis.AffineAlignment().fit(latents, part.latents)
        summary["alignment_r2"] = float(alignment.score(latents, part.latents))
        report.figure(plotting.latents_vs_truth(latents, part.latents, alignment=alignment,
                                                split=split, name=label),
                      f"{prefix}latents_vs_truth",
                      f"{label} latents mapped affinely onto the true ones (map fitted and "
                      f"scored on the {split} split, model -> true: the alignment R2 "
                      f"{summary['alignment_r2']:.2f})")
    if system is not None and alignment is not None:
        true_fps = analysis.FixedPoints.from_points(system, system.fixed_points())
        comparison = analysis.compare_fixed_points(fps, true_fps, alignment,
                                                   true_trajectories=part.latents)
        table = comparison.table()
        # the comparison's own categories and counts: nothing is re-derived here
        summary.update(system=getattr(system, "name", type(system).__name__),
                       **comparison.counts(),
                       matched_with_stability=comparison.matched_with_stability,
                       score=float(comparison.score),
                       match_threshold=float(comparison.threshold),
                       mislocated_at=[float(d) for d in comparison.mislocation])
        warning = _poor_fit_warning(summary)
        if warning:
            report.text(warning)
        report.text(_comparison_sentence(summary))
        report.table(table)
        report.write_file(f"{prefix}fixed_point_comparison.csv", table.to_csv(index=False))
    elif system is None:
        report.text("No true system to compare with (give one, or analyse data simulated by "
                    "`dl.simulate`, which records it).")
    else:
        report.text("The data carry no true latents, so the model's fixed points cannot be "
                    "mapped into the system's coordinates and compared.")
    return comparison


def _counts(s: dict) -> str:
    """The comparison's counts in the words of its categories, with the score."""
    n_true = s["matched"] + s["mislocated"] + s["missing"]
    return (f"{n_true} true fixed points: {count_words(s, s.get('mislocated_at', ()))} "
            f"({s['matched_with_stability']} of the {s['matched']} matched with the right "
            f"stability); score {s['score']:.2f}")


def _comparison_sentence(s: dict) -> str:
    """What the comparison found, naming the system compared against."""
    return (f"Compared with the fixed points of **{s['system']}**{_system_note(s)}, after "
            f"mapping the model's into its coordinates with the affine alignment: "
            f"{_counts(s)}.")


def _system_note(s: dict) -> str:
    recorded = s.get("system_recorded")
    if recorded is None:
        return ""
    if recorded == s["system"]:
        return " (the system the data were simulated from)"
    return f" (not {recorded}, the system the data were simulated from)"


def _poor_fit_warning(s: dict) -> str | None:
    """A warning above a comparison that means nothing because the fit is too poor."""
    poor = {name: s[key] for name, key in (("rate", "rate_r2"), ("alignment", "alignment_r2"))
            if key in s and not s[key] >= POOR_R2}
    if not poor:
        return None
    shown = " and ".join(f"{name} R2 {value:.2f}" for name, value in poor.items())
    return (f"> **Too poor a fit to compare.** {shown} (below {POOR_R2}): the model has not "
            f"learned the data well enough for the comparison below to say anything about "
            f"the true dynamics, whatever it counts.")


def _fixed_point_figures(report: Report, dynamics: Any, fps: Any, latents: Any, label: str,
                         prefix: str, seed: int, summary: dict, data: Any) -> None:
    """The fixed points on the latents, their eigenvalues and the fixed-point graph."""
    from .. import analysis

    report.figure(plotting.fixed_points(fps, trajectories=latents[:20], name=label),
                  f"{prefix}fixed_points", f"{label} fixed points on its latent trajectories")
    if not len(fps):
        report.text("No fixed point lies within the region the latents visit (2 RMS radii "
                    "of them), so there are no spectra or graph to draw.")
        return
    # a vector field's rates on the data's clock, as the Lyapunov exponents and time axes
    clock = ({"time_unit": _unit(data), "bin_width": data.bin_width} if data.bin_width
             else {"time_unit": f"{label} time unit"})
    report.figure(plotting.eigenvalues(fps, name=label, **clock), f"{prefix}eigenvalues",
                  f"Eigenvalues of the {label} Jacobian at its fixed points (a vector "
                  f"field's per {clock['time_unit']}, a map's per bin)")
    graph = analysis.fixed_point_graph(dynamics, fps, seed=seed, progress=False)  # --quiet
    report.figure(plotting.fixed_point_graph(graph, name=label), f"{prefix}fixed_point_graph",
                  "Fixed-point graph: where the unstable manifolds lead")
    summary["graph_edges"] = graph.number_of_edges()


def _interpretation_parts(summaries: list[dict]) -> list:
    """The paragraphs of "what the numbers mean", with the rule table as a DataFrame."""
    threshold = next((s["match_threshold"] for s in summaries if "match_threshold" in s), None)
    parts: list = [_verdict(s) for s in summaries]
    parts.append(f"**What the numbers mean.** Thresholds: an R2 of at least {GOOD_R2} (rates: "
                 f"true vs inferred, on the split analysed; alignment: the model's latents "
                 f"mapped affinely onto the true latents, fitted and scored on that split) is "
                 f"a good fit; below {POOR_R2} the model fits too poorly for its fixed points "
                 f"to be compared with the truth. Each answer is the first row of this table "
                 f"that holds (`dl.analysis.verdict`):")
    parts.append(rule_table())
    if threshold is not None:
        parts.append(_scoring_rule(threshold))
    return parts


def interpretation(summaries: list[dict]) -> str:
    """"What the numbers mean", in Markdown: one plain answer per model
    (:func:`dynlens.analysis.verdict`), then the thresholds, the verdict's rule table and how
    the fixed points are compared and scored; blocks separated by blank lines.

    Parameters
    ----------
    summaries : list of dict
        What :func:`analysis_section` returned, one per model.

    Returns
    -------
    str

    Examples
    --------
    >>> print(interpretation([{"model": "NODE-3", "split": "train", "rate_r2": 0.9,
    ...     "alignment_r2": 0.95, "system": "arneodo", "matched": 3, "mislocated": 0,
    ...     "matched_with_stability": 3, "missing": 0, "spurious": 0, "duplicate": 0,
    ...     "score": 0.81, "match_threshold": 0.25}]).split("\\n\\n")[0])
    **NODE-3** (train split): Yes: it fits well (rate R2 0.90, alignment R2 0.95: its
    latents are an affine image of the true state and it predicts the rates), and its fixed
    points are those of arneodo in number, place and stability (score 0.81). In numbers: 3
    true fixed points: 3 matched, 0 mislocated, 0 missing, 0 spurious (3 of the 3 matched
    with the right stability); score 0.81.
    """
    return "\n\n".join(markdown_table(p) if isinstance(p, pd.DataFrame) else p
                       for p in _interpretation_parts(summaries))


def add_interpretation(report: Report, heading: str, summaries: list[dict]) -> None:
    """Append :func:`interpretation` to ``report`` under ``heading`` (its rule table as a
    table of the report).

    Parameters
    ----------
    report : Report
        The report to append to.
    heading : str
        The section's Markdown heading.
    summaries : list of dict
        What :func:`analysis_section` returned, one per model.
    """
    report.text(heading)
    for part in _interpretation_parts(summaries):
        if isinstance(part, pd.DataFrame):
            report.table(part)
        else:
            report.text(part)


def _scoring_rule(threshold: float) -> str:
    """How the fixed points are matched, sorted and scored (compare_fixed_points), in words."""
    defined = "; ".join(f"*{name}*: {meaning}" for name, meaning in CATEGORIES.items())
    return (f"**How the fixed points are compared.** The model's fixed points are mapped into "
            f"the true system's coordinates by the affine alignment. The matching threshold "
            f"is {threshold:.2f} of the attractor's size (the RMS distance of the true latents "
            f"from their centroid; 0.25, or half the distance between the two closest true "
            f"fixed points when that is smaller). Every true and every model fixed point is "
            f"in one category: {defined}. The score is the sum over matched pairs of agree x "
            f"(1 - d / {threshold:.2f}) x max(0, 1 - e), divided by the number of true points "
            f"plus spurious and mislocated model points: d is the location error in "
            f"attractor sizes, e the mean error of the per-bin eigenvalues, agree 1 when the "
            f"numbers of unstable directions agree, else 0. 1 is a perfect recovery; 0 means "
            f"no true point was matched with the right stability.")


def _verdict(s: dict) -> str:
    """One model's answer to "did it recover the true dynamics?" (the rule table of
    :func:`dynlens.analysis.verdict`), then its numbers."""
    found = verdict(s if "matched" in s else None, rate_r2=s.get("rate_r2"),
                    alignment_r2=s.get("alignment_r2"), system=s.get("system"))
    numbers = f" In numbers: {_counts(s)}." if "matched" in s and found.rule > 2 else ""
    return f"**{s['model']}** ({s['split']} split): {found.sentence()}{numbers}"


def _chaos_section(report: Report, model: Any, data: Any, system: Any, label: str,
                   split: str, seed: int, prefix: str, n_steps: int | None,
                   latents: Any) -> dict:
    """Lyapunov spectra and Kaplan-Yorke dimensions of the model and the system, and the
    DSA distance of the latents, as text, a figure and summary numbers."""
    from .. import analysis

    row = analysis.compare_dynamics(model, data, system, split=split, seed=seed,
                                    n_steps=n_steps, latents=latents)
    spectra = row.pop("spectra")
    per = f"per {_unit(data)}"
    lines = [(f"**Chaos.** {label}: largest Lyapunov exponent {row['lambda1_model']:.3f} {per}"
             f", Kaplan-Yorke dimension {row['ky_model']:.2f}")]
    if "lambda1_true" in row:
        lines.append(f"; the true system: {row['lambda1_true']:.3f} and "
                     f"{row['ky_true']:.2f}")
    if "dsa_to_truth" in row:
        lines.append(f". DSA distance of its latents to the true latents: "
                     f"{row['dsa_to_truth']:.3f} (0: the same linearised dynamics)")
    report.text("".join(lines) + ".")
    truth = {f"{_system_name(system)} (true system)": spectra["true"]} if "true" in spectra else {}
    report.figure(plotting.lyapunov_spectra({f"{label} (model)": spectra["model"], **truth},
                                            unit=per), f"{prefix}lyapunov_spectra",
                  f"Lyapunov spectra of {label} and the true system")
    return row


def _unit(data: Any) -> str:
    """One unit of the data's clock, as the figures name it ("arneodo time unit")."""
    clock = plotting.time_unit(data)
    return clock[:-1] if clock.endswith("units") else clock


def _system_name(system: Any) -> str:
    return getattr(system, "name", type(system).__name__)


def system_line(data: Any, truth: Any) -> str:
    """The report's line naming the true system compared against."""
    recorded = data.metadata.get("system") if isinstance(data.metadata, dict) else None
    if truth is None:
        return "True system: none known, so no fixed-point comparison."
    name = _system_name(truth)
    how = ("the one the data were simulated from" if name == recorded else
           "given" + (f"; the data were simulated from {recorded}" if recorded else ""))
    return f"True system compared against: {name} ({how})."


def other_system_warning(data: Any, truth: Any) -> str | None:
    """A warning when the system compared against is not the one the data came from.

    >>> import dynlens as dl
    >>> data = dl.simulate("lorenz", n_neurons=5, n_trials=4, n_bins=10, seed=0)
    >>> other_system_warning(data, dl.systems.get("rossler"))[:61]
    'The data were simulated from lorenz, but the model is compare'
    """
    recorded = data.metadata.get("system") if isinstance(data.metadata, dict) else None
    if truth is None or recorded is None or _system_name(truth) == recorded:
        return None
    return (f"The data were simulated from {recorded}, but the model is compared with "
            f"{_system_name(truth)}'s fixed points: the comparison does not test whether it "
            f"learned the dynamics behind its data.")


def other_data_note(model: Any, data: Any, name: str | None = None) -> str | None:
    """:func:`dynlens.models.other_data_message`, naming the model when there are several.

    Parameters
    ----------
    model : Model
        A model; its ``trained_on`` record is read if it has one.
    data : NeuralDataset
        The data it is given.
    name : str, optional
        What to call the model ("'node3_s0.pt'"); None: "the model" alone, as for one.

    Returns
    -------
    str or None
        The line, or None when the data are those the model was trained on (or it has no
        record of them).

    Examples
    --------
    >>> import dynlens as dl
    >>> from dynlens.models import training_record
    >>> model = dl.models.SAE(n_neurons=4, latent_dim=3)
    >>> model.trained_on = training_record(dl.simulate("lorenz", n_neurons=4, n_trials=6,
    ...                                                n_bins=5, seed=0))
    >>> rossler = dl.simulate("rossler", n_neurons=4, n_trials=6, n_bins=5)
    >>> other_data_note(model, rossler, "'a.pt'")[:56]
    "the model 'a.pt' was trained on lorenz data, given rossl"
    """
    message = other_data_message(model, data)
    if message is None or name is None:
        return message
    return message.replace("the model", f"the model {name}", 1)


class AnalysisRun:
    """What every ``dynlens analyze`` report shares, in one place: the arguments checked
    before any work, the header (models, system, data) and its warnings, torch's thread
    policy over the whole run (as a context manager), each model's section
    (:meth:`section`) and the closing "what the numbers mean", footer and ``summary.json``
    (:meth:`finish`).

    Parameters
    ----------
    out : path
        Report folder (created if needed; existing files are overwritten).
    data : NeuralDataset
        The data the models were trained on.
    models : dict of name -> model
        The models the report opens, by the names its sections use.
    system, split, n_inits, seed, progress, lyapunov_steps
        As for :func:`run_analysis`, for every model's section.
    threads : "auto" or int
        torch's CPU threads while the run is entered (:class:`dynlens.threads.ThreadPolicy`).
    files : dict of name -> path, optional
        The models' checkpoint files, named in the "Other data." warning of a model trained
        on other data when there are several (default: the model's name alone).

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=6, n_trials=8, n_bins=10, seed=0)
    >>> model = dl.models.SAE(n_neurons=6, latent_dim=3, hidden_size=8, encoder_size=8)
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> with AnalysisRun(out, data, {"mine": model}, n_inits=8, progress=False,
    ...                  threads=1) as run:
    ...     summary = run.section(model, "mine", invariants=False)
    ...     path = run.finish([summary], summary)
    >>> path.read_text().splitlines()[2]
    'Model: mine. True system compared against: arneodo (the one the data were simulated from).'
    >>> shutil.rmtree(out)
    """

    def __init__(self, out: str | Path, data: Any, models: Mapping[str, Any], *,
                 system: Any = None, split: str = "train", n_inits: int = 1024,
                 seed: int = 0, progress: bool = True, lyapunov_steps: int | None = None,
                 threads: int | str = "auto",
                 files: Mapping[str, str | Path] | None = None) -> None:
        self.started = time.perf_counter()
        check_output_path(out, "out", folder=True)  # before any search, not after it
        self.n_inits = check_positive_int(n_inits, "n_inits")
        self.seed = check_nonnegative_int(seed, "seed")
        self.policy = ThreadPolicy(threads)
        self.data, self.split, self.progress = data, split, progress
        self.lyapunov_steps = lyapunov_steps
        self.truth = true_system(data, system)
        self.report = Report(Path(out))
        self._header(models, files or {})

    def _header(self, models: Mapping[str, Any], files: Mapping[str, str | Path]) -> None:
        several = len(models) > 1
        self.report.text("# dynlens analysis report",
                         f"Model{'s' if several else ''}: {', '.join(models)}. "
                         f"{system_line(self.data, self.truth)}",
                         f"```\n{self.data!r}\n```")
        warning = other_system_warning(self.data, self.truth)
        if warning:
            self.report.text(f"> **Another system.** {warning}")
        for name, model in models.items():
            named = None
            if several:  # the file, when known, is what a user can act on
                named = f"{name} from {str(files[name])!r}" if name in files else name
            note = other_data_note(model, self.data, named)
            if note:
                self.report.text(f"> **Other data.** {note[0].upper()}{note[1:]}.")

    def __enter__(self) -> Self:
        self.policy.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.policy.__exit__(*exc)

    def section(self, model: Any, label: str, *, prefix: str = "",
                invariants: bool = True) -> dict:
        """Append the opening of ``model`` (:func:`analysis_section`, headed "Opening
        ``label``", its files prefixed by ``prefix``) and return its numbers.

        Parameters
        ----------
        model : SAE or LFADS
            A trained model with a ``dynamics`` generator.
        label : str
            Its name in the report.
        prefix : str
            Start of its files' names (several models in one report).
        invariants : bool
            Also its Lyapunov spectrum (and DSA distance) beside the system's.

        Returns
        -------
        dict
        """
        return analysis_section(self.report, model, self.data, label=label,
                                heading=f"## Opening {label}", system=self.truth,
                                split=self.split, n_inits=self.n_inits, seed=self.seed,
                                progress=self.progress, prefix=prefix, invariants=invariants,
                                lyapunov_steps=self.lyapunov_steps)

    def finish(self, summaries: list[dict], summary: dict) -> Path:
        """Close the report: "what the numbers mean" for ``summaries``, the footer, and
        ``summary`` as ``summary.json``; write it and return the report's path.

        Parameters
        ----------
        summaries : list of dict
            What :meth:`section` returned, one per model.
        summary : dict
            The contents of ``summary.json``.

        Returns
        -------
        pathlib.Path
        """
        add_interpretation(self.report, "## What the numbers mean", summaries)
        self.report.text("---", f"Generated by `dynlens analyze` in "
                                f"{time.perf_counter() - self.started:.0f} s (seed {self.seed}).")
        self.report.write_file("summary.json",
                               json.dumps(summary, indent=2, default=json_default))
        return self.report.write()


def run_analysis(model: Any, data: Any, out: str | Path = "dynlens-analysis", *,
                 system: Any = None, split: str = "train", n_inits: int = 1024, seed: int = 0,
                 progress: bool = True, lyapunov_steps: int | None = None,
                 threads: int | str = "auto") -> Path:
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
    threads : "auto" or int
        torch's CPU threads throughout (:class:`dynlens.threads.ThreadPolicy`).

    Examples
    --------
    An untrained model at toy sizes (a few seconds, mostly drawing the figures):

    >>> import json, pathlib, shutil, tempfile
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=6, n_trials=8, n_bins=10, seed=0)
    >>> model = dl.models.SAE(n_neurons=6, latent_dim=3, hidden_size=8, encoder_size=8)
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> path = run_analysis(model, data, out, n_inits=16, progress=False, lyapunov_steps=20)
    >>> path.name, sorted(p.name for p in out.glob("*.csv"))
    ('report.md', ['fixed_point_comparison.csv', 'fixed_points.csv'])
    >>> summary = json.loads((out / "summary.json").read_text())
    >>> summary["model"], summary["system"], summary["matched"] + summary["missing"]
    ('NODE-3', 'arneodo', 3)
    >>> path.read_text().splitlines()[0]
    '# dynlens analysis report'
    >>> shutil.rmtree(out)
    """
    label = check_model(model, needs=["infer", "label"]).label
    with AnalysisRun(out, data, {label: model}, system=system, split=split, n_inits=n_inits,
                     seed=seed, progress=progress, lyapunov_steps=lyapunov_steps,
                     threads=threads) as run:
        summary = run.section(model, label)
        return run.finish([summary], summary)
