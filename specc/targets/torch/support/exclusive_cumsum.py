"""CumSum with exclusive: each element's running sum leaves the element itself out (ONNX CumSum's
``exclusive``), which torch.cumsum lacks.

Written as the sums of the input shifted one place along dim with a zero in front: exact, where
``x.cumsum(dim) - x`` would round away the small sums that follow a large one.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch

# -- written into generated modules: everything below this line --


def exclusive_cumsum(
    x: torch.Tensor, dim: int = -1, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """The running sum of x along dim, each element left out of its own sum (the first is 0)."""
    shifted = torch.cat(
        [torch.zeros_like(x.narrow(dim, 0, 1)), x.narrow(dim, 0, x.shape[dim] - 1)],
        dim=dim,
    )
    return shifted.cumsum(dim, dtype=dtype)
