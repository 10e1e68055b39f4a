"""Max pools' near-ties in the comparison with PyTorch: ONNX Runtime's picks, handed to the reference.

A max pool's indices output says where each window's maximum was.  Where two elements of a
window differ only by rounding (0.31670734 against 0.31670675 in SegNet at 360x480: the two
runtimes' convolutions round differently), ONNX Runtime and PyTorch may pick different ones,
and a MaxUnpool then puts the value in another place: the outputs differ at a few hundred
positions although both models are right.  So the PyTorch reference runs with ONNX Runtime's
pick wherever that element is a maximum of the window in PyTorch's own arithmetic too (within
the verification's tolerances), and keeps its own pick everywhere else, where a wrong lowering
still shows.  How many picks were taken over is reported.

Imports torch: used by the direct route's verification against PyTorch only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from ..targets.onnx.lower import Lowered
from .onnx_files import save
from .ort import create_session


class PoolPicks:
    """ONNX Runtime's indices of every max pool of ``lowered`` (from a probe model that also
    outputs them), fed to the PyTorch module's pools by forward hooks."""

    def __init__(self, lowered: Lowered, folder: Path, name: str, *, rtol: float, atol: float) -> None:
        probe = onnx.ModelProto()
        probe.CopyFrom(lowered.proto)
        self.values = list(dict.fromkeys(v for _, v in lowered.picks))
        probe.graph.output.extend(helper.make_tensor_value_info(v, TensorProto.INT64, None) for v in self.values)
        folder.mkdir(exist_ok=True)
        files = save(probe, folder, name, lowered.tensors)
        self.session = create_session(files[0], "cpu", checked=True, quiet=True, few_runs=True)
        self.order = list(lowered.picks)  # (module path, value) in the order the model computes them
        self.rtol, self.atol = rtol, atol
        self.taken = 0  # positions where the reference took ONNX Runtime's pick
        self._queue: dict[int, list[np.ndarray]] = {}
        self._paths: dict[int, str] = {}

    def attach(self, module: torch.nn.Module) -> None:
        for path in dict.fromkeys(p for p, _ in self.order):
            pool = module.get_submodule(path)
            self._paths[id(pool)] = path
            pool.register_forward_hook(self._hook)

    def load(self, feeds: dict[str, np.ndarray]) -> None:
        """Run the probe on ``feeds``; the next forward pass of the module uses its picks."""
        got = dict(zip(self.values, self.session.run(self.values, feeds)))
        self._queue = {}
        by_path = {path: pool for pool, path in self._paths.items()}
        for path, value in self.order:  # a pool applied twice (use:) gets its calls' picks in turn
            self._queue.setdefault(by_path[path], []).append(got[value])

    def _hook(self, pool: torch.nn.Module, inputs: tuple[Any, ...], output: Any) -> Any:
        queue = self._queue.get(id(pool))
        if not queue:
            return output
        values, ours = output
        theirs = torch.from_numpy(queue.pop(0)).to(ours.device)
        if theirs.shape != ours.shape:
            return output  # the shapes' own check reports this
        n = _window_rank(pool, values)
        x = inputs[0].flatten(-n)  # PyTorch numbers a pool's indices within each plane
        inside = (theirs >= 0) & (theirs < x.shape[-1])
        at = theirs.clamp(0, x.shape[-1] - 1).flatten(-n)
        picked = x.gather(-1, at).view_as(values)
        fair = inside & (theirs != ours) & torch.isclose(picked, values, rtol=self.rtol, atol=self.atol)
        self.taken += int(fair.sum())
        return values, torch.where(fair, theirs, ours)

    def note(self) -> str | None:
        if not self.taken:
            return None
        return (f"max pools: at {self.taken} position{'s' if self.taken != 1 else ''} ONNX Runtime picked another of "
                "two maxima equal up to rounding than PyTorch did; the comparison ran PyTorch with ONNX "
                "Runtime's picks there (each checked to be a maximum in PyTorch's values too)")


def _window_rank(pool: torch.nn.Module, values: torch.Tensor) -> int:
    """How many dims the pool's window spans (1, 2 or 3 by its kind: MaxPool1d, 2d, 3d)."""
    kind = type(pool).__name__
    return int(kind[-2]) if kind[-2:-1].isdigit() else values.dim() - 2
