"""What every layer goes through, in one place: its inputs against the kind's input
constraints, its shape rule, and the sizes of what comes out.  The graph engine calls
``check_layer`` for each layer, and TimeDistributed for the layer it wraps, fed the steps."""

from __future__ import annotations

from typing import Any

from ..diagnostics import SpecError
from ..shapes.dims import DimLike
from ..shapes.tensor import MAX_DIM, MAX_ELEMENTS, TensorType
from .base import LayerKind, LayerResult
from .hints import CAST_INPUT, CHECK_SIZES, CHECK_SIZES_ABOVE, EMBED_IDS, FLOAT_INPUT, INT_INPUT, Fits, rank_hint
from .values import bounded


def check_layer(kind: LayerKind, params: Any, ins: list[TensorType], *, steps: bool = False,
                declared: bool = True) -> LayerResult:
    """The layer's result once its inputs and output pass every rule (a SpecError otherwise).
    ``steps``: ``ins`` are the steps of a sequence folded into the batch (TimeDistributed), so
    errors speak of what each step is. ``declared``: the layer reads the spec's inputs as declared,
    so a fix may be to declare them otherwise."""
    check_inputs(kind, ins, steps=steps, params=params, declared=declared)
    result = kind.infer(params, ins)
    result = bounded(kind.type_name, result.args, ins, result)
    check_sizes(result)
    check_weight_dtype(kind, ins, result)
    return result


def check_weight_dtype(kind: LayerKind, ins: list[TensorType], result: LayerResult) -> None:
    """Weights are made in float32, and a layer multiplies its input by them: any other float
    (a Cast to float16 upstream, a float64 input) fails in the framework's matmul or conv."""
    other = next((t for t in ins if t.is_float and t.dtype != "float32"), None)
    if (result.params or (kind.weights_in_buffers and result.buffers)) and other is not None:
        raise SpecError("S018", f"receives {other.dtype} data {other}, but its weights are float32",
                        "add - {type: Cast, dtype: float32} before this layer (or declare the input float32)")


def check_inputs(kind: LayerKind, ins: list[TensorType], *, steps: bool = False, params: Any = None,
                 declared: bool = True) -> None:
    """Input count, dtype and rank against what the kind accepts.  With the layer's ``params``,
    a rank error proposes only a reshape the layer then passes."""
    n = len(ins)
    if n < kind.min_inputs or (kind.max_inputs is not None and n > kind.max_inputs):
        want = (f"{kind.min_inputs}" if kind.max_inputs == kind.min_inputs else
                f"at least {kind.min_inputs}" if kind.max_inputs is None else
                f"{kind.min_inputs} to {kind.max_inputs}")
        raise SpecError("G003", f"takes {want} input{'s' if want != '1' else ''}, got {n}",
                        "list the inputs with from: [a, b]" if kind.min_inputs > 1 else
                        kind.extra_inputs_hint or "give a single from: (use Concat or Add to merge branches first)")
    states = getattr(kind, "states", ())
    for i, t in enumerate(kind.typed_inputs(ins)):
        shown = "" if steps else f" {t}"
        if kind.accepts == "float" and not t.is_float:
            raise SpecError("S007", f"receives {t.dtype} data{shown}, but {kind.type_name} works on floats",
                            CAST_INPUT if t.dtype in ("uint8", "bool") else EMBED_IDS if steps else FLOAT_INPUT)
        if kind.accepts == "int" and t.is_float:
            raise SpecError("S007", f"receives float data{shown}, but {kind.type_name} takes integer ids", INT_INPUT)
        if kind.ranks is not None and t.rank not in kind.ranks and not 0 < i <= len(states):
            # a recurrent layer's initial state is not its input: its own check says what shape it takes
            if steps:
                want = " or ".join(str(r - 1) for r in kind.ranks)
                raise SpecError("S003", f"{kind.type_name} expects {kind.layout} per step, i.e. (B, T) and {want} "
                                f"more dims, but each step is {TensorType(t.shape[1:])}",
                                f"reshape to (B, T) + {kind.layout} without its batch dim first")
            want = " or ".join(str(r) for r in kind.ranks)
            raise SpecError("S003", f"expects a rank-{want} input {kind.layout}, got rank {t.rank} {t}",
                            rank_hint(kind, t, None if params is None else _fits(kind, params, ins, t), declared))


def _fits(kind: LayerKind, params: Any, ins: list[TensorType], t: TensorType) -> Fits:
    def fits(shape: tuple[DimLike, ...]) -> bool:
        trial = [TensorType(shape, x.dtype) if x is t else x for x in ins]
        try:
            check_layer(kind, params, trial)
        except SpecError:
            return False
        return True
    return fits


def check_sizes(result: LayerResult) -> None:
    """Refuse an output no framework can allocate (S011): a dimension over MAX_DIM, a tensor
    of more than MAX_ELEMENTS elements (symbolic dims counted at their smallest, 1), or more
    parameters than that."""
    shape = result.out.shape
    elements = 1
    for d in shape:
        fixed = d if isinstance(d, int) else max((abs(c) for _, c in d.terms), default=1)
        if isinstance(d, int) and d > MAX_DIM:
            raise SpecError("S011", f"its output {result.out} has a dimension of {d:,}, over {MAX_DIM:,} "
                            "(2**31 - 1), the largest size specc allows for one dimension", CHECK_SIZES_ABOVE)
        elements *= fixed
    if elements > MAX_ELEMENTS:
        raise SpecError("S011", f"its output {result.out} holds {elements:,} elements, over {MAX_ELEMENTS:,} "
                        "(2**63 - 1), more than any framework can allocate", CHECK_SIZES_ABOVE)
    if result.params > MAX_ELEMENTS:
        raise SpecError("S011", f"it has {result.params:,} parameters, over {MAX_ELEMENTS:,} (2**63 - 1), more "
                        "than any framework can allocate", CHECK_SIZES)
