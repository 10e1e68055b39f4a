"""`specc check` reads the data a spec trains on: the files and folders its ``train.data`` names.

It reads them with the code `specc train` reads them with (:func:`specc.data.checks.training_data`),
so what check says of a file is what training would say, at the same spec line and with the same
code, before anything is trained. Only files are read (the bundled sets' shapes are known to
validate/training.py); a file over its :data:`CHECK_BYTES` is read in part (its first
:data:`SAMPLE_ROWS` samples), which a T011 warning says. NumPy is imported only when a spec
names a data file, so a spec without one costs nothing.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic, Location

if TYPE_CHECKING:
    from ..spec import Spec

# A data file larger than this is read in part by check, about half a second's reading: a CSV's
# cells are parsed one by one in Python (4 MB ~ 0.5 s), images decoded, arrays copied at memory speed.
CHECK_BYTES = {"csv": 4 * 2**20, "images": 16 * 2**20, "arrays": 64 * 2**20}
SAMPLE_ROWS = 1000  # the samples check reads of such a file
# what the last reads found (an error, else the warnings): an editor checks on every key
_CACHE: dict[str, tuple[tuple[Any, ...] | None, list[Any], list[str]]] = {}
_CACHE_SIZE = 16
# keys of train.data: reported there when unwritten
DATA_KEYS = ("source", "val_source", "features", "target", "shuffle")


def locate(cfg: dict[str, Any], where: str) -> Location | None:
    """The spec line a data problem is reported at: an output's last layer, the key named, else the
    data section or the train section."""
    if where.startswith("output."):
        loc = cfg["output_layers"].get(where.removeprefix("output."), {}).get("loc")
    else:
        locs = cfg["locs"]
        loc = locs.get(where) or (locs.get("data") if where in DATA_KEYS else None) or locs.get("train")
    return Location(*loc) if loc else None


def data_diagnostics(spec: Spec, base: Path) -> list[Diagnostic]:
    """What training would find wrong with the data files of a checked spec (relative paths read
    from ``base``, the spec's folder); nothing for a spec that trains on no file or cannot train."""
    doc = spec.document
    if doc is None or doc.train is None or doc.loss is None or doc.optimizer is None:
        return []  # untrainable: `specc train` says so (V021) before it reads anything
    named = doc.train.data.files()
    if not named:
        return []
    paths = {k: Path(v) if Path(v).is_absolute() else base / v for k, v in named.items()}
    same = _validated_on_training(spec, paths)
    return same + _read_data(spec, base, paths, named)


def _validated_on_training(spec: Spec, paths: dict[str, Path]) -> list[Diagnostic]:
    """V074 (a warning): val_source names the file source names. Every validation sample is then one
    the model trains on: val_loss and the metrics measure memory, not generalisation, and early stopping
    and the best checkpoint are chosen by them."""
    if "source" not in paths or "val_source" not in paths:
        return []
    a, b = paths["source"], paths["val_source"]
    try:
        same = a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        same = False
    if not same and os.path.normcase(os.path.abspath(a)) != os.path.normcase(os.path.abspath(b)):
        return []
    doc = spec.document
    split = doc.train.data.val_split if doc is not None and doc.train is not None else 0.2
    at = spec.locations.nearest("train", "data", "val_source")
    return [Diagnostic("V074", "val_source names the training file itself, so every validation sample is one the "
                       "model trains on: val_loss and the metrics measure memory, not generalisation, and early "
                       "stopping and the best checkpoint are chosen by them", at,
                       f"give a file of held-out samples, or remove val_source to validate on a split of "
                       f"{split:g} of the samples, kept out of training", "warning")]


def _read_data(spec: Spec, base: Path, paths: dict[str, Path], named: dict[str, str]) -> list[Diagnostic]:
    doc = spec.document
    assert doc is not None and doc.train is not None
    if importlib.util.find_spec("numpy") is None or (
            importlib.util.find_spec("PIL") is None and any(p.is_dir() for p in paths.values())):
        return []  # a check-only install (no numpy, no Pillow) cannot train either: nothing to answer for
    from ..validate.train_config import train_config

    cfg = train_config(spec)
    masks = _padding_masks(spec)
    cfg["padding_masks"] = sorted(masks)  # part of the read's key: what is checked of the inputs
    cfg["lookahead"] = _lookahead(spec)
    cfg["locs"].update({f"layer.{one['name']}": one.pop("loc") for one in cfg["lookahead"]})
    cfg["locs"].update({f"input.{name}": loc for name, loc in masks.items()})
    for key in ("weight", "pos_weight", "ignore_index"):  # where T087 and T088 point: the key written
        if (at := spec.locations.nearest("loss", key)) is not None:
            cfg["locs"][f"loss.{key}"] = [at.file, at.line, at.col]
    large = {k: size for k, p in paths.items() if (size := _size(p)) > _limit(p)}
    targets = doc.train.data.targets  # a .npy source's targets file
    rows = SAMPLE_ROWS if large else None
    key = _key(cfg, [*paths.values(), *([base / targets] if targets else [])], base, rows)
    if key not in _CACHE:
        _CACHE[key] = _read(cfg, base, rows)
        while len(_CACHE) > _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
    error, warnings = _CACHE[key][:2]
    _withdraw_l040(spec, _CACHE[key][2])
    if error is not None:
        code, message, hint, where = error
        return [Diagnostic(code, message, locate(cfg, where), hint)]
    return [Diagnostic(code, message, locate(cfg, where), hint, "warning") for code, message, hint, where in warnings
            ] + [Diagnostic("T011", f"{named[k]} holds {_mb(size)}, more than check reads whole "
                       f"({_mb(_limit(paths[k]))}): check read its first {SAMPLE_ROWS} samples only, so classes "
                       "or rows past them are first seen by specc train", locate(cfg, k),
                       "nothing to fix if the file is right; specc check --no-data skips reading data",
                       severity="warning") for k, size in large.items()]


def settle_warnings(spec: Spec, base: Path) -> None:
    """Give a checked spec the warnings check gives it from its data (values that keep training from
    learning, one-hot rows regressed, …) and take back those its data takes back (L040): for a verb
    that prints the spec's diagnostics before reading the data itself (`specc train`), so that a user
    who trains without checking first is told what check would have said. A data error is left to the
    verb, which reports it as it reads; T011 (check read a large file in part) says nothing of a run
    that reads all of it. The spec's own silencing (lint: {ignore}, a layer's ignore:) applies, as in check."""
    from ..graph.model import silence

    if not spec.ok or spec.graph is None:
        return
    seen = {(d.code, d.message) for d in spec.diagnostics}
    spec.diagnostics.extend(d for d in data_diagnostics(spec, base)
                            if d.severity == "warning" and d.code != "T011" and (d.code, d.message) not in seen)
    spec.diagnostics = silence(spec, spec.graph)


def _withdraw_l040(spec: Spec, additive: list[str]) -> None:
    """L040 judges a float key-padding mask by its dtype alone, since a spec does not say what the
    mask holds: 0/1 from a tokenizer (hiding nothing) or 0/-inf, the additive mask PyTorch means.
    Where the data shows the second, the warning was a false alarm and is taken back."""
    if additive:
        spec.diagnostics[:] = [d for d in spec.diagnostics if d.code != "L040"
                               or not any(f"mask '{name}' is " in d.message for name in additive)]


def _additive(cfg: dict[str, Any], full: Any) -> list[str]:
    """The float key-padding masks the data holds as additive masks: 0 where a key is seen, -inf
    (or a large negative, -1e4 and below) where it is hidden."""
    out = []
    for name, kind in (cfg.get("masks") or {}).items():
        m = full.inputs.get(name)
        if "key_padding" in kind and "|" not in kind and m is not None and m.dtype.kind == "f" and m.size and \
                (m <= 0).all() and m.min() <= -1e4:
            out.append(name)
    return out


def _read(cfg: dict[str, Any], base: Path, rows: int | None) -> tuple[tuple[Any, ...] | None, list[Any], list[str]]:
    """(the first problem reading the data as `specc train` does finds, or None; the warnings, each
    (code, message, hint, spec key): the readers' own, and values training would feed or regress
    unscaled at a size that keeps it from learning; the float key-padding masks the data shows to be
    additive)."""
    from .checks import (
        data_warnings,
        ignored_class,
        inverted_padding,
        inverted_weights,
        next_step_leak,
        onehot_regressed,
        out_of_reach,
        raw_scale,
        sorted_labels,
        split_leaks,
        training_data,
    )
    from .read import DataError

    seed = cfg["train"]["seed"] if cfg["train"]["seed"] is not None else 0
    try:
        full, _, val = training_data(cfg, base, seed, draw=False, rows=rows)
    except DataError as exc:
        return (exc.code, exc.message, exc.hint, exc.where), [], []
    scale = [("V067", message, hint, where) for message, hint, where in raw_scale(cfg, full)]
    scale += [("V075", message, hint, where) for message, hint, where in split_leaks(cfg, full)]
    scale += [("T073", message, hint, where) for message, hint, where in out_of_reach(cfg, full)]
    scale += [("T084", message, hint, where) for message, hint, where in sorted_labels(cfg, full)]
    scale += [("T086", message, hint, where) for message, hint, where in inverted_padding(cfg, full)]
    scale += [("T087", message, hint, where) for message, hint, where in inverted_weights(cfg, full)]
    scale += [("T088", message, hint, where) for message, hint, where in ignored_class(cfg, full)]
    scale += [("T090", message, hint, where) for message, hint, where in next_step_leak(cfg, full)]
    scale += [("T095", message, hint, where) for message, hint, where in onehot_regressed(cfg, full)]
    return None, data_warnings(full, val) + scale, _additive(cfg, full)


# self-attention layers: without causal: true (or a mask of the spec's own) step t attends to every step
ATTENTION = ("MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer", "TransformerDecoder",
             "TransformerDecoderLayer")
RECURRENT = ("RNN", "LSTM", "GRU")


def _lookahead(spec: Spec) -> list[dict[str, Any]]:
    """The layers between each model input and the output that let step t read the steps after it:
    self-attention with no causal mask and no attention mask of the spec's own, and bidirectional
    recurrent layers that return every step. Each as {name, type, inputs (the model inputs it
    reads from), fix, loc}. A model trained to predict each step's next value must have none."""
    graph = spec.graph
    if graph is None:
        return []
    origins: dict[str, set[str]] = {name: {name} for name in graph.inputs}
    found = []
    for node in graph.nodes:
        origins[node.name] = set().union(*(origins.get(producer, set()) for producer in
                                           (ref.split(".", 1)[0] for ref in node.inputs)))
        p = node.params
        masks = tuple(getattr(p, "masks", ()) or ())
        if node.type in ATTENTION and not getattr(p, "causal", True) and "attn" not in masks:
            read = node.inputs[:len(node.inputs) - len(masks)]  # query, key, value: one sequence in self-attention
            self_attention = node.type != "MultiheadAttention" or len(set(read)) == 1
            fix = "set causal: true"
        elif node.type in RECURRENT and getattr(p, "bidirectional", False) and getattr(p, "output", "") == "sequence":
            self_attention, fix = True, "set bidirectional: false"
        else:
            continue
        if self_attention and origins[node.name]:
            found.append({"name": node.name, "type": node.type, "inputs": sorted(origins[node.name]), "fix": fix,
                          "loc": [node.loc.file, node.loc.line, node.loc.col] if node.loc else None})
    return found


def _padding_masks(spec: Spec) -> dict[str, list[Any] | None]:
    """The model inputs a layer reads as a key-padding mask (masks: [key_padding] or
    memory_key_padding, the last of its inputs in masks:' order), each with its spec line."""
    graph = spec.graph
    found: dict[str, list[Any] | None] = {}
    for node in graph.nodes if graph is not None else []:
        masks = getattr(node.params, "masks", None)
        if not masks or not isinstance(masks, (list, tuple)):
            continue
        for kind, ref in zip(masks, node.inputs[len(node.inputs) - len(masks):]):
            if kind in ("key_padding", "memory_key_padding") and ref in graph.inputs:
                loc = spec.locations.nearest("inputs", ref)
                found[ref] = [loc.file, loc.line, loc.col] if loc else None
    return found


def _limit(path: Path) -> int:
    kind = "images" if path.is_dir() else "csv" if path.suffix.lower() == ".csv" else "arrays"
    return CHECK_BYTES[kind]


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size:,} bytes"


def _size(path: Path) -> int:
    """Bytes in a file, or in the files of a folder (an image folder: its class folders' files)."""
    try:
        if path.is_dir():
            return sum(e.stat().st_size for d in os.scandir(path) if d.is_dir()
                       for e in os.scandir(d.path) if e.is_file())
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0  # unreadable: the reader says why


def _key(cfg: dict[str, Any], paths: list[Path], base: Path, rows: int | None) -> str:
    """What a read depends on: the model and data settings (not where the keys are written, so
    an edit elsewhere in the spec reads nothing again), and each file's size and time."""
    def stamp(p: Path) -> list[Any]:
        try:
            st = p.stat()
            inner = [(e.name, e.stat().st_mtime_ns) for e in os.scandir(p)] if p.is_dir() else []
            return [str(p), st.st_size, st.st_mtime_ns, sorted(inner)]
        except OSError:
            return [str(p), None]

    import json  # here: a spec without a data file never gets this far, and check stays light

    model = {k: v for k, v in cfg.items() if k not in ("locs", "output_layers", "spec")}
    return json.dumps([model, str(base), rows, [stamp(p) for p in paths]], sort_keys=True, default=str)
