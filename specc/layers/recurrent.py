"""Recurrent layers: RNN, LSTM, GRU over (B, T, F) (``batch_first``, specc's default) or (T, B, F).

``output`` says what flows on:

- ``sequence``: every step, (B, T, D·H) with D = 2 when bidirectional (PyTorch's ``out``);
- ``last``: the last step, (B, D·H).  For a bidirectional layer that is the forward
  direction's last step beside the backward direction's *first* step, where the backward
  pass has read the whole sequence; ``out[:, -1]`` would give the backward direction after
  one token (the classic bug);
- ``final_hidden``: the top layer's final hidden state ``h_n``, both directions side by side,
  (B, D·H).  Without padding it holds the same numbers as ``last``;
- ``state``: the final state of every layer and direction as PyTorch returns it, (num_layers·D,
  B, H): what another layer of the same size takes as its initial state (an encoder's state
  starting a decoder, seq2seq).  An LSTM's state is two outputs, ``.h`` and ``.c``
  (``from: [x, encoder.h, encoder.c]``);
- ``sequence_and_state``: both, as PyTorch's ``out, h_n = rnn(x)`` (Keras' ``return_sequences``
  with ``return_state``): ``.sequence`` for attention over the encoder's steps, ``.h`` (and an
  LSTM's ``.c``) to start the decoder.  A GRU's last step is its final state only for one
  layer in one direction; an LSTM's cell state is in no step at all.

H is ``proj_size`` for an LSTM with a projection, else ``hidden_size``.  Initial states are
optional extra inputs, ``from: [x, h0]`` (``[x, h0, c0]`` for an LSTM), shaped
(num_layers·D, B, H) whatever ``batch_first`` says, as in PyTorch.

Padded batches.  An integer (B,) input right after x, ``from: [x, lengths]`` (then any initial
states), is each sample's number of real steps: the layer reads those alone, as PyTorch's
``pack_padded_sequence`` and ONNX's ``sequence_lens`` do.  The sequence is 0 past each sample's
length, ``last``, ``final_hidden`` and ``state`` are the states at its last real step (the
backward direction's after reading the real steps from the last one back), so a shorter
sentence in a batch padded to the longest gives what it gives alone.  Keras' ``mask_zero``
is the lengths of the non-padding ids: ``{type: Compare, from: tokens, op: ne, value: 0}``, a
``Cast`` to int64 and a sum over time (``{type: Reduce, op: sum, dim: 1}``).  A length of 0
is read as 1 (PyTorch refuses an empty sequence).

Counts.  Parameters are PyTorch's: per layer and direction, G gate blocks
(LSTM 4, GRU 3, RNN 1) of ``W_ih`` (G·H × I_l), ``W_hh`` (G·H × H_r) and two biases (G·H
each), plus ``W_hr`` (P × H) with a projection; I_0 = input_size, I_l = D·H_r above.
MACs per sample count the matrix products at every step, which torchinfo leaves out
(it counts one step):  T · Σ_layers D · (G·H·(I_l + H_r) + P·H).  Element-wise gate
arithmetic and biases are not counted, as for Linear.
"""

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, NonNegativeInt, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import Dim, DimLike, mul, same_size
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, axis, check_given, register, require

Output = Literal["sequence", "last", "final_hidden", "state", "sequence_and_state"]

def seq_axes(x: TensorType, batch_first: bool) -> tuple[DimLike, DimLike]:
    """(batch, time) of a rank-3 sequence tensor."""
    return (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])


class RecurrentParams(LayerParams):
    hidden_size: PositiveInt = Field(validation_alias=AliasChoices("hidden_size", "units"))
    input_size: PositiveInt | None = None
    num_layers: PositiveInt = 1
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    batch_first: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    bidirectional: bool = False
    output: Output = "sequence"


class RNNParams(RecurrentParams):
    nonlinearity: Literal["tanh", "relu"] = "tanh"


class LSTMParams(RecurrentParams):
    proj_size: NonNegativeInt = 0


