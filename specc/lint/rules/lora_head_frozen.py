"""L057 lora-head-frozen: under lora:, the layer that writes the trained output is frozen at its start.

What it does
    The spec has `lora:` and a loss, and the last layer with weights before the trained output
    (through activations, dropout, reshapes and other layers without weights) is a Linear or a
    convolution that is neither a lora target nor marked `trainable: true`. A head tied to an
    Embedding (`tie:`), or a Linear with as many outputs as an Embedding of the model has rows
    (a language model's head over the pretrained vocabulary), does not fire.

Why is this bad
    LoRA freezes every base weight; only the adapters and the layers marked `trainable: true`
    train. A classifier or regression head written for the new task (3 sentiment classes, 9
    tags) is not in the pretrained checkpoint, so it keeps its random start, and the adapters
    below it must learn to feed a fixed random projection: accuracy stays near chance. PEFT
    trains such a head by itself (`modules_to_save=["classifier"]`, set for you by
    `task_type="SEQ_CLS"`); ported to a plain config, it is the line forgotten.

Example
    inputs: {tokens: [B, T, 32]}
    layers:
      - {type: Linear, out_features: 32, name: fc1}
      - {type: GELU}
      - {type: Mean, dim: 1}
      - {type: Linear, out_features: 3, name: classifier}
    lora: {rank: 4, targets: [fc1]}
    loss: {type: CrossEntropyLoss}

Use instead
    Mark the head `trainable: true` (it trains in full beside the adapters), or add it to the
    lora targets. If the checkpoint holds this very head (the same task, further data), silence
    this with `ignore: [L057]` on it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, per_output, rule
from ..view import Leaf, arg

CODE = "L057"
HEADS = ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")


def _head(step: Leaf) -> Leaf | None:
    """The last layer with weights on the way to ``step``'s output, following single inputs."""
    while step.node.result is not None and step.node.result.params == 0:
        if step.source is None:
            return None
        step = step.source
    return step


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    plan = ctx.lora
    if plan is None or ctx.loss_section is None:
        return
    trained = {id(t.node) for t in plan.targets} | {id(n) for n in plan.full}
    vocab = {arg(s, "num_embeddings") for s in ctx.view.leaves if s.type == "Embedding"}
    seen: set[int] = set()
    for one in per_output(ctx):
        last = one.view.main_output
        head = _head(last) if last is not None else None
        if head is None or head.type not in HEADS or head.node.tie is not None or head.node.shares is not None:
            continue
        if id(head.node) in trained or id(head.node) in seen:
            continue
        seen.add(id(head.node))
        width = arg(head, "out_features", arg(head, "out_channels"))
        if width in vocab:
            continue  # a language model's head over the embedding's vocabulary: pretrained with it
        yield ctx.warning(
            CODE, head, f"under lora: only the adapters and the layers marked trainable: true train, and this head "
            f"({width} outputs) is neither, so it keeps its random start: a head written for the new task predicts "
            "through fixed random weights, and accuracy stays near chance",
            f"set trainable: true on '{head.node.path}' (PEFT's modules_to_save), or add '{head.node.path}' to lora "
            f"targets; if the checkpoint holds this very head, silence this with ignore: [{CODE}] on it")
