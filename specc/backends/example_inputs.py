"""Random example inputs of a spec's declared shapes and dtypes, with numpy alone.

Both export routes and the PyTorch build read these rules, so this module imports neither torch
nor onnx: ``specc[torch]`` (no onnx) and ``specc[deploy]`` (no torch) each load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.read import padding_mask
from ..shapes.dims import evaluate
from ..validate.indices import index_bounds, index_high

if TYPE_CHECKING:
    from .verify import Signature


def example_arrays(spec: Any, sig: Signature, env: Mapping[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs of the declared shapes and dtypes at sizes ``env``."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for t in sig.inputs:
        shape = tuple(evaluate(d, env) for d in t.shape)
        if t.dtype.startswith(("float", "bfloat")):
            out[t.name] = rng.standard_normal(shape).astype(np.float32 if t.dtype == "bfloat16" else t.dtype)
        elif t.dtype == "bool":
            out[t.name] = padding_mask(shape, rng)
        else:
            high = index_high(index_bounds(spec.graph, t.name), env)
            out[t.name] = rng.integers(0, high, shape).astype(t.dtype)
    return out
