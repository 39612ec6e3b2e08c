"""Module docstrings stay short: the module's job, the paper or code it follows, and where the docs say the rest.

Read with ast, nothing imported. The longer notes belong in docs/ (docs/modules.md has a section per module).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "stylenorm"
MAX_LINES = 10


def docstring_lines(path: Path) -> int:
    """Lines of the module docstring (0 when there is none), counted from its opening to its closing quotes."""
    body = ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.end_lineno - first.lineno + 1
    return 0


def test_module_docstrings_are_at_most_ten_lines():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert modules, f"no modules found under {PACKAGE}"
    too_long = {path: lines for path in modules if (lines := docstring_lines(path)) > MAX_LINES}
    listing = "\n".join(
        f"  {path.relative_to(PACKAGE.parent)}: {lines} lines"
        for path, lines in sorted(too_long.items(), key=lambda item: -item[1])
    )
    assert not too_long, (
        f"module docstrings longer than {MAX_LINES} lines:\n{listing}\n"
        "Keep the module's job, the paper or code it follows and a pointer to the docs; the rest belongs in docs/ "
        "(docs/modules.md has a section per module; measured numbers go to docs/, e.g. docs/performance.md)."
    )
