"""specc: a compiler for declarative deep-learning model specs.

    >>> import specc
    >>> spec = specc.load("specs/course_cnn.yaml")
    >>> spec.ok, spec.check()["total_params"]
"""

from __future__ import annotations

from .pipeline import load, loads
from .spec import Spec, SpecInvalid
from .version import __version__

__all__ = ["Spec", "SpecInvalid", "__version__", "build", "load", "loads", "train"]


def build(spec: Spec | str, seed: int | None = None, overrides: list[str] | None = None):  # type: ignore[no-untyped-def]
    """The ``torch.nn.Module`` of a spec (a Spec or a path), built from its generated source."""
    from .backends.torch_build import build_module

    if not isinstance(spec, Spec):
        spec = load(spec, overrides)
    return build_module(spec.require_ok(), seed)


def train(spec: Spec | str, run: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """Train a spec with specc's loop (see :func:`specc.backends.train.train`); returns its Result."""
    from .backends.train import train as _train

    return _train(spec, run, **kwargs)