class _Recurrent(LayerKind):
    gates: ClassVar[int]
    ranks = (3,)
    layout = "(B, T, features) with batch_first, else (T, B, features)"
    form = "call"  # the output and the final state
    states: ClassVar[tuple[str, ...]] = ("h0",)  # optional initial-state inputs after x

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        gh, h, proj = self.gates * int(args["hidden_size"]), int(args["hidden_size"]), int(args.get("proj_size") or 0)
        d = 2 if args["bidirectional"] else 1
        out: dict[str, tuple[int, ...]] = {}
        for k in range(int(args["num_layers"])):
            for suffix in [f"_l{k}", f"_l{k}_reverse"][:d]:
                out[f"weight_ih{suffix}"] = (gh, int(args["input_size"]) if k == 0 else d * (proj or h))
                out[f"weight_hh{suffix}"] = (gh, proj or h)
                if args["bias"]:
                    out[f"bias_ih{suffix}"] = out[f"bias_hh{suffix}"] = (gh,)
                if proj:
                    out[f"weight_hr{suffix}"] = (proj, h)
        return out

    def infer(self, p: Any, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        batch, time = seq_axes(x, p.batch_first) if x.rank == 3 else (None, None)
        lengths = ins[1] if len(ins) > 1 and not ins[1].is_float else None
        if lengths is not None:
            self._check_lengths(p, x, lengths, batch)
        states = ins[2:] if lengths is not None else ins[1:]
        if len(states) not in (0, len(self.states)):
            raise SpecError("G003", f"{self.type_name} takes x alone or x with its initial state "
                            f"({', '.join(self.states)}), optionally with lengths after x, got {len(ins)} "
                            "inputs", f"write from: [x, {', '.join(self.states)}], from: [x, lengths], or from: x")
        n_in = check_given(p.input_size, x.shape[2], "input_size", x, 2, "features per step")
        if p.dropout > 0 and p.num_layers == 1:
            # PyTorch only warns, and the dropout silently does nothing.
            raise SpecError("V003", f"dropout {p.dropout} has no effect with num_layers 1: PyTorch applies it "
                            "between stacked layers only",
                            "set num_layers: 2 or more, or remove dropout and add {type: Dropout, "
                            f"p: {p.dropout}}} after this layer", field="dropout")
        proj = getattr(p, "proj_size", 0)
        if proj >= p.hidden_size:
            raise SpecError("V003", f"proj_size {proj} must be smaller than hidden_size {p.hidden_size}",
                            f"use proj_size below {p.hidden_size}, or 0 for no projection", field="proj_size")
        d = 2 if p.bidirectional else 1
        h, g = p.hidden_size, self.gates
        h_out = proj or h
        self._check_states(p, states, batch, d, h, h_out)

        # The first layer reads the input, the other num_layers - 1 the layer below: a formula,
        # not a loop, since num_layers is whatever the spec says (2**63 - 1 once hung check).
        def weights(i_l: int) -> int:
            return g * h * (i_l + h_out) + proj * h

        later = p.num_layers - 1
        params = d * (weights(n_in) + later * weights(d * h_out) + p.num_layers * (2 * g * h if p.bias else 0))
        per_step = d * (weights(n_in) + later * weights(d * h_out))
        width = d * h_out
        why = f"{d}·{h_out} (both directions)" if d == 2 else f"{self.type_name} hidden size"
        outs: tuple[TensorType, ...] = ()
        names: tuple[str, ...] = ()
        sequence = TensorType((x.shape[0], x.shape[1], width), x.dtype, {2: why})
        # (num_layers·D, B, H) whatever batch_first says, as PyTorch's h_n; an LSTM's c_n beside it
        state = (TensorType((p.num_layers * d, batch, h_out), x.dtype),)
        if self.states == ("h0", "c0"):
            state += (TensorType((p.num_layers * d, batch, h), x.dtype),)
        if p.output == "sequence":
            out = sequence
        elif p.output == "state":
            out = state[0]
            if len(state) > 1:
                outs, names = state, ("h", "c")
        elif p.output == "sequence_and_state":
            out, outs, names = sequence, (sequence, *state), ("sequence", "h", "c")[:1 + len(state)]
        else:
            out = TensorType((batch, width), x.dtype, {1: why})
        args: dict[str, Any] = {"input_size": n_in, "hidden_size": h, "num_layers": p.num_layers,
                                "bias": p.bias, "batch_first": p.batch_first, "dropout": float(p.dropout),
                                "bidirectional": p.bidirectional}
        args.update(self.extra_args(p))
        args["output"] = p.output
        if lengths is not None:  # a target packs the sequence by them (the input after x)
            args["lengths"] = True
        return LayerResult(out, args, params, mul(time, per_step), outs=outs, out_names=names)

    def extra_args(self, p: Any) -> dict[str, Any]:
        return {}

    def typed_inputs(self, ins: list[TensorType]) -> list[TensorType]:
        # lengths (integer, or a bool mask given by mistake) after x: infer checks them
        return [t for i, t in enumerate(ins) if i != 1 or t.is_float]

    def _check_lengths(self, p: Any, x: TensorType, lengths: TensorType, batch: DimLike) -> None:
        """The integer input after x: one length per sample, (B,)."""
        if lengths.dtype == "bool":
            raise SpecError("S007", f"its second input is a bool {lengths}; a recurrent layer reads each sample's "
                            "number of real steps, (B,) int64, not a padding mask",
                            "turn the mask into lengths: - {type: Cast, dtype: int64} on a mask that is True at "
                            "real steps, then - {type: Reduce, op: sum, dim: 1}, and give that as from: [x, lengths]")
        if lengths.rank != 1 or not same_size(lengths.shape[0], batch):
            raise SpecError("S001", f"its lengths (input 2) are {lengths}; it takes one length per sample, "
                            f"{TensorType((batch,), 'int64')}",
                            f"declare the lengths as [{batch}] (dtype int64), or count the real steps of each "
                            "sample with - {type: Reduce, op: sum, dim: 1} over a (B, T) mask")
        if getattr(p, "proj_size", 0):
            raise SpecError("V003", "lengths with proj_size: the ONNX target writes an LSTM with a projection step "
                            "by step and cannot stop each sample at its own length",
                            "set proj_size: 0 and add a Linear after the LSTM, or drop the lengths",
                            field="proj_size")

    def _check_states(self, p: Any, states: list[TensorType], batch: DimLike, d: int, h: int, h_out: int) -> None:
        for name, t in zip(self.states, states):
            size = h if name == "c0" else h_out
            want = (p.num_layers * d, batch, size)
            if t.shape != want:
                layers = f"num_layers·directions = {p.num_layers}·{d}"
                # Only the batch dims differ, and one of them is symbolic: not provably wrong.
                unproven = t.shape[0] == want[0] and t.shape[2] == want[2] and (
                    isinstance(t.shape[1], Dim) or isinstance(batch, Dim))
                hint = (f"declare {name} as [{want[0]}, {batch}, {size}]; initial states are "
                        "(layers, batch, hidden) even with batch_first: true")
                if t.shape[0] != want[0] and t.shape[1:] == want[1:] and isinstance(t.shape[0], int):
                    # an encoder's state with other layers or directions (a bidirectional encoder
                    # starting a one-way decoder): what seq2seq code does with it
                    hint = (f"the state has {t.shape[0]} = layers·directions of the layer that made it: give this "
                            f"{self.type_name} num_layers and bidirectional with num_layers·directions = "
                            f"{t.shape[0]}, or keep the first {want[0]} with - {{type: Slice, dim: 0, stop: "
                            f"{want[0]}}} on it (PyTorch's seq2seq tutorial's hidden[:n_layers]); if it is an "
                            f"input, {hint}")
                if t.shape == want[1:]:
                    # (B, H), the state of one layer without its layers dim (Keras' initial_state)
                    hint = (f"give {name} its first dim, layers·directions = {want[0]}: - {{type: Unsqueeze, dim: "
                            f"0}} on it, or declare it [{want[0]}, {batch}, {size}] if it is an input; initial "
                            "states are (layers, batch, hidden) even with batch_first: true")
                raise SpecError("S010" if unproven else "S001",
                                f"initial state {name} is {t} but this {self.type_name} needs "
                                f"{TensorType(want)} ({layers}, batch, {'hidden_size' if name == 'c0' else 'H'})",
                                hint)


@register
class RNN(_Recurrent):
    type_name, gates, Params = "RNN", 1, RNNParams
    aliases = ("SimpleRNN",)
    max_inputs = 3
    summary = "Elman RNN (tanh or relu); output: sequence | last | final_hidden | state | sequence_and_state"

    def extra_args(self, p: RNNParams) -> dict[str, Any]:
        return {"nonlinearity": p.nonlinearity}


@register
class LSTM(_Recurrent):
    type_name, gates, Params = "LSTM", 4, LSTMParams
    max_inputs = 4
    states = ("h0", "c0")
    summary = ("long short-term memory; bidirectional, proj_size; output: sequence | last | final_hidden | state "
               "(.h, .c) | sequence_and_state (.sequence, .h, .c)")

    def extra_args(self, p: LSTMParams) -> dict[str, Any]:
        return {"proj_size": p.proj_size}


@register
class GRU(_Recurrent):
    type_name, gates, Params = "GRU", 3, RecurrentParams
    max_inputs = 3
    summary = ("gated recurrent unit; bidirectional; output: sequence | last | final_hidden | state | "
               "sequence_and_state (.sequence, .h)")


# -- picking one step ---------------------------------------------------------------------------------

class SelectParams(LayerParams):
    dim: int = Field(validation_alias=AliasChoices("dim", "axis"))
    index: int


@register
class Select(LayerKind):
    may_alias = True
    form = "inline"
    """``x[:, index]`` along ``dim`` (the dim disappears): ``{type: Select, dim: 1, index: -1}``
    takes the last step of a (B, T, F) sequence.  For a bidirectional RNN that is the wrong
    step for the backward direction (lint L006); its ``output: last`` is the right one."""

    type_name = "Select"
    Params = SelectParams
    accepts = "any"
    summary = "pick one index along dim, removing it (dim: 1, index: -1 is the last step)"

    def infer(self, p: SelectParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        d = axis(p.dim, x.rank)  # dim 0 too: it is time for a (T, B, F) sequence
        size = x.shape[d]
        if isinstance(size, int) and not -size <= p.index < size:
            raise SpecError("S008", f"index {p.index} is out of range for dim {p.dim} of size {size} in {x}",
                            f"use an index from {-size} to {size - 1} (-1 is the last)", field="index")
        shape = x.shape[:d] + x.shape[d + 1:]
        notes = {(i if i < d else i - 1): why for i, why in x.notes.items() if i != d}
        # index i needs i + 1 elements; index -k needs k
        need = require(size, p.index + 1 if p.index >= 0 else -p.index, f"index {p.index} along dim {p.dim}", "index")
        return LayerResult(TensorType(shape, x.dtype, notes), {"dim": d, "index": p.index}, 0, 0, requires=need)
