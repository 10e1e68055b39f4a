"""The static type of a tensor flowing between layers: shape (ints and symbols) and dtype."""

from __future__ import annotations

from dataclasses import dataclass, field

from .dims import DimLike, fmt_shape

FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
INT_DTYPES = ("int64", "int32", "int16", "int8", "uint8")
DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)


@dataclass(frozen=True)
class TensorType:
    shape: tuple[DimLike, ...]
    dtype: str = "float32"
    # How a dim came about, for hints ("18432 = 128·12·12"); axis -> explanation.
    notes: dict[int, str] = field(default_factory=dict, compare=False, hash=False)

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
