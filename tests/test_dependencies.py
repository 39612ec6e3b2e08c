"""Every third-party package the code imports is declared in pyproject.toml (not only brought in by
another dependency, which may drop it in any release)."""

import ast
import re
import sys
from importlib.metadata import packages_distributions

import pytest

from conftest import REPO_ROOT

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")


def declared_distributions() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {normalize(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]) for requirement in requirements}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_modules() -> dict[str, str]:
    """Top-level module -> first file importing it, over the package, the scripts and train.py."""
    files = [*sorted((REPO_ROOT / "stylenorm").rglob("*.py")), *sorted((REPO_ROOT / "scripts").rglob("*.py"))]
    files.append(REPO_ROOT / "train.py")
    found: dict[str, str] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(REPO_ROOT)))
    return found


def test_every_imported_third_party_package_is_declared():
    declared = declared_distributions()
    providers = packages_distributions()
    ours = {"stylenorm", "__future__"} | {init.parent.name for init in (REPO_ROOT / "scripts").glob("*/__init__.py")}
    missing = []
    for module, where in sorted(imported_top_level_modules().items()):
        if module in sys.stdlib_module_names or module in ours:
            continue
        distributions = {normalize(d) for d in providers.get(module, [])}
        if not distributions & declared:
            missing.append(
                f"{module} (imported in {where}; provided by {sorted(distributions) or 'nothing installed'})"
            )
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)
