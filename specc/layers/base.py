"""What a layer kind is, and the registry that holds them.

A layer kind is one class, the op's schema: its parameters (a Pydantic model, checked where
the layer is declared), what inputs it takes (count, ranks, dtype), its shape rule (``infer``,
checked against the incoming tensors), its parameter, MAC and buffer counts, and the sizes its
symbols must reach.  How an op is written for a framework is a target's business
(``specc/targets/``), keyed by the kind's ``type_name``.  Rules raise short
:class:`~specc.diagnostics.SpecError` sentences; the graph engine adds the layer's name, type
and ``file:line:col``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from ..diagnostics import SpecError
from ..shapes.dims import DimLike
from ..shapes.tensor import TensorType
from .catalogue import FAMILIES, FAMILY_OF


class LayerParams(BaseModel):
    """Base of every layer's parameter model: unknown keys are errors, values immutable."""

    # defer_build: a schema is built the first time a kind is used, so `specc check` pays only
    # for the layer kinds a spec mentions, not the whole catalogue.
    # allow_inf_nan: a nan or inf slope, bound or epsilon passes every range check and then
    # turns the model's outputs into NaN without a word.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True,
                              allow_inf_nan=False)


class NoParams(LayerParams):
    """The parameters of a kind that takes none."""


# How an op is applied, which decides whether ``repeat:`` may chain copies of it (a chain
# calls each copy on the previous copy's output): "module", an object holding its settings
# and weights, applied to one tensor and giving one; "inline", an operation on its inputs
# with no object of its own (Add, Reshape); "call", an object applied otherwise (several
# inputs, or several values out, such as an LSTM's output and state).
Form = Literal["module", "inline", "call"]


@dataclass(frozen=True)
class Requirement:
    """A size the layer needs when it runs: ``size >= at_least``, where ``size`` depends on
    symbols (a fixed size is checked by the shape rule itself). The engine rejects one over
    the batch (which must work at any size); export and tests pick sizes that meet the rest."""

    size: DimLike
    at_least: int
    why: str  # what needs it, e.g. "index 20 along dim 1"
    field: str | None = None
    shown: str = ""  # how to say it when not "size >= at_least" (an upper bound: "T <= 512")

    def text(self) -> str:
        return f"{self.shown or f'{self.size} >= {self.at_least}'} ({self.why})"


@dataclass
class LayerResult:
    out: TensorType
    # The op's resolved attributes: every argument with its inferred sizes filled in, in the
    # order the op takes them (what a target lowers; see specc/targets/).
    args: dict[str, Any] = field(default_factory=dict)
    params: int = 0
    macs: DimLike = 0  # multiply-accumulates per sample (batch dim excluded)
    buffers: int = 0  # non-trainable state such as BatchNorm running stats
    requires: list[Requirement] = field(default_factory=list)  # sizes the symbols must reach
    # A layer with several outputs (Split): the type of each, read as ``layer.0``, ``layer.1`` or
    # ``layer.<out_names[i]>``; ``out`` is then the first, for what shows a single shape.
    outs: tuple[TensorType, ...] = ()
    out_names: tuple[str, ...] = ()

    def port(self, key: str) -> int | None:
        """The index of output ``key`` (its number, or its name in ``out_names``), or None."""
        if key in self.out_names:
            return self.out_names.index(key)
        return int(key) if key.isdigit() and int(key) < len(self.outs) else None

    def port_names(self, layer: str) -> list[str]:
        """How each output is read: ``split.0``, … (``split.left`` where the outputs are named)."""
        return [f"{layer}.{n}" for n in (self.out_names or range(len(self.outs)))]


