"""specc: a compiler for declarative deep-learning model specs.

    >>> import specc
    >>> spec = specc.load("specs/course_cnn.yaml")
    >>> spec.ok, spec.check()["total_params"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .pipeline import load, loads
    from .spec import Spec, SpecInvalid
else:
    # Importing the subpackage specc.load (the loader) the first time sets the package's
    # attribute `load`, hiding the function: import it here, before anything else can, and drop
    # the name, so that `specc.load` is the function (see __getattr__).
    from . import load
    del load

__all__ = ["Spec", "SpecInvalid", "__version__", "build", "load", "loads", "train"]

# Imported when first used: every module of the package imports this one first, and
# `specc --help` or `specc --version` need no pipeline (nor Pydantic).
_LAZY = {"load": "pipeline", "loads": "pipeline", "Spec": "spec", "SpecInvalid": "spec"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def build(spec: Spec | str, seed: int | None = None, overrides: list[str] | None = None):  # type: ignore[no-untyped-def]
    """The ``torch.nn.Module`` of a spec (a Spec or a path), built from its generated source."""
    from .backends.torch_build import build_module
    from .pipeline import load
    from .spec import Spec

    if not isinstance(spec, Spec):
        spec = load(spec, overrides, data=False)  # building reads no data
    return build_module(spec.require_ok(), seed)


def train(spec: Spec | str, run: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """Train a spec with specc's loop (see :func:`specc.backends.train.train`); returns its Result."""
    from .backends.train import train as _train

    return _train(spec, run, **kwargs)
