"""The demo's report as a web page: report.html beside report.md, self-contained (figures as
PNG data URIs, tables as HTML tables), the demo's model choice and its smaller-settings note,
and a render in headless Chromium when one is installed."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from dynlens.app.analyze import interpretation
from dynlens.app.demo import FAST, FULL, DemoSettings, _settings_note, run_demo
from dynlens.app.report import Report, markdown_to_html
from dynlens.errors import DynlensValueError
from dynlens.plotting import new_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The demo end to end at toy sizes: seconds, not minutes (the real --fast run is measured
# by hand; its note is checked in test_fast_settings_note_says_what_was_smaller).
TINY = DemoSettings(
    n_trials=40, n_bins=20, n_inits=32, invariants=False,
    fit={family: {"max_epochs": 2, "bins_per_group": 0, "batch_size": 16}
         for family in ("sae", "lfads", "ndt")},
    config={"lfads": {"ic_dim": 4, "n_factors": 4, "ic_enc_dim": 8, "gen_dim": 8, "co_dim": 0},
            "ndt": {"d_model": 8, "n_layers": 1, "n_heads": 1, "ff_dim": 8}})


class PageParser(HTMLParser):
    """Collects the tags, images, table cells and text of a page (and fails on bad nesting
    of the elements the report uses)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[dict] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag not in ("meta", "link", "br", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse_page(path: Path) -> PageParser:
    page = PageParser()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.stack == [], f"unclosed elements {page.stack}"
    return page


def check_images_are_png_data_uris(page: PageParser) -> None:
    assert page.images
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix) and image.get("alt")
        assert base64.b64decode(image["src"][len(prefix):], validate=True)[:8] == PNG_SIGNATURE


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory):
    """One toy demo per model family (a few seconds each)."""
    out = {}
    for family in ("sae", "lfads", "ndt"):
        folder = tmp_path_factory.mktemp(f"demo-{family}")
        out[family] = run_demo(folder, model=family, fast=True, settings=TINY, progress=False,
                               threads=1)
    return out


def test_report_writes_markdown_and_a_self_contained_page(tmp_path):
    report = Report(tmp_path)
    report.text("# A <title>", "Some `x < 1` and **bold** and *italic*.", "> **Note**: quoted")
    report.table(pd.DataFrame({"model": ["NODE-3", "GRU-3"], "rate_r2": [0.9123, float("nan")]}))
    fig, ax = new_figure()
    ax.plot([0, 1], [1, 0])
    report.figure(fig, "line", "A line")
    md = report.write()
    assert md.name == "report.md" and "![A line](line.png)" in md.read_text()
    assert "| NODE-3 | 0.912 |" in md.read_text() and "| GRU-3 | n/a |" in md.read_text()
    page = parse_page(tmp_path / "report.html")
    check_images_are_png_data_uris(page)
    assert page.tags.count("table") == 1 and page.tags.count("th") == 2
    assert page.tags.count("td") == 4 and "blockquote" in page.tags
    text = "".join(page.text)
    assert "A <title>" in text and "x < 1" in text and "0.912" in text
    assert not re.search(r'(src|href)="(?!data:)', (tmp_path / "report.html").read_text())


def test_markdown_subset_to_html():
    assert markdown_to_html("# T") == "<h1>T</h1>"
    assert markdown_to_html("---") == "<hr>"
    assert markdown_to_html("see [docs](https://x.org) and `a*b*c`") == (
        '<p>see <a href="https://x.org">docs</a> and <code>a*b*c</code></p>')
    assert markdown_to_html("2 * 3 * 4 <b>") == "<p>2 * 3 * 4 &lt;b&gt;</p>"


