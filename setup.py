"""Build hook: ship the repository-root ``templates/`` folder inside the package.

``templates/`` sits at the root by design (DESIGN.md), so setuptools' package discovery
never sees it.  Everything else about the package lives in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT / "templates"


class BuildWithTemplates(build_py):
    """build_py that also copies templates/ to <build>/specc/templates/ (what the wheel packs)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the source tree's templates/ directly
            return
        target = Path(self.build_lib) / "specc" / "templates"
        if TEMPLATES.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(TEMPLATES, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if TEMPLATES.is_dir() and not self.editable_mode:
            base = Path(self.build_lib) / "specc" / "templates"
            outputs += [str(base / f.relative_to(TEMPLATES)) for f in TEMPLATES.rglob("*") if f.is_file()]
        return outputs


setup(cmdclass={"build_py": BuildWithTemplates})
