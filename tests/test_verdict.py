"""One vocabulary and one verdict: every surface of a fixed-point comparison says the same
counts in the same words, and every row of the verdict's rule table is reachable."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dynlens as dl
from dynlens.analysis.compare import CATEGORIES, count_words
from dynlens.analysis.verdicts import ANSWERS, GOOD_R2, POOR_R2, RULES, rules_markdown, verdict
from dynlens.app.analyze import interpretation, run_analysis
from dynlens.errors import DynlensTypeError, DynlensValueError

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def every_category():
    """Arneodo's three points against a model with one point of every category: its origin
    matched (and a second point on the origin's manifold, a duplicate), a saddle-focus of the
    true kind 1.0 away from the true one (mislocated), a point of a kind the truth lacks
    (spurious), so the third true point is missing."""
    arneodo = dl.systems.get("arneodo")
    truth = dl.FixedPoints.from_points(arneodo, arneodo.fixed_points())
    xs = np.array([truth.xstar[0], truth.xstar[1] + [0.0, 1.0, 0.0], [0.0, 0.0, 5.0],
                   truth.xstar[0] + [0.01, 0.0, 0.0]])
    model = dataclasses.replace(dl.FixedPoints.from_points(arneodo, xs),
                                n_unstable=np.array([1, 2, 3, 1]),
                                stability=np.array(["unstable"] * 4),
                                manifold_id=np.array([0, 1, 2, 0]))
    states = np.random.default_rng(0).normal(size=(50, 3))
    identity = dl.AffineAlignment().fit(states, states)
    return dl.compare_fixed_points(model, truth, identity, scale=1.0)


def test_every_point_is_in_exactly_one_category(every_category):
    c = every_category
    assert c.counts() == {"matched": 1, "mislocated": 1, "missing": 1, "spurious": 1,
                          "duplicate": 1}
    assert c.matched == [(0, 0)] and c.mislocated == [(1, 1)] and c.missing == [2]
    assert c.spurious == [2] and c.duplicate == [3]
    assert c.mislocation == pytest.approx([1.0])
    # the matched origin has the true one's single unstable direction
    assert c.matched_with_stability == c.numbers()["fp_stability_agree"] == 1
    assert c.true_status() == ["matched", "mislocated", "missing"]
    assert c.model_status() == ["matched", "mislocated", "spurious", "duplicate"]
    n = c.counts()
    assert n["matched"] + n["mislocated"] + n["missing"] == len(c.true_fps)
    assert n["matched"] + n["mislocated"] + n["spurious"] + n["duplicate"] == len(c.model_fps)
    # the score's denominator is every true point and every model manifold left unmatched
    credit = (1 - c.location_error[0] / c.threshold) * max(0.0, 1 - c.eigenvalue_error[0])
    assert c.score == pytest.approx(credit / 5)
    assert not c.recovered


def _counted(text: str) -> dict:
    """The counts a sentence states, read back word by word."""
    return {name: int(m.group(1)) for name in CATEGORIES
            if (m := re.search(rf"(\d+) {name}\b", text))}


def test_every_surface_says_the_same_counts_in_the_same_words(every_category, tmp_path,
                                                             monkeypatch):
    c = every_category
    counts = c.counts()
    words = count_words(counts)
    assert _counted(words) == counts
    assert {k[3:]: v for k, v in c.numbers().items() if k[3:] in CATEGORIES} == counts
    assert count_words(counts, c.mislocation) in c.summary()
    table = c.table()
    listed = table["status"].value_counts().to_dict()
    assert listed == {k: v for k, v in counts.items() if k != "duplicate"}
    assert words in c.plot().axes[0].get_title()
    assert "mislocated pair" in [t.get_text() for t in c.plot().axes[0].get_legend().texts]

    # the reports: run_analysis with this comparison in place of the one it would compute
    monkeypatch.setattr(dl.analysis, "compare_fixed_points", lambda *a, **k: c)
    data = dl.simulate("arneodo", n_neurons=6, n_trials=8, n_bins=10, seed=0)
    model = dl.models.SAE(n_neurons=6, latent_dim=3, hidden_size=8, encoder_size=8)
    report = run_analysis(model, data, tmp_path, n_inits=16, progress=False,
                          lyapunov_steps=20).read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {k: summary[k] for k in CATEGORIES} == counts
    assert summary["matched_with_stability"] == c.matched_with_stability
    csv = pd.read_csv(tmp_path / "fixed_point_comparison.csv")
    assert csv["status"].value_counts().to_dict() == listed
    said = count_words(counts, summary["mislocated_at"])
    assert said in report
    good = interpretation([{**summary, "rate_r2": 0.9, "alignment_r2": 0.9}])
    assert said in good.split("\n\n")[0]


BASE = {"matched": 3, "mislocated": 0, "missing": 0, "spurious": 0, "duplicate": 0,
        "matched_with_stability": 3, "score": 0.8, "system": "arneodo"}


@pytest.mark.parametrize("rule, comparison, fits", [
    (1, BASE, {"rate_r2": 0.9}),
    (2, BASE, {"rate_r2": 0.04, "alignment_r2": 0.2}),
    (2, None, {"rate_r2": 0.9, "alignment_r2": float("nan")}),
    (3, None, {"rate_r2": 0.9, "alignment_r2": 0.9}),
    (4, BASE, {"rate_r2": 0.9, "alignment_r2": 0.95}),
    (4, {**BASE, "duplicate": 4}, {"alignment_r2": 0.95}),  # duplicates are no fault
    (5, BASE, {"rate_r2": 0.58, "alignment_r2": 0.95}),
    (6, {**BASE, "matched": 1, "matched_with_stability": 1, "mislocated": 2},
     {"rate_r2": 0.9, "alignment_r2": 0.9}),
    (7, {**BASE, "matched_with_stability": 1}, {"rate_r2": 0.9, "alignment_r2": 0.9}),
    (7, {**BASE, "matched": 1, "matched_with_stability": 1, "mislocated": 1, "missing": 1},
     {"rate_r2": 0.9, "alignment_r2": 0.9}),
    (8, {**BASE, "matched_with_stability": 0, "spurious": 2},
     {"rate_r2": 0.58, "alignment_r2": 0.9}),
    (8, {**BASE, "matched": 0, "matched_with_stability": 0, "missing": 3},
     {"rate_r2": 0.95, "alignment_r2": 0.9}),
])
def test_every_rule_of_the_table_decides_its_case(rule, comparison, fits):
    found = verdict(comparison, **fits)
    assert found.rule == rule and found.answer == RULES[rule - 1].answer
    assert found.answer in ANSWERS
    sentence = found.sentence()
    assert sentence.startswith(found.answer.capitalize() + ": ")
    # a fit is called good only at or above GOOD_R2, and then says so
    weak = [v for v in fits.values() if not v >= GOOD_R2]
    if rule > 2 and weak:
        assert "fits well" not in sentence and f"below {GOOD_R2}" in sentence
    if rule > 2 and not weak:
        assert "fits well" in sentence
    if rule == 2:
        assert f"below {POOR_R2}" in sentence


def test_the_issues_sentence_no_longer_calls_a_moderate_fit_good():
    found = verdict({**BASE, "matched": 1, "matched_with_stability": 0, "missing": 2},
                    rate_r2=0.58, alignment_r2=0.9)
    assert found.answer == "no" and "although it fits" not in found.sentence()
    assert "only moderate (rate R2 0.58" in found.sentence()


def test_a_comparison_object_gives_the_verdict_of_its_counts(every_category):
    mapping = {**every_category.counts(), "score": every_category.score,
               "matched_with_stability": every_category.matched_with_stability}
    assert (verdict(every_category, rate_r2=0.9, alignment_r2=0.9)
            == verdict(mapping, rate_r2=0.9, alignment_r2=0.9))


def test_bad_comparisons_are_refused_by_name():
    with pytest.raises(DynlensValueError, match="comparison: expected a mapping with the keys"):
        verdict({"matched": 1}, alignment_r2=0.9)
    with pytest.raises(DynlensTypeError, match="comparison: expected a FixedPointComparison"):
        verdict([1, 2], alignment_r2=0.9)


def test_the_rule_table_is_written_once_and_shown_everywhere():
    table = rules_markdown()
    assert table in (DOCS / "guide.md").read_text()
    assert table.replace("\n", "\n    ") in verdict.__doc__
    text = interpretation([{"model": "M", "split": "train", "rate_r2": 0.9,
                            "alignment_r2": 0.9, **BASE, "match_threshold": 0.25}])
    for r in RULES:
        assert r.when in text
