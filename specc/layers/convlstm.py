"""ConvLSTM2d (Shi et al., 2015), which PyTorch lacks: an LSTM whose gates are convolutions.

Input (B, T, C, H, W); output (B, T, hidden, H, W) with ``return_sequences: true``, else the
last step (B, hidden, H, W) (Keras' default).  Each layer is one conv over
``cat([x_t, h])`` giving the four gates, with 'same' padding so H and W are kept.

Parameters: Σ_layers 4·h·(c + h)·kh·kw (+ 4·h bias), c the layer's input channels.
MACs per sample: T·H·W · Σ_layers 4·h·(c + h)·kh·kw (the gate convs at every step).

The generated class loops over time in Python when it runs eagerly; under torch.export (the
ONNX exporter, ``dynamo=True``) it uses ``scan``, which becomes an ONNX Scan, so the exported
model accepts any T.  The TorchScript-based exporter would unroll the loop and freeze T, so the
class refuses it with a message saying so.
"""

from __future__ import annotations

import math

from pydantic import AliasChoices, Field, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import mul, product
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, check_given, ntuple, register

CONVLSTM_SUPPORT = '''
class ConvLSTM2d(nn.Module):
    """Convolutional LSTM (Shi et al., 2015) over (B, T, C, H, W) frames.

    Each layer is one conv over cat([x_t, h]) giving the input, forget, cell and
    output gates at every pixel ('same' padding keeps H and W).  Returns the top
    layer's every step (B, T, hidden, H, W) with return_sequences, else its last
    step (B, hidden, H, W).

    Eagerly the time loop is a Python loop.  Under torch.export (torch.onnx.export
    with dynamo=True) it is a scan, which exports as an ONNX Scan and keeps T
    dynamic; a traced Python loop would be unrolled into a fixed number of steps.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int | tuple[int, ...],
        kernel_size: int | tuple[int, int] = 3,
        num_layers: int = 1,
        bias: bool = True,
        return_sequences: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(hidden_channels, int):
            hidden_channels = (hidden_channels,) * num_layers
        self.hidden_channels = tuple(hidden_channels)
        self.return_sequences = return_sequences
        inputs = (in_channels, *self.hidden_channels[:-1])
        self.cells = nn.ModuleList(
            nn.Conv2d(c + h, 4 * h, kernel_size, padding="same", bias=bias)
            for c, h in zip(inputs, self.hidden_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export() and not torch.compiler.is_exporting():
            raise RuntimeError(
                "ConvLSTM2d keeps T dynamic in ONNX only through torch.onnx.export("
                "..., dynamo=True); the TorchScript exporter would freeze T"
            )
        for cell, hidden in zip(self.cells, self.hidden_channels):
            x = self._layer(cell, hidden, x)
        return x if self.return_sequences else x[:, -1]

    def _layer(self, cell: nn.Conv2d, size: int, x: torch.Tensor) -> torch.Tensor:
        h = x.new_zeros(x.size(0), size, x.size(3), x.size(4))
        c = torch.zeros_like(h)
        if torch.compiler.is_exporting():

            def step(state: tuple[torch.Tensor, torch.Tensor], x_t: torch.Tensor):
                h, c = self._step(cell, state[0], state[1], x_t)
                return (h, c), h.clone()

            steps = torch._higher_order_ops.scan(step, (h, c), x.transpose(0, 1))[1]
            return steps.transpose(0, 1)
        steps = []
        for t in range(x.size(1)):
            h, c = self._step(cell, h, c, x[:, t])
            steps.append(h)
        return torch.stack(steps, dim=1)

    @staticmethod
    def _step(
        cell: nn.Conv2d, h: torch.Tensor, c: torch.Tensor, x_t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o = cell(torch.cat([x_t, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
'''


class ConvLSTMParams(LayerParams):
    hidden_channels: PositiveInt | tuple[PositiveInt, ...] = Field(
        validation_alias=AliasChoices("hidden_channels", "filters"))
    kernel_size: PositiveInt | tuple[PositiveInt, PositiveInt] = 3
    num_layers: PositiveInt | None = None
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    return_sequences: bool = False
    in_channels: PositiveInt | None = None


@register
class ConvLSTM2d(LayerKind):
    type_name = "ConvLSTM2d"
    aliases = ("ConvLSTM2D",)
    Params = ConvLSTMParams
    ranks = (5,)
    layout = "(B, T, C, H, W)"
    summary = "convolutional LSTM over (B, T, C, H, W) frames; return_sequences or the last step"
    torch_class = "ConvLSTM2d"
    support_code = CONVLSTM_SUPPORT
    positional = ("in_channels", "hidden_channels")
    defaults = {"kernel_size": 3, "num_layers": 1, "bias": True, "return_sequences": False}

    def infer(self, p: ConvLSTMParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        hidden, n_layers = self._hidden(p)
        k = ntuple(p.kernel_size, 2, "kernel_size")
        c = check_given(p.in_channels, x.shape[2], "in_channels", x, 2, "channels per frame")
        # (in, out, how many such layers): equal layers are counted, not listed, since
        # num_layers is whatever the spec says (2**63 - 1 once exhausted memory).
        stack = [(c_in, h, 1) for c_in, h in zip((c, *hidden[:-1]), hidden)]
        if n_layers > len(hidden):
            stack.append((hidden[-1], hidden[-1], n_layers - len(hidden)))
        params = 0
        per_pixel = 0
        for c_in, h, times in stack:
            weights = 4 * h * (c_in + h) * math.prod(k)
            params += times * (weights + (4 * h if p.bias else 0))
            per_pixel += times * weights
        b, t, _, height, width = x.shape
        top = hidden[-1]
        if p.return_sequences:
            out = TensorType((b, t, top, height, width), x.dtype, {2: "hidden channels of the top layer"})
        else:
            out = TensorType((b, top, height, width), x.dtype, {1: "hidden channels of the top layer"})
        args = {"in_channels": c, "hidden_channels": hidden[0] if len(set(hidden)) == 1 else hidden,
                "kernel_size": k[0] if k[0] == k[1] else k, "num_layers": n_layers, "bias": p.bias,
                "return_sequences": p.return_sequences}
        return LayerResult(out, args, params, mul(product((t, height, width)), per_pixel))

    @staticmethod
    def _hidden(p: ConvLSTMParams) -> tuple[tuple[int, ...], int]:
        """The layers' hidden channels (the last one repeats to fill num_layers), and num_layers."""
        if isinstance(p.hidden_channels, int):
            return (p.hidden_channels,), p.num_layers or 1
        if not p.hidden_channels:
            raise SpecError("V003", "hidden_channels is an empty list", "give one number per layer, e.g. [32, 32]",
                            field="hidden_channels")
        if p.num_layers is not None and p.num_layers != len(p.hidden_channels):
            n = len(p.hidden_channels)
            raise SpecError("V003", f"num_layers is {p.num_layers} but hidden_channels lists {n} layers",
                            f"set num_layers: {n}, or omit it", field="num_layers")
        return tuple(p.hidden_channels), len(p.hidden_channels)
