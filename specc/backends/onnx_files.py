"""The model file of an export, whichever route made it: the result record, specc's metadata,
output axes named as the spec names them, and the write (external data past protobuf's 2 GiB,
published atomically after verification).  Imports no torch: the direct route uses it too."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from ..atomic import atomic_write
from .triton import drop_stale_weights
from .verify import Signature, VerifyReport

DEFAULT_OPSET = 18
# protobuf cannot serialise a message over 2 GiB; bigger models keep weights in a side file
EXTERNAL_ABOVE = 1_800_000_000


@dataclass
class ExportResult:
    path: Path | None
    exporter: str
    opset: int
    seconds: float  # time spent inside the torch exporter
    size_bytes: int
    sizes: dict[str, int]  # symbol sizes the model was traced with
    verification: VerifyReport | None = None
    notes: list[str] = field(default_factory=list)  # e.g. why the first exporter was not used
    triton: Path | None = None
    requirements: list[str] = field(default_factory=list)  # sizes the model's layers need of its symbols

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path) if self.path else None, "exporter": self.exporter, "opset": self.opset,
                "export_seconds": round(self.seconds, 4), "size_bytes": self.size_bytes, "sizes": self.sizes,
                "verification": self.verification.to_json() if self.verification else None,
                "notes": self.notes, "triton": str(self.triton) if self.triton else None,
                "requirements": self.requirements}


def stamp(model: onnx.ModelProto, meta: Mapping[str, str]) -> None:
    """Set specc's metadata_props, keeping whatever the exporter recorded."""
    keep = [(p.key, p.value) for p in model.metadata_props if p.key not in meta]
    del model.metadata_props[:]
    for key, value in [*keep, *meta.items()]:
        model.metadata_props.add(key=key, value=value)


def name_output_dims(model: onnx.ModelProto, sig: Signature) -> None:
    """Declare each output axis the way the spec knows it where the exporter left it unnamed or
    auto-named (``Reshapea_dim_2``, ``unk__1``): fixed sizes as numbers, symbolic ones by name.
    A number the exporter wrote is never replaced: that is a frozen axis, for verification to report."""
    by_name = {t.name: t for t in sig.outputs}
    for out in model.graph.output:
        t = by_name.get(out.name)
        shape = out.type.tensor_type.shape
        if t is None or len(shape.dim) != len(t.shape):
            continue
        for d, want in zip(shape.dim, t.shape):
            if d.HasField("dim_value"):
                continue
            if isinstance(want, int):
                d.dim_value = want
            else:
                d.dim_param = str(want)


def save(model: onnx.ModelProto, folder: Path, name: str) -> list[Path]:
    """Write the model (and its weights file when too big for one protobuf) into ``folder``.

    The weights file gets a fresh name on every export (``model.onnx.<token>.data``): the
    model file is replaced last, so until that rename the old model still reads its own old
    weights, and a kill between the two renames leaves a consistent pair either way."""
    target = folder / name
    if model.ByteSize() < EXTERNAL_ABOVE:
        target.write_bytes(model.SerializeToString())
        return [target]
    location = f"{name}.{secrets.token_hex(6)}.data"
    onnx.save_model(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=1024)
    return [target, folder / location]


def publish(files: list[Path], dest_dir: Path) -> None:
    """Move verified files into place, weights first so the model never points at nothing; then
    drop the weights files earlier exports of this model left (only specc's own names)."""
    for f in reversed(files):
        atomic_write(dest_dir / f.name, lambda tmp, src=f: shutil.copyfile(src, tmp))
    drop_stale_weights(dest_dir, files[0].name, {f.name for f in files})
