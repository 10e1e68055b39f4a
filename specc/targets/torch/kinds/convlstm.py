"""PyTorch lowering of ConvLSTM2d: the ConvLSTM2d support class, which PyTorch lacks.

The generated class loops over time in Python when it runs eagerly; under torch.export (the
ONNX exporter, ``dynamo=True``) it uses ``scan``, which becomes an ONNX Scan, so the exported
model accepts any T.  The TorchScript-based exporter would unroll the loop and freeze T, so the
class refuses it with a message saying so.
"""

from __future__ import annotations

from .base import Lowering, lowering


@lowering
class ConvLSTM2d(Lowering):
    torch_class = "ConvLSTM2d"
    support = ("conv_lstm",)
    positional = ("in_channels", "hidden_channels")
    defaults = {"kernel_size": 3, "num_layers": 1, "bias": True, "return_sequences": False}
