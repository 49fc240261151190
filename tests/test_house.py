"""The house rules of shared/GUIDE.md, checked on the code as it is.

- Logic modules (everything under ``assets/`` but the wiring: ``defs.py``, ``checks.py``,
  ``config.py`` and ``assets/common/``) import no Dagster, directly or through another import.
- No module outside the synthetic generator is over 400 lines.
- No asset or check function body is over 60 lines: bodies wire, logic lives in functions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assets", "resources", "pipeline_defs", "sensors", "schedules", "benchmarks", "demo")
WIRING_NAMES = {"defs.py", "checks.py", "config.py"}
MAX_MODULE_LINES = 400
MAX_BODY_LINES = 60
DAGSTER_DECORATORS = {"asset", "multi_asset", "asset_check", "multi_asset_check", "graph_asset"}


def _modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def _dotted(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def logic_modules() -> list[str]:
    return [
        _dotted(p)
        for p in _modules("assets")
        if p.name not in WIRING_NAMES and "common" not in p.relative_to(ROOT / "assets").parts
    ]


def test_logic_modules_import_no_dagster() -> None:
    """All logic modules imported together in a fresh interpreter load no ``dagster*`` module
    (one import pulling it in, directly or through a resource, would show here)."""
    modules = logic_modules()
    assert len(modules) > 30
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('\\n'.join(sorted(k for k in sys.modules if k.split('.')[0].startswith('dagster'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == [], f"logic modules pulled in Dagster: {loaded[:5]}"


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules(*PACKAGES)
        if "generator" not in p.parts and (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring is for the UI, not logic
    if not body:
        return 0
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


@pytest.mark.parametrize("path", _modules(*PACKAGES), ids=lambda p: str(p.relative_to(ROOT)))
def test_asset_and_check_bodies_are_short(path: Path) -> None:
    tree = ast.parse(path.read_text())
    long = [
        f"{node.name} ({_body_lines(node)} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(_decorator_name(d) in DAGSTER_DECORATORS for d in node.decorator_list)
        and _body_lines(node) > MAX_BODY_LINES
    ]
    assert not long, f"asset or check bodies over {MAX_BODY_LINES} lines: {long}"
