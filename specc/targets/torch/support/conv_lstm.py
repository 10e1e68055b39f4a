"""ConvLSTM2d (Shi et al., 2015), which PyTorch lacks: an LSTM whose gates are convolutions.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


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
