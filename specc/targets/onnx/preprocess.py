"""A trained run's scaling, written into the direct ONNX graph around the model's layers.

``specc train`` fits a shift and a scale per feature for the float inputs it standardised and the
regression targets it scaled; the exported model takes raw inputs and answers in the targets'
units, as ``specc predict`` does.  The arithmetic is the PyTorch route's (its
``WithPreprocessing`` module) op for op: ``(x - shift) / scale`` before the first layer and
``y * scale + shift`` after the last, in the value's own dtype, so both routes round alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .builder import Builder, Unsupported

# the float dtypes numpy holds, so constants of the value's own dtype (bfloat16 has none)
NUMPY_FLOATS = ("float16", "float32", "float64")


@dataclass(frozen=True)
class Affine:
    """One value's fitted scaling; ``shift`` and ``scale`` broadcast over its per-sample dims."""

    shift: np.ndarray
    scale: np.ndarray


@dataclass
class Scaling:
    """The scaling of a run: graph input -> its input scaling, graph output -> its targets' scaling."""

    inputs: Mapping[str, Affine] = field(default_factory=dict)
    outputs: Mapping[str, Affine] = field(default_factory=dict)

    def before(self, b: Builder, name: str, dtype: str) -> str:
        """The value the first layers read for graph input ``name``: (x - shift) / scale."""
        s = self.inputs.get(name)
        if s is None:
            return name
        _numpy_float(name, dtype)
        shifted = b.op("Sub", [name, b.const(s.shift, dtype)], f"{name}/scale")
        return str(b.op("Div", [shifted, b.const(s.scale, dtype)], f"{name}/scale"))

    def after(self, b: Builder, name: str, value: str, dtype: str) -> str:
        """Graph output ``name`` from the last layer's ``value``: y * scale + shift."""
        s = self.outputs.get(name)
        if s is None:
            return value
        _numpy_float(name, dtype)
        scaled = b.op("Mul", [value, b.const(s.scale, dtype)], f"{name}/unscale")
        return str(b.op("Add", [scaled, b.const(s.shift, dtype)], f"{name}/unscale"))


def _numpy_float(name: str, dtype: str) -> None:
    if dtype not in NUMPY_FLOATS:
        raise Unsupported(f"the run scales '{name}', a {dtype} value, and the direct target scales only "
                          f"{', '.join(NUMPY_FLOATS)} values")
