"""Embedding: integer ids (any shape) to vectors, (*) -> (*, embedding_dim)."""

from typing import Any

from pydantic import AliasChoices, Field, PositiveFloat, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import Dim, Sym, add, mul, product
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, Requirement, axis, register
from .reparam import SpectralNorm, reparam
from .values import RelativeIds, high_of


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
    if isinstance(high, int) and isinstance(x, RelativeIds) and high >= n:
        raise SpecError("S070", f"the ids it looks up, {x.made_by}, reach {high}, but its table has {n} rows "
                        f"(ids 0 to {n - 1})", f"set num_embeddings: {high + 1}", field="num_embeddings")
    if isinstance(high, int):
        if high >= n:
            raise SpecError("S070", f"the ids it looks up, computed along the sequence, reach {high}, but its "
                            f"table has {n} rows (ids 0 to {n - 1})",
                            f"set num_embeddings: {high + 1}, or feed a shorter sequence", field="num_embeddings")
        return []
    room = add(n - 1, -high)
    if isinstance(room, Dim) and _short_at_every_size(room):
        raise SpecError("S070", f"the ids it looks up, computed along the sequence, reach {high}, but its table has "
                        f"{n} row{'' if n == 1 else 's'} (ids 0 to {n - 1}): no length of the sequence fits",
                        "read the ids this table is for (token type ids, a segment input), or size the table by "
                        "the longest sequence plus its offset", field="num_embeddings")
    return [Requirement(room, 0, f"ids up to {high} index a table of {n} rows", "num_embeddings",
                        f"{high} <= {n - 1}")]


def _short_at_every_size(room: Dim) -> bool:
    """Whether ``room`` (rows left above the largest id) is negative at every size of its symbols: it only
    shrinks as they grow (each term a negative multiple of symbols alone) and is negative when all are 1,
    so export could pick no size where the lookup stays in the table."""
    if not all(c < 0 and all(isinstance(a, Sym) for a in mono) for mono, c in room.terms if mono):
        return False
    return room.evaluate({s: 1 for s in room.symbols()}) < 0


# -- sinusoidal timestep embedding ------------------------------------------------------------------

class SinusoidalEmbeddingParams(LayerParams):
    dim: PositiveInt = Field(validation_alias=AliasChoices("dim", "embedding_dim", "num_channels"),
                             description="the width of each vector; half sines, half cosines (an odd one ends in 0)")
    flip_sin_to_cos: bool = Field(False, description="cosines first (DiT, diffusers' UNets), else sines first")
    downscale_freq_shift: float = Field(1.0, description="frequencies exp(-ln(max_period)·k / (dim // 2 - shift)): "
                                        "1 in diffusers' get_timestep_embedding, 0 in DiT and the UNets")
    max_period: PositiveFloat = Field(10000.0, description="the longest period, the lowest frequency's")
    scale: float = Field(1.0, description="a factor on every argument (diffusers' scale)")


