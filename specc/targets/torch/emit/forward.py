"""The lines of ``forward`` and the one aliasing decision: which in-place layers may write
over their input."""

from __future__ import annotations

import builtins
import re
from typing import Any

from ....graph.ir import Graph, Node, port_index, producer
from ....shapes.dims import fmt_shape
from ....shapes.tensor import TensorType
from ..lower import forward_expr, has_module
from .quote import ident
from .records import ForwardStep

# Variable names of generated forward(): the first candidate that no layer or input of
# that graph is called (a layer named `x` keeps its name; the chain variable moves over).
CHAIN_NAMES = ("x", "h", "y", "z", "out", "hidden")
BLOCK_INPUT_NAMES = ("x", "inp", "x_in", "block_input")
BLOCK_CHAIN_NAMES = ("out", "h", "y", "z", "hidden", "block_out")


def free_name(candidates: tuple[str, ...], taken: set[str]) -> str:
    name = next((c for c in candidates if c not in taken), None)
    if name is None:  # every candidate is a layer name: derive one nobody used
        name = candidates[0]
        while name in taken:
            name += "_"
    return name


def graph_names(g: Graph) -> set[str]:
    return {n.name for n in g.nodes} | set(g.inputs)


def shape_comment(t: TensorType | None) -> str:
    return fmt_shape(t.shape) if t is not None else ""


def _node_comment(n: Node) -> str:
    outs = n.result.outs if n.result is not None else ()
    return ", ".join(shape_comment(t) for t in outs) if outs else shape_comment(n.out)


def _read(var: dict[str, str], ref: str) -> str:
    """The expression for a value: its variable, or one item of a layer's tuple of outputs."""
    index = port_index(ref)
    return var[ref] if index is None else f"{var[producer(ref)]}[{index}]"


def loops(n: Node) -> bool:
    """Whether ``n`` is a repeat of a block of several inputs: an ``nn.ModuleList`` whose copies
    ``forward`` calls in a loop, each on the one before and the inputs every copy reads (an
    ``nn.Sequential`` passes one value)."""
    return n.sub is not None and n.sub.block == "repeat" and len(n.sub.inputs) > 1


def _loop_steps(n: Node, ins: list[str], target: str, taken: set[str]) -> tuple[str, list[ForwardStep]]:
    """``for layer in self.stack: h = layer(h, mask)``, after ``h = x`` when the chain starts
    elsewhere; the variable it leaves the result in."""
    first, rest = ins[0], ins[1:]
    if any(re.search(rf"\b{re.escape(target)}\b", x) for x in rest):  # the loop would overwrite what they read
        target = ident(n.name) + ("_" if n.name in dir(builtins) else "")
    copy = free_name(("layer", "block", "copy", "module"), taken | {target, *ins})
    steps = [ForwardStep(target, first, "")] if target != first else []
    attr = ident(n.shares or n.name)
    steps.append(ForwardStep(target, f"{copy}({', '.join([target, *rest])})", _node_comment(n),
                             f"{copy} in self.{attr}"))
    return target, steps


def _expr(node: Node, ins: list[str]) -> str:
    attr = ident(node.shares or node.name)  # use: calls the module it names again, as PyTorch shares one
    if node.sub is not None:
        return f"self.{attr}({', '.join(ins)})"
    assert node.kind is not None and node.result is not None
    module = f"self.{attr}" if has_module(node.kind) else ""
    return forward_expr(node.kind, module, ins, node.result.args)


def forward_steps(g: Graph, input_vars: dict[str, str], chain: str,
                  outputs: list[str]) -> tuple[list[ForwardStep], list[str]]:
    """Forward lines and the returned variables; a value is kept in a variable named after
    its layer only when something other than the very next layer (or the return) reads it."""
    readers: dict[str, set[int]] = {}
    for i, n in enumerate(g.nodes):
        for s in n.inputs:
            readers.setdefault(producer(s), set()).add(i)
    returned = {producer(o) for o in outputs}
    var = dict(input_vars)
    steps: list[ForwardStep] = []
    last = len(g.nodes) - 1
    taken = graph_names(g) | set(input_vars.values()) | {chain}
    for i, n in enumerate(g.nodes):
        ins = [_read(var, s) for s in n.inputs]
        used_by = readers.get(n.name, set())
        sole_final_output = outputs == [n.name] and i == last
        if sole_final_output or (n.name not in returned and used_by <= {i + 1}):
            target = chain
        else:
            # A layer may be called `filter`; its forward variable must not shadow the builtin.
            target = ident(n.name) + ("_" if n.name in dir(builtins) else "")
        if loops(n):
            target, written = _loop_steps(n, ins, target, taken)
            steps += written
        else:
            steps.append(ForwardStep(target, _expr(n, ins), _node_comment(n)))
        var[n.name] = target
    return steps, [_read(var, o) for o in outputs]


def tie_lines(g: Graph) -> list[str]:
    """``__init__``'s statements that tie weights, after every layer is built (``tie:``)."""
    return [f"self.{ident(n.name)}.weight = self.{ident(n.tie)}.weight  # tie: one tensor, trained once"
            for n in g.nodes if n.tie is not None]


def constructor_args(g: Graph, n: Node) -> dict[str, Any]:
    """A layer's constructor arguments as written: ``inplace`` is dropped to False where
    writing over the input would change a value that is read again, by another layer or by
    the backward pass of the layer that made it."""
    assert n.result is not None
    args = dict(n.result.args)
    if args.get("inplace") and (_input_read_again(g, n) or _input_read_by_backward(g, n)):
        args["inplace"] = False
    return args


def _input_read_by_backward(g: Graph, n: Node) -> bool:
    """Whether the layer that made ``n``'s input (or, through views and in-place layers, the
    one that made what it aliases) computes its gradient from that output: ReLU(inplace) after
    a Sigmoid trains into "modified by an inplace operation"."""
    src = producer(n.inputs[0]) if n.inputs else None
    made_by = g.node(src) if src is not None else None
    if made_by is None or made_by.kind is None or made_by.result is None:
        return False
    inplace = made_by.result.args.get("inplace") is True
    if made_by.kind.grad_reads_output or (inplace and made_by.kind.grad_reads_output_inplace):
        return True
    return (made_by.kind.may_alias or inplace) and _input_read_by_backward(g, made_by)


def _input_read_again(g: Graph, n: Node) -> bool:
    """Whether ``n``'s input is also read elsewhere: by another layer, as an output, or outside
    this graph (a model input, or a block's input that the enclosing graph may read again).
    Through views: writing over a transpose or a slice writes over what it was taken from."""
    # One output of a Split is a view of the Split's input: writing over it is judged as writing
    # over what the Split read, and any reader of any of its outputs counts.
    src = producer(n.inputs[0]) if n.inputs else None
    if src is None or src in g.inputs or src in (producer(s) for _, s in g.outputs):
        return True
    if any(src in map(producer, m.inputs) for m in g.nodes if m is not n):
        return True
    made_by = g.node(src)
    aliases = made_by is not None and made_by.kind is not None and made_by.result is not None and (
        made_by.kind.may_alias or made_by.result.args.get("inplace") is True)
    return bool(aliases and made_by is not None and _input_read_again(g, made_by))
