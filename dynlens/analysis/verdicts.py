"""Did the model learn the true dynamics? One answer, decided by one table of rules.

:data:`RULES` is the table: rows are tried in order and the first whose condition holds
gives the answer (``"yes"``, ``"partly"``, ``"no"`` or ``"no answer"``). :func:`verdict`
applies it to a fixed-point comparison and the fit numbers; :func:`rule_table` and
:func:`rules_markdown` show it (in the docstring below, the guide and every report), so the
rules are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import DynlensTypeError, DynlensValueError
from .compare import FixedPointComparison

__all__ = ["ANSWERS", "GOOD_R2", "POOR_R2", "RULES", "Rule", "Verdict", "rule_table",
           "rules_markdown", "verdict"]

#: An R2 (rates, or latents aligned onto the truth) at or above this is a good fit.
GOOD_R2 = 0.8
#: Below this R2 the fit is too poor for a fixed-point comparison to mean anything.
POOR_R2 = 0.5
#: The answers a verdict can give.
ANSWERS = ("yes", "partly", "no", "no answer")


@dataclass(frozen=True)
class _Facts:
    """What the rules read: the fit numbers and the comparison's counts (None: unknown)."""

    rate_r2: float | None
    alignment_r2: float | None
    counts: Mapping[str, Any] | None

    @property
    def fits(self) -> dict[str, float]:
        return {name: float(v) for name, v in (("rate", self.rate_r2),
                                               ("alignment", self.alignment_r2)) if v is not None}

    def below(self, level: float) -> list[str]:
        return [name for name, v in self.fits.items() if not v >= level]  # NaN is below

    @property
    def n_true(self) -> int:
        c = self.counts
        return int(c["matched"] + c["mislocated"] + c["missing"])

    @property
    def recovered(self) -> bool:
        c = self.counts
        return c["matched_with_stability"] == self.n_true and not c["spurious"]

    @property
    def pattern_elsewhere(self) -> bool:
        c = self.counts
        return (c["mislocated"] > 0 and not c["missing"] and not c["spurious"]
                and c["matched_with_stability"] == c["matched"])


@dataclass(frozen=True)
class Rule:
    """One row of :data:`RULES`: its answer, its condition in words and as a test."""

    answer: str
    when: str
    holds: Callable[[_Facts], bool]


RULES: tuple[Rule, ...] = (
    Rule("no answer", "the data carry no true latents (no alignment R2)",
         lambda f: f.alignment_r2 is None),
    Rule("no answer", f"the rate or the alignment R2 is below {POOR_R2} (too poor a fit)",
         lambda f: bool(f.below(POOR_R2))),
    Rule("no answer", "no true system is known (no fixed-point comparison)",
         lambda f: f.counts is None),
    Rule("yes", f"every true fixed point matched with its number of unstable directions, none "
                f"spurious, and every R2 at least {GOOD_R2}",
         lambda f: f.recovered and not f.below(GOOD_R2)),
    Rule("partly", f"as the row above, but an R2 below {GOOD_R2} (a tentative yes)",
         lambda f: f.recovered),
    Rule("partly", "the true number of fixed points with their stability, but some "
                   "mislocated (none missing or spurious)",
         lambda f: f.pattern_elsewhere),
    Rule("partly", "at least one true fixed point matched with its number of unstable "
                   "directions",
         lambda f: f.counts["matched_with_stability"] > 0),
    Rule("no", "otherwise: no true fixed point matched with its stability",
         lambda f: True),
)


def rule_table() -> pd.DataFrame:
    """:data:`RULES` as a table: ``rule`` (its number), ``answer`` and ``when``.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> rule_table()["answer"].tolist()[-1]
    'no'
    """
    return pd.DataFrame({"rule": range(1, len(RULES) + 1),
                         "answer": [r.answer for r in RULES],
                         "when": [r.when for r in RULES]})


def rules_markdown() -> str:
    """:data:`RULES` as a Markdown table (the docs show exactly this text).

    Returns
    -------
    str
    """
    rows = ["| rule | answer | when (the first row that holds decides) |", "|---|---|---|"]
    rows += [f"| {i} | {r.answer} | {r.when} |" for i, r in enumerate(RULES, 1)]
    return "\n".join(rows)


@dataclass(frozen=True)
class Verdict:
    """The answer of :func:`verdict`.

    Attributes
    ----------
    answer : str
        One of :data:`ANSWERS`.
    reason : str
        One sentence saying why, with the numbers.
    rule : int
        The row of :data:`RULES` that decided (1-based).

    Examples
    --------
    >>> v = verdict(None, rate_r2=0.9, alignment_r2=0.3)
    >>> v.answer, v.rule, v.sentence()[:45]
    ('no answer', 2, 'No answer: its fit is too poor to judge its d')
    """

    answer: str
    reason: str
    rule: int

    def sentence(self) -> str:
        """The answer and its reason as one sentence: ``"Partly: ..."``."""
        return f"{self.answer.capitalize()}: {self.reason}"


