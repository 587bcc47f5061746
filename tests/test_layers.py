"""Data flows one way through dynlens's layers (see docs/design.md, "Layers").

:func:`layer_violations` reads every module of a package tree with :mod:`ast`, resolves each
import (absolute or relative, at module level or inside a function, class or
``if TYPE_CHECKING:`` block) to an absolute module name, and lists what breaks the rules:

- a layer package imports only the foundation modules, itself and the layers before it in
  :data:`LAYERS` (and analysis never imports training);
- a foundation module imports no layer package (nor the top-level package, which imports them);
- a module at the top of the package is either ``__init__.py`` or a foundation module;
- no module imports another package's private module (``_name.py``) or private name (``_x``).

One exception: in the analysis layer a function or method named ``plot`` may import the
plotting layer inside its body (e.g. ``FixedPointComparison.plot()``).
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Layer packages in the order data flows: each may import the ones before it.
LAYERS = ("systems", "data", "models", "training", "analysis", "sweeps", "plotting", "app")
#: Packages that share another's layer (and directory names still in use while the layout
#: moves), mapped to that layer.
LAYER_ALIASES = {"studies": "sweeps", "tuning": "sweeps"}
#: Imports a layer may not make even though the target comes before it.
EXTRA_BANS = {("analysis", "training")}
#: Modules at the top of the package that every layer may import.
FOUNDATION = ("errors", "utils", "dynamics", "rnn_dynamics", "threads")
#: (layer, function name, target layer) imports allowed inside a function of that name.
FUNCTION_EXCEPTIONS = {("analysis", "plot", "plotting"), ("sweeps", "plot", "plotting")}

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class _Import:
    target: str            # absolute module name
    name: str | None       # the imported name when it is an attribute of `target`, else None
    line: int
    function: str | None   # innermost enclosing function, if any


def _layer_of(module: str, root: str) -> str | None:
    """``"foundation"``, ``"root"``, a layer name, or None (a module in no layer)."""
    parts = module.split(".")
    if parts[0] != root:
        return None
    if len(parts) == 1:
        return "root"
    top = LAYER_ALIASES.get(parts[1], parts[1])
    if top in LAYERS:
        return top
    if top in FOUNDATION:
        return "foundation"
    return None


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _private_owner(module: str) -> str | None:
    """The package that owns the first private component of ``module``, if it has one."""
    parts = module.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if _is_private(part):
            return ".".join(parts[:i])
    return None


def _may_use_private(importer_package: str, owner: str, root: str) -> bool:
    """Modules of a package (and of its subpackages, below the top level) share its privates."""
    if importer_package == owner:
        return True
    return owner != root and importer_package.startswith(owner + ".")


class _Collector(ast.NodeVisitor):
    def __init__(self, package: str, known: set[str], root: str) -> None:
        self.package, self.known, self.root = package, known, root
        self.functions: list[str] = []
        self.imports: list[_Import] = []
        self.errors: list[tuple[int, str]] = []

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _add(self, target: str, name: str | None, line: int) -> None:
        if target == self.root or target.startswith(self.root + "."):
            function = self.functions[-1] if self.functions else None
            self.imports.append(_Import(target, name, line, function))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, None, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            if node.level - 1 >= len(parts):
                self.errors.append((node.lineno, "a relative import beyond the top package"))
                return
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            if node.module:
                base = f"{base}.{node.module}"
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            top_level_name = base == self.root and (
                alias.name in LAYERS or alias.name in LAYER_ALIASES or alias.name in FOUNDATION)
            if alias.name != "*" and (candidate in self.known or top_level_name):
                self._add(candidate, None, node.lineno)          # a submodule
            else:
                name = None if alias.name == "*" else alias.name
                self._add(base, name, node.lineno)               # a name from `base`


def _module_names(package_root: Path) -> dict[Path, tuple[str, str]]:
    """Each source file -> (its module name, the package its relative imports start from)."""
    root = package_root.name
    names = {}
    for path in sorted(package_root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = [root, *path.relative_to(package_root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
            names[path] = (".".join(parts), ".".join(parts))
        else:
            names[path] = (".".join(parts), ".".join(parts[:-1]))
    return names


def _import_problem(importer_layer: str, imp: _Import, root: str) -> str | None:
    """Why ``imp`` breaks the layer rules, or None when it may be made."""
    target_layer = _layer_of(imp.target, root)
    if target_layer in (None, "foundation"):
        return None          # foundation: allowed; a module in no layer is reported itself
    if importer_layer == "foundation":
        if target_layer == "root":
            return ("a foundation module may not import the top package, which imports "
                    "every layer")
        return "a foundation module may not import a layer package"
    if target_layer == "root":
        if importer_layer == LAYERS[-1]:
            return None
        return (f"{importer_layer} may not import the top package, which imports every layer; "
                f"import from the module that defines the name")
    if target_layer == importer_layer:
        return None
    if (importer_layer, imp.function, target_layer) in FUNCTION_EXCEPTIONS:
        return None
    allowed = LAYERS[: LAYERS.index(importer_layer)]
    if target_layer not in allowed or (importer_layer, target_layer) in EXTRA_BANS:
        return f"{importer_layer} may not import {target_layer}"
    return None


def _name_owner(target: str, packages: set[str], root: str) -> str:
    """The package a name imported from ``target`` belongs to."""
    parts = target.split(".")
    if target in packages or (len(parts) <= 2
                              and _layer_of(target, root) not in (None, "foundation")):
        return target                       # the top package, a layer, or another package
    return ".".join(parts[:-1])             # a module: its package


def layer_violations(package_root: Path) -> list[str]:
    """Every import under ``package_root`` that breaks the layer rules, as readable messages.

    ``package_root`` is the package directory itself (``.../dynlens``); messages name files
    relative to its parent, e.g. ``"dynlens/analysis/x.py:3 imports dynlens.training
    (analysis may not import training)"``.
    """
    package_root = Path(package_root)
    root = package_root.name
    names = _module_names(package_root)
    known = {module for module, _ in names.values()}
    packages = {module for path, (module, _) in names.items() if path.name == "__init__.py"}
    found = []
    for path, (module, package) in names.items():
        shown = path.relative_to(package_root.parent).as_posix()
        layer = _layer_of(module, root)
        if layer is None:
            found.append(f"{shown} is not in a layer (the top of {root}/ holds only __init__.py "
                         f"and the foundation modules {', '.join(FOUNDATION)})")
        collector = _Collector(package, known, root)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for line, message in collector.errors:
            found.append(f"{shown}:{line} makes {message}")
        for imp in collector.imports:
            if layer not in (None, "root"):
                problem = _import_problem(layer, imp, root)
                if problem:
                    found.append(f"{shown}:{imp.line} imports {imp.target} ({problem})")
            owner = _private_owner(imp.target)
            if owner and not _may_use_private(package, owner, root):
                found.append(f"{shown}:{imp.line} imports {imp.target} "
                             f"(a private module of {owner})")
            if imp.name and _is_private(imp.name):
                owner = _name_owner(imp.target, packages, root)
                if not _may_use_private(package, owner, root):
                    found.append(f"{shown}:{imp.line} imports {imp.name} from {imp.target} "
                                 f"(a private name of {owner})")
    return list(dict.fromkeys(found))    # one message per line and problem


# ---------------------------------------------------------------------------------------------
# The real package


def test_dynlens_respects_its_layers():
    violations = layer_violations(REPO / "dynlens")
    assert violations == [], "\n".join(violations)


# ---------------------------------------------------------------------------------------------
# A small fake package tree with planted violations

FAKE_FILES = [
    "__init__.py", "errors.py", "utils.py", "dynamics.py", "threads.py",
    *(f"{layer}/__init__.py" for layer in LAYERS),
    "systems/flows.py",
    "models/sae.py",
    "training/fit.py",
    "analysis/fixed_points.py", "analysis/_cluster.py", "analysis/_prepare.py",
    "plotting/figures.py", "plotting/_style.py",
]


def _tree(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    """A clean fake ``dynlens`` tree under ``tmp_path`` plus ``files`` (path -> source)."""
    package = tmp_path / "dynlens"
    for name in FAKE_FILES:
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text('"""A module."""\n')
    for name, source in (files or {}).items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(textwrap.dedent(source))
    return package


def test_a_clean_tree_has_no_violations(tmp_path):
    package = _tree(tmp_path, {
        "utils.py": "from .errors import DynlensError\n",
        "dynamics.py": "from . import errors\nimport dynlens.utils as u\n",
        "data/simulate.py": "from .. import systems\nfrom ..systems.flows import Lorenz\n",
        "analysis/graph.py": """\
            from . import _cluster
            from ._prepare import prepare
            from .fixed_points import _affine_parts
            from ..models import SAE
            from ..utils import check_choice
            from dynlens.data import simulate
            """,
        "analysis/sub/deep.py": "from .._prepare import prepare\nfrom ... import models\n",
        "plotting/figures.py": "from ._style import new_figure\nfrom ..analysis import graph\n",
        "app/cli.py": "import dynlens as dl\nfrom .. import plotting, sweeps\n",
        "__init__.py": "from . import app, analysis\nfrom .utils import as_numpy\n",
    })
    assert layer_violations(package) == []


IMPORT_FORMS = [
    # (file, source, the target the message must name)
    ("systems/bad.py", "import dynlens.models.sae\n", "dynlens.models.sae"),
    ("systems/bad.py", "import dynlens.models as m\n", "dynlens.models"),
    ("systems/bad.py", "from dynlens import models\n", "dynlens.models"),
    ("systems/bad.py", "from dynlens.models import SAE\n", "dynlens.models"),
    ("systems/bad.py", "from dynlens.models.sae import SAE\n", "dynlens.models.sae"),
    ("systems/bad.py", "from .. import models\n", "dynlens.models"),
    ("systems/bad.py", "from ..models import SAE\n", "dynlens.models"),
    ("systems/bad.py", "from ..models.sae import SAE\n", "dynlens.models.sae"),
    ("systems/__init__.py", "from ..models import SAE\n", "dynlens.models"),
    ("systems/sub/bad.py", "from ...models import SAE\n", "dynlens.models"),
    ("systems/sub/__init__.py", "from ... import models\n", "dynlens.models"),
    ("systems/bad.py", "def f():\n    from ..models import SAE\n", "dynlens.models"),
    ("systems/bad.py", "class C:\n    def m(self):\n        import dynlens.models\n",
     "dynlens.models"),
    ("systems/bad.py",
     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..models import SAE\n",
     "dynlens.models"),
    ("systems/bad.py", "try:\n    from ..models import SAE\nexcept ImportError:\n    pass\n",
     "dynlens.models"),
]


@pytest.mark.parametrize("file, source, target", IMPORT_FORMS,
                         ids=[f"{f}:{s.strip().splitlines()[-1].strip()}"
                              for f, s, _ in IMPORT_FORMS])
def test_every_import_form_is_resolved(tmp_path, file, source, target):
    package = _tree(tmp_path, {file: source})
    line = source.count("\n", 0, source.index("models")) + 1
    assert layer_violations(package) == [
        f"dynlens/{file}:{line} imports {target} (systems may not import models)"]


PLANTED = [
    # (file, source, the start of each message it must produce)
    ("data/bad.py", "from ..training import fit\n",
     ["dynlens/data/bad.py:1 imports dynlens.training.fit (data may not import training)"]),
    ("models/bad.py", "from ..plotting import figures\n",
     ["dynlens/models/bad.py:1 imports dynlens.plotting.figures (models may not import plotting)"]),
    ("analysis/bad.py", "from ..training.fit import fit\n",
     ["dynlens/analysis/bad.py:1 imports dynlens.training.fit (analysis may not import training)"]),
    ("analysis/bad.py", "from .. import plotting\n",
     ["dynlens/analysis/bad.py:1 imports dynlens.plotting (analysis may not import plotting)"]),
    ("sweeps/bad.py", "import dynlens.app\n",
     ["dynlens/sweeps/bad.py:1 imports dynlens.app (sweeps may not import app)"]),
    ("studies/bad.py", "from ..plotting import figures\n",
     [("dynlens/studies/bad.py:1 imports dynlens.plotting.figures "
       "(sweeps may not import plotting)")]),
    ("models/bad.py", "import dynlens\n",
     ["dynlens/models/bad.py:1 imports dynlens (models may not import the top package"]),
    ("plotting/bad.py", "from dynlens import fit\n",
     ["dynlens/plotting/bad.py:1 imports dynlens (plotting may not import the top package"]),
    ("dynamics.py", "from . import models\n",
     ["dynlens/dynamics.py:1 imports dynlens.models (a foundation module may not import a layer"]),
    ("threads.py", "from .models.sae import SAE\n",
     ["dynlens/threads.py:1 imports dynlens.models.sae (a foundation module may not import"]),
    ("utils.py", "def f():\n    import dynlens.analysis.fixed_points\n",
     ["dynlens/utils.py:2 imports dynlens.analysis.fixed_points (a foundation module may not"]),
    ("errors.py", "from dynlens import DynlensError\n",
     ["dynlens/errors.py:1 imports dynlens (a foundation module may not import the top package"]),
    ("cli.py", "from .models import SAE\n", ["dynlens/cli.py is not in a layer"]),
    ("_report.py", "\n", ["dynlens/_report.py is not in a layer"]),
    ("extra/thing.py", "\n", ["dynlens/extra/thing.py is not in a layer"]),
    ("plotting/bad.py", "from ..analysis._prepare import prepare\n",
     [("dynlens/plotting/bad.py:1 imports dynlens.analysis._prepare "
      "(a private module of dynlens.analysis)")]),
    ("plotting/bad.py", "from ..analysis import _cluster\n",
     [("dynlens/plotting/bad.py:1 imports dynlens.analysis._cluster "
      "(a private module of dynlens.analysis)")]),
    ("app/bad.py", "import dynlens.plotting._style as style\n",
     [("dynlens/app/bad.py:1 imports dynlens.plotting._style "
      "(a private module of dynlens.plotting)")]),
    ("models/bad.py", "from .._utils import check_choice\n",
     ["dynlens/models/bad.py:1 imports dynlens._utils (a private module of dynlens)"]),
    ("plotting/bad.py", "from ..analysis.fixed_points import _affine_parts\n",
     [("dynlens/plotting/bad.py:1 imports _affine_parts from dynlens.analysis.fixed_points "
      "(a private name of dynlens.analysis)")]),
    ("data/bad.py", "from ..systems import _matrix\n",
     [("dynlens/data/bad.py:1 imports _matrix from dynlens.systems "
      "(a private name of dynlens.systems)")]),
    ("models/bad.py", "from ..dynamics import _first_tensor\n",
     [("dynlens/models/bad.py:1 imports _first_tensor from dynlens.dynamics "
      "(a private name of dynlens)")]),
    ("systems/bad.py", "from .... import models\n",
     ["dynlens/systems/bad.py:1 makes a relative import beyond the top package"]),
]


@pytest.mark.parametrize("file, source, expected", PLANTED,
                         ids=[f"{f}:{s.strip().splitlines()[-1].strip() if s.strip() else ''}"
                              for f, s, _ in PLANTED])
def test_planted_violation_is_reported(tmp_path, file, source, expected):
    package = _tree(tmp_path, {file: source})
    if "_utils" in source:
        (package / "_utils.py").write_text("")
        expected = [*expected, "dynlens/_utils.py is not in a layer"]
    violations = sorted(layer_violations(package))
    assert len(violations) == len(expected), violations
    for message, start in zip(violations, sorted(expected)):
        assert message.startswith(start), violations


def test_analysis_plot_may_import_plotting_in_its_body(tmp_path):
    package = _tree(tmp_path, {"analysis/compare.py": """\
        class FixedPointComparison:
            def plot(self, ax=None):
                from ..plotting import figures
                return figures

        def plot(comparison):
            import dynlens.plotting.figures
            return dynlens.plotting.figures
        """})
    assert layer_violations(package) == []


@pytest.mark.parametrize("file, source, line", [
    ("analysis/compare.py", "def show():\n    from ..plotting import figures\n", 2),
    ("analysis/compare.py", "from ..plotting import figures\n\ndef plot():\n    pass\n", 1),
    ("analysis/compare.py", "def plot():\n    from ..training import fit\n", 2),
    ("models/sae.py", "def plot():\n    from ..plotting import figures\n", 2),
])
def test_the_plot_exception_is_narrow(tmp_path, file, source, line):
    package = _tree(tmp_path, {file: source})
    violations = layer_violations(package)
    assert len(violations) == 1 and violations[0].startswith(f"dynlens/{file}:{line} imports")


def test_plot_may_not_reach_a_private_plotting_module(tmp_path):
    package = _tree(tmp_path, {
        "analysis/compare.py": "def plot():\n    from ..plotting._style import new_figure\n"})
    assert layer_violations(package) == [
        ("dynlens/analysis/compare.py:2 imports dynlens.plotting._style "
        "(a private module of dynlens.plotting)")]


def test_every_violation_in_a_file_is_reported(tmp_path):
    package = _tree(tmp_path, {"systems/bad.py": """\
        import os
        import dynlens.data
        from ..training import fit
        from ..analysis import _prepare
        """})
    assert layer_violations(package) == [
        "dynlens/systems/bad.py:2 imports dynlens.data (systems may not import data)",
        "dynlens/systems/bad.py:3 imports dynlens.training.fit (systems may not import training)",
        ("dynlens/systems/bad.py:4 imports dynlens.analysis._prepare "
        "(systems may not import analysis)"),
        ("dynlens/systems/bad.py:4 imports dynlens.analysis._prepare "
        "(a private module of dynlens.analysis)"),
    ]
