"""The model file of an export, whichever route made it: the result record, specc's metadata,
output axes named as the spec names them, and the write (weights inline, or past
``EXTERNAL_ABOVE`` in a side file, published atomically after verification).  Imports no torch:
the direct route uses it too, handing its weights over as numpy arrays that go to disk without
passing through protobuf."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..atomic import move_into
from ..targets.onnx.builder import tensor_header
from .triton import drop_stale_weights
from .verify import Signature, VerifyReport

DEFAULT_OPSET = 18
# Models past this size keep their weights in a side file (ONNX external data): protobuf cannot
# hold 2 GiB at all, and well below that ONNX Runtime already loads a side file much faster (VGG-11,
# 531 MB: 0.66 s against 1.7 s inline, which it parses and copies before building its tensors).
EXTERNAL_ABOVE = 256 * 2**20
# Where each tensor starts in a side file: page-aligned, so that a reader can map it in place.
ALIGN = 4096


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


def save(model: onnx.ModelProto, folder: Path, name: str,
         tensors: Mapping[str, np.ndarray] | None = None) -> list[Path]:
    """Write the model into ``folder``, with ``tensors`` (initialisers kept as numpy arrays, outside
    the protobuf) written straight from their memory: inline, or in a weights file past
    ``EXTERNAL_ABOVE`` (the returned list's second path).

    The weights file gets a fresh name on every export (``model.onnx.<token>.data``): the
    model file is replaced last, so until that rename the old model still reads its own old
    weights, and a kill between the two renames leaves a consistent pair either way."""
    target = folder / name
    tensors = dict(tensors or {})
    if model.ByteSize() + sum(a.nbytes for a in tensors.values()) < EXTERNAL_ABOVE:
        with open(target, "wb") as f:
            if tensors:
                _write_inline(f, model, tensors)
            else:  # the weights are inside already (the torch route's model)
                f.write(model.SerializeToString())
        return [target]
    location = f"{name}.{secrets.token_hex(6)}.data"
    if not tensors:  # a model with its weights inside (the torch route's)
        onnx.save_model(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=1024)
        return [target, folder / location]
    headers = []
    with open(folder / location, "wb") as f:
        for key, arr in tensors.items():
            header = tensor_header(key, arr)
            headers.append(header)
            if arr.size == 0:  # nothing to point at (and ONNX Runtime refuses a read of 0 bytes)
                header.raw_data = b""
                continue
            f.write(bytes(-f.tell() % ALIGN))
            header.data_location = onnx.TensorProto.EXTERNAL
            for k, v in (("location", location), ("offset", f.tell()), ("length", arr.nbytes)):
                header.external_data.add(key=k, value=str(v))
            f.write(_raw(arr))
    model.graph.initializer.extend(headers)
    try:
        with open(target, "wb") as f:
            f.write(model.SerializeToString())
    finally:
        del model.graph.initializer[-len(headers):]
    return [target, folder / location]


def _raw(arr: np.ndarray) -> np.ndarray:
    """The array's bytes as ONNX stores them (little-endian, C order), without a copy where
    they already are."""
    if arr.dtype.byteorder == ">":
        arr = arr.byteswap().view(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


# Field numbers of the protobuf messages the inline writer frames by hand.
_GRAPH = onnx.ModelProto.DESCRIPTOR.fields_by_name["graph"].number
_INITIALIZER = onnx.GraphProto.DESCRIPTOR.fields_by_name["initializer"].number
_RAW_DATA = onnx.TensorProto.DESCRIPTOR.fields_by_name["raw_data"].number


def _write_inline(f: Any, model: onnx.ModelProto, tensors: Mapping[str, np.ndarray]) -> None:
    """``model`` with ``tensors`` added to its graph's initialisers, the bytes protobuf would write
    for the whole message, but each tensor's data copied from its array to the file directly:
    serialising the message would copy every weight twice first (VGG-11: seconds)."""
    entries = []
    for key, arr in tensors.items():
        head = tensor_header(key, arr).SerializeToString() + _tag(_RAW_DATA) + _varint(arr.nbytes)
        entries.append((_tag(_INITIALIZER) + _varint(len(head) + arr.nbytes) + head, arr))
    graph_head = _fields(model.graph, lambda n: n <= _INITIALIZER)
    graph_tail = _fields(model.graph, lambda n: n > _INITIALIZER)
    size = len(graph_head) + sum(len(head) + arr.nbytes for head, arr in entries) + len(graph_tail)
    f.write(_fields(model, lambda n: n < _GRAPH) + _tag(_GRAPH) + _varint(size) + graph_head)
    for head, arr in entries:
        f.write(head)
        f.write(_raw(arr))
    f.write(graph_tail + _fields(model, lambda n: n > _GRAPH))


def _fields(message: Any, keep: Callable[[int], bool]) -> bytes:
    """The serialised fields of ``message`` whose numbers ``keep`` takes (protobuf writes fields
    in the order of their numbers, so the pieces concatenate to the whole message)."""
    part = type(message)()
    part.CopyFrom(message)
    for fd, _ in message.ListFields():
        if not keep(fd.number):
            part.ClearField(fd.name)
    return part.SerializeToString()


def _tag(field_number: int) -> bytes:
    return _varint(field_number << 3 | 2)  # wire type 2: length-delimited


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def publish(files: list[Path], dest_dir: Path) -> None:
    """Move verified files into place, weights first so the model never points at nothing; then
    drop the weights files earlier exports of this model left (only specc's own names)."""
    for f in reversed(files):
        move_into(f, dest_dir / f.name)
    drop_stale_weights(dest_dir, files[0].name, {f.name for f in files})
