"""Random example inputs of a spec's declared shapes and dtypes, with numpy alone.

Both export routes and the PyTorch build read these rules, so this module imports neither torch
nor onnx: ``specc[torch]`` (no onnx) and ``specc[deploy]`` (no torch) each load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.read import padded_ids, padding_mask
from ..shapes.dims import evaluate
from ..validate.indices import index_bounds, index_high, padding_id

if TYPE_CHECKING:
    from .verify import Signature


def padded_along_last(spec: Any, name: str, bounds: list[Any]) -> bool:
    """Whether made-up ids of input ``name`` come padded on a tail of their last dim: an Embedding
    reading them has a padding_idx, and the batch leads (a (T, B) input's last dim is the batch)."""
    t = spec.graph.inputs[name]
    return padding_id(bounds) is not None and t.rank >= 2 and spec.graph.batch in (None, str(t.shape[0]))


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
            bounds = index_bounds(spec.graph, t.name)
            high = index_high(bounds, env)
            out[t.name] = rng.integers(0, high, shape).astype(t.dtype)
            if padded_along_last(spec, t.name, bounds):
                out[t.name] = padded_ids(out[t.name], padding_id(bounds), high, rng)
    return out