@pytest.mark.parametrize("family", ["sae", "lfads", "ndt"])
def test_demo_writes_an_html_report_per_model(demo_reports, family):
    md = demo_reports[family]
    page = parse_page(md.parent / "report.html")
    check_images_are_png_data_uris(page)
    assert page.tags.count("table") >= 1
    text = " ".join(page.text)
    assert "Fast mode" in text and "smaller settings than the full demo" in text
    assert "40 trials instead of 2000" in text
    settings = json.loads((md.parent / "settings.json").read_text())
    assert settings["model"] == family and settings["n_trials"] == 40
    markdown = md.read_text()
    if family == "ndt":
        assert "has no dynamics" in markdown and "fixed-point section" in markdown
        assert "Opening" not in markdown and not (md.parent / "fixed_points.png").exists()
        assert (md.parent / "latents_vs_truth.png").exists()
    else:
        assert "What the numbers mean." in markdown and "Thresholds:" in markdown
        assert "## 3. Opening" in markdown and (md.parent / "fixed_points.png").exists()
        assert ("## 4. Opening GRU-3" in markdown) == (family == "sae")
        assert ("LFADS" in markdown) == (family == "lfads")
        assert len(page.images) == len(list(md.parent.glob("*.png")))


def test_cycle_consistency_is_not_shown_as_evidence_for_saes(demo_reports):
    sae = pd.read_csv(demo_reports["sae"].parent / "metrics.csv")
    assert "cycle_consistency" not in sae.columns
    text = demo_reports["sae"].read_text()
    assert "1.000 for every SAE, trained or not" in text
    assert "cycle_consistency" in pd.read_csv(demo_reports["lfads"].parent / "metrics.csv")
    assert "True rates (expected counts per bin) of trial 0: neurons 0-7 of 10" in text


def test_fast_settings_note_says_what_was_smaller():
    note = _settings_note("sae", FAST, fast=True)
    assert note.startswith("> **Fast mode** (`dynlens demo --fast`)")
    assert "1000 trials instead of 2000" in note and "`max_epochs=90`" in note
    assert "No Lyapunov spectra" in note
    assert "`max_epochs=100`" in _settings_note("lfads", FAST, fast=True)
    assert _settings_note("sae", FULL, fast=False) is None


def test_demo_refuses_an_unknown_model(tmp_path):
    with pytest.raises(DynlensValueError, match="model: expected one of 'sae', 'lfads', 'ndt'"):
        run_demo(tmp_path / "x", model="gru", settings=TINY, progress=False)
    assert not (tmp_path / "x").exists()


