"""A Triton Inference Server model-repository entry for an exported ONNX model.

Layout (https://docs.nvidia.com/deeplearning/triton-inference-server/, "Model Repository")::

    DIR/<name>/config.pbtxt
    DIR/<name>/1/model.onnx

The config is written from the ONNX model itself (the deployable truth): names, data types,
and dims. When every input and output starts with the same symbolic axis, that axis is the
batch: Triton wants it left out of ``dims`` and gets ``max_batch_size`` and dynamic batching
instead. Other symbolic axes are ``-1``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import onnx
from onnx import TensorProto

from ..atomic import atomic_write, make_folder

DEFAULT_MAX_BATCH = 64

_TYPES = {
    TensorProto.FLOAT: "TYPE_FP32", TensorProto.FLOAT16: "TYPE_FP16", TensorProto.BFLOAT16: "TYPE_BF16",
    TensorProto.DOUBLE: "TYPE_FP64", TensorProto.INT64: "TYPE_INT64", TensorProto.INT32: "TYPE_INT32",
    TensorProto.INT16: "TYPE_INT16", TensorProto.INT8: "TYPE_INT8", TensorProto.UINT8: "TYPE_UINT8",
    TensorProto.UINT16: "TYPE_UINT16", TensorProto.UINT32: "TYPE_UINT32", TensorProto.UINT64: "TYPE_UINT64",
    TensorProto.BOOL: "TYPE_BOOL", TensorProto.STRING: "TYPE_STRING",
}


def _dims(v: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in v.type.tensor_type.shape.dim]


def _batch_axis(values: list[onnx.ValueInfoProto]) -> str | None:
    """The symbol every input and output starts with, if there is one."""
    firsts = {str(_dims(v)[0]) if _dims(v) and isinstance(_dims(v)[0], str) else None for v in values}
    first = next(iter(firsts)) if len(firsts) == 1 else None
    return first if first not in (None, "?") else None


def _tensor_block(v: onnx.ValueInfoProto, batched: bool) -> str:
    elem = v.type.tensor_type.elem_type
    if elem not in _TYPES:
        raise ValueError(f"'{v.name}' has ONNX element type {elem}, which Triton has no type for")
    dims = _dims(v)[1:] if batched else _dims(v)
    lines = [f'    name: "{v.name}"', f"    data_type: {_TYPES[elem]}"]
    if batched and not dims:
        # a tensor that is only the batch axis: Triton needs one dim, reshaped away
        lines += ["    dims: [ 1 ]", "    reshape: { shape: [ ] }"]
    else:
        lines.append("    dims: [ " + ", ".join(str(d) if isinstance(d, int) else "-1" for d in dims) + " ]")
    return "  {\n" + "\n".join(lines) + "\n  }"


def config_text(model: onnx.ModelProto, name: str, max_batch_size: int | None = None) -> str:
    """The ``config.pbtxt`` for ``model`` served under ``name``."""
    inits = {i.name for i in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in inits]
    outputs = list(model.graph.output)
    batched = _batch_axis(inputs + outputs) is not None
    max_batch = (max_batch_size or DEFAULT_MAX_BATCH) if batched else 0
    parts = [f'name: "{name}"', 'platform: "onnxruntime_onnx"', f"max_batch_size: {max_batch}",
             "input [\n" + ",\n".join(_tensor_block(v, batched) for v in inputs) + "\n]",
             "output [\n" + ",\n".join(_tensor_block(v, batched) for v in outputs) + "\n]"]
    if batched:
        parts.append("dynamic_batching { }")
    return "\n".join(parts) + "\n"


def external_files(model_file: Path) -> list[Path]:
    """The weights files ``model_file`` points at (none for a self-contained model)."""
    model = onnx.load(str(model_file), load_external_data=False)
    names = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
    return [model_file.parent / n for n in sorted(names)]


def drop_stale_weights(folder: Path, model_name: str, keep: set[str]) -> None:
    """Remove the weights files earlier exports of ``model_name`` left in ``folder`` (each export
    names its own, so that a model is never replaced before its weights): only specc's names."""
    stale = re.compile(re.escape(model_name) + r"(\.[0-9a-f]{12})?\.data")
    for old in folder.iterdir():
        if old.name not in keep and stale.fullmatch(old.name):
            with contextlib.suppress(OSError):
                old.unlink()


def write_entry(model_file: str | os.PathLike[str], repository: str | os.PathLike[str], name: str,
                max_batch_size: int | None = None) -> Path:
    """Write ``repository/name/1/model.onnx`` (and its weights file, if any) and the config; returns
    the entry's folder. Each file is replaced atomically, the config last."""
    model_file = Path(model_file)
    entry = Path(repository) / name
    version = entry / "1"
    make_folder(version)
    model = onnx.load(str(model_file), load_external_data=False)
    sides = external_files(model_file)
    for side in sides:
        # the model names its weights file; keep that name next to model.onnx
        atomic_write(version / side.name, lambda tmp, src=side: shutil.copyfile(src, tmp))
    atomic_write(version / "model.onnx", lambda tmp: shutil.copyfile(model_file, tmp))
    drop_stale_weights(version, model_file.name, {s.name for s in sides})
    atomic_write(entry / "config.pbtxt", config_text(model, name, max_batch_size))
    return entry
