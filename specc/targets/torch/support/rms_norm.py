"""The RMSNorm module, which PyTorch has only from 2.4 (specc supports 2.2 on).

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) · weight over the trailing dims, as torch.nn.RMSNorm (same
    parameter name, same default eps: the machine epsilon of x's float type); with
    add_unit_offset, times 1 + weight, the weight starting at 0 (Gemma's)."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float | None = None,
        elementwise_affine: bool = True,
        add_unit_offset: bool = False,
    ) -> None:
        super().__init__()
        self.normalized_shape = (
            (normalized_shape,)
            if isinstance(normalized_shape, int)
            else tuple(normalized_shape)
        )
        self.eps, self.add_unit_offset = eps, add_unit_offset
        start = torch.zeros if add_unit_offset else torch.ones
        self.weight = (
            nn.Parameter(start(self.normalized_shape)) if elementwise_affine else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(-len(self.normalized_shape), 0))
        eps = self.eps if self.eps is not None else torch.finfo(x.dtype).eps
        y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
        if self.weight is None:
            return y
        return y * (1.0 + self.weight) if self.add_unit_offset else y * self.weight
