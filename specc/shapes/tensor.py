"""The static type of a tensor flowing between layers: shape (ints and symbols) and dtype."""

from __future__ import annotations

from dataclasses import dataclass, field

from .dims import Dim, DimLike, fmt_shape

FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
INT_DTYPES = ("int64", "int32", "int16", "int8", "uint8")
DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)

# Sizes a framework can allocate (S011): PyTorch and ONNX Runtime count elements in int64,
# and no real dimension comes near 2**31 (kernels and index types still use int32 in places).
MAX_DIM = 2**31 - 1
MAX_ELEMENTS = 2**63 - 1  # elements of one tensor, parameters of a layer or a model
# Parameters beyond this many bytes (in float32) get the S012 warning: few machines hold them.
PARAM_MEMORY_WARNING = 16 * 10**9


@dataclass(frozen=True)
class TensorType:
    shape: tuple[DimLike, ...]
    dtype: str = "float32"
    # How a dim came about, for hints ("18432 = 128·12·12"); axis -> explanation.
    notes: dict[int, str] = field(default_factory=dict, compare=False, hash=False)
    # What specc knows of an integer tensor's values: every one a whole number from 0 to ``high``
    # (a size, maybe symbolic: positions numbered by a CumSum along T reach T). None: unknown. An
    # Embedding fed such ids needs a table past ``high`` at every size (specc/layers/values.py).
    high: DimLike | None = field(default=None, compare=False, hash=False)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def note(self, axis: int) -> str | None:
        return self.notes.get(axis % self.rank if self.rank else axis)

    def __str__(self) -> str:
        return fmt_shape(self.shape)


def batch_symbol(inputs: dict[str, TensorType | None]) -> str | None:
    """The bare symbol every input starts with (B of [B, T, 16]), if there is one."""
    firsts = {t.shape[0] if t is not None and t.shape else None for t in inputs.values()}
    first = next(iter(firsts)) if len(firsts) == 1 else None
    if isinstance(first, Dim) and len(first.symbols()) == 1 and str(first) in first.symbols():
        return str(first)
    return None
