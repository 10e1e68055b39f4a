"""PyTorch lowering of RNN, LSTM, GRU and Select.

nn's recurrent modules return ``(output, state)``; ``forward`` picks what the layer's
``output`` says, with the ``rnn_last``/``rnn_final`` helpers for the bidirectional cases.
"""

from __future__ import annotations

from typing import Any

from .. import support
from .base import Lowering, lowering


class _Recurrent(Lowering):
    positional = ("input_size", "hidden_size")
    defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False,
                "proj_size": 0, "nonlinearity": "tanh"}
    forward_keys = ("output", "lengths")
    support = ("rnn",)
    cell_state = False  # an LSTM's state is (h, c)

    support_when = ("rnn_state", "rnn_packed")  # output: sequence_and_state; lengths given

    def support_texts(self, args: dict[str, Any]) -> list[str]:
        extra = [support.text("rnn_state")] if args["output"] == "sequence_and_state" else []
        extra += [support.text("rnn_packed")] if args.get("lengths") else []
        return super().support_texts(args) + extra

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        x, *states = inputs
        if args.get("lengths"):
            lengths, *states = states
        state = "" if not states else f"({states[0]}, {states[1]})" if len(states) == 2 else states[0]
        if args.get("lengths"):
            call = f"rnn_packed({module}, {x}, {lengths}{', ' + state if state else ''})"
        else:
            call = f"{module}({x}{', ' + state if state else ''})"
        bidir, batch_first = args["bidirectional"], args["batch_first"]
        if args["output"] == "sequence":
            return f"{call}[0]"
        if args["output"] == "state":
            return f"{call}[1]"  # h_n, or an LSTM's (h_n, c_n)
        if args["output"] == "sequence_and_state":  # one tuple: (out, h_n) or an LSTM's (out, h_n, c_n)
            return f"rnn_with_state(*{call})"
        if args["output"] == "last" and not args.get("lengths"):
            if bidir:
                return f"rnn_last({call}[0]{'' if batch_first else ', batch_first=False'})"
            return f"{call}[0][:, -1]" if batch_first else f"{call}[0][-1]"
        # final_hidden; and last with lengths: the state at each sample's last real step is h_n
        h_n = f"{call}[1][0]" if self.cell_state else f"{call}[1]"
        return f"rnn_final({h_n})" if bidir else f"{h_n}[-1]"


@lowering
class RNN(_Recurrent):
    torch_class = "nn.RNN"


@lowering
class LSTM(_Recurrent):
    torch_class = "nn.LSTM"
    cell_state = True


@lowering
class GRU(_Recurrent):
    torch_class = "nn.GRU"


@lowering
class Select(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{inputs[0]}[{', '.join([':'] * args['dim'] + [str(args['index'])])}]"
