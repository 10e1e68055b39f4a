"""Predict and evaluate with a trained run: raw inputs in, answers in the targets' own units.

A run folder holds all that is needed: the spec, the config, the fitted preprocessing and the
weights. The same scaling is baked into the ONNX graph by :func:`with_preprocessing`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...shapes.rules import refusal, rules_from_json
from ...validate.train_config import classes_at
from ..run_folder import RunScaling, read_json_object, read_preprocessing, resolve_weights, run_scaling
from .preprocess import Preprocessing
from .run import load_tensors


@dataclass
class Trained:
    cfg: dict[str, Any]
    model: nn.Module
    pre: Preprocessing
    classes: list[str] | None
    weights: Path
    columns: dict[str, list[str]] | None = None  # input name -> the training CSV's feature columns
    images: dict[str, list[int]] | None = None  # input name -> (C, H, W) the training images were read at


def load_run(run: Path, module: Any) -> Trained:
    from ..errors import WeightsError

    cfg = read_json_object(run / "config.json")
    if not isinstance(cfg.get("model"), str) or not isinstance(cfg.get("inputs"), dict):
        raise WeightsError(f"{run / 'config.json'} does not name the run's model and inputs; train the run again")
    model_class = getattr(module, cfg["model"], None)
    if model_class is None:
        raise WeightsError(f"{run} is a run of the model {cfg['model']}, which this spec does not define")
    model = model_class()
    weights = resolve_weights(run)
    try:
        model.load_state_dict(load_tensors(weights))
    except RuntimeError as exc:  # another spec's run: keys or shapes differ
        first = next((ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()), str(exc))
        raise WeightsError(f"{weights} does not fit this spec's model ({first})") from None
    model.eval()
    pre, reading = read_preprocessing(run)  # one read of preprocess.json: scaling, classes, columns, images
    return Trained(cfg, model, pre, reading.get("classes"), weights, reading.get("columns"), reading.get("images"))


def image_inputs(text: str, trained: Trained) -> tuple[dict[str, np.ndarray], list[str]] | None:
    """--input as an image file or a folder of them (sub-folders too), read as the run's training
    images were (channels, size, scale): the arrays and each image's path; None for other input."""
    from ...data.read import IMAGE_SUFFIXES, DataError, image_array, image_input_shape

    path = Path(text)
    if not text.strip() or not (path.is_dir() or (path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())):
        return None
    names = list(trained.cfg["inputs"])
    declared = trained.cfg["inputs"][names[0]]["shape"]
    shape = image_input_shape((trained.images or {}).get(names[0]), declared) if len(names) == 1 else None
    if shape is None:
        raise ValueError(f"{path.name}: images feed a model with one input of shape [B, 1 or 3, H, W]"
                         + (" whose H and W are numbers (or that was trained on a folder of images)"
                            if len(names) == 1 and len(declared) == 4 else ""))
    files = ([path] if path.is_file() else
             sorted(f for f in path.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()))
    if not files:
        raise ValueError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    try:
        arrays = np.stack([image_array(f, shape, "input") for f in files])
    except DataError as exc:
        raise ValueError(f"{exc.message}; {exc.hint}") from None
    shown = [str(f.relative_to(path)) if path.is_dir() else f.name for f in files]
    return {names[0]: arrays}, shown


