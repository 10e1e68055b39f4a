"""L058 rnn-reads-padding: a recurrent layer reads padded sequences without their lengths.

What it does
    Finds an RNN, LSTM or GRU that reads an Embedding with ``padding_idx`` (the ids are padded
    to a common length), directly or through layers that act on each step alone, without the
    lengths of the sequences (``from: [x, lengths]``), when what it returns depends on the
    padding: its last step or final state (``output: last``, ``final_hidden``, ``state``), or,
    bidirectional, any output (its backward direction starts on the padding).

Why is this bad
    The layer runs over the padding steps too. The state it ends in is the state after the
    padding, not after the sentence, so a short sentence in a batch padded to a long one gives
    another answer than it gives alone, and the model learns from how much padding there was.
    Keras skips them by the mask of ``mask_zero=True``; PyTorch code packs the batch
    (``pack_padded_sequence``). Nothing fails: the model trains, worse. (Ids padded at the
    front, Keras' ``pad_sequences`` default, put a one-way layer's last step after the real
    ones: silence the rule on such a layer with ``ignore: [L058]``.)

Example
    inputs:
      tokens: {shape: [B, T], dtype: int64}
    layers:
      - {type: Embedding, num_embeddings: 20000, embedding_dim: 128, padding_idx: 0}
      - {type: LSTM, hidden_size: 64, bidirectional: true, output: last}

Use instead
    - {type: Embedding, from: tokens, num_embeddings: 20000, embedding_dim: 128, padding_idx: 0, name: emb}
    - {type: Compare, from: tokens, op: ne, value: 0}
    - {type: Cast, dtype: int64}
    - {type: Reduce, op: sum, dim: 1, name: lengths}
    - {type: LSTM, from: [emb, lengths], hidden_size: 64, bidirectional: true, output: last}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf

CODE = "L058"
RECURRENT = ("RNN", "LSTM", "GRU")
# what acts on each step alone, so the padded steps stay where they were
PER_STEP = ("Dropout", "AlphaDropout", "Identity", "LayerNorm", "Linear", "Scale")
ACTIVATION = "activation"
READ_OUT = {"last": "its last step", "final_hidden": "its final hidden state", "state": "its final state",
            "sequence_and_state": "its final state"}


def _padded_embedding(step: Leaf | str) -> Leaf | None:
    """The Embedding with padding_idx whose steps reach ``step`` one for one, if any."""
    while isinstance(step, Leaf) and step.node.result is not None:
        if step.type == "Embedding":
            return step if step.node.result.args.get("padding_idx") is not None else None
        if step.source is None or not (step.type in PER_STEP or step.family == ACTIVATION):
            return None
        step = step.source
    return None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for rnn in ctx.view.leaves:
        if rnn.type not in RECURRENT or rnn.node.result is None or not rnn.inputs:
            continue
        args = rnn.node.result.args
        if args.get("lengths") or not (args["output"] != "sequence" or args["bidirectional"]):
            continue
        emb = _padded_embedding(rnn.inputs[0])
        if emb is None:
            continue
        pad = emb.node.result.args["padding_idx"]
        tokens = emb.inputs[0] if isinstance(emb.inputs[0], str) else emb.inputs[0].node.path
        time = 1 if args["batch_first"] else 0
        what = ("its backward direction starts on the padding" if args["output"] == "sequence" else
                f"{READ_OUT[args['output']]} is the state after the padding, not after the sequence")
        yield ctx.warning(
            CODE, rnn, f"it reads {emb.who()}, whose ids are padded (padding_idx {pad}), over every step: {what}, "
            "so a sequence gives another answer in a batch padded to a longer one",
            f"give it each sample's length, from: [{rnn.node.inputs[0]}, lengths], counted from the ids: - {{type: "
            f"Compare, from: {tokens}, op: ne, value: {pad}}}, - {{type: Cast, dtype: int64}}, - {{type: Reduce, "
            f"op: sum, dim: {time}, name: lengths}}" + ("" if args["bidirectional"] else
                                                      "; ids padded at the front need none: ignore: [L058]"))
