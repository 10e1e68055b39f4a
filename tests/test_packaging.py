"""A non-editable install must carry templates/ (kept at the repository root) as specc/templates/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a build reads: copied to a scratch folder so the shared checkout gets no build/ or egg-info.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "specc", "templates")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}")
    wheels = list(out.glob("specc-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_ships_every_template(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = [p for p in (ROOT / "templates").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert templates, "templates/ should hold at least its README"
    for path in templates:
        assert f"specc/templates/{path.relative_to(ROOT / 'templates').as_posix()}" in names
    # Every module of the source tree (a folder without __init__.py is silently left out by find).
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "specc").rglob("*.py") if "__pycache__" not in p.parts}
    assert sources - names == set(), "modules missing from the wheel"
    assert not any(n.startswith(("tests/", "specs/", "templates/")) for n in names), "only the package is shipped"


def test_installed_wheel_finds_its_templates(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # Run from a folder with no checkout in sight, so only the installed copy can be imported.
    code = ("import specc, specc.resources as r; d = r.templates_dir(); "
            "print(specc.__file__); print(d); assert (d / 'README.md').is_file(); "
            # the support classes generated modules carry are read from the installed package's files
            "from specc.targets.torch import support; "
            "assert all(support.text(n).strip() for n in support.NAMES)")
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    module_file, templates = proc.stdout.split()
    assert Path(module_file).is_relative_to(target)
    assert Path(templates) == target / "specc" / "templates"


def test_source_checkout_finds_root_templates() -> None:
    from specc.resources import templates_dir

    assert templates_dir() in (ROOT / "templates", ROOT / "specc" / "templates")
    assert (templates_dir() / "README.md").is_file()
