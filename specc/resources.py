"""Where specc's data files are, in a wheel install and in a source checkout alike.

The repository keeps ``templates/`` at its root; the build copies it into the package as
``specc/templates/`` (see ``setup.py``).  Nothing here imports anything heavy.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The folder holding the Jinja2 templates.

    An installed wheel has them as package data; a source checkout (or an editable
    install) has them at the repository root, next to the package.
    """
    for candidate in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"specc's templates/ folder is missing (looked in {_PACKAGE / 'templates'} and "
        f"{_PACKAGE.parent / 'templates'}); reinstall specc")
