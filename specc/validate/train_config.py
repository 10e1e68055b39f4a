"""The training configuration: a plain, JSON-able dict built from a checked spec.

`specc train` and the script of `specc compile --train` both hand such a dict (with the
generated module) to the one loop, so they train alike. Locations of the spec keys travel
with it, so a problem the data reveals is still reported at the spec's line. It lives in
validate/ (it reads only the typed document, the loss rules and the shaped graph it is handed),
so the PyTorch target's script writer and the training backend both stand above it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..graph.ir import Graph
    from ..spec import Spec

from .training import BOUNDED, task_of  # one rule of which loss trains what


def _loc(spec: Spec, *path: str) -> list[Any] | None:
    """[file, line, col] of the deepest key of ``path`` that the spec writes."""
    best = spec.locations.nearest(*path)
    return [best.file, best.line, best.col] if best is not None else None


def train_config(spec: Spec) -> dict[str, Any]:
    """Everything the loop needs besides the generated module."""
    from .document import Train

    doc, graph = spec.require_ok().document, spec.graph
    assert doc is not None and graph is not None
    train = doc.train or Train()
    outputs = {n: [d if isinstance(d, int) else str(d) for d in graph.value(s).shape] for n, s in graph.outputs}
    inputs = {n: {"shape": [d if isinstance(d, int) else str(d) for d in t.shape], "dtype": t.dtype}
              for n, t in graph.inputs.items()}
    from ..shapes.dims import to_json
    from ..shapes.rules import rules_json
    from .indices import index_bounds
    from .training import class_dim, classification

    loss = ({n: one.model_dump() for n, one in doc.loss.items()} if isinstance(doc.loss, dict) else
            doc.loss.model_dump() if doc.loss is not None else None)
    out_t = graph.value(graph.outputs[0][1]) if graph.outputs else None
    single = doc.loss if doc.loss is not None and not isinstance(doc.loss, dict) else None
    task = task_of(single, out_t) if single is not None else "regression"
    # where the output holds the classes (an index into the output's shape, batch included):
    # 1 for (B, C, ...), the last dim of a tagger's (B, T, K) under class_dim: -1
    classes_at = class_dim(single, out_t) if single is not None and out_t is not None and \
        classification(single, out_t) else None
    # what bounds each integer input's ids (an Embedding's rows, the length a Pick picks from):
    # synthetic data draws under it and the data check refuses ids past it
    bounds = {name: found for name in graph.inputs if (found := index_bounds(graph, name))}
    vocab = {name: min(ints) for name, found in bounds.items()
             if (ints := [b.high for b in found if isinstance(b.high, int)])}
    last = {}
    for n, s in graph.outputs:
        node = graph.node(s.split(".", 1)[0])  # a part of a Split (split.1) is the Split's
        last[n] = {"type": node.type if node is not None else None,
                   "loc": [node.loc.file, node.loc.line, node.loc.col] if node is not None and node.loc else None}
    heads = None
    if isinstance(doc.loss, dict):  # a loss per output: each output trains as its own task
        from .document import term_weight
        from .training import losses

        heads = {}
        for n, one in losses(doc, list(outputs)).items():
            plain = one.model_dump()
            plain["weight"] = plain["weight"] if isinstance(plain.get("weight"), list) else None
            kind = task_of(one, graph.value(dict(graph.outputs)[n]))
            heads[n] = {"task": kind, "loss": plain, "weight": term_weight(one),
                        "threshold": 0.0 if kind == "binary" and one.type != "BCELoss" else 0.5}
    return {
        "model": spec.name,
        "spec": spec.path,
        "task": "multi" if heads else task,
        "class_dim": classes_at,
        "loss": loss,
        "heads": heads,
        # a binary model's decision threshold on what it returns: logits (BCEWithLogitsLoss, a binary
        # FocalLoss) at 0, BCELoss's probabilities at 0.5
        "threshold": 0.0 if task == "binary" and single is not None and single.type != "BCELoss" else 0.5,
        "inputs": inputs,
        "outputs": outputs,
        # the same shapes exactly (floor((H + 3)/4) as terms, not text), for data specc makes
        "output_dims": {n: [to_json(d) for d in graph.value(s).shape] for n, s in graph.outputs},
        "output_layers": last,
        # inputs read as attention masks: never scaled, -inf allowed in them, rows that hide every key refused
        "masks": mask_inputs(graph),
        "vocab": vocab,  # the int bounds alone, as runs written before index_bounds read them
        "index_bounds": {name: [[to_json(b.high), b.reader, b.kind, b.pad] for b in found]
                         for name, found in bounds.items()},
        "sizes": dict(sorted(doc.export.sizes.items())),
        "size_rules": rules_json(graph),  # what predict tests inputs against
        "train": train.model_dump(),
        "locs": {
            "loss": _loc(spec, "loss"),
            "source": _loc(spec, "train", "data", "source"),
            "val_source": _loc(spec, "train", "data", "val_source"),
            "val_split": _loc(spec, "train", "data", "val_split"),
            "shuffle": _loc(spec, "train", "data", "shuffle"),
            "data": _loc(spec, "train", "data"),
            "features": _loc(spec, "train", "data", "features"),
            "target": _loc(spec, "train", "data", "target"),
            "train": _loc(spec, "train"),
            "batch_size": _loc(spec, "train", "batch_size"),
            "preprocess.targets": _loc(spec, "train", "preprocess", "targets"),
            "early_stopping": _loc(spec, "train", "early_stopping", "monitor") or _loc(spec, "train", "early_stopping"),
            "optimizer": _loc(spec, "optimizer", "type"),
            **{f"inputs.{n}": _loc(spec, "inputs", n) for n in inputs},
        },
    }


def mask_inputs(graph: Graph) -> dict[str, str]:
    """The model inputs read as attention masks, each with how: its entry of a layer's ``masks:``
    (key_padding, memory_key_padding, attn), or ``fill`` for the bool mask of a MaskedFill that writes
    -inf into what a Softmax over the last dim reads (the scores of hand-written attention). The mask
    may be the input itself, or made of it by Unsqueezes that keep its last dim last and one Compare
    with a constant (ids == pad_id: the kind then ends in ``|eq|0``). Each hides a key where it is
    true or -inf, and a row of it that hides every key is 0/0 in the Softmax: nan."""
    found: dict[str, str] = {}
    readers: dict[str, list[Any]] = {}
    for node in graph.nodes:
        for ref in node.inputs:
            readers.setdefault(ref, []).append(node)
    for node in graph.nodes:
        masks = getattr(node.params, "masks", None)
        if masks and isinstance(masks, (list, tuple)):
            for kind, ref in zip(masks, node.inputs[len(node.inputs) - len(masks):]):
                if (traced := _mask_source(graph, ref)) is not None:
                    found.setdefault(traced[0], str(kind) + traced[1])
        value = getattr(node.params, "value", None)
        if node.type != "MaskedFill" or len(node.inputs) != 2 or not (isinstance(value, float) and value < 0
                                                                      and math.isinf(value)):
            continue
        out = node.out
        if out is None or not any(r.type == "Softmax" and getattr(r.params, "dim", None) in (-1, out.rank - 1)
                                  for r in readers.get(node.name, [])):
            continue
        if (traced := _mask_source(graph, node.inputs[1])) is not None:
            found.setdefault(traced[0], "fill" + traced[1])
    return found


def own_masks(cfg: dict[str, Any]) -> set[str]:
    """The inputs that are attention masks themselves (not ids a Compare makes one of): never scaled,
    and -inf allowed in them."""
    return {name for name, kind in (cfg.get("masks") or {}).items() if "|" not in kind}


def _mask_source(graph: Graph, ref: str) -> tuple[str, str] | None:
    """(the model input a mask is made of, "" or "|op|value" of the Compare that makes it), through
    Unsqueezes that keep the last dim last; None when it is made some other way."""
    compared = ""
    while ref not in graph.inputs:
        step = graph.node(ref)
        if step is None or step.out is None or len(step.inputs) != 1:
            return None
        dim = getattr(step.params, "dim", None)
        if step.type == "Compare" and not compared and getattr(step.params, "value", None) is not None:
            compared = f"|{step.params.op}|{step.params.value}"
        elif step.type != "Unsqueeze" or dim in (-1, step.out.rank - 1):
            return None
        ref = step.inputs[0]
    return ref, compared


def head(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """The config one output of a per-output loss trains under, shaped like a one-output model's:
    what reads the data, checks it, scales it and scores it for one task reads it for each output."""
    h = cfg["heads"][name]
    return {**cfg, "task": h["task"], "loss": h["loss"], "threshold": h["threshold"], "heads": None,
            "outputs": {name: cfg["outputs"][name]},
            "output_dims": {name: cfg["output_dims"][name]} if "output_dims" in cfg else None,
            "output_layers": {name: cfg.get("output_layers", {}).get(name, {})}}


def classes_at(cfg: dict[str, Any]) -> int:
    """The dim of the output (batch included) that holds a classifier's classes: 1, or the last dim
    of a tagger whose loss has class_dim: -1. Run folders written before class_dim read as 1."""
    return int(cfg.get("class_dim") or 1)


def scaling(cfg: dict[str, Any]) -> tuple[dict[str, str], str]:
    """What ``auto`` means for this model: (kind per float input, kind for the targets)."""
    pre = cfg["train"]["preprocess"]
    kinds = {}
    for name, spec in cfg["inputs"].items():
        is_float = spec["dtype"].startswith(("float", "bfloat"))
        kind = pre["inputs"]
        if kind == "auto":
            # tabular rows [B, features]; images and sequences are left as they are
            kind = "standardize" if len(spec["shape"]) == 2 else "none"
        # never scale token ids, nor a mask: standardising 0/-inf or 0/1 leaves no mask at all
        kinds[name] = kind if is_float and name not in own_masks(cfg) else "none"
    target = pre["targets"]
    if cfg["task"] != "regression":
        target = "none"  # class labels, 0/1 targets and probability rows keep their meaning
    elif target == "auto":
        # a bounded head (Sigmoid: 0…1, Tanh: -1…1) is meant to fit targets in its own range
        last = next(iter(cfg.get("output_layers", {}).values()), {}).get("type")
        target = "none" if last in BOUNDED else "standardize"
    return kinds, target
