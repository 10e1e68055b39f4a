"""The output-size formulas of PyTorch's conv and pool layers, on symbolic dims.

Written once here and used by every conv, transposed conv and pool layer, the way
ONNX's ``convPoolShapeInference`` serves every conv and pool operator.
"""

from __future__ import annotations

from .dims import DimLike, add, ceildiv, floordiv, mul


def conv_out(size: DimLike, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
             ceil_mode: bool = False) -> DimLike:
    """``floor((L + 2p - d(k-1) - 1)/s) + 1`` (``ceil`` with ``ceil_mode``).

    With ``ceil_mode`` PyTorch drops a last window that would start inside the right
    padding; that correction is applied when the size is concrete.
    """
    span = 2 * padding - dilation * (kernel - 1) - 1
    num = add(size, span)
    if not ceil_mode:
        return add(floordiv(num, stride), 1)
    out = add(ceildiv(num, stride), 1)
    if isinstance(out, int) and isinstance(size, int) and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv_transpose_out(size: DimLike, kernel: int, stride: int = 1, padding: int = 0,
                       dilation: int = 1, output_padding: int = 0) -> DimLike:
    """``(L - 1)s - 2p + d(k-1) + output_padding + 1``."""
    return add(mul(add(size, -1), stride), -2 * padding + dilation * (kernel - 1) + output_padding + 1)


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """Left/right padding that keeps the size at stride 1 (PyTorch's ``padding='same'``)."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def adaptive_windows(size: int, out: int) -> int:
    """Largest window adaptive pooling uses, for MAC counts."""
    return max(-((-(i + 1) * size) // out) - (i * size) // out for i in range(out))


def broadcast(a: tuple, b: tuple) -> tuple | None:
    """NumPy/PyTorch broadcasting of two shapes; None when they do not broadcast."""
    out = []
    for i in range(max(len(a), len(b))):
        x = a[len(a) - 1 - i] if i < len(a) else 1
        y = b[len(b) - 1 - i] if i < len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(reversed(out))
