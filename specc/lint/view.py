"""The shaped graph as lint rules want it: every leaf layer with the leaf layers that feed it
and that read it, blocks and repeats seen through.

A rule asks "what comes right before this BatchNorm?" or "which layer produces the
model's output?" without caring that the answer sits inside the third repeat of a block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..graph.ir import Graph, Node, producer
from ..shapes.tensor import TensorType

if TYPE_CHECKING:
    from ..spec import Spec


@dataclass(eq=False)
class Leaf:
    node: Node
    inputs: list[Leaf | str]  # the leaves it reads, or the name of a model input
    consumers: list[Leaf] = field(default_factory=list)
    is_output: bool = False

    @property
    def type(self) -> str:
        return self.node.type

    @property
    def family(self) -> str:
        """The layers module the kind lives in: 'conv', 'pool', 'dropout', 'activation', …"""
        return type(self.node.kind).__module__.rsplit(".", 1)[-1] if self.node.kind else ""

    @property
    def out(self) -> TensorType | None:
        return self.node.out

    @property
    def spatial_dims(self) -> int:
        """The n of an n-d kind (Conv2d: 2, AdaptiveAvgPool1d: 1); 0 for a kind not named so."""
        return int(self.type[-2]) if self.type[-2:] in ("1d", "2d", "3d") else 0

    @property
    def source(self) -> Leaf | None:
        """The single step this one reads, when it reads exactly one layer."""
        return self.inputs[0] if len(self.inputs) == 1 and isinstance(self.inputs[0], Leaf) else None

    def who(self) -> str:
        return f"{self.node.type} '{self.node.path}'"


@dataclass
class View:
    leaves: list[Leaf]
    outputs: list[tuple[str, Leaf | str]]

    @property
    def main_output(self) -> Leaf | None:
        """The step behind the first output: the one a single loss is computed on."""
        return self.outputs[0][1] if self.outputs and isinstance(self.outputs[0][1], Leaf) else None


def view(graph: Graph) -> View:
    leaves: list[Leaf] = []
    env: dict[str, Leaf | str] = {name: name for name in graph.inputs}
    _walk(graph, env, leaves)
    outputs = [(name, env[producer(src)]) for name, src in graph.outputs if producer(src) in env]
    for _, s in outputs:
        if isinstance(s, Leaf):
            s.is_output = True
    for s in leaves:
        for i in s.inputs:
            if isinstance(i, Leaf):
                i.consumers.append(s)
    return View(leaves, outputs)


def _walk(g: Graph, env: dict[str, Leaf | str], leaves: list[Leaf]) -> None:
    for n in g.nodes:
        ins = [env[producer(s)] for s in n.inputs if producer(s) in env]  # a Split's part: the Split
        if n.sub is not None:
            inner: dict[str, Leaf | str] = dict(zip(n.sub.inputs, ins))
            _walk(n.sub, inner, leaves)
            if n.sub.outputs and producer(n.sub.outputs[0][1]) in inner:
                env[n.name] = inner[producer(n.sub.outputs[0][1])]
            continue
        step = Leaf(n, ins)
        leaves.append(step)
        env[n.name] = step


def loss_type(spec: Spec) -> str | None:
    loss = spec.document.loss if spec.document is not None else None
    return getattr(loss, "type", None)


RECURRENT = ("RNN", "LSTM", "GRU")

# Layer kinds that act on each element, or each position's feature vector, alone: they keep the
# layout of what they read, so a rule can look through them to the layer that made the value.
ELEMENTWISE_FAMILIES = ("activation", "dropout")
PER_STEP_TYPES = ("Identity", "LayerNorm", "Linear")


def keeps_layout(step: Leaf) -> bool:
    """True when ``step`` reads one tensor and passes on its layout (the meaning of each dim)."""
    if step.source is None:
        return False
    if step.family == "activation" and step.type in ("Softmax", "LogSoftmax"):
        args = step.node.result.args if step.node.result else {}
        rank = step.out.rank if step.out is not None else 0
        return args.get("dim", -1) in (-1, rank - 1)  # over the features: per step; over time: not
    return step.family in ELEMENTWISE_FAMILIES or step.type in PER_STEP_TYPES


def written(step: Leaf, key: str, *aliases: str) -> bool:
    """Whether the spec writes ``key`` (or an alias) on this layer, rather than leaving the default."""
    return any(k in step.node.field_locs for k in (key, *aliases))


def arg(step: Leaf, key: str, default: object = None) -> object:
    """A resolved argument of the layer (what PyTorch gets), or ``default``."""
    return step.node.result.args.get(key, default) if step.node.result else default


def removal(graph: Graph, step: Leaf) -> str:
    """The fix "remove 'probs'", and, where ``outputs:`` names that layer, what it names instead:
    the spec with the layer gone would list an output that is no longer there (V-error)."""
    node = step.node
    text = f"remove '{node.path}'"
    if graph.node(node.name) is not node or not node.inputs:
        return text  # inside a block: the model's outputs name the block, which stays
    named = [out for out, ref in graph.outputs if ref == node.name] if graph.outputs_written else []
    if not named:
        return text
    before = node.inputs[0]
    prev = graph.node(producer(before))
    if before not in graph.inputs and (prev is None or not prev.explicit_name):
        return f"{text} and give its name to the layer before it (name: {node.name})"
    if named[0] == node.name:
        return f"{text} and list '{before}' in outputs instead"
    return f"{text} and point output '{named[0]}' at '{before}'"
