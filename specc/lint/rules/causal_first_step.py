"""L049 causal-first-step: a classifier reads step 0 of a causal encoder, which saw only itself.

What it does
    A Select of step 0 (`{type: Select, dim: 1, index: 0}`, the class-token read-out) takes the
    output of self-attention with `causal: true` (a TransformerEncoder, TransformerEncoderLayer
    or self-attention MultiheadAttention), through per-step layers only (norms, activations,
    dropout, Linear, positional encodings, residual adds), from a ClassToken or from the ids of an
    Embedding (BERT's [CLS] token at step 0).

Why is this bad
    A causal mask lets step t attend to steps 0..t: step 0 attends to itself alone, in every
    layer. The read-out therefore depends on the first token only; when that token is a
    ClassToken (a learned vector, the same for every sample) the model's prediction is the same
    for every input, and it trains to the class prior with no error. `causal: true` belongs to a
    decoder or language model, which reads the last step; a BERT/ViT-style classifier attends
    both ways.

Example
    inputs: {x: [B, 16, 32]}
    layers:
      - {type: ClassToken}
      - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 64, causal: true}
      - {type: Select, dim: 1, index: 0}

Use instead
    Set causal: false on the encoder (a classifier sees the whole sequence), or, for a causal
    model, read the last step: index: -1.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg, keeps_layout

CODE = "L049"
ATTENTION = ("TransformerEncoder", "TransformerEncoderLayer", "MultiheadAttention")
# Layers that act on each position alone (or add a position's own vector): step 0 of their
# output is made from step 0 of their input only.
# An Embedding looks up each position's id alone: BERT's [CLS] id at step 0 stays step 0's.
PER_POSITION = ("Embedding", "PositionalEncoding", "RMSNorm", "Scale", "StochasticDepth")
ELEMENTWISE_MERGE = ("Add", "Mul", "Sub")


def _first_step(step: Leaf | str, seen: dict[int, tuple[bool, set[str]] | None]) -> tuple[bool, set[str]] | None:
    """Where step 0 of ``step``'s (B, T, D) output comes from: (whether a causal layer lies on the
    way, the origins: 'token' for a ClassToken's, 'data' else); None when some layer on the way
    mixes the steps (attention both ways, a recurrent layer, a conv)."""
    if isinstance(step, str):
        return False, {"data"}
    if id(step) in seen:
        return seen[id(step)]
    seen[id(step)] = None  # a cycle cannot happen in a graph; a re-visit reads the first answer
    found: tuple[bool, set[str]] | None
    if step.type == "ClassToken":
        found = False, {"token"}
    elif step.out is None or step.out.rank != 3:
        found = None
    elif step.type in ATTENTION:
        causal = bool(arg(step, "causal", False)) and bool(arg(step, "batch_first", True))
        below = _first_step(step.inputs[0], seen) if causal and step.inputs else None
        found = (True, below[1]) if below is not None else None
    elif step.type in ELEMENTWISE_MERGE:
        parts = [_first_step(i, seen) for i in step.inputs]
        if any(p is None for p in parts) or not parts:
            found = None
        else:
            done = [p for p in parts if p is not None]
            found = any(p[0] for p in done), set().union(*(p[1] for p in done))
    elif (keeps_layout(step) or step.type in PER_POSITION) and step.source is not None:
        found = _first_step(step.source, seen)
    elif (keeps_layout(step) or step.type in PER_POSITION) and len(step.inputs) == 1:
        found = _first_step(step.inputs[0], seen)
    else:
        found = None
    seen[id(step)] = found
    return found


def _causal_layer(step: Leaf) -> Leaf | None:
    """The causal attention layer nearest the read-out, to name in the message and the fix."""
    todo: list[Leaf | str] = [step]
    while todo:
        s = todo.pop(0)
        if isinstance(s, str):
            continue
        if s.type in ATTENTION and arg(s, "causal", False):
            return s
        todo.extend(s.inputs)
    return None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for sel in ctx.view.leaves:
        if sel.type != "Select" or sel.source is None or sel.source.out is None or sel.source.out.rank != 3:
            continue
        if arg(sel, "dim") not in (1, -2) or arg(sel, "index") != 0:
            continue
        found = _first_step(sel.source, {})
        if found is None or not found[0]:
            continue
        enc = _causal_layer(sel.source)
        if enc is None:
            continue
        if found[1] == {"token"}:
            what = ("step 0 is the ClassToken's learned vector, the same for every sample, so the output is the "
                    "same for every input")
        else:
            what = "the output depends on the first token alone"
        yield ctx.warning(
            CODE, sel, f"it reads step 0 of {enc.who()}, whose causal: true lets each step attend only to the steps "
            f"before it: step 0 saw only itself, and {what}",
            f"set causal: false on '{enc.node.path}' (a classifier attends both ways), or read the last step with "
            "index: -1", field="index")
