"""Scaling of inputs and regression targets, fitted on the training split only.

Statistics are per feature: over the batch dim and every dim the spec leaves symbolic. A
constant feature gets scale 1, so it passes through shifted to 0 instead of blowing up to 10⁶.
The fitted state is saved in the run (safetensors + JSON) and applied by predict, evaluate and
the exported ONNX graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...validate.train_config import scaling as resolve

EPS = 1e-12


@dataclass
class Scaler:
    kind: str  # standardize or minmax
    shift: np.ndarray  # x' = (x - shift) / scale
    scale: np.ndarray

    @classmethod
    def fit(cls, kind: str, x: np.ndarray, dims: list[Any] | None = None) -> Scaler:
        """Statistics per feature: over the batch and over every dim the spec leaves symbolic
        (``dims``, batch first), which stay as size 1: a (B, T, F) sequence gets one shift per
        feature for every T, not one per position of the training data's T."""
        x = x.astype(np.float64)
        axes = (0, *(i for i in range(1, x.ndim) if dims is not None and i < len(dims)
                     and not isinstance(dims[i], int)))
        if kind == "standardize":
            shift, scale = x.mean(axes, keepdims=True)[0], x.std(axes, keepdims=True)[0]
        else:
            low = x.min(axes, keepdims=True)[0]
            shift, scale = low, x.max(axes, keepdims=True)[0] - low
        scale = np.where(scale > EPS, scale, 1.0)  # a constant feature: leave its spread alone
        return cls(kind, shift.astype(np.float32), scale.astype(np.float32))

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.shift) / self.scale).astype(np.float32)

    def invert(self, y: np.ndarray) -> np.ndarray:
        return (y * self.scale + self.shift).astype(np.float32)


@dataclass
class Preprocessing:
    inputs: dict[str, Scaler]
    target: Scaler | None
    kinds: dict[str, str]
    target_kind: str
    # a loss per output: each output's targets scaled on their own (regressions standardised, labels kept)
    outputs: dict[str, Scaler | None] | None = None
    output_kinds: dict[str, str] | None = None

    @classmethod
    def fit(cls, cfg: dict[str, Any], inputs: dict[str, np.ndarray],
            targets: np.ndarray | dict[str, np.ndarray]) -> Preprocessing:
        kinds, target_kind = resolve(cfg)
        scalers = {n: Scaler.fit(k, inputs[n], cfg["inputs"][n]["shape"]) for n, k in kinds.items() if k != "none"}
        shapes = cfg.get("outputs", {})
        if isinstance(targets, dict):
            from ...validate.train_config import head

            output_kinds = {n: resolve(head(cfg, n))[1] for n in cfg["heads"]}  # in the order of outputs:
            outputs = {n: Scaler.fit(k, targets[n], shapes.get(n)) if k != "none" else None
                       for n, k in output_kinds.items()}
            return cls(scalers, None, kinds, "per output", outputs, output_kinds)
        first = next(iter(shapes.values()), None)
        target = Scaler.fit(target_kind, targets, first) if target_kind != "none" else None
        return cls(scalers, target, kinds, target_kind)

    def scaler(self, output: str | None = None) -> Scaler | None:
        """The targets' scaler: the one target's, or (several outputs) that output's."""
        return self.target if output is None or self.outputs is None else self.outputs.get(output)

    def apply_inputs(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {n: self.inputs[n].apply(x) if n in self.inputs else x for n, x in inputs.items()}

    def apply_targets(self, y: np.ndarray | dict[str, np.ndarray]) -> Any:
        if isinstance(y, dict):
            return {n: self.apply_targets_of(n, v) for n, v in y.items()}
        return self.target.apply(y) if self.target is not None else y

    def apply_targets_of(self, output: str, y: np.ndarray) -> np.ndarray:
        s = self.scaler(output)
        return s.apply(y) if s is not None else y

    def invert_outputs(self, y: np.ndarray, output: str | None = None) -> np.ndarray:
        s = self.scaler(output)
        return s.invert(y) if s is not None else y

    def describe(self) -> dict[str, str]:
        out = {f"input {n}": k for n, k in self.kinds.items()}
        if self.output_kinds is not None:
            out.update({f"targets {n}": k for n, k in self.output_kinds.items()})
        else:
            out["targets"] = self.target_kind
        return out

    # -- saved form: arrays for safetensors, the rest as JSON ----------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for n, s in self.inputs.items():
            out[f"inputs.{n}.shift"], out[f"inputs.{n}.scale"] = s.shift, s.scale
        if self.target is not None:
            out["target.shift"], out["target.scale"] = self.target.shift, self.target.scale
        for n, t in (self.outputs or {}).items():
            if t is not None:
                out[f"outputs.{n}.shift"], out[f"outputs.{n}.scale"] = t.shift, t.scale
        return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}

    def meta(self) -> dict[str, Any]:
        if self.output_kinds is not None:
            return {"inputs": self.kinds, "targets": self.target_kind, "outputs": self.output_kinds}
        return {"inputs": self.kinds, "targets": self.target_kind}

    @classmethod
    def restore(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Preprocessing:
        scalers = {n: Scaler(k, arrays[f"inputs.{n}.shift"], arrays[f"inputs.{n}.scale"])
                   for n, k in meta["inputs"].items() if k != "none"}
        if "outputs" in meta:
            outputs = {n: Scaler(k, arrays[f"outputs.{n}.shift"], arrays[f"outputs.{n}.scale"]) if k != "none"
                       else None for n, k in meta["outputs"].items()}
            return cls(scalers, None, dict(meta["inputs"]), meta["targets"], outputs, dict(meta["outputs"]))
        target = (Scaler(meta["targets"], arrays["target.shift"], arrays["target.scale"])
                  if meta["targets"] != "none" else None)
        return cls(scalers, target, dict(meta["inputs"]), meta["targets"])
