"""L006 bidirectional-last-step: the last step of a bidirectional RNN taken from its sequence.

What it does
    Finds a ``Select`` of the last step (``index: -1``, or the last index of a fixed length)
    along the time dim of a bidirectional RNN/LSTM/GRU's ``output: sequence``, directly or
    through layers that act on each step alone (Dropout, activations, LayerNorm, Linear).

Why is this bad
    The output at the last step holds the forward direction after the whole sequence but the
    backward direction after a single step: the backward half of the features has read one
    token.  The model still trains, just worse, and nothing fails.

Example
    - {type: LSTM, hidden_size: 64, bidirectional: true, output: sequence}
    - {type: Select, dim: 1, index: -1}

Use instead
    - {type: LSTM, hidden_size: 64, bidirectional: true, output: last}   # or final_hidden
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...graph.ir import Graph, Node, port_index, producer
from .. import Context, rule

CODE = "L006"
RECURRENT = ("RNN", "LSTM", "GRU")
# Kinds that act on every step alone, so the step a later Select picks is the RNN's step.
PER_STEP = ("Dropout", "AlphaDropout", "Identity", "LayerNorm", "Linear")
ACTIVATIONS = "specc.layers.activation"


def _graphs(g: Graph) -> Iterator[Graph]:
    yield g
    for n in g.nodes:
        if n.sub is not None:
            yield from _graphs(n.sub)


def _per_step(n: Node) -> bool:
    if n.kind is None or len(n.inputs) != 1:
        return False
    if n.type in PER_STEP:
        return True
    if type(n.kind).__module__ == ACTIVATIONS:
        # Softmax over the feature dim is per step; over time it is not.
        dim = n.result.args.get("dim", -1) if n.result else -1
        return dim in (-1, (n.out.rank - 1) if n.out else -1)
    return False


def _source_rnn(g: Graph, name: str) -> Node | None:
    """The bidirectional RNN whose sequence reaches ``name`` through per-step layers, if any."""
    node = _reads(g, name)
    while node is not None and node.result is not None:
        args = node.result.args
        if node.type in RECURRENT:
            return node if args.get("bidirectional") and args.get("output") in (
                "sequence", "sequence_and_state") else None
        if not _per_step(node):
            return None
        node = _reads(g, node.inputs[0])
    return None


def _reads(g: Graph, name: str) -> Node | None:
    """The node whose value ``name`` is; port 0 of a layer of several outputs too (the steps of an
    RNN with output: sequence_and_state)."""
    return g.node(producer(name) if port_index(name) == 0 else name)


def _is_last_step(sel: Node, rnn: Node, g: Graph) -> bool:
    assert sel.result is not None and rnn.result is not None
    time_axis = 1 if rnn.result.args.get("batch_first") else 0
    if sel.result.args.get("dim") != time_axis:
        return False
    index = sel.result.args.get("index")
    source = g.value(sel.inputs[0])
    length = source.shape[time_axis] if source is not None else None
    return index == -1 or (isinstance(length, int) and index == length - 1)


@rule
def bidirectional_last_step(ctx: Context) -> Iterator[Diagnostic]:
    for g in _graphs(ctx.graph):
        for n in g.nodes:
            if n.type != "Select" or n.result is None or len(n.inputs) != 1:
                continue
            rnn = _source_rnn(g, n.inputs[0])
            if rnn is None or not _is_last_step(n, rnn, g):
                continue
            yield Diagnostic(
                CODE,
                f"Select '{n.path}' takes the last step of bidirectional {rnn.type} '{rnn.path}': there the "
                "backward direction has read only the last step of the sequence",
                n.loc,
                f"set output: last on '{rnn.path}' (forward last step beside backward first step) or "
                "output: final_hidden, and remove this Select",
                "warning", n.path)
