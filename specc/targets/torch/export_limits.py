"""What torch.onnx cannot export, per layer type: checked by ``specc check`` (the pipeline hands
``onnx_problem`` to the graph engine, which reports U002 at the layer's line) and again by
``specc export`` before exporting, so the user reads the reason instead of an exporter's crash.

Each entry answers for one layer type with its resolved attributes: "reason; fix", or None.
Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Limit = Callable[[dict[str, Any]], "str | None"]


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
}


def onnx_problem(type_name: str, args: dict[str, Any]) -> str | None:
    """Why torch.onnx cannot export a layer of ``type_name`` with these attributes ("reason; fix"),
    or None."""
    limit = LIMITS.get(type_name)
    return limit(args) if limit is not None else None
