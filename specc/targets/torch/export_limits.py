"""What torch.onnx cannot export, per layer type: checked by ``specc check`` where export would take
the torch route (specc/targets/verdict.py: a pinned exporter, or a model the direct target cannot
write; U002 at the layer's line) and by the torch route before exporting (``--via torch``), so
the user reads the reason instead of an exporter's crash.

Each entry answers for one layer type with its resolved attributes: "reason; fix", or None.
``LIMITS`` holds what neither exporter writes; ``PINNED`` what one exporter alone cannot write,
which matters only when the spec (or ``specc export --exporter``) pins that exporter, since
``auto`` falls back to the other one. tests/test_export_limits.py exports every layer case under
each pinned exporter: refused here, or exported and verified.
Nothing here imports torch.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ...shapes.dims import Dim
from ...shapes.tensor import TensorType

Limit = Callable[[dict[str, Any]], "str | None"]
# The layer's inputs as (value name, type): a limit of one exporter may depend on whether a
# sequence length is symbolic or one tensor is read twice.
Inputs = Sequence[tuple[str, TensorType]]
PinnedLimit = Callable[[dict[str, Any], Inputs], "str | None"]


def _as_tuple(v: Any) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (list, tuple)) else (v,)


def ceil_padding_problem(args: dict[str, Any]) -> str | None:
    """PyTorch's ceil_mode drops a last window that would start in the right padding (or past the
    input); the exported models do not always drop it (MaxPool1d k=2, padding 1, L=3: 3 vs 2;
    MaxPool2d k=1, stride 3, H=3: 2 vs 1), so ONNX can keep one more window than PyTorch. Such a
    window can exist only when the window reaches no further than padding + stride - 1."""
    if not args.get("ceil_mode"):
        return None
    k, pads = _as_tuple(args["kernel_size"]), _as_tuple(args.get("padding", 0))
    s = _as_tuple(args["stride"] if args.get("stride") is not None else args["kernel_size"])
    d = _as_tuple(args.get("dilation", 1))
    n = max(len(k), len(pads), len(s), len(d))
    pick = lambda t, i: t[i] if len(t) > 1 else t[0]
    for i in range(n):
        reach = pick(d, i) * (pick(k, i) - 1) + 1
        if reach <= pick(pads, i) + pick(s, i) - 1:
            return ("with ceil_mode, PyTorch drops a last window that starts past the input and the exported "
                    "ONNX model can keep it, so the two disagree at some input sizes; set ceil_mode: false, or a "
                    "kernel_size larger than padding + stride - 1")
    return None


def _avg_pool(args: dict[str, Any]) -> str | None:
    if args.get("divisor_override") is not None:
        # torch 2.x: both exporters drop it and divide by the window size, silently wrong
        return ("no torch ONNX exporter keeps divisor_override (the exported model divides by the window "
                "size instead); drop divisor_override, and scale after the pool if you need another divisor")
    return ceil_padding_problem(args)


def _lstm(args: dict[str, Any]) -> str | None:
    if args.get("proj_size"):
        # torch 2.x: the TorchScript exporter refuses projections, the dynamo one writes a broken graph.
        return ("neither torch ONNX exporter supports LSTM projections (proj_size; the TorchScript one "
                "refuses them, the dynamo one writes a graph that ONNX Runtime rejects); set proj_size: 0, "
                "and if you need the smaller output, add a Linear after the LSTM")
    return None


def _mixture_of_experts(args: dict[str, Any]) -> str | None:
    # torch 2.x: TorchScript has no symbolic for the routing's sort ('Sort, Out parameter is not
    # supported'), and dynamo fails converting the exported program: no opset helps either
    return ("neither torch ONNX exporter writes a mixture of experts' routing (the TorchScript one has no "
            "ONNX Sort with its out parameter, the dynamo one fails to convert it); export by the direct "
            "target: export: {exporter: auto} at opset 11 or later")


def merges_masks(args: dict[str, Any]) -> bool:
    """Whether an attention layer's key-padding mask joins an attention (or causal) mask, so that the
    two together may hide every key of a row."""
    if "num_kv_heads" in args:  # GroupedQueryAttention gives a row whose keys are all hidden 0 itself
        return False
    masks = set(args.get("masks") or ())
    return "key_padding" in masks and ("attn" in masks or bool(args.get("causal"))) and not args.get("add_zero_attn")


def _merged_masks(args: dict[str, Any]) -> str | None:
    """A key-padding mask with an attention mask (or causal): where the two together hide every key
    of a row, the PyTorch target's attention gives 0 (called off the fused inference kernel, which
    gives NaN: support/attention_fastpath.py) and the exported graphs' softmax NaN (found by
    exporting every layer case by the torch route; either mask alone gives NaN in both)."""
    if merges_masks(args):
        return ("where its key-padding and attention (or causal) masks together hide every key of a row, the "
                "torch exporters' models give NaN and PyTorch gives 0; export by the direct target (leave "
                "export.exporter at auto), which gives PyTorch's 0")
    return None


def _mamba(args: dict[str, Any]) -> str | None:
    # The support module's scan is a Python loop over T: traced, it would be unrolled to the export
    # length (a model that silently ignores every later step); the direct target writes an ONNX Scan.
    return ("torch.onnx would unroll Mamba's scan over T at the export length; export by the direct target "
            "(export: {exporter: auto}), which writes the scan as an ONNX Scan")


def _time_distributed(args: dict[str, Any]) -> str | None:
    """The wrapped layer's limit (its attributes sit beside ``layer``, its type)."""
    inner = args["layer"]
    return onnx_problem(inner, {k: v for k, v in args.items() if k != "layer"}) if isinstance(inner, str) else None


