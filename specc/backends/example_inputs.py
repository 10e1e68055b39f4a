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

if TYPE_CHECKING:
    from .verify import Signature


def vocabulary_bound(spec: Any, name: str) -> int:
    """Upper bound for random integer inputs: the smallest vocabulary that reads them (ids at or
    above it would index past an embedding table)."""
    highs = [n.result.args.get("num_embeddings") for n in spec.graph.leaves()
             if n.result is not None and name in n.inputs]
    found = [h for h in highs if isinstance(h, int)]
    return min(found) if found else 2


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
            out[t.name] = rng.integers(0, vocabulary_bound(spec, t.name), shape).astype(t.dtype)
    return out
