"""The floor plan rules that import-linter cannot see (it checks packages; the sample app is not one)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = {"config", "core", "overview", "releases", "builds", "models_registry", "integrations"}


def imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_sample_app_imports_nothing_of_ours() -> None:
    sources = sorted((ROOT / "examples").rglob("*.py"))
    assert sources, "the sample app's sources were not found"
    offenders = {str(p.relative_to(ROOT)): sorted(imported_top_levels(p) & OURS) for p in sources}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_import_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import os\nfrom releases.models import Release\n")
    assert imported_top_levels(sample) & OURS == {"releases"}