class LayerKind:
    type_name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # Keras-style names: Dense, Conv2D, …
    Params: ClassVar[type[LayerParams]]
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1  # None: any number ≥ min_inputs
    # G003's hint where a layer gets more inputs than it takes and what people pass is no branch to merge
    # (a mask, a memory): the layer's own way to that, instead of "use Concat or Add"
    extra_inputs_hint: ClassVar[str | None] = None
    ranks: ClassVar[tuple[int, ...] | None] = None  # accepted input ranks, batch dim included
    layout: ClassVar[str] = ""  # "(N, C, H, W)" for rank errors
    accepts: ClassVar[Literal["float", "int", "any"]] = "float"
    summary: ClassVar[str] = ""  # one line for `specc layers`
    # True when the output may share memory with the input (views such as reshape, transpose
    # and slicing; dropout and identity at eval return the input itself): an in-place layer
    # after it would also overwrite the input.
    may_alias: ClassVar[bool] = False
    # True when PyTorch computes this layer's gradient from its output (sigmoid, tanh, softmax,
    # exp, relu), so an in-place layer after it would overwrite what the backward pass reads:
    # "one of the variables needed for gradient computation has been modified by an inplace
    # operation". ``grad_reads_output_inplace``: the same, only when the layer is itself in place
    # (ELU, LeakyReLU, SELU and CELU then differentiate from their result).
    grad_reads_output: ClassVar[bool] = False
    grad_reads_output_inplace: ClassVar[bool] = False
    # True when the layer multiplies its input by float32 tensors it keeps as buffers, not
    # parameters (VectorQuantizer's codebook, learned by moving averages): its input must be
    # float32 as a layer with weights' must (S018), though it counts no parameters.
    weights_in_buffers: ClassVar[bool] = False
    form: ClassVar[Form] = "module"

    def infer(self, p: Any, ins: list[TensorType]) -> LayerResult:
        raise NotImplementedError

    def typed_inputs(self, ins: list[TensorType]) -> list[TensorType]:
        """The inputs that ``accepts`` and ``ranks`` speak for; a kind with an input of another
        dtype or rank beside them (a recurrent layer's lengths) leaves it to its own ``infer``."""
        return ins

    def applied(self, args: dict[str, Any]) -> Form:
        """How this layer, with these resolved attributes, is applied (see ``Form``)."""
        return self.form

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The layer's parameters, by their PyTorch state-dict names within its module, and
        their shapes, from its resolved attributes (what ``init:`` names). A kind with
        parameters overrides it; tests/test_weight_init.py holds each against the built module."""
        return {}


# The kinds of the families imported so far, and their aliases: a family is imported when one of
# its names is first looked up (see catalogue.py). ``all_kinds`` gives the whole catalogue.
_KINDS: dict[str, LayerKind] = {}
_ALIASES: dict[str, str] = {}


def register(cls: type[LayerKind]) -> type[LayerKind]:
    kind = cls()
    family = cls.__module__.rpartition(".")[2]
    for name in (cls.type_name, *cls.aliases):
        if name in _KINDS or name in _ALIASES:
            raise ValueError(f"layer type {name} registered twice")
        if FAMILY_OF.get(name) != family:
            # Without it, `type: {name}` would read as unknown until something imported the family.
            raise ValueError(f"layer type {name} ({cls.__module__}) is not listed under {family!r} in "
                             "FAMILIES, specc/layers/catalogue.py; add it there")
    _KINDS[cls.type_name] = kind
    for alias in cls.aliases:
        _ALIASES[alias] = cls.type_name
    return cls


def lookup(name: str) -> LayerKind | None:
    """The kind a ``type:`` names (a type name or an alias), its family imported on first use;
    None for a name no family registers."""
    kind = _KINDS.get(_ALIASES.get(name, name))
    if kind is None and name in FAMILY_OF:
        _import_family(FAMILY_OF[name])
        kind = _KINDS.get(_ALIASES.get(name, name))
    return kind


def _import_family(family: str) -> None:
    # __import__ rather than importlib.import_module: `python -X importtime`, the tool for
    # start-up time, lists only what goes through it.
    __import__(f"{__package__}.{family}")


def all_kinds() -> dict[str, LayerKind]:
    """Every layer kind by type name, in catalogue order, every family imported: for what lists
    the whole catalogue (`specc layers`, the docs, the JSON Schema, completion, coverage tests)."""
    for family in FAMILIES:
        _import_family(family)
    stale = [name for name in FAMILY_OF if name not in _KINDS and name not in _ALIASES]
    if stale:
        raise ValueError(f"specc/layers/catalogue.py lists {', '.join(stale)}, which no family registers")
    return {name: _KINDS[name] for name in FAMILY_OF if name in _KINDS}


def all_aliases() -> dict[str, str]:
    """Every alias (Keras-style names: Dense, Conv2D, …) and the type name it stands for."""
    return {alias: name for name, kind in all_kinds().items() for alias in kind.aliases}


def suggest(name: str) -> str | None:
    names = list(FAMILY_OF)
    lowered = {n.lower(): n for n in names}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return close[0]
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


# -- helpers every shape rule uses ---------------------------------------------------------------

def sizes(v: Any, n: int) -> tuple[int, ...]:
    """A resolved size attribute (one number or one per dim) as ``n`` numbers."""
    return tuple(int(d) for d in v) if isinstance(v, (tuple, list)) else (int(v),) * n


def ntuple(v: int | Sequence[int], n: int, name: str) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    t = tuple(v)
    if len(t) != n:
        raise SpecError("V003", f"{name} has {len(t)} values but this layer has {n} spatial dims",
                        f"give one number or {n}", field=name)
    return t


def static(d: DimLike, what: str, field_name: str | None = None) -> int:
    """A size the layer must know before it runs; symbolic sizes are an S005 error."""
    if isinstance(d, int):
        return d
    syms = ", ".join(sorted(d.symbols()))
    raise SpecError("S005", f"{what} must be a fixed number, but the incoming size is {d} (it depends on {syms})",
                    f"reduce over {syms} first (e.g. AdaptiveAvgPool or a mean), or give {syms} a fixed size "
                    "in inputs:", field=field_name)


# The note a Linear leaves on the last dim of an (N, C, H, W) map it is run over: it mixed the
# width, not the channels, which a later merge's error names (a squeeze-excitation gate not pooled).
LINEAR_OVER_WIDTH = "the out_features of a Linear run along the width of an (N, C, H, W) map"


def check_given(given: int | None, actual: DimLike, field_name: str, tensor: TensorType, axis: int,
                what: str) -> int:
    """Check a size the user wrote against the incoming tensor; infer it when omitted."""
    try:
        size = static(actual, f"{field_name} ({what})", field_name)
    except SpecError as exc:
        swap = _swapped_axes(tensor, axis)
        if swap is not None:  # a fixed size sits where the layer reads, the length where the size should be
            dims, src, fixed = swap
            exc.hint = (f"if dim {src} (size {fixed}) holds the {what}, the axes are swapped: add "
                        f"- {{type: Permute, dims: {dims}}} before this layer; else {exc.hint}")
        raise
    if given is not None and given != size:
        why = tensor.note(axis)
        hint = f"set {field_name}: {size}{f' (= {why})' if why else ''}, or omit it and specc infers it"
        last = tensor.rank - 1
        if axis == 1 and what == "channels" and last > 1 and tensor.shape[last] == given and not why:
            # The channels the user wrote sit in the last dim: a channels-last (B, H, W, C) layout,
            # where "set in_channels: H" would make the network convolve over the wrong axes.
            dims = [0, last, *range(1, last)]
            hint = (f"its last dim has {given}: if it is channels-last, add - {{type: Permute, dims: {dims}}} "
                    f"before this layer (or declare the input channels-first); if not, set {field_name}: {size}")
        elif axis == 1 and what == "channels" and tensor.rank == 5 and tensor.shape[2] == given:
            # (B, T, C, H, W): frames stacked first, as video loaders give them; Conv3d reads (B, C, T, H, W)
            hint = (f"its dim 2 has {given}: if it holds frames first (B, T, C, H, W), add - {{type: Permute, "
                    f"dims: [0, 2, 1, 3, 4]}} before this layer (Conv3d reads (B, C, T, H, W)); if not, set "
                    f"{field_name}: {size}")
        raise SpecError("S001", f"{field_name} is {given} but the incoming tensor {tensor} has {size} {what}",
                        hint, field=field_name)
    return size


def _swapped_axes(tensor: TensorType, axis: int) -> tuple[list[int], int, int] | None:
    """(Permute dims, the fixed axis, its size) when a layer's size axis of ``tensor`` is symbolic but the
    axis it is usually confused with is fixed: (B, T, F) or (B, H, W, C) read as channels-first,
    or (B, C, L) read as (B, T, F)."""
    rank, last = tensor.rank, tensor.rank - 1
    if rank < 3:
        return None
    if axis == 1 and isinstance(tensor.shape[last], int):
        return [0, last, *range(1, last)], last, tensor.shape[last]
    if axis in (last, -1) and rank == 3 and isinstance(tensor.shape[1], int):
        return [0, 2, 1], 1, tensor.shape[1]
    return None


# A last dim this small beside sides this large is the colour axis of a channels-last
# (B, H, W, C) image as Keras, TensorFlow and NumPy store it (lint L012 reads the same layout).
COLOUR_CHANNELS = (1, 3, 4)
MIN_SIDE = 16


def channels_last_permute(tensor: TensorType) -> list[int] | None:
    """The Permute dims that make ``tensor`` channels-first when it looks like a channels-last image:
    a last dim of 1, 3 or 4 after fixed sides of at least MIN_SIDE; None otherwise."""
    if tensor.rank < 4 or tensor.shape[-1] not in COLOUR_CHANNELS:
        return None
    if not all(isinstance(d, int) and d >= MIN_SIDE for d in tensor.shape[1:-1]):
        return None
    last = tensor.rank - 1
    return [0, last, *range(1, last)]


def require(size: DimLike, at_least: int, why: str, field_name: str | None = None) -> list[Requirement]:
    """``size >= at_least`` as a requirement when ``size`` is symbolic; a fixed size that falls
    short is an S002 error here."""
    if isinstance(size, int):
        if size < at_least:
            raise SpecError("S002", f"{why} needs a size of at least {at_least}, but the size is {size}",
                            "change the parameter, or feed a larger input", field=field_name)
        return []
    return [Requirement(size, at_least, why, field_name)] if at_least > 1 else []


def positive(size: DimLike, what: str, detail: str = "") -> DimLike:
    if isinstance(size, int) and size <= 0:
        raise SpecError("S002", f"{what} would be {size}{detail}",
                        "use a smaller kernel/stride, more padding, or a larger input")
    return size


def axis(dim: int, rank: int, field_name: str = "dim") -> int:
    if not -rank <= dim < rank:
        raise SpecError("S008", f"{field_name}={dim} is out of range for a tensor of rank {rank}",
                        f"use a value from {-rank} to {rank - 1}", field=field_name)
    return dim % rank

