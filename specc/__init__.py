"""specc: a compiler for declarative deep-learning model specs.

    >>> import specc
    >>> spec = specc.load("specs/course_cnn.yaml")
    >>> spec.ok, spec.check()["total_params"]
"""

from __future__ import annotations

__version__ = "0.1.0"

from .pipeline import Spec, SpecInvalid, load, loads

__all__ = ["Spec", "SpecInvalid", "__version__", "load", "loads"]