def _counts(comparison: Any) -> Mapping[str, Any] | None:
    """The comparison's counts, ``matched_with_stability``, ``score`` and ``system``."""
    if comparison is None:
        return None
    if isinstance(comparison, FixedPointComparison):
        return {**comparison.counts(), "score": comparison.score,
                "matched_with_stability": comparison.matched_with_stability}
    if isinstance(comparison, Mapping):
        need = ("matched", "mislocated", "missing", "spurious", "matched_with_stability",
                "score")
        lost = [k for k in need if k not in comparison]
        if lost:
            raise DynlensValueError(
                f"comparison: expected a mapping with the keys {', '.join(need)}, found one "
                f"without {', '.join(lost)}")
        return comparison
    raise DynlensTypeError(
        f"comparison: expected a FixedPointComparison, a mapping of its counts or None, "
        f"found {type(comparison).__name__}")


def _fit_words(f: _Facts) -> str:
    """The fit numbers, said as good only at or above GOOD_R2."""
    shown = ", ".join(f"{name} R2 {v:.2f}" for name, v in f.fits.items())
    weak = f.below(GOOD_R2)
    if not weak:
        return (f"it fits well ({shown}: its latents are an affine image of the true state"
                f"{' and it predicts the rates' if f.rate_r2 is not None else ''})")
    return f"its fit is only moderate ({shown}; {' and '.join(weak)} below {GOOD_R2})"


def _reason(rule: int, f: _Facts, system: str) -> str:
    """The sentence behind rule ``rule`` (1-based), with the numbers."""
    c = f.counts
    if rule == 1:
        fit = f" its rate R2 {f.rate_r2:.2f} says how well it fits the data, but" if (
            f.rate_r2 is not None) else ""
        return (f"without true latents{fit} its fixed points cannot be put in the true "
                f"system's coordinates, and fitting the data does not show that a model's "
                f"dynamics are the true ones.")
    shown = ", ".join(f"{name} R2 {v:.2f}" for name, v in f.fits.items())
    if rule == 2:
        poor = f.below(POOR_R2)
        score = (f"; its fixed-point score of {c['score']:.2f} says nothing about the true "
                 f"dynamics either way" if c is not None else "")
        return (f"its fit is too poor to judge its dynamics ({shown}; {' and '.join(poor)} R2 "
                f"{'both ' if len(poor) > 1 else ''}below {POOR_R2}){score}; train longer or "
                f"on more data.")
    if rule == 3:
        return (f"{_fit_words(f)}, but no true system is known, so its fixed points cannot be "
                f"checked.")
    got = (f"{c['matched_with_stability']} of {f.n_true} of {system}'s fixed points matched "
           f"with their stability (score {c['score']:.2f})")
    if rule == 4:
        return (f"{_fit_words(f)}, and its fixed points are those of {system} in number, place "
                f"and stability (score {c['score']:.2f}).")
    if rule == 5:
        return (f"its fixed points are those of {system} (score {c['score']:.2f}), but "
                f"{_fit_words(f)}, so take it as tentative.")
    if rule == 6:
        return (f"{_fit_words(f)}, and it has {system}'s number of fixed points with their "
                f"stability, but {c['mislocated']} of them lie beyond the matching threshold "
                f"(mislocated): {got}.")
    if rule == 7:
        return f"{_fit_words(f)}, but only {got}."
    if f.below(GOOD_R2):  # "but ... fitting does not mean" only reads right after a good fit
        return f"{_fit_words(f)}, and {got}."
    return (f"{_fit_words(f)}, but {got}: fitting the data does not mean a model learned the "
            f"true dynamics.")


def verdict(comparison: Any = None, *, rate_r2: float | None = None,
            alignment_r2: float | None = None, system: str | None = None) -> Verdict:
    """Did the model learn the true dynamics? The first rule of :data:`RULES` that holds.

    {rules}

    "Matched", "mislocated", "missing" and "spurious" are the categories of
    :class:`~dynlens.analysis.FixedPointComparison`; an R2 is called a good fit only at or
    above :data:`GOOD_R2`.

    Parameters
    ----------
    comparison : FixedPointComparison or mapping, optional
        The fixed-point comparison, or its numbers as a report summary holds them (the
        category counts, ``matched_with_stability`` and ``score``); None when no true
        system is known.
    rate_r2 : float, optional
        R2 of the inferred rates against the true ones (None: the data have none).
    alignment_r2 : float, optional
        R2 of the model's latents mapped affinely onto the true latents (None: the data
        carry no true latents).
    system : str, optional
        The true system's name, for the sentence (default: the mapping's ``system``, else
        "the true system").

    Returns
    -------
    Verdict

    Examples
    --------
    >>> v = verdict({{"matched": 3, "mislocated": 0, "missing": 0, "spurious": 0,
    ...             "matched_with_stability": 3, "score": 0.81}}, rate_r2=0.58,
    ...             alignment_r2=0.95, system="arneodo")
    >>> v.answer, v.rule
    ('partly', 5)
    >>> print(v.sentence())
    Partly: its fixed points are those of arneodo (score 0.81), but its fit is only moderate
    (rate R2 0.58, alignment R2 0.95; rate below 0.8), so take it as tentative.
    """
    counts = _counts(comparison)
    if system is None:
        system = (counts or {}).get("system", "the true system")
    facts = _Facts(rate_r2, alignment_r2, counts)
    rule = next(i for i, r in enumerate(RULES, 1) if r.holds(facts))
    return Verdict(RULES[rule - 1].answer, _reason(rule, facts, str(system)), rule)


verdict.__doc__ = verdict.__doc__.format(rules=rules_markdown().replace("\n", "\n    "))
