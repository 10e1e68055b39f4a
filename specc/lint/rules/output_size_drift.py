"""L020 output-size-drift: an image-to-image output has the input's size only at some sizes.

What it does
    An output has the rank of an input, and along a spatial dim where the input is a symbol (H)
    the output is a formula of H that equals H at some sizes but not at others: a generator or
    an autoencoder that downsamples by 4 and upsamples by 4 returns H only when H is a multiple
    of 4 (4*floor((H + 3)/4) at H = 17 is 20).

Why is this bad
    The model checks, builds and runs at every size, but at the other sizes its output is larger
    or smaller than its input: an L1 or MSE loss against the input (or a target of its size)
    fails at run time, and a segmentation mask no longer lines up with its image's pixels.

Example
    inputs:
      image: [B, 3, H, W]
    layers:
      - {type: Conv2d, out_channels: 64, kernel_size: 3, stride: 2, padding: 1}
      - {type: ConvTranspose2d, out_channels: 3, kernel_size: 2, stride: 2}

Use instead
    Feed sizes where the output keeps them (a fixed input size such as 256, a multiple of the
    total stride), or end the model with an Upsample to the input's size at run time:
    - {type: Upsample, from: [decoded, image], mode: bilinear}.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...shapes.dims import Dim, agreement, evaluate
from .. import Context, rule

CODE = "L020"
AXES = {3: ("length",), 4: ("height", "width"), 5: ("depth", "height", "width")}
MODES = {3: "linear", 4: "bilinear", 5: "trilinear"}  # PyTorch's interpolating mode for each rank


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    inputs = list(ctx.graph.inputs.items())
    for name, step in ctx.view.outputs:
        if isinstance(step, str) or step.node.out is None:
            continue
        out = step.node.out
        source = next(((n, t) for n, t in inputs if t.rank == out.rank and out.rank in AXES), None)
        if source is None:
            continue
        for axis, what in enumerate(AXES[out.rank], start=2):
            size, given = out.shape[axis], source[1].shape[axis]
            if not isinstance(given, Dim) or not isinstance(size, Dim) or len(given.terms) != 1 \
                    or given.symbols() != size.symbols():
                continue
            found = agreement(size, given)
            if found is None or found.everywhere or not found.residues:
                continue  # equal everywhere, or a size of its own (a valid-padding U-Net's H - 184)
            s = found.symbol
            bad, good = found.example(8, False), found.example(256, True)
            yield ctx.warning(
                CODE, step,
                f"output '{name}' has {what} {size}, equal to {s} of input '{source[0]}' only when {found.text()} "
                f"(at {s} = {bad} it is {evaluate(size, {s: bad})})",
                f"feed sizes where {found.text()} (a fixed size such as {good} in inputs: '{source[0]}'), or end "
                f"with - {{type: Upsample, from: [{step.node.path}, {source[0]}], mode: {MODES[out.rank]}}} to "
                "return the input's size at every size")
            break  # one warning per output: the other axes follow the same rule
