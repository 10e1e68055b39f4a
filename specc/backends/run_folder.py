"""A ``specc train`` run folder as the export routes and predict read it: its weights, and the
scaling fitted in training that the model must carry (raw inputs in, the targets' units out).

numpy and safetensors alone, no torch and no onnx: the direct export (``specc[deploy]``) and
predict (``specc[torch]``) both read runs through this module.  A malformed preprocess file is a
:class:`WeightsError` naming the file and the key, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import WeightsError, first_line
from .train.preprocess import Preprocessing, Scaler

KINDS = ("standardize", "minmax", "none")


def resolve_weights(path: Path) -> Path:
    """A run folder (its final weights), a checkpoint folder, or a .safetensors file."""
    if path.is_dir():
        for candidate in (path / "model.safetensors", path / "last" / "model.safetensors"):
            if candidate.is_file():
                return candidate
    return path


def run_of(weights: Path) -> Path | None:
    """The run folder a weights file belongs to, if any (it holds config.json)."""
    for folder in (weights.parent, weights.parent.parent, weights.parent.parent.parent):
        if (folder / "config.json").is_file() and (folder / "preprocess.json").is_file():
            return folder
    return None


def read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path} is not readable JSON ({str(exc).splitlines()[0]}); train the run again") from None
    if not isinstance(value, dict):
        raise WeightsError(f"{path} holds {type(value).__name__}, not the JSON object specc train writes; "
                           "train the run again")
    return value


def read_preprocessing(run: Path) -> tuple[Preprocessing, dict[str, Any]]:
    """The run's fitted scaling and how it read its data (:func:`read_reading`), checked: every kind
    known, every scaled input or target with finite shift and finite non-zero scale arrays."""
    meta_path, arrays_path = run / "preprocess.json", run / "preprocess.safetensors"
    meta = read_json_object(meta_path)

    def kinds(key: str) -> dict[str, str]:
        value = meta.get(key)
        if not isinstance(value, dict) or not all(isinstance(k, str) and v in KINDS for k, v in value.items()):
            raise WeightsError(f"{meta_path}: '{key}' must map each name to one of {', '.join(KINDS)} "
                               f"(it is {json.dumps(value)[:80]}); train the run again")
        return value

    inputs = kinds("inputs")
    outputs = kinds("outputs") if "outputs" in meta else None
    if meta.get("targets") not in (*KINDS, "per output"):
        raise WeightsError(f"{meta_path}: 'targets' must be one of {', '.join(KINDS)} "
                           f"(it is {json.dumps(meta.get('targets'))[:80]}); train the run again")
    wanted = [f"inputs.{n}" for n, k in inputs.items() if k != "none"]
    if outputs is not None:
        wanted += [f"outputs.{n}" for n, k in outputs.items() if k != "none"]
    elif meta["targets"] != "none":
        wanted.append("target")
    arrays = _read_arrays(arrays_path) if wanted else {}
    for key in wanted:
        for part in ("shift", "scale"):
            name = f"{key}.{part}"
            arr = arrays.get(name)
            if arr is None:
                raise WeightsError(f"{arrays_path} has no array '{name}', which {meta_path.name} says the run "
                                   "scaled; train the run again")
            if arr.dtype.kind != "f" or not np.isfinite(arr).all() or (part == "scale" and (arr == 0).any()):
                raise WeightsError(f"{arrays_path}: '{name}' must be finite floats" +
                                   (" with no zero" if part == "scale" else "") + "; train the run again")
    return Preprocessing.restore(meta, arrays), _reading(meta, meta_path)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 -- safetensors raises its own error types for bad files
        raise unreadable_tensors(path, exc) from None


def unreadable_tensors(path: Path, exc: BaseException) -> WeightsError:
    """A run's .safetensors file that is missing, truncated or not safetensors at all."""
    return WeightsError(f"{path} is not a readable .safetensors file ({first_line(exc)}); train the run again")


def read_reading(run: Path) -> dict[str, Any]:
    """How the run read its data, for predict and the exported model's users to read theirs alike,
    checked: the class names (``classes``), a CSV's feature columns by input (``columns``), an image
    folder's (C, H, W) by input (``images``); absent keys are left out."""
    path = run / "preprocess.json"
    return _reading(read_json_object(path), path)


