"""L012 channels-last-into-conv: a convolution reads a channels-last tensor as channels-first.

What it does
    A convolution with in_channels left to inference reads either a model input whose last
    dim is small (1, 3 or 4, like the colours of an image) and whose other sides are large,
    the layout of a channels-last (B, H, W, C) image as Keras, TensorFlow and PIL/NumPy store
    it; a Conv1d reading a model input (B, T, F) of many steps and few features (a Keras
    Conv1D's window of (steps, features), such as UCI HAR's 128 steps of 9 sensors); a Conv3d
    reading a model input (B, T, C, H, W) of frames, each a channels-first image (video loaders
    stack frames first; Conv3d reads (B, C, T, H, W)); a Reshape or Unflatten into (B, H, W, C),
    a square map with its channels last (Keras' Reshape((7, 7, 128)) after a Dense in a DCGAN
    generator; an Unsqueeze of a greyscale (B, H, W) at its end); a Permute that moves the
    channels of an input declared channels-first away from dim 1 (a channels-last loader's
    permute(0, 3, 1, 2) kept); the (B, T, F) output of a sequence layer (Embedding, RNN,
    attention), whose features are last (also with in_channels written as its T steps, the
    "fix" of PyTorch's channel-count error); or a ConvLSTM2d reading a model input (B, T, H, W, C)
    of frames with their colours last, Keras' ConvLSTM2D layout (ConvLSTM2d reads (B, T, C, H, W)).

Why is this bad
    PyTorch convolutions read channels from dim 1. specc infers in_channels from the tensor,
    so it takes the image height (or the sequence length) as the channel count and the
    colours (or features) as a spatial axis: the spec checks, the shapes look plausible, and
    the network convolves over the wrong axes, with that size fixed for good.

Example
    inputs: {image: [B, 48, 48, 3]}
    layers:
      - {type: Conv2d, out_channels: 32, kernel_size: 3}

Use instead
    Declare the input channels-first, image: [B, 3, 48, 48], and convert the data; or add a
    Permute before the convolution: - {type: Permute, dims: [0, 3, 1, 2]} for an image,
    - {type: Permute, dims: [0, 2, 1]} for a sequence, - {type: Permute, dims: [0, 2, 1, 3, 4]}
    for frames; reshape a Dense output channels-first: shape: [B, 128, 7, 7].
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import RECURRENT, Leaf, arg, keeps_layout, written

if TYPE_CHECKING:
    from ...graph.ir import Graph
    from ...shapes.tensor import TensorType

CODE = "L012"
COLOUR_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA: the last dim of a channels-last image
MIN_SIDE = 16  # sides this large next to a last dim of 1–4 are an image, not a channel count
# Layers whose output is (B, T, F): one feature vector per step, features last.
SEQUENCE_LAYERS = ("Embedding", "PositionalEncoding", "MultiheadAttention", "TransformerEncoderLayer",
                   "TransformerEncoder", "ClassToken")


def _fmt(shape: object) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"  # type: ignore[attr-defined]


def makes_sequence(step: Leaf, linear: bool = False) -> bool:
    """Whether ``step`` outputs a (B, T, F) sequence, features last: a sequence layer, a batch-first
    recurrent layer's steps, and with ``linear`` a Linear (applied per step)."""
    return step.type in SEQUENCE_LAYERS or (linear and step.type == "Linear") or (
        step.type in RECURRENT and arg(step, "output") == "sequence" and arg(step, "batch_first", True))


def sequence_behind(step: Leaf, linear: bool = False) -> Leaf | None:
    """The sequence layer whose (B, T, F) output, features last, reaches ``step`` with its layout
    kept; with ``linear``, a Linear applied per step counts as one (its output is features-last
    too), else it ends the search (a conv user may mean a Linear over L)."""
    src = step.source
    while src is not None and src.out is not None and src.out.rank == 3:
        if makes_sequence(src, linear):
            return src
        if not keeps_layout(src) or src.type == "Linear":
            return None
        src = src.source
    return None


# A Conv1d input (B, L, F) with at most this many values in its last dim, and at least
# STEPS_PER_FEATURE times as many (and MIN_STEPS) in dim 1, is a window of steps, features last:
# sensor channels (HAR's 9), prices (5) or coordinates; a conv's channels outnumber its length
# only where many filters meet a short signal, never at the input.
FEW_FEATURES = 12
STEPS_PER_FEATURE = 4
MIN_STEPS = 32
RESHAPES = ("Reshape", "Unflatten", "Unsqueeze")


