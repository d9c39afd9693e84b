"""Components never import ray: only kubesim/runtime/ does."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "kubesim"
ALLOWED = ROOT / "runtime"


def ray_imports(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name == "ray" or a.name.startswith("ray.") for a in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "ray" or node.module.startswith("ray."):
                lines.append(node.lineno)
    return lines


def test_checker_sees_both_import_forms(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nimport ray.util\nfrom ray import remote\n")
    assert ray_imports(bad) == [2, 3]


def test_no_module_outside_runtime_imports_ray():
    offenders = [
        f"{path.relative_to(ROOT.parent)}:{line}"
        for path in sorted(ROOT.rglob("*.py"))
        if ALLOWED not in path.parents
        for line in ray_imports(path)
    ]
    assert offenders == [], f"modules outside kubesim/runtime/ import ray: {offenders}"


def test_only_the_ray_runtime_imports_ray_inside_runtime():
    offenders = [
        str(path.relative_to(ROOT.parent))
        for path in sorted(ALLOWED.rglob("*.py"))
        if (ALLOWED / "ray") not in path.parents and ray_imports(path)
    ]
    assert offenders == []