def _reading(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    columns, images = meta.get("columns"), meta.get("images")
    if columns is not None and not (isinstance(columns, dict) and all(
            isinstance(v, list) and all(isinstance(c, str) for c in v) for v in columns.values())):
        raise WeightsError(f"{path}: 'columns' must map each input to its column names; train the run again")
    if images is not None and not (isinstance(images, dict) and all(
            isinstance(v, list) and len(v) == 3 and all(isinstance(n, int) and n > 0 for n in v)
            for v in images.values())):
        raise WeightsError(f"{path}: 'images' must map each input to its (C, H, W); train the run again")
    return {k: meta[k] for k in ("classes", "columns", "images") if meta.get(k) is not None}


def run_metadata(weights: str | os.PathLike[str] | None) -> dict[str, str]:
    """ONNX metadata of the run ``weights`` come from (none for other weights): specc_classes,
    specc_columns and specc_images as JSON, so a deployed model names its answers and reads a CSV's
    columns by name (``specc run``)."""
    run = run_of(resolve_weights(Path(weights))) if weights is not None else None
    return {} if run is None else {f"specc_{k}": json.dumps(v) for k, v in read_reading(run).items()}


@dataclass(frozen=True)
class RunScaling:
    """The scaling a run's model is wrapped in: ``inputs[i]`` applies to the model's i-th input
    as (x - shift) / scale, ``outputs[i]`` to its i-th output as y * scale + shift (None: as is)."""

    run: Path
    inputs: list[Scaler | None]
    outputs: list[Scaler | None]


def run_scaling(weights: str | os.PathLike[str], input_names: Sequence[str],
                output_names: Sequence[str] | None = None) -> RunScaling | None:
    """The scaling of the run that ``weights`` come from, or None when they come from no run or
    the run scaled nothing.  Outputs are named as the run's config.json names them unless given;
    with one target (no loss per output) only the first output is un-scaled."""
    run = run_of(resolve_weights(Path(weights)))
    if run is None:
        return None
    pre, _ = read_preprocessing(run)
    if not pre.inputs and pre.target is None and not any((pre.outputs or {}).values()):
        return None
    config = read_json_object(run / "config.json")
    for key in ("inputs", "outputs"):
        if not isinstance(config.get(key), dict):
            raise WeightsError(f"{run / 'config.json'}: '{key}' must map each {key[:-1]} to its shape; train the "
                               "run again")
    if output_names is None:
        output_names = list(config["outputs"])
    outs = [pre.scaler(o) for o in output_names] if pre.outputs is not None else [pre.target]
    _check_fits(run, config, pre, output_names)
    return RunScaling(run, [pre.inputs.get(n) for n in input_names], outs)


def _check_fits(run: Path, config: dict[str, Any], pre: Preprocessing, output_names: Sequence[str]) -> None:
    """Each scaler against the run's own config: scaled inputs are float inputs, and every
    shift and scale broadcasts over its value at every size (else the model would fail or
    broadcast wrongly at run time, far from the file that is wrong)."""
    where = run / "preprocess.safetensors"
    inputs = config["inputs"]
    for name, s in pre.inputs.items():
        declared = inputs.get(name) if isinstance(inputs.get(name), dict) else {}
        dims, dtype = declared.get("shape"), declared.get("dtype")
        if not isinstance(dtype, str) or not dtype.startswith(("float", "bfloat")):
            raise WeightsError(f"{where} scales input '{name}', which the run's config.json declares as "
                               f"{dtype or 'no input'}: only float inputs are scaled; train the run again")
        if misfit(s.shift, dims) or misfit(s.scale, dims):
            raise WeightsError(f"{where}: input '{name}''s scaling has shape {tuple(s.scale.shape)} and "
                               f"{tuple(s.shift.shape)}, which does not fit the input's shape {dims}; train the "
                               "run again")
    shapes = config["outputs"]
    scaled = [(o, pre.scaler(o)) for o in output_names] if pre.outputs is not None else \
        [(o, pre.target) for o in output_names[:1]]
    for name, t in scaled:
        if t is not None and (misfit(t.shift, shapes.get(name)) or misfit(t.scale, shapes.get(name))):
            raise WeightsError(f"{where}: the targets' scaling of output '{name}' has shape "
                               f"{tuple(t.scale.shape)} and {tuple(t.shift.shape)}, which does not fit the "
                               f"output's shape {shapes.get(name)}; train the run again")


def misfit(arr: np.ndarray, dims: Any) -> bool:
    """True when a scaling array of this shape cannot broadcast over a value of shape ``dims``
    (the batch dim first) at every size of its symbols: each axis, aligned from the right with
    the per-sample dims, is 1 or the dim's fixed size."""
    if not isinstance(dims, list) or not dims:
        return True
    sample = dims[1:]
    if arr.ndim > len(sample):
        return True
    return any(n != 1 and n != d for n, d in zip(reversed(arr.shape), reversed(sample)))