def _steps_input(graph: Graph, conv: Leaf) -> tuple[str, TensorType] | None:
    name = conv.inputs[0] if len(conv.inputs) == 1 else None
    x = graph.inputs.get(name) if isinstance(name, str) else None
    if x is None or x.rank != 3 or conv.out is None or conv.out.rank != 3:
        return None
    steps, features = x.shape[1], x.shape[2]
    if not (isinstance(steps, int) and isinstance(features, int)):
        return None
    if features > FEW_FEATURES or steps < max(MIN_STEPS, STEPS_PER_FEATURE * features):
        return None
    return name, x  # type: ignore[return-value]


def _frames_input(graph: Graph, conv: Leaf) -> tuple[str, TensorType] | None:
    name = conv.inputs[0] if len(conv.inputs) == 1 else None
    x = graph.inputs.get(name) if isinstance(name, str) else None
    if x is None or x.rank != 5 or conv.out is None or conv.out.rank != 5:
        return None
    frames, colours, h, w = x.shape[1:]
    if colours not in COLOUR_CHANNELS or frames == colours or \
            not all(isinstance(d, int) and d >= MIN_SIDE for d in (h, w)):
        return None
    return name, x  # type: ignore[return-value]


def _frames_last_input(graph: Graph, conv: Leaf) -> tuple[str, TensorType] | None:
    """(name, input) when ``conv``, a ConvLSTM2d, reads a model input (B, T, H, W, C) of frames with
    their colours last (Keras' ConvLSTM2D layout)."""
    name = conv.inputs[0] if conv.inputs else None
    x = graph.inputs.get(name) if isinstance(name, str) else None
    if x is None or x.rank != 5:
        return None
    h, w, c = x.shape[2:]
    if c not in COLOUR_CHANNELS or not all(isinstance(d, int) and d >= MIN_SIDE for d in (h, w)):
        return None
    return name, x  # type: ignore[return-value]


def _reshaped_channels_last(conv: Leaf) -> Leaf | None:
    """The Reshape or Unflatten whose (B, H, W, C) output, a square map with its channels last,
    reaches ``conv`` with its layout kept."""
    src = conv.source
    while src is not None and src.out is not None and src.out.rank == 4:
        if src.type in RESHAPES:
            _, h, w, c = src.out.shape
            if all(isinstance(d, int) for d in (h, w, c)) and h == w and c != h and \
                    (c in COLOUR_CHANNELS or c > h):  # type: ignore[operator]
                return src
            return None
        if not keeps_layout(src) or src.type == "Linear":
            return None
        src = src.source
    return None


def _permuted_channels_first(graph: Graph, conv: Leaf) -> tuple[Leaf, str, TensorType] | None:
    """(the Permute, the input's name, the input) when ``conv`` reads, with its layout kept, a Permute
    that takes a channels-first image input's channels (1, 3 or 4 at dim 1, sides of MIN_SIDE or more)
    away from dim 1: a channels-last loader's conversion kept after the input was declared channels-first."""
    src = conv.source
    while src is not None and src.type != "Permute":
        if not keeps_layout(src) or src.type == "Linear":
            return None
        src = src.source
    if src is None or len(src.inputs) != 1 or not isinstance(src.inputs[0], str):
        return None
    name = src.inputs[0]
    x = graph.inputs.get(name)
    dims = arg(src, "dims")
    if x is None or x.rank < 4 or not isinstance(dims, (list, tuple)) or x.shape[1] not in COLOUR_CHANNELS:
        return None
    if not all(isinstance(d, int) and d >= MIN_SIDE for d in x.shape[2:]) or dims[1] % x.rank == 1:
        return None
    return src, name, x


