"""Embedding: integer ids (any shape) to vectors, (*) -> (*, embedding_dim)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, PositiveFloat, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import add
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, Requirement, register
from .reparam import SpectralNorm, reparam
from .values import high_of


class EmbeddingParams(LayerParams):
    num_embeddings: PositiveInt = Field(validation_alias=AliasChoices("num_embeddings", "input_dim"))
    embedding_dim: PositiveInt = Field(validation_alias=AliasChoices("embedding_dim", "output_dim"))
    padding_idx: int | None = None
    max_norm: PositiveFloat | None = None
    norm_type: PositiveFloat = 2.0
    scale_grad_by_freq: bool = False
    sparse: bool = False
    spectral_norm: SpectralNorm = False


@register
class Embedding(LayerKind):
    type_name = "Embedding"
    Params = EmbeddingParams
    accepts = "int"
    summary = "lookup table: integer ids (*) to vectors (*, embedding_dim)"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"weight": (int(args["num_embeddings"]), int(args["embedding_dim"]))}

    def infer(self, p: EmbeddingParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        n = p.num_embeddings
        if x.rank < 1:
            raise SpecError("S003", f"Embedding needs ids with a batch dim, got {x}", "give the input a batch dim")
        if p.padding_idx is not None and not -n <= p.padding_idx < n:
            raise SpecError("V003", f"padding_idx {p.padding_idx} is not an id of a table with {n} rows",
                            f"use an id from 0 to {n - 1} (or -{n} to -1), usually 0", field="padding_idx")
        requires = _ids_within(x, n)
        out = TensorType((*x.shape, p.embedding_dim), "float32", {x.rank: f"embedding_dim {p.embedding_dim}"})
        args = {"num_embeddings": n, "embedding_dim": p.embedding_dim, "padding_idx": p.padding_idx,
                "max_norm": p.max_norm, "norm_type": p.norm_type, "scale_grad_by_freq": p.scale_grad_by_freq,
                "sparse": p.sparse}
        norm, _, buffers = reparam(p, (n, p.embedding_dim), 0)
        # A lookup, not a product: no multiply-accumulates.
        return LayerResult(out, args | norm, n * p.embedding_dim, 0, buffers, requires=requires)


def _ids_within(x: TensorType, n: int) -> list[Requirement]:
    """Ids the graph computed (positions numbered along the sequence) must stay below the table's
    rows: at a fixed length an S070 error, at a symbolic one a requirement on it."""
    high = high_of(x)
    if high is None:
        return []
    if isinstance(high, int):
        if high >= n:
            raise SpecError("S070", f"the ids it looks up, computed along the sequence, reach {high}, but its "
                            f"table has {n} rows (ids 0 to {n - 1})",
                            f"set num_embeddings: {high + 1}, or feed a shorter sequence", field="num_embeddings")
        return []
    return [Requirement(add(n - 1, -high), 0, f"ids up to {high} index a table of {n} rows", "num_embeddings",
                        f"{high} <= {n - 1}")]
