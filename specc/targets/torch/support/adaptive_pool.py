"""Adaptive pooling whose windows follow the input's size at run time, for the sizes that
the exporters would otherwise freeze (see the Adaptive*Pool lowering).

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class AdaptivePool(nn.Module):
    """PyTorch's adaptive average/max pooling, with each output cell's window computed from the
    input's size as the model runs (PyTorch's rule: from floor(k·n/o) to ceil((k+1)·n/o)), so
    that an exported ONNX model pools correctly at every size, not only the one it was traced at."""

    def __init__(self, output_size: tuple[int | None, ...], op: str) -> None:
        super().__init__()
        self.output_size = output_size
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = x.dim() - len(self.output_size)
        for i, o in enumerate(self.output_size):
            if o is None:
                continue
            axis = first + i
            n = torch._shape_as_tensor(x)[axis]
            k = torch.arange(o)
            start = (k * n) // o
            end = ((k + 1) * n + o - 1) // o
            pos = torch.arange(n)
            inside = (pos.unsqueeze(0) >= start.unsqueeze(1)) & (pos.unsqueeze(0) < end.unsqueeze(1))  # (o, n)
            last = x.dim() - 1
            steps = x.movedim(axis, last).unsqueeze(last)  # (..., 1, n)
            if self.op == "max":
                y = steps.masked_fill(~inside, float("-inf")).amax(last + 1)
            else:
                y = (steps * (inside.to(x.dtype) / (end - start).to(x.dtype).unsqueeze(1))).sum(last + 1)
            x = y.movedim(last, axis)
        return x
