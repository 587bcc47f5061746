"""The documentation stays true: links resolve, code compiles and the runnable examples run.

- Every relative Markdown link (and image) in README.md, docs/*.md, studies/*/README.md and
  benchmarks/*.md points to a file of the repository, and an ``#anchor`` into a Markdown file
  to one of its headings.
- No file tracked by git refers to documents outside the repository.
- Every Python block of README.md and docs/*.md compiles, and every ``dl.<name>`` they mention
  exists.
- Python blocks marked runnable run as written: a ``<!-- runs -->`` line right before the
  block (``<!-- runs (needs pynwb) -->`` when it needs an optional package, skipped without
  it). The runnable blocks of one page run in order, in one namespace (later blocks use what
  earlier ones made), in a temporary working directory.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import dynlens

REPO = Path(__file__).resolve().parents[1]

#: Pages whose relative links must resolve.
LINKED_PAGES = sorted(
    [REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("studies/*/README.md"),
     *REPO.glob("benchmarks/*.md")]
)
#: Pages whose Python blocks must compile and whose ``dl.`` names must exist.
CODE_PAGES = sorted([REPO / "README.md", *REPO.glob("docs/*.md")])

# Built by concatenation so that this file does not mention them itself.
FORBIDDEN = ("../" + "shared", "REFERENCE" + ".md", "DESIGN" + ".md")

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)(?P<info>[^\n]*)$")
_RUNS = re.compile(r"^<!--\s*runs(?:\s*\(needs\s+(?P<needs>[\w., ]+)\))?\s*-->$")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # [text] or ![alt], one level of [] inside
                   r"\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # (target "title")
_REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(?P<target>\S+?)>?(?:\s+\"[^\"]*\")?\s*$",
                       re.MULTILINE)
_DL_NAME = re.compile(r"(?<![\w.])dl\.(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _blocks(text: str) -> list[dict]:
    """Fenced code blocks: language, source, first line number and the marker before it."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, info = opening["fence"], opening["info"].strip()
        previous = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j])
            j += 1
        blocks.append({"lang": info.split()[0].lower() if info else "", "source": "\n".join(body),
                       "line": i + 1, "marker": _RUNS.match(previous)})
        i = j + 1
    return blocks


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code spans (links there are code)."""
    kept, fence = [], None
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening["fence"]
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            kept.append(line)
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", "\n".join(kept))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors, seen = set(), {}
    for line in _prose(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(path: Path) -> list[str]:
    prose = _prose(path.read_text(encoding="utf-8"))
    return [m["target"] for m in (*_LINK.finditer(prose), *_REF_LINK.finditer(prose))]


def test_the_pages_exist():
    assert (REPO / "docs" / "guide.md").is_file()
    assert len(LINKED_PAGES) >= 5, LINKED_PAGES


@pytest.mark.parametrize("page", LINKED_PAGES, ids=_rel)
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if REPO not in resolved.parents and resolved != REPO:
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no heading '{anchor}' in {_rel(resolved)})")
    assert not broken, f"{_rel(page)}: broken links: {broken}"


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                                check=True, timeout=30).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout (or git is missing)")
    return [REPO / name for name in listed.split("\0") if name]


def test_the_guide_is_linked_from_the_readme_and_every_page_from_the_index():
    assert "docs/guide.md" in _links(REPO / "README.md")
    targets = set(_links(REPO / "docs" / "index.md"))
    pages = [p for p in _tracked_files() if p.parent == REPO / "docs" and p.suffix == ".md"]
    unlisted = sorted(p.name for p in pages if p.name != "index.md" and p.name not in targets)
    assert not unlisted, f"docs/index.md does not link {unlisted}"


def test_no_tracked_file_refers_outside_the_repository():
    offenders = []
    for path in _tracked_files():
        if not path.is_file():  # deleted in the working tree
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):  # binary files
            continue
        offenders += [f"{_rel(path)}: {word}" for word in FORBIDDEN if word in text]
    assert not offenders, offenders


@pytest.mark.parametrize("page", CODE_PAGES, ids=_rel)
def test_python_blocks_compile(page):
    for block in _blocks(page.read_text(encoding="utf-8")):
        if block["lang"] in ("python", "py", "pycon"):
            compile(block["source"], f"{_rel(page)}:{block['line']}", "exec")


@pytest.mark.parametrize("page", CODE_PAGES, ids=_rel)
def test_toml_blocks_parse(page):
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    for block in _blocks(page.read_text(encoding="utf-8")):
        if block["lang"] == "toml":
            tomllib.loads(block["source"])


def _resolves(dotted: str) -> bool:
    obj = dynlens
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


@pytest.mark.parametrize("page", CODE_PAGES, ids=_rel)
def test_every_dl_name_exists(page):
    names = {m["name"] for m in _DL_NAME.finditer(page.read_text(encoding="utf-8"))}
    missing = sorted(name for name in names if not _resolves(name))
    assert not missing, f"{_rel(page)} names dl.{missing} that do not exist"


def test_runnable_markers_sit_on_python_blocks():
    for page in CODE_PAGES:
        text = page.read_text(encoding="utf-8")
        marked = [b for b in _blocks(text) if b["marker"]]
        assert all(b["lang"] == "python" for b in marked), _rel(page)
        n_markers = sum(bool(_RUNS.match(line.strip())) for line in text.splitlines())
        assert n_markers == len(marked), f"{_rel(page)}: a runs marker not right before a block"
    guide = _blocks((REPO / "docs" / "guide.md").read_text(encoding="utf-8"))
    assert sum(bool(b["marker"]) for b in guide) >= 10


RUNNABLE_PAGES = [p for p in CODE_PAGES
                  if any(b["marker"] for b in _blocks(p.read_text(encoding="utf-8")))]


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=_rel)
def test_runnable_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for block in _blocks(page.read_text(encoding="utf-8")):
        if not block["marker"]:
            continue
        needs = [n.strip() for n in (block["marker"]["needs"] or "").split(",") if n.strip()]
        missing = [n for n in needs if importlib.util.find_spec(n) is None]
        if missing:
            warnings.warn(f"{_rel(page)}:{block['line']} not run: {missing} not installed",
                          stacklevel=1)
            continue
        code = compile(block["source"], f"{_rel(page)}:{block['line']}", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples
        ran += 1
    assert ran
