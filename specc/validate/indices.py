"""Integer inputs that index into something: the exclusive bound their values must stay under.

An Embedding reads ids below its ``num_embeddings``; a Pick reads positions below the size of the
dim it picks from, which may be a symbol (a sequence's T). Example inputs, synthetic data, the
data check and `specc run`'s random inputs all draw or test ids by this one rule: an id past the
bound fails inside the framework (torch.gather: "index 1 is out of bounds for dimension 1 with
size 1"), after check said ok.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..shapes.dims import DimLike, add, evaluate, from_json, to_json

if TYPE_CHECKING:  # read, never built, here: validate sits below the graph stage
    from ..graph.ir import Graph, Node

# Random ids for an input nothing bounds: 0 and 1 fit any table of two rows or more.
UNBOUNDED = 2


@dataclass(frozen=True)
class IndexBound:
    high: DimLike  # exclusive; a symbol's expression when it picks along a symbolic dim
    reader: str  # in words, "the Embedding 'emb'", and what it takes: "(ids 0 to 999)"
    kind: str  # the reader's layer type, which decides the fix for ids past the bound
    pad: int | None = None  # an Embedding's padding_idx: made-up ids come padded with it


def _readers(graph: Graph, name: str) -> Iterator[tuple[Graph, Node, int]]:
    """The leaves that read ``name`` and at which input position; a block's first input is
    ``input`` inside it."""
    for n in graph.nodes:
        for i, ref in enumerate(n.inputs):
            if ref != name:
                continue
            if n.sub is None:
                yield graph, n, i
            elif i == 0:
                yield from _readers(n.sub, "input")


def index_bounds(graph: Graph, name: str) -> list[IndexBound]:
    """What bounds the values of input ``name``: each Embedding reading it, each Pick reading it
    as its index, each recurrent layer reading it as lengths (0 to T: a length below 1 is read as 1)."""
    out: list[IndexBound] = []
    for g, n, i in _readers(graph, name):
        if n.result is None:
            continue
        if n.type == "Embedding" and isinstance(n.result.args.get("num_embeddings"), int):
            rows = n.result.args["num_embeddings"]
            pad = n.result.args.get("padding_idx")
            out.append(IndexBound(rows, f"the Embedding '{n.path}' reading it has {rows} rows", "Embedding",
                                  None if pad is None else pad % rows))
        elif n.type in ("RNN", "LSTM", "GRU") and i == 1 and n.result.args.get("lengths"):
            x = g.value(n.inputs[0])
            if x is not None:
                steps = x.shape[1 if n.result.args["batch_first"] else 0]
                out.append(IndexBound(add(steps, 1), f"the {n.type} '{n.path}' reads lengths of a sequence of "
                                      f"{steps} steps", "lengths"))
        elif n.type == "Pick" and i == 1:
            x = g.value(n.inputs[0])
            if x is not None:
                d = n.result.args["dim"]
                out.append(IndexBound(x.shape[d], f"the Pick '{n.path}' picks from dim {d} of {x}", "Pick"))
    return out


def index_high(bounds: list[IndexBound] | list[DimLike], env: Mapping[str, int]) -> int:
    """The exclusive bound at sizes ``env``: the smallest of ``bounds`` (UNBOUNDED when none)."""
    highs = []
    for b in bounds:
        try:
            highs.append(evaluate(b.high if isinstance(b, IndexBound) else b, env))
        except KeyError:  # a symbol the caller has no size for: that bound cannot be applied
            continue
    return min(highs) if highs else UNBOUNDED


def bounds_json(graph: Graph, names: list[str]) -> dict[str, list[object]]:
    """Each bounded input's bounds as plain JSON (sizes by :func:`to_json`): what a training
    config and an exported model's metadata carry."""
    out: dict[str, list[object]] = {}
    for name in names:
        found = index_bounds(graph, name)
        if found:
            out[name] = [to_json(b.high) for b in found]
    return out


def bound_fix(kind: str, largest: int) -> str:
    """The fix for ids up to ``largest`` past a bound of a ``kind`` reader."""
    if kind == "Embedding":
        return f"set num_embeddings to at least {largest + 1}"
    if kind == "lengths":
        return "a length counts a sample's real steps: at most the steps of the padded sequence it comes with"
    return ("positions count from 0: subtract 1 from positions counted from 1, and keep each below the length "
            "of the dim it picks from")


def bounds_from_json(text: str | Mapping[str, object] | None) -> dict[str, list[DimLike]]:
    """What :func:`bounds_json` wrote (a JSON string or its parsed form); an older model's plain
    int per input is one bound. Anything unreadable counts as no bound."""
    try:
        raw = json.loads(text) if isinstance(text, str) else (text or {})
    except ValueError:
        return {}
    out: dict[str, list[DimLike]] = {}
    for name, value in (raw.items() if isinstance(raw, dict) else ()):
        try:
            out[name] = [from_json(value)] if isinstance(value, int) else [from_json(v) for v in value]
        except (TypeError, ValueError):
            continue
    return out


def padding_id(bounds: list[IndexBound]) -> int | None:
    """The id that pads the input, when an Embedding reading it names one (its padding_idx)."""
    return next((b.pad for b in bounds if b.pad is not None), None)