LIMITS: dict[str, Limit] = {
    "MaxPool1d": ceil_padding_problem,
    "MaxPool2d": ceil_padding_problem,
    "MaxPool3d": ceil_padding_problem,
    "AvgPool1d": _avg_pool,
    "AvgPool2d": _avg_pool,
    "AvgPool3d": _avg_pool,
    "LSTM": _lstm,
    "TimeDistributed": _time_distributed,
    "MixtureOfExperts": _mixture_of_experts,
    "Mamba": _mamba,
    **{k: _merged_masks for k in ("MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
                                  "TransformerDecoderLayer", "TransformerDecoder")},
}


# -- what neither exporter writes at some input sizes -------------------------------------------------

def _f32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def _nearest_picks_agree(n: int, out: int) -> bool:
    """Whether ONNX Resize (nearest, floor(i / (out / n)) with a float32 scale) picks the source
    pixels PyTorch picks (floor(i · f32(n / out)), float32). Only whole-number upsampling is
    trusted: out / n is then exact in ONNX, and the float32 product is checked at every i."""
    if out % n:
        return False
    step = _f32(n / out)
    return all(math.floor(_f32(i * step)) == i * n // out for i in range(out))


def _upsample(args: dict[str, Any], inputs: Inputs) -> str | None:
    """Nearest resizing to a given size: ONNX and PyTorch compute the source index with two different
    float32 scales (out / in against in / out), which pick different pixels at many sizes (14 -> 4:
    row 6 against row 7), and at any size a symbolic input may take."""
    if args.get("mode") != "nearest" or (args.get("size") is None and not args.get("like")):
        return None
    if args.get("like"):
        return ("nearest resizing to a second input's size picks other source pixels in ONNX Resize than in PyTorch "
                "at many sizes (their float32 scales differ); export by the direct target, which picks PyTorch's, "
                "or use mode: bilinear")
    spatial = inputs[0][1].shape[2:] if inputs else ()
    sizes = args["size"] if isinstance(args["size"], tuple) else (args["size"],) * len(spatial)
    if all(isinstance(n, int) and _nearest_picks_agree(n, o) for n, o in zip(spatial, sizes)):
        return None
    return ("nearest resizing to a fixed size picks other source pixels in ONNX Resize than in PyTorch (their "
            "float32 scales differ) unless it enlarges fixed sizes by whole factors; use scale_factor (2, 0.5 "
            "...), or mode: bilinear")


def _embedding_renorm(args: dict[str, Any], inputs: Inputs) -> str | None:
    """max_norm renormalises the rows looked up, which the TorchScript exporter drops and the dynamo
    exporter writes as a ScatterND whose indices ONNX Runtime takes as int64 only."""
    if args.get("max_norm") is None or all(t.dtype == "int64" for _, t in inputs[:1]):
        return None
    return ("no torch exporter writes max_norm over int32 ids (TorchScript drops the renormalisation, dynamo "
            "writes it as a ScatterND that ONNX Runtime refuses for int32 ids); add - {type: Cast, dtype: int64} "
            "before the Embedding")


# ONNX Runtime's CPU kernels for the ops the torch exporters write these layers with (the direct
# target writes other types another way)
_DEPTH_TO_SPACE = ("float32", "float64")
_WIDE = ("int32", "int64")


def _pixel_shuffle(args: dict[str, Any], inputs: Inputs) -> str | None:
    dtype = inputs[0][1].dtype if inputs else "float32"
    if dtype in _DEPTH_TO_SPACE:
        return None
    return (f"the torch exporters write it as DepthToSpace, which ONNX Runtime has no {dtype} kernel for on CPU; "
            "add - {type: Cast, dtype: float32} before it, or export by the direct target (export.exporter: auto)")


def _max_min(args: dict[str, Any], inputs: Inputs) -> str | None:
    dtypes = [t.dtype for _, t in inputs]
    if any(d.startswith(("float", "bfloat")) or d in _WIDE for d in dtypes):
        return None  # PyTorch promotes the inputs to a type ONNX Runtime's Max and Min take
    return (f"the torch exporters write it over {'/'.join(sorted(set(dtypes)))} values, which ONNX Runtime's Max "
            "and Min have no CPU kernel for; add - {type: Cast, dtype: int64} before it, or export by the direct "
            "target (export.exporter: auto)")


SHAPED: dict[str, PinnedLimit] = {"Upsample": _upsample, "Embedding": _embedding_renorm,
                                  "PixelShuffle": _pixel_shuffle, "Max": _max_min, "Min": _max_min}


# -- what one exporter alone cannot write (torch 2.13; found by exporting every layer case) ------------

def _symbolic(d: Any) -> bool:
    return isinstance(d, Dim) and bool(d.symbols())


def _seq_symbolic(args: dict[str, Any], t: TensorType) -> bool:
    seq = 1 if args.get("batch_first", True) else 0
    return t.rank > seq and _symbolic(t.shape[seq])


def _sequence_symbolic(args: dict[str, Any], inputs: Inputs) -> bool:
    return any(_seq_symbolic(args, t) for _, t in inputs[:1])


def _ts_attention(args: dict[str, Any], inputs: Inputs) -> str | None:
    # Traced, PyTorch's attention reshapes the keys to (S, B·heads, head_dim) with the key length
    # S recorded as a constant: self-attention (keys = queries) and cross-attention alike.
    if "num_kv_heads" in args:  # GroupedQueryAttention reads its lengths at run time
        return None
    qkv = inputs[:len(inputs) - len(args.get("masks", ()))]
    keys = qkv[1] if len(qkv) >= 2 else qkv[0] if qkv else None
    if keys is not None and _seq_symbolic(args, keys[1]):
        return "writes attention over a symbolic key length with that length frozen at the export size"
    return None


def _ts_encoder(args: dict[str, Any], inputs: Inputs) -> str | None:
    if _sequence_symbolic(args, inputs):
        return "writes the encoder's self-attention with the sequence length frozen at the export size"
    return None


def _ts_decoder(args: dict[str, Any], inputs: Inputs) -> str | None:
    # the target's self-attention freezes T, the cross-attention on the memory freezes S
    if any(_seq_symbolic(args, t) for _, t in inputs[:2]):
        return "writes the decoder's attention with the target and memory lengths frozen at the export size"
    return None


def _ts_conv(args: dict[str, Any], inputs: Inputs) -> str | None:
    if args.get("padding") == "same" and args.get("padding_mode", "zeros") == "zeros" \
            and any(d > 1 for d in _as_tuple(args.get("dilation", 1))):
        return ("writes padding: same with a dilation as ONNX's auto_pad, which ONNX Runtime refuses with "
                "dilation")
    return None


def _ts_adaptive(args: dict[str, Any], inputs: Inputs) -> str | None:
    if "op" not in args and None in _as_tuple(args["output_size"]):
        return "cannot write an adaptive pool whose output_size keeps an input size (null)"
    if "op" not in args and inputs:
        # the shape rule leaves uneven 1-d and 2-d average pools to the exporter, which only dynamo decomposes
        spatial = inputs[0][1].shape[2:]
        sizes = _as_tuple(args["output_size"]) * (len(spatial) if isinstance(args["output_size"], int) else 1)
        if any(isinstance(n, int) and n % o for n, o in zip(spatial, sizes)):
            return "cannot write an adaptive pool whose output_size does not divide the input size"
    return None


def _ts_batch_norm(args: dict[str, Any], inputs: Inputs) -> str | None:
    if args.get("track_running_stats") is False:
        return "cannot write batch statistics (track_running_stats: false) over a symbolic batch"
    return None


def _ts_instance_norm(args: dict[str, Any], inputs: Inputs) -> str | None:
    if args.get("track_running_stats"):
        return "cannot write InstanceNorm's running statistics (track_running_stats: true) over a symbolic batch"
    return None


def _ts_squeeze(args: dict[str, Any], inputs: Inputs) -> str | None:
    if len(_as_tuple(args.get("dim"))) > 1:
        return "cannot write a squeeze of several dims at once"
    return None


def _ts_embedding(args: dict[str, Any], inputs: Inputs) -> str | None:
    if args.get("max_norm") is not None:
        return "drops max_norm: the exported model looks rows up without renormalising them"
    return None


def _ts_conv_lstm(args: dict[str, Any], inputs: Inputs) -> str | None:
    return "freezes the number of time steps T of a ConvLSTM2d at the export size"


def _ts_max_unpool(args: dict[str, Any], inputs: Inputs) -> str | None:
    # torch 2.13: tracing max_unpool fails inside PyTorch's own shape check (a tensor condition
    # where a bool is wanted), whatever the sizes; the dynamo exporter writes it as a scatter.
    return "cannot write a MaxUnpool (its tracer fails in PyTorch's own size check)"


def _dynamo_recurrent(args: dict[str, Any], inputs: Inputs) -> str | None:
    if _sequence_symbolic(args, inputs):
        # not in every graph (an LSTM reading a model input with output: last keeps T), but in most
        return ("freezes the number of time steps of a recurrent layer at the export size in most models (the "
                "layer cases of tests/layer_cases.py, all of them)")
    return None


def _dynamo_conv_lstm(args: dict[str, Any], inputs: Inputs) -> str | None:
    if any(t.rank >= 5 and any(_symbolic(d) for d in t.shape[3:5]) for _, t in inputs[:1]):
        return "fails to decompose a ConvLSTM2d over a symbolic height or width"
    return None


def _dynamo_max_pool1d(args: dict[str, Any], inputs: Inputs) -> str | None:
    if any(t.rank and _symbolic(t.shape[-1]) for _, t in inputs[:1]):
        return "freezes the length a MaxPool1d reads at the export size"
    return None


def _time_distributed_pinned(exporter: str) -> PinnedLimit:
    """The wrapped layer's limit under ``exporter``, on what it reads: (B·T, ...) of (B, T, ...)."""
    def limit(args: dict[str, Any], inputs: Inputs) -> str | None:
        inner = args["layer"]
        pinned = PINNED[exporter].get(inner) if isinstance(inner, str) else None
        if pinned is None:
            return None
        steps = [(name, replace(t, shape=t.shape[:1] + t.shape[2:])) for name, t in inputs if t.rank >= 2]
        return pinned({k: v for k, v in args.items() if k != "layer"}, steps)
    return limit


PINNED: dict[str, dict[str, PinnedLimit]] = {
    "torchscript": {
        **{k: _ts_conv for k in ("Conv1d", "Conv2d", "Conv3d", "DepthwiseConv1d", "DepthwiseConv2d",
                                 "SeparableConv1d", "SeparableConv2d")},
        **{f"Adaptive{op}Pool{n}d": _ts_adaptive for op in ("Avg", "Max") for n in (1, 2, 3)},
        **{f"BatchNorm{n}d": _ts_batch_norm for n in (1, 2, 3)},
        **{f"InstanceNorm{n}d": _ts_instance_norm for n in (1, 2, 3)},
        "Squeeze": _ts_squeeze,
        "Embedding": _ts_embedding,
        "MultiheadAttention": _ts_attention,
        "TransformerEncoderLayer": _ts_encoder,
        "TransformerEncoder": _ts_encoder,
        "TransformerDecoderLayer": _ts_decoder,
        "TransformerDecoder": _ts_decoder,
        "ConvLSTM2d": _ts_conv_lstm,
        **{f"MaxUnpool{n}d": _ts_max_unpool for n in (1, 2, 3)},
        "TimeDistributed": _time_distributed_pinned("torchscript"),
    },
    "dynamo": {
        **{k: _dynamo_recurrent for k in ("RNN", "LSTM", "GRU")},
        "MaxPool1d": _dynamo_max_pool1d,
        "ConvLSTM2d": _dynamo_conv_lstm,
        "TimeDistributed": _time_distributed_pinned("dynamo"),
    },
}


def _ts_spectral_norm(then: PinnedLimit | None) -> PinnedLimit:
    """spectral_norm's σ is a torch.vdot, which the TorchScript exporter has no ONNX op for;
    ``then`` is the layer's own limit under that exporter."""
    def limit(args: dict[str, Any], inputs: Inputs) -> str | None:
        if "spectral_norm" in args:
            return "cannot write spectral_norm's sigma (aten::vdot has no ONNX op in it)"
        return then(args, inputs) if then is not None else None
    return limit


for _kind in ("Linear", "Embedding", "Conv1d", "Conv2d", "Conv3d", "DepthwiseConv1d", "DepthwiseConv2d",
              "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"):
    PINNED["torchscript"][_kind] = _ts_spectral_norm(PINNED["torchscript"].get(_kind))


# Layers that only move or convert elements: ONNX Runtime runs them for any dtype. Every other
# op has no bfloat16 kernel on CPU, where the export is verified (Relu, Sigmoid, ReduceMean, ...).
BFLOAT16_MOVES = frozenset({"Cast", "Identity", "Dropout", "Flatten", "Unflatten", "Reshape", "Permute", "Transpose",
                            "Squeeze", "Unsqueeze", "Slice", "Split", "Chunk", "Concat"})


def _bfloat16(type_name: str, inputs: Inputs) -> str | None:
    if type_name in BFLOAT16_MOVES or all(t.dtype != "bfloat16" for _, t in inputs):
        return None
    return (f"it computes in bfloat16, and ONNX Runtime has no bfloat16 {type_name} on CPU, where the exported "
            "model is verified; add - {type: Cast, dtype: float32} before it (float16 runs)")


def onnx_problem(type_name: str, args: dict[str, Any], exporter: str = "auto", inputs: Inputs = ()) -> str | None:
    """Why torch.onnx cannot export a layer of ``type_name`` with these attributes and ``inputs``
    ("reason; fix") under ``exporter`` (auto, torchscript or dynamo), or None."""
    limit, shaped = LIMITS.get(type_name), SHAPED.get(type_name)
    why = limit(args) if limit is not None else None
    why = why or (shaped(args, inputs) if shaped is not None else None)
    pinned = PINNED.get(exporter, {}).get(type_name)
    if why is None and pinned is not None and (why := pinned(args, inputs)):
        other = "dynamo" if exporter == "torchscript" else "torchscript"
        why = (f"the {exporter} exporter (export: {{exporter: {exporter}}}) {why}; set export: "
               f"{{exporter: auto}} (or {other}), which exports this layer correctly")
    return why



# ONNX Runtime's PadFusion folds a zero Pad into the MaxPool or AveragePool that reads it: a max pool
# then pads with -inf where PyTorch padded zeros (wrong maxima), and a pad wider than the kernel
# stops the model from loading. It leaves alone a Pad that names its axes (opset 18 on), which is how
# the direct target writes every constant pad; the torch exporters' Pad has no axes input. Layers that
# export to nothing at eval pass the padding on.
_ZERO_PADS = tuple(f"{kind}Pad{n}d" for kind in ("Zero", "Constant") for n in (1, 2, 3))
_FOLDED_INTO = tuple(f"{kind}Pool{n}d" for kind in ("Max", "Avg", "AdaptiveAvg", "AdaptiveMax") for n in (1, 2, 3))
_VANISH = ("Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
           "StochasticDepth")
_FUSED_PAD = ("ONNX Runtime folds the zero padding of the layer before it into this pool (its PadFusion): a max "
             "pool then pads with -inf instead of zeros, and a pad wider than the kernel does not load")
_FUSED_PAD_FIX = ("give the pool its own padding: (a max pool pads with -inf), or put another layer (an activation, "
                 "a conv) between them")


def fused_pad_limits() -> Callable[[str, dict[str, Any], Inputs, str], bool]:
    """For the layers of one model, in order (``path``: the layer's qualified name): whether the
    layer is a pool that reads a zero pad, which ONNX Runtime folds into it unless the Pad names
    its axes."""
    zero_padded: set[str] = set()  # paths of the values a zero pad writes

    def folded(type_name: str, args: dict[str, Any], inputs: Inputs, path: str = "") -> bool:
        prefix = path.rpartition(".")[0]
        reads = [f"{prefix}.{name}" if prefix else name for name, _ in inputs[:1]]
        zero_pad = type_name in _ZERO_PADS and not args.get("value", 0)
        if zero_pad or (type_name in _VANISH and set(reads) & zero_padded):
            zero_padded.add(path)
        return type_name in _FOLDED_INTO and bool(set(reads) & zero_padded)

    return folded


def _pinned_limit(exporter: str, type_name: str, args: dict[str, Any], inputs: Inputs) -> str | None:
    limit = PINNED[exporter].get(type_name)
    return limit(args, inputs) if limit is not None else None


def runtime_limits(fused_pads: bool = True) -> Callable[[str, dict[str, Any], Inputs, str], str | None]:
    """What ONNX Runtime cannot run, or runs unlike PyTorch: bfloat16 compute, whichever route wrote
    the model, and (``fused_pads``) a zero pad it folds into a pool, in the torch exporters' models.
    For the layers of one model, in order (``path``: the layer's qualified name)."""
    folded = fused_pad_limits()

    def problem(type_name: str, args: dict[str, Any], inputs: Inputs, path: str = "") -> str | None:
        if folded(type_name, args, inputs, path) and fused_pads:
            return (f"{_FUSED_PAD}, as the torch exporters write the pad; {_FUSED_PAD_FIX}, or export by the direct "
                    "target (export: {exporter: auto}, opset 18 or later), whose Pad ONNX Runtime leaves apart")
        return _bfloat16(type_name, inputs)

    return problem


# The opset from which the TorchScript exporter writes a layer kind: the ONNX op (or aten op's symbolic)
# it needs, below which it stops with UnsupportedOperatorError (torch 2.13; found by exporting every layer
# case, and attention at a fixed length, under export: {exporter: torchscript, opset: 9 and 11}).
_ATTENTION = ("MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
              "TransformerDecoder")
TS_MIN_OPSET: dict[str, tuple[int, str]] = {
    "CELU": (12, "aten::celu (ONNX Celu)"),
    "Unflatten": (13, "aten::unflatten"),
    "CumSum": (11, "aten::cumsum (ONNX CumSum)"),
    **{k: (14, "aten::unflatten and aten::scaled_dot_product_attention") for k in _ATTENTION},
}
# ONNX's Max and Min take integers from opset 12: before it ONNX Runtime cannot load the model
_INT_MIN_MAX = ("Max", "Min")
_POOLS = tuple(f"{op}Pool{n}d" for op in ("Max", "Avg") for n in (1, 2, 3))


def _ts_old_opset(type_name: str, args: dict[str, Any]) -> tuple[int, str]:
    """What the TorchScript exporter writes only from opset 10 or 11 among the settings of one layer (the
    layer cases exported at opsets 9, 10 and 11: a Slice with inputs or steps and MaxPool's dilations and
    ceil_mode from 10, Resize and a Pad's value from 11), as (opset, what); (0, "") when nothing."""
    if type_name == "Upsample":
        return 11, "ONNX's Resize"
    if type_name == "PositionalEncoding":
        return 10, "a Slice of the position table to the sequence's length"
    if type_name == "Slice" and args.get("step", 1) != 1:
        return 10, "a stepped Slice"
    if type_name in ("RNN", "LSTM", "GRU") and args.get("bidirectional") and args.get("output") != "sequence":
        return 10, "a Slice of the two directions' states"
    if type_name in _POOLS and (args.get("ceil_mode") or any(d > 1 for d in _as_tuple(args.get("dilation", 1)))):
        return 10, "a pool's ceil_mode or dilation"
    if type_name.startswith("ConstantPad") and args.get("value", 0):
        return 11, "a Pad of another value than 0"
    if _float_equal(type_name, args):
        return 11, "ONNX's Equal over floats"
    return 0, ""


def _float_equal(type_name: str, args: dict[str, Any]) -> bool:
    """A Compare the exporters write as ONNX's Equal over floats (== or !=, compared in a float type)."""
    return type_name == "Compare" and args.get("op") in ("eq", "ne") and str(args.get("dtype")).startswith(
        ("float", "bfloat"))


def ts_opset_problem(type_name: str, args: dict[str, Any], inputs: Inputs, opset: int) -> str | None:
    """Why the TorchScript exporter cannot write a layer of ``type_name`` at ``opset`` ("reason; fix"), or None."""
    need, what = TS_MIN_OPSET.get(type_name) or _ts_old_opset(type_name, args)
    if type_name in _INT_MIN_MAX and any(not t.is_float for _, t in inputs):
        need, what = 12, "ONNX's Max and Min over integers"
    if opset >= need:
        return None
    return (f"the torchscript exporter (export: {{exporter: torchscript}}) writes {type_name} with {what}, which "
            f"ONNX has from opset {need}, so it stops at opset {opset}; set export: {{opset: {need}}} or "
            "later, or export: {exporter: auto}")


def model_limits(exporter: str = "auto", opset: int = 18) -> Callable[[str, dict[str, Any], Inputs, str], str | None]:
    """``onnx_problem`` and ``runtime_limits`` for the layers of one model, in order. Under ``auto``
    it also refuses a layer neither exporter writes alone, and a model that needs both exporters: a
    layer only TorchScript writes (a recurrent layer over a symbolic length) beside one only dynamo
    writes (self-attention over one), since ``auto`` exports a model with one exporter or the other
    (an LSTM before a TransformerEncoderLayer: TorchScript froze T in the attention, dynamo in the
    LSTM)."""
    only: dict[str, str] = {}  # exporter -> the first layer type that only it writes
    runtime = runtime_limits()

    def problem(type_name: str, args: dict[str, Any], inputs: Inputs, path: str = "") -> str | None:
        why = onnx_problem(type_name, args, exporter, inputs) or runtime(type_name, args, inputs, path)
        if why is None and exporter == "torchscript":
            why = ts_opset_problem(type_name, args, inputs, opset)
        if why is None and opset < 11 and _float_equal(type_name, args):
            # ONNX's own limit, which neither exporter gets round (dynamo's down-conversion keeps the Equal)
            why = ("the torch exporters write it as ONNX's Equal, which takes floats from opset 11 only; set "
                   "export: {opset: 11} or later, or export by the direct target (--via direct)")
        if why is not None or exporter != "auto":
            return why
        alone = {e: _pinned_limit(e, type_name, args, inputs) for e in ("torchscript", "dynamo")}
        if alone["torchscript"] and alone["dynamo"]:
            return (f"neither torch exporter writes it (TorchScript {alone['torchscript']}, and dynamo "
                    f"{alone['dynamo']}); export by the direct target, or give the symbolic sizes fixed sizes")
        for cannot, can in (("torchscript", "dynamo"), ("dynamo", "torchscript")):
            if alone[cannot] and can not in only:
                only[can] = type_name
        if len(only) < 2:
            return None
        first = only["dynamo"] if only["torchscript"] == type_name else only["torchscript"]
        return (f"no torch exporter writes this model: it needs the TorchScript exporter for one layer and the "
                f"dynamo exporter for another ({first} and {type_name} over a symbolic sequence length), and a "
                f"model is exported by one of them; give the sequence length a fixed size in inputs:, or export "
                f"the two parts as separate models")

    return problem
