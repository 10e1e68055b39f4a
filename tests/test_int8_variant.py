"""Static int8 where ONNX Runtime's quantiser and its runtime went wrong: a Pad that names its axes
(the direct target's, from opset 18) made the int8 model fail at run time (the layout pass for the
int8 convolutions, at session level 'all', permuted its pads as if they covered every axis), and
quantised arithmetic of sizes (a bilinear Upsample's sampling positions) made its outputs noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import specc

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from specc.backends.ort import create_session
from specc.backends.routes import export
from specc.backends.variants import make_variant

# DPCNN's downsampling: a zero pad at the end of the sequence, then a max pool over it
PAD_POOL = """\
specc: 1
name: PadPool
inputs:
  x: [B, 8, L]
layers:
  - {type: Conv1d, out_channels: 8, kernel_size: 3, padding: 1}
  - {type: ZeroPad1d, padding: [0, 1]}
  - {type: MaxPool1d, kernel_size: 3, stride: 2}
  - {type: Conv1d, out_channels: 8, kernel_size: 3, padding: 1}
"""


@pytest.mark.parametrize("dims", [1, 2])
def test_int8_of_a_pad_with_axes_runs_at_every_level_alike(dims: int, tmp_path: Path) -> None:
    text = PAD_POOL if dims == 1 else (PAD_POOL.replace("1d", "2d").replace("[B, 8, L]", "[B, 8, H, W]")
                                       .replace("padding: [0, 1]", "padding: [0, 1, 0, 1]"))
    export(specc.loads(text), tmp_path / "m.onnx", via="direct")
    variant = make_variant(tmp_path / "m.onnx", "int8", runs=1)
    # inputs well below 0: the zero pad is the maximum at the edge, which a pad folded into the
    # pool (padding with -inf) would lose
    x = (np.random.default_rng(0).standard_normal((2, 8, *[12] * dims)) - 3).astype(np.float32)
    outs = [create_session(variant.path, "cpu", level=level).run(None, {"x": x})[0] for level in ("disable", "all")]
    assert np.isfinite(outs[1]).all()
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6)


def test_int8_keeps_the_arithmetic_of_sizes_in_float(tmp_path: Path) -> None:
    # a bilinear Upsample to another layer's size computes its sampling positions and weights from
    # that size (Range, Add, Mul, Floor): quantised, they rounded to 1/255 of their range and the
    # int8 outputs were off by 110% of their size
    spec = specc.load(Path(__file__).parent / "corpus" / "architectures" / "fpn.yaml")
    export(spec, tmp_path / "m.onnx", via="direct")
    variant = make_variant(tmp_path / "m.onnx", "int8", runs=1)
    assert variant.accuracy.relative_error < 0.1
