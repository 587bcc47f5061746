"""Entry points read as their named steps: no function in dynlens/ runs past 80 lines of code.

Lines of code exclude the docstring, blank lines and comment lines. A function that must be
longer says why in a comment on its ``def`` line starting ``# long:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dynlens

LIMIT = 80
PACKAGE = Path(dynlens.__file__).resolve().parent


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    body = node.body
    doc: set[int] = set()
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        doc = set(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for i in range(node.lineno, node.end_lineno + 1)
               if i not in doc and lines[i - 1].strip()
               and not lines[i - 1].lstrip().startswith("#"))


def long_functions(root: Path, limit: int = LIMIT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = code_lines(node, lines)
                if n > limit and "# long:" not in lines[node.lineno - 1]:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} "
                                 f"{node.name} ({n} lines)")
    return found


def test_no_function_in_the_package_is_longer_than_80_lines_of_code():
    assert long_functions(PACKAGE) == []


def test_the_counter_skips_docstrings_blank_lines_and_comments_and_honours_a_note(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    source = f'def long():\n    """Doc\n\n    more doc."""\n    # comment\n\n{body}\n'
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(source)
    assert long_functions(tmp_path / "pkg") == ["pkg/m.py:1 long (81 lines)"]
    (tmp_path / "pkg" / "m.py").write_text(source.replace("def long():",
                                                          "def long():  # long: a table"))
    assert long_functions(tmp_path / "pkg") == []
    (tmp_path / "pkg" / "m.py").write_text(source.replace("    x79 = 79\n", ""))
    assert long_functions(tmp_path / "pkg") == []