def parse_input(text: str, names: list[str], columns: dict[str, list[str]] | None = None) -> dict[str, np.ndarray]:
    """--input as a .npy, .npz or .csv file, or a literal such as '[[60]]' (several inputs: a .npz).
    A CSV with a header gives the columns the run was trained on (``columns``), found by name, so
    the training file itself, target column and all, can be predicted."""
    path = Path(text)
    if path.suffix.lower() in (".npy", ".npz", ".csv") and path.is_file():
        if path.suffix.lower() == ".npz":
            try:
                arrays = np.load(path, allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 -- numpy and zipfile raise assorted types for bad files
                raise ValueError(f"cannot read {path.name} as a NumPy .npz archive ({exc})") from None
            missing = [n for n in names if n not in arrays.files]
            if missing and len(names) == 1 and len(arrays.files) == 1:
                return {names[0]: arrays[arrays.files[0]]}
            if missing:
                raise ValueError(f"{path.name} has no array {missing[0]!r} (it holds {', '.join(arrays.files)})")
            return {n: arrays[n] for n in names}
        if path.suffix.lower() == ".npy":
            try:
                arrays_one = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read {path.name} as a NumPy array ({exc})") from None
        else:
            arrays_one = _csv_rows(path, (columns or {}).get(names[0]) if len(names) == 1 else None)
        if len(names) != 1:
            raise ValueError(f"the model has {len(names)} inputs; give them in one .npz with those names")
        return {names[0]: arrays_one}
    if path.suffix.lower() in (".npy", ".npz", ".csv"):
        raise ValueError(f"no such file: {text}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"--input {text!r} is neither a file nor a literal such as '[[60]]'") from None
    if len(names) != 1:
        raise ValueError(f"the model has {len(names)} inputs; give them in one .npz with those names")
    if not isinstance(value, list) or not value:  # a number, a mapping, []: no samples to answer
        raise ValueError(f"{text!r} is not a list of samples; write one list a sample, as in '[[1, 2], [3, 4]]' "
                         "(several inputs: a .npz with their names)")
    try:
        return {names[0]: np.asarray(value)}
    except ValueError:  # rows of different lengths: numpy's own words name its internals
        raise ValueError(f"{text!r} has rows of different lengths; give every sample the same number of values, "
                         "as in '[[1, 2], [3, 4]]'") from None


def _csv_rows(path: Path, columns: list[str] | None) -> np.ndarray:
    from ...data.read import DataError, csv_samples

    try:
        return csv_samples(path, columns)
    except DataError as exc:
        raise ValueError(f"{exc.message}; {exc.hint}") from None


def predict(trained: Trained, raw: dict[str, np.ndarray], batch_size: int = 256) -> dict[str, Any]:
    from ...data.read import DataError, shape_inputs, symbol_sizes  # the shape and dtype rules of training data

    cfg = trained.cfg
    raw = {name: _batched(x, cfg["inputs"][name]["shape"]) for name, x in raw.items()}
    n = len(next(iter(raw.values())))
    shaped = shape_inputs(cfg, raw, n, "input")
    refused = refusal(rules_from_json(cfg.get("size_rules")), symbol_sizes(cfg, shaped))
    if refused is not None:  # too short a sequence, too small an image: named, not a runtime's error
        raise DataError("T003", refused[0], refused[1], "input")
    for name, x in shaped.items():  # a NaN would come back as a confident-looking label
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise DataError("T004", f"input {name!r} holds NaN or infinite values",
                            "give finite numbers (impute missing values first)", "input")
    xs = [torch.from_numpy(np.ascontiguousarray(v)) for v in trained.pre.apply_inputs(shaped).values()]
    outs: list[list[torch.Tensor]] = []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            out = trained.model(*[x[i:i + batch_size] for x in xs])
            outs.append([o.float() for o in (out if isinstance(out, tuple) else (out,))])
    if cfg.get("heads"):  # a loss per output: each output answers in its own task's terms
        from ...validate.train_config import head

        names = list(cfg["outputs"])
        return {"task": "multi", "outputs": {
            name: answer(head(cfg, name), trained, torch.cat([o[names.index(name)] for o in outs]), name)
            for name in cfg["heads"]}}
    return answer(cfg, trained, torch.cat([o[0] for o in outs]))


def answer(cfg: dict[str, Any], trained: Trained, out_t: torch.Tensor, output: str | None = None) -> dict[str, Any]:
    """One output's answer: labels and probabilities for a classifier, original units for a regression."""
    task = cfg["task"]
    result: dict[str, Any] = {"task": task}
    if task == "classification":
        at = classes_at(cfg)
        probs = torch.softmax(out_t, at) if cfg["loss"]["type"] != "NLLLoss" else out_t.exp()
        labels = probs.argmax(at).numpy()
        result["label"] = labels.tolist()
        names = trained.classes.get(output) if isinstance(trained.classes, dict) else trained.classes
        if names:
            result["class"] = np.asarray(names, dtype=object)[labels].tolist()
            result["classes"] = list(names)  # the order of each probability row
        result["probabilities"] = probs.numpy().tolist()
    elif task == "binary":
        # only BCELoss reads probabilities; BCEWithLogitsLoss and a binary FocalLoss read logits
        probs = out_t if cfg["loss"]["type"] == "BCELoss" else torch.sigmoid(out_t)
        result["label"] = (probs > 0.5).long().numpy().tolist()
        result["probabilities"] = probs.numpy().tolist()
    else:
        result["prediction"] = trained.pre.invert_outputs(out_t.numpy(), output).tolist()
    return result


def _batched(x: np.ndarray, shape: list[Any]) -> np.ndarray:
    """A sample given without its batch dim becomes a batch of one; for an input such as [B, 1],
    '60' is one sample and '[60, 70]' two."""
    per_sample = len(shape) - 1
    if all(d == 1 for d in shape[1:]) and x.ndim <= per_sample:
        return x.reshape(-1, *[1] * per_sample)  # one value per sample: '[60, 70]' is two samples
    squeezed = [d for d in shape[1:] if d != 1]  # a greyscale image may come without its channel
    for dims in (shape[1:], squeezed):
        if x.ndim == len(dims) and all(not isinstance(d, int) or d == n for d, n in zip(dims, x.shape)):
            return x[None]
    return x  # (3, 8, 8) for [B, 1, 8, 8]: three greyscale images, not one of three channels


class WithPreprocessing(nn.Module):
    """The model with its fitted scaling around it: raw inputs in, original units out."""

    def __init__(self, model: nn.Module, scaling: RunScaling):
        super().__init__()
        self.model = model
        for i, s in enumerate(scaling.inputs):
            self.register_buffer(f"in_shift_{i}", torch.from_numpy(s.shift) if s else torch.zeros(0))
            self.register_buffer(f"in_scale_{i}", torch.from_numpy(s.scale) if s else torch.zeros(0))
        # the targets' scaling of each output, in the order the model returns them (one target: the first)
        for i, t in enumerate(scaling.outputs):
            self.register_buffer(f"out_shift_{i}", torch.from_numpy(t.shift) if t else torch.zeros(0))
            self.register_buffer(f"out_scale_{i}", torch.from_numpy(t.scale) if t else torch.zeros(0))
        self.scaled = [s is not None for s in scaling.inputs]
        self.unscale = [t is not None for t in scaling.outputs]

    def forward(self, *xs: torch.Tensor) -> Any:
        ins = [(x - getattr(self, f"in_shift_{i}")) / getattr(self, f"in_scale_{i}") if self.scaled[i] else x
               for i, x in enumerate(xs)]
        out = self.model(*ins)
        several = isinstance(out, tuple)
        outs = list(out) if several else [out]
        for i, on in enumerate(self.unscale):
            if on:
                outs[i] = outs[i] * getattr(self, f"out_scale_{i}") + getattr(self, f"out_shift_{i}")
        return tuple(outs) if several else outs[0]


def with_preprocessing(module: nn.Module, weights: Path, input_names: list[str],
                       output_names: list[str] | None = None) -> nn.Module:
    """Wrap ``module`` in its run's scaling when ``weights`` come from a run folder."""
    scaling = run_scaling(weights, input_names, output_names)
    return module if scaling is None else WithPreprocessing(module, scaling)