def _image_input(graph: Graph, conv: Leaf) -> tuple[str, TensorType] | None:
    name = conv.inputs[0] if len(conv.inputs) == 1 else None
    x = graph.inputs.get(name) if isinstance(name, str) else None
    if x is None or x.rank < 3:
        return None
    if x.shape[-1] not in COLOUR_CHANNELS or not all(isinstance(d, int) and d >= MIN_SIDE for d in x.shape[1:-1]):
        return None
    return name, x  # type: ignore[return-value]


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for conv in ctx.view.leaves:
        if conv.type == "ConvLSTM2d" and not written(conv, "in_channels"):
            video = _frames_last_input(ctx.graph, conv)
            if video is not None:
                name, x = video
                b, t, h, w, c = x.shape
                yield ctx.warning(
                    CODE, conv, f"input '{name}' {_fmt(x.shape)} looks like {t} frames of channels-last images (B, T, "
                    f"H, W, C), but ConvLSTM2d reads each frame as (C, H, W): in_channels is inferred as the height "
                    f"{h}, and it convolves over a {w}x{c} plane",
                    f"declare '{name}' as {_fmt([b, t, c, h, w])} and convert the data, or add - {{type: Permute, "
                    f"dims: [0, 1, 4, 2, 3]}} before '{conv.node.path}'")
            continue
        if conv.family != "conv":
            continue
        if written(conv, "in_channels"):
            # in_channels written as the steps: S001's "set in_channels: T" taken for a (B, T, F) sequence
            seq = sequence_behind(conv)
            if seq is not None and seq.out is not None and seq.out.shape[1] == arg(conv, "in_channels") and \
                    seq.out.shape[1] != seq.out.shape[2]:
                _, steps, features = seq.out.shape
                yield ctx.warning(
                    CODE, conv, f"in_channels: {steps} is the {steps} steps of the (B, T, F) output of {seq.who()}: "
                    f"it reads (B, C, L), so it slides over the {features} features and mixes the steps as channels",
                    f"add - {{type: Permute, dims: [0, 2, 1]}} before '{conv.node.path}' so it reads (B, F, T), and "
                    f"set in_channels: {features}", field="in_channels")
            continue
        image = _image_input(ctx.graph, conv)
        if image is not None:
            name, x = image
            shape, last = x.shape, x.rank - 1
            dims = [0, last, *range(1, last)]
            yield ctx.warning(
                CODE, conv, f"input '{name}' {_fmt(shape)} looks channels-last (its last dim is {shape[-1]}), but "
                f"convolutions read channels from dim 1, so in_channels is inferred as {shape[1]}",
                f"declare '{name}' channels-first as {_fmt([shape[0], shape[-1], *shape[1:-1]])}, or add "
                f"- {{type: Permute, dims: {dims}}} before '{conv.node.path}'")
            continue
        steps = _steps_input(ctx.graph, conv) if conv.type.endswith("1d") else None
        if steps is not None:
            name, x = steps
            _, n, f = x.shape
            yield ctx.warning(
                CODE, conv, f"input '{name}' {_fmt(x.shape)} looks like {n} steps of {f} features (a Keras Conv1D's "
                f"(steps, features) window), but Conv1d reads channels from dim 1: in_channels is inferred as the "
                f"{n} steps, and it slides over the {f} features",
                f"declare '{name}' as [{x.shape[0]}, {f}, {n}] and transpose the data, or add - {{type: Permute, "
                f"dims: [0, 2, 1]}} before '{conv.node.path}'")
            continue
        frames = _frames_input(ctx.graph, conv) if conv.type.endswith("3d") else None
        if frames is not None:
            name, x = frames
            b, t, c, h, w = x.shape
            yield ctx.warning(
                CODE, conv, f"input '{name}' {_fmt(x.shape)} looks like {t} frames of {c}-channel images (B, T, C, "
                f"H, W), but Conv3d reads (B, C, T, H, W): in_channels is inferred as the {t} frames, and it "
                f"convolves over the {c} colours as if they were time",
                f"add - {{type: Permute, dims: [0, 2, 1, 3, 4]}} before '{conv.node.path}', or declare '{name}' "
                f"as {_fmt([b, c, t, h, w])} and stack the clips channels-first")
            continue
        flat = _reshaped_channels_last(conv)
        if flat is not None and flat.out is not None:
            b, h, w, c = flat.out.shape
            fix = (f"write shape: {_fmt([b, c, h, w])}" if flat.type == "Reshape" else
                   "write dim: 1" if flat.type == "Unsqueeze" else f"write unflattened_size: {_fmt([c, h, w])}")
            yield ctx.warning(
                CODE, conv, f"{flat.who()} gives {flat.out}, a {h}x{w} map with {c} channel{'s' * (c != 1)} last "
                "(as Keras and NumPy lay images out), but convolutions read channels from dim 1: in_channels is "
                f"inferred as {h}, and it convolves over a {w}x{c} plane",
                f"{fix} on '{flat.node.path}' (the same values laid out channels-first)")
            continue
        moved = _permuted_channels_first(ctx.graph, conv)
        if moved is not None:
            perm, name, x = moved
            yield ctx.warning(
                CODE, conv, f"input '{name}' {_fmt(x.shape)} is declared channels-first already, and {perm.who()} "
                f"moves its {x.shape[1]} channels away from dim 1: in_channels is inferred as "
                f"{perm.out.shape[1] if perm.out is not None else '?'}, a side of the image",
                f"remove '{perm.node.path}' (a channels-last loader's permute(0, 3, 1, 2) is done by declaring the "
                "input channels-first)")
            continue
        seq = sequence_behind(conv)
        if seq is not None and seq.out is not None:
            _, steps, features = seq.out.shape
            yield ctx.warning(
                CODE, conv, f"it reads the (B, T, F) output of {seq.who()} as (B, C, L): in_channels is inferred "
                f"as the {steps} steps, and the {features} features become the length it slides over",
                f"add - {{type: Permute, dims: [0, 2, 1]}} before '{conv.node.path}' so it reads (B, F, T)")