@register
class SinusoidalEmbedding(LayerKind):
    """Each of ``B`` numbers (a diffusion timestep, a noise level) as ``dim`` sines and cosines of it at
    geometrically spaced frequencies: diffusers' ``get_timestep_embedding`` (``Timesteps``) and DiT's
    ``TimestepEmbedder.timestep_embedding`` (``flip_sin_to_cos: true, downscale_freq_shift: 0``).
    The frequencies are ``exp(-ln(max_period)·k / (dim // 2 - downscale_freq_shift))`` for
    ``k < dim // 2``, computed in float32 as the references compute them; an odd ``dim`` ends in a
    zero, as they pad it.  No weights: the MLP that usually follows is Linear, SiLU, Linear."""

    type_name = "SinusoidalEmbedding"
    Params = SinusoidalEmbeddingParams
    layout = "(B,): one timestep per sample"
    accepts = "any"
    form = "inline"
    summary = "timesteps (B,) to sinusoidal vectors (B, dim), as diffusers' Timesteps and DiT's TimestepEmbedder"

    def infer(self, p: SinusoidalEmbeddingParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank != 1:
            # a (B, 1) column of timesteps would broadcast against the frequencies into (B, 1, dim)
            # in the references (t[:, None]): the reference asserts a 1-d input, and so does check
            raise SpecError("S003", f"expects one timestep per sample, (B,), got {x}",
                            "add - {type: Squeeze, dim: 1} before this layer" if x.rank == 2 and x.shape[1] == 1 else
                            "give it the (B,) timesteps themselves (an input declared [B])")
        if x.dtype == "bool":
            raise SpecError("S007", f"receives bool data {x}, but a timestep is a number",
                            "add - {type: Cast, dtype: int64} before this layer")
        half = p.dim // 2
        if half == 0:
            raise SpecError("V134", f"dim {p.dim} has no sine and cosine pair: every output is 0",
                            "set dim: 2 or more (diffusion models use 128 to 320; DiT 256)", field="dim")
        if half - p.downscale_freq_shift <= 0:
            raise SpecError("V134", f"downscale_freq_shift {p.downscale_freq_shift:g} is not below dim // 2 = {half}: "
                            "the frequencies divide by "
                            + ("zero and are NaN" if half == p.downscale_freq_shift else
                               "a negative number and grow past float32"),
                            f"set downscale_freq_shift: {0 if half == 1 else 1} (diffusers' default is 1, DiT's 0), "
                            "or a larger dim", field="downscale_freq_shift")
        if p.scale == 0:
            raise SpecError("V053", "scale 0 makes every argument 0: the output is the same for every timestep",
                            "leave scale out (1), or give the factor the timesteps are multiplied by", field="scale")
        args = {"dim": p.dim, "flip_sin_to_cos": p.flip_sin_to_cos,
                "downscale_freq_shift": float(p.downscale_freq_shift), "max_period": float(p.max_period),
                "scale": float(p.scale)}
        # element-wise products, sines and cosines: no multiply-accumulates, as Sin and Cos count none
        return LayerResult(TensorType((x.shape[0], p.dim), "float32", {1: f"dim {p.dim}"}), args, 0, 0)


# -- VectorQuantizer: VQ-VAE's codebook ---------------------------------------------------------------------------


class VectorQuantizerParams(LayerParams):
    num_embeddings: PositiveInt = Field(validation_alias=AliasChoices("num_embeddings", "n_embed", "codebook_size"),
                                        description="the codebook's vectors (K)")
    embedding_dim: PositiveInt | None = Field(None, validation_alias=AliasChoices("embedding_dim", "dim_embed"),
                                              description="each vector's size (D): the input's size along dim "
                                              "(taken from it when left out)")
    dim: int = Field(-1, description="the input's dim holding the D features: -1 as VQ-VAE-2 quantises a "
                     "channels-last map, 1 for a channels-first one")
    decay: float = Field(0.99, gt=0.0, lt=1.0, description="the codebook's exponential moving averages "
                         "(van den Oord et al.'s appendix; VQ-VAE-2): its vectors follow the inputs assigned to them")
    eps: PositiveFloat = Field(1e-5, description="Laplace smoothing of the cluster sizes, so no vector divides by 0")


@register
class VectorQuantizer(LayerKind):
    """VQ-VAE's vector quantiser (van den Oord et al. 2017) as VQ-VAE-2's reference code writes it
    (rosinality/vq-vae-2-pytorch ``Quantize``): each position's D features are replaced by the nearest of
    K codebook vectors (squared Euclidean distance, the first of equals), the gradient passing straight
    through to the input (``x + (q - x).detach()``); the second output is the chosen vector's index, for
    a prior over the codes (a PixelCNN) or a lookup. The codebook learns by exponential moving averages
    in training mode, not by gradient, so the spec needs no codebook loss; the commitment loss, the one
    term the training section cannot add, is left out. The codebook and its averages are buffers."""

    type_name, Params = "VectorQuantizer", VectorQuantizerParams
    accepts = "float"
    weights_in_buffers = True  # its distances are a matmul with the float32 codebook
    form = "call"  # two outputs: nothing could chain it
    layout = "(N, ..., D, ...): D features at dim"
    summary = ("VQ-VAE's nearest-codebook quantiser (straight-through gradient, EMA codebook): outputs the "
               "quantised input and the int64 codes (the input without dim)")

    def infer(self, p: VectorQuantizerParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 2:
            raise SpecError("S003", f"quantises the features of each position, got rank {x.rank} {x}",
                            "give it (N, D) vectors or a map with its features at dim")
        d = axis(p.dim, x.rank)
        if d == 0:
            raise SpecError("S003", "dim 0 is the batch: the codebook quantises each sample's feature vectors",
                            "use dim: 1 for a channels-first map (N, D, H, W), or dim: -1 for a channels-last one",
                            field="dim")
        feats = x.shape[d]
        if not isinstance(feats, int):
            raise SpecError("S005", f"the codebook's vectors have a fixed size, but dim {p.dim} of {x} is "
                            f"symbolic ({feats})", "quantise along the features' dim (a fixed size), e.g. dim: 1 "
                            "after the encoder's last conv", field="dim")
        if p.embedding_dim is not None and p.embedding_dim != feats:
            raise SpecError("S001", f"embedding_dim {p.embedding_dim} but the input has {feats} features at dim "
                            f"{p.dim}: {x}", f"set embedding_dim: {feats}, or project to {p.embedding_dim} "
                            "features first (VQ-VAE's 1x1 pre-quantisation conv)", field="embedding_dim")
        k = p.num_embeddings
        codes = TensorType(tuple(s for i, s in enumerate(x.shape) if i != d), "int64",
                           {i - (i > d): n for i, n in x.notes.items() if i != d}, high=k - 1)
        args = {"num_embeddings": k, "embedding_dim": feats, "dim": d if p.dim >= 0 else d - x.rank, "decay": p.decay,
                "eps": p.eps}
        # distances to every vector: D multiply-adds each, per position
        positions = product([s for i, s in enumerate(x.shape[1:], 1) if i != d])
        return LayerResult(x, args, 0, mul(positions, k * feats), 2 * k * feats + k, outs=(x, codes),
                           out_names=("quantized", "codes"))