def test_demo_command_refuses_an_unknown_model_in_one_line(tmp_path, capsys):
    from dynlens.app.cli import main

    assert main(["demo", "--model", "lstm", "--out", str(tmp_path / "d"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1  # no thread-count line before the mistake
    assert err[0].startswith("dynlens demo: error: --model: expected one of 'sae', 'lfads'")
    assert not (tmp_path / "d").exists()


def test_interpretation_answers_in_words():
    base = {"model": "M", "split": "train", "system": "arneodo", "match_threshold": 0.25,
            "matched": 3, "mislocated": 0, "matched_with_stability": 3, "missing": 0,
            "spurious": 0, "duplicate": 0, "score": 0.8}
    good = interpretation([{**base, "rate_r2": 0.9, "alignment_r2": 0.9}])
    assert "at least 0.8" in good and "below 0.5" in good and "within the matching" in good
    assert good.startswith("**M** (train split): Yes: it fits well (rate R2 0.90")
    # the score, the threshold and every category are defined in the text
    assert "agree x (1 - d / 0.25) x max(0, 1 - e)" in good and "RMS distance" in good
    assert all(f"*{name}*:" in good for name in ("matched", "mislocated", "missing",
                                                 "spurious", "duplicate"))
    tentative = interpretation([{**base, "rate_r2": 0.6, "alignment_r2": 0.9}])
    assert tentative.startswith("**M** (train split): Partly: ") and "tentative" in tentative
    # the 40-epoch model: a poor fit gets no answer, whatever the comparison counts
    poor = interpretation([{**base, "rate_r2": 0.04, "alignment_r2": 0.20, "matched": 1,
                            "matched_with_stability": 1, "missing": 2, "score": 0.1}])
    assert "No answer: its fit is too poor" in poor and "rate R2 0.04" in poor
    assert "alignment R2 0.20" in poor and "score of 0.10 says nothing" in poor
    assert "Partly" not in poor.split("\n\n")[0]
    wrong = interpretation([{**base, "rate_r2": 0.95, "alignment_r2": 0.9,
                             "matched_with_stability": 0, "spurious": 2}])
    assert "No: it fits well" in wrong and "does not mean" in wrong
    assert "Partly" in interpretation([{**base, "rate_r2": 0.9, "alignment_r2": 0.9,
                                        "matched_with_stability": 1}])
    assert "No answer: without true latents" in interpretation(
        [{"model": "M", "split": "train", "rate_r2": 0.9}])


def test_mislocated_points_are_told_apart_from_missing_and_spurious():
    import dataclasses

    import numpy as np

    import dynlens as dl

    well = dl.systems.get("bistable2d")  # a saddle at 0 between stable points at -1 and 1
    truth = dl.FixedPoints.from_points(well, well.fixed_points())
    # the model's saddle (same spectrum) sits 0.8 away from the true one, beyond the threshold
    model = dataclasses.replace(truth, xstar=truth.xstar + np.array([[0.0, 0.8], [0, 0], [0, 0]]))
    states = np.random.default_rng(0).normal(size=(50, 2))
    identity = dl.AffineAlignment().fit(states, states)
    comparison = dl.compare_fixed_points(model, truth, identity, scale=1.0)
    assert comparison.mislocated == [(0, 0)] and comparison.mislocation == pytest.approx([0.8])
    assert comparison.missing == [] and comparison.spurious == []
    summary = {"model": "M", "split": "train", "system": "bistable2d", "rate_r2": 0.9,
               "alignment_r2": 0.95, **comparison.counts(), "matched_with_stability": 2,
               "score": comparison.score, "match_threshold": comparison.threshold,
               "mislocated_at": comparison.mislocation.tolist()}
    text = interpretation([summary]).split("\n\n")[0]
    assert "Partly" in text and "has bistable2d's number of fixed points" in text
    assert ("2 matched, 1 mislocated (0.80 attractor sizes away), 0 missing, 0 spurious"
            in text)
    # without a model point of its kind, the true point is missing, not mislocated
    stable_only = dataclasses.replace(model, n_unstable=np.array([0, 0, 0]))
    comparison = dl.compare_fixed_points(stable_only, truth, identity, scale=1.0)
    assert comparison.mislocated == [] and comparison.missing == [0]
    assert comparison.spurious == [0]


# -- a real browser -------------------------------------------------------------------------

_PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.href))));
}, true);
var __consoleError = console.error;
console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, " "));
  __consoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var probe = document.createElement("pre");
  probe.id = "dynlens-probe";
  probe.textContent = JSON.stringify({
    images: images.length,
    loaded: images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    errors: window.__errors});
  document.body.appendChild(probe);
});
</script>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chromium-headless-shell"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _render_with_chromium(binary: str, page: Path) -> dict:
    """Load ``page`` with a probe script; return what it saw (images loaded, errors)."""
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + _PROBE, 1),
                      encoding="utf-8")
    result = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--virtual-time-budget=10000", "--enable-logging=stderr",
         "--dump-dom", probed.as_uri()],
        check=False, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="dynlens-probe">(.*?)</pre>', result.stdout, re.DOTALL)
    assert found, f"no probe output from {binary}: {result.stderr[-2000:]}"
    seen = json.loads(html.unescape(found.group(1)))
    seen["console"] = [line for line in result.stderr.splitlines()
                       if "CONSOLE" in line and "probed.html" in line]
    return seen


def _render_with_playwright(page: Path) -> dict:
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        try:
            browser = p.chromium.launch()
        except Error as err:  # the package without its browser
            pytest.skip(f"playwright cannot launch Chromium: {err}")
        tab = browser.new_page()
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("requestfailed", lambda r: errors.append(f"failed {r.url}"))
        tab.goto(page.as_uri(), wait_until="load")
        widths = tab.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        browser.close()
    return {"images": len(widths), "loaded": sum(w > 0 for w in widths), "errors": errors,
            "console": []}


def test_report_renders_in_headless_chromium(demo_reports):
    page = demo_reports["sae"].parent / "report.html"
    binary = _chromium()
    if binary is not None:
        seen = _render_with_chromium(binary, page)
    else:
        pytest.importorskip("playwright", reason="no Chromium on PATH and no playwright")
        seen = _render_with_playwright(page)
    assert seen["images"] == len(parse_page(page).images) > 0
    assert seen["loaded"] == seen["images"], seen
    assert seen["errors"] == [] and seen["console"] == [], seen
