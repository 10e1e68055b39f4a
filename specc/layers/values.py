"""What the graph knows of integer values, beyond their dtype: an upper bound ``high`` (every value
a whole number from 0 to ``high``), carried on ``TensorType.high`` from the layers that make such
values to the Embedding that looks them up.

Position ids computed from the ids themselves (RoBERTa's ``cumsum(ids != pad) * (ids != pad) + pad``,
SASRec's ``arange(1, T + 1) * (ids != 0)``) reach the sequence's length: a table of 514 rows takes
T up to 512 and fails with an index error past it. With the bound known, ``check`` turns that
into a requirement on T (export and the tests pick sizes that meet it) or, at a fixed length, an
S070 error. A layer not listed here gives no bound, and nothing is required of its readers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..shapes.dims import DimLike, add, mul, same_size
from ..shapes.tensor import INT_DTYPES, TensorType
from .base import LayerResult

# Kinds that move elements about (or copy them) without changing any: the bound goes through.
MOVES = frozenset({"Identity", "Flatten", "Unflatten", "Reshape", "Permute", "Transpose", "Squeeze", "Unsqueeze",
                   "Slice", "Select", "Repeat", "RepeatVector", "Roll", "Concat"})


@dataclasses.dataclass(frozen=True, eq=False)
class RelativeIds(TensorType):
    """Ids of relative positions (T5's buckets, a Swin window's offsets): their bound is the table
    they were made for, not the sequence's length, which the Embedding reading them says when its
    table is smaller.  Only the layer that makes them gives this type; a layer in between gives plain
    integers with the same bound."""

    made_by: str = ""  # in words: "the RelativePositionBucket 'b' (num_buckets: 32)"


def high_of(t: TensorType) -> DimLike | None:
    """The largest value ``t`` can hold, where known: a bool's is 1."""
    if t.dtype == "bool":
        return 1
    return t.high if t.dtype in INT_DTYPES else None


def bounded(type_name: str, args: dict[str, Any], ins: list[TensorType], result: LayerResult) -> LayerResult:
    """``result`` with its output's bound, where the layer's kind and its inputs' bounds give one."""
    out = result.out
    if out.dtype not in INT_DTYPES or result.outs:
        return result
    high = _high(type_name, args, ins)
    if high is None:
        return result
    return dataclasses.replace(result, out=dataclasses.replace(out, high=high))


def _high(type_name: str, args: dict[str, Any], ins: list[TensorType]) -> DimLike | None:
    highs = [high_of(t) for t in ins]
    if type_name in ("ArgMax", "ArgMin"):
        x = ins[0]
        return add(x.shape[int(args["dim"]) % x.rank], -1)
    if any(h is None for h in highs):
        return None
    if type_name in MOVES or type_name == "Cast":
        if len(highs) == 1:
            return highs[0]
        return highs[0] if all(same_size(h, highs[0]) for h in highs) else _largest(highs)
    if type_name == "MaskedFill":  # x's values and the value written: a negative one leaves 0..high
        value = args["value"]
        return None if value < 0 else _largest([highs[0], int(value)])
    if type_name == "CumSum":
        x = ins[0]
        return mul(highs[0], x.shape[int(args["dim"]) % x.rank])
    value = args.get("value")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        return None  # a negative or fractional constant: the values may leave 0..high
    if type_name == "Add":
        total = highs[0]
        for h in highs[1:]:
            total = add(total, h)
        return add(total, value) if value is not None else total
    if type_name == "Mul":
        total = highs[0]
        for h in highs[1:]:
            total = mul(total, h)
        return mul(total, value) if value is not None else total
    return None


def _largest(highs: list[DimLike]) -> DimLike | None:
    return max(highs) if all(isinstance(h, int) for h in highs) else None  # type: ignore[type-var]
