"""Padding layers and Upsample: the errors check gives where PyTorch fails, the output-size
rule against PyTorch at many sizes of a symbol, and ONNX export verified at sizes other than
the export size (shapes and counts of every case are in tests/test_layers_torch.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import specc
from specc.diagnostics import render_text
from specc.shapes.dims import evaluate

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional


def _spec(layer: str, shape: list[Any]) -> specc.Spec:
    return specc.loads(f"specc: 1\ninputs: {{inp: [{', '.join(map(str, shape))}]}}\nlayers:\n  - {layer}\n")


def _x(*shape: int) -> Any:
    return torch.zeros(*shape)


ERRORS = [
    ("{type: ReflectionPad2d, padding: 4}", [2, 3, 4, 6], "S002", "at most 3",
     lambda: nn.ReflectionPad2d(4)(_x(2, 3, 4, 6))),
    ("{type: ReflectionPad1d, padding: [0, 5]}", [2, 3, 5], "S002", "ReplicationPad1d",
     lambda: nn.ReflectionPad1d((0, 5))(_x(2, 3, 5))),
    ("{type: ZeroPad2d, padding: [1, 2, 3]}", [2, 3, 4, 4], "V003", "[left, right, top, bottom]",
     lambda: F.pad(_x(2, 3, 4, 4), (1, 2, 3))),
    ("{type: ReplicationPad3d, padding: 1}", [2, 3, 4], "S003", "",
     lambda: nn.ReplicationPad3d(1)(_x(2, 3, 4))),
    ("{type: Upsample, scale_factor: 2, mode: bilinear}", [2, 3, 8], "S003", "mode: linear",
     lambda: F.interpolate(_x(2, 3, 8), scale_factor=2.0, mode="bilinear")),
    ("{type: Upsample, scale_factor: 2, mode: trilinear}", [2, 3, 8, 8], "S003", "mode: bilinear",
     lambda: F.interpolate(_x(2, 3, 8, 8), scale_factor=2.0, mode="trilinear")),
    ("{type: Upsample, scale_factor: 2, align_corners: true}", [2, 3, 8, 8], "V003", "drop align_corners",
     lambda: F.interpolate(_x(2, 3, 8, 8), scale_factor=2.0, align_corners=True)),
    ("{type: Upsample, scale_factor: 2, size: 8}", [2, 3, 8, 8], "V003", "scale_factor: 2",
     lambda: F.interpolate(_x(2, 3, 8, 8), size=8, scale_factor=2.0)),
    ("{type: Upsample, mode: bilinear}", [2, 3, 8, 8], "V003", "size: [H, W]",
     lambda: F.interpolate(_x(2, 3, 8, 8), mode="bilinear")),
    ("{type: Upsample, scale_factor: [2, 2]}", [2, 3, 8], "V003", "give one number or 1",
     lambda: F.interpolate(_x(2, 3, 8), scale_factor=(2.0, 2.0))),
    ("{type: Upsample, scale_factor: 0.25}", [2, 3, 3, 8], "S002", "at least 4",
     lambda: F.interpolate(_x(2, 3, 3, 8), scale_factor=0.25)),
]


@pytest.mark.parametrize("layer, shape, code, fix, run", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_exactly_where_torch_fails(layer: str, shape: list[Any], code: str, fix: str, run: Any) -> None:
    with pytest.raises((RuntimeError, ValueError, NotImplementedError)):
        run()
    spec = _spec(layer, shape)
    assert not spec.ok
    err = spec.errors[0]
    assert err.code == code, render_text(err)
    assert fix in (err.hint or ""), render_text(err)
    assert err.loc is not None and err.loc.line == 4, "the error points into the layer"


def test_constant_pad_refuses_a_value_an_integer_input_would_truncate() -> None:
    assert F.pad(torch.zeros(2, 3, dtype=torch.long), (1, 1), value=1.5)[0, 0].item() == 1  # silently
    spec = specc.loads("specc: 1\ninputs: {ids: {shape: [B, 6], dtype: int64}}\nlayers:\n"
                       "  - {type: ConstantPad1d, padding: 1, value: 1.5}\n")
    (err,) = spec.errors
    assert err.code == "V003" and "pad with 1" in err.message and err.hint == "use value: 1, or give this layer a " \
        "float input"
    assert err.loc is not None and err.loc.line == 4
    flat = _spec("{type: ZeroPad2d, padding: 1}", ["B"])
    assert [e.code for e in flat.errors] == ["S003"] and "ZeroPad1d" in (flat.errors[0].hint or "")
    with pytest.raises(RuntimeError):
        nn.ZeroPad2d(1)(_x(2))


def test_constant_pad_needs_its_value_as_pytorch_does() -> None:
    spec = _spec("{type: ConstantPad2d, padding: 1}", ["B", 3, 4, 4])
    assert not spec.ok and "value" in render_text(spec.errors[0])
    with pytest.raises(TypeError):
        nn.ConstantPad2d(1)  # type: ignore[call-arg]


@pytest.mark.parametrize("scale", [2.0, 1.5, 0.5, 0.75, 2.5, 1.25, 3.0, 0.375])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_symbolic_scale_gives_pytorchs_size_at_every_length(scale: float, mode: str) -> None:
    spec = _spec(f"{{type: Upsample, scale_factor: {scale}, mode: {mode}}}", ["B", 2, "L"])
    assert spec.ok, render_text(spec.errors[0])
    assert spec.graph is not None
    out = spec.graph.nodes[-1].result.out  # type: ignore[union-attr]
    smallest = next(n for n in range(1, 9) if int(n * scale) >= 1)
    for length in range(smallest, 200):
        got = F.interpolate(torch.zeros(1, 1, length), scale_factor=scale, mode=mode).shape[-1]
        assert evaluate(out.shape[-1], {"B": 1, "L": length}) == got, (scale, length)


def test_a_scale_rounding_decides_needs_fixed_sizes() -> None:
    """PyTorch's floor(L · 0.7) in double precision is not (7·L) // 10 at every L (L = 90 gives
    62.99999999999999), so a symbolic size takes only scales that multiply exactly."""
    assert F.interpolate(torch.zeros(1, 1, 90), scale_factor=0.7).shape[-1] == 62
    spec = _spec("{type: Upsample, scale_factor: 0.7}", ["B", 2, "L"])
    (err,) = spec.errors
    assert err.code == "S005" and "1/256" in (err.hint or "") and err.loc is not None and err.loc.line == 4
    fixed = _spec("{type: Upsample, scale_factor: 0.29}", ["B", 2, 100])
    assert fixed.ok and fixed.graph is not None
    assert fixed.graph.nodes[-1].result.out.shape[-1] == F.interpolate(  # type: ignore[union-attr]
        torch.zeros(1, 2, 100), scale_factor=0.29).shape[-1] == 28


def test_reflection_on_a_symbolic_size_is_a_requirement_export_meets(tmp_path: Path) -> None:
    from specc.backends.onnx_export import export_spec

    spec = specc.loads("specc: 1\ninputs: {inp: [B, 2, L]}\nlayers:\n  - {type: ReflectionPad1d, padding: [5, 1]}\n")
    assert spec.ok
    result = export_spec(spec, tmp_path / "m.onnx")
    lengths = {r.env["L"] for r in result.verification.runs}  # type: ignore[union-attr]
    assert len(lengths) >= 2 and min(lengths) >= 6


STYLE = """\
specc: 1
name: PadResample
inputs:
  image: [B, 3, H, W]
layers:
  - {type: ReflectionPad2d, padding: 2}
  - {type: Conv2d, out_channels: 4, kernel_size: 5}
  - {type: Upsample, scale_factor: 2, mode: bilinear}
  - {type: ReplicationPad2d, padding: [1, 0, 0, 1]}
  - {type: ZeroPad2d, padding: 1}
  - {type: Upsample, scale_factor: 0.5, mode: bicubic, align_corners: true}
  - {type: ConstantPad2d, padding: [0, 1, 1, 0], value: 0.5}
  - {type: Interpolate, size: [5, 7], mode: bilinear}
export: {sizes: {H: 9, W: 8}}
"""


ONE_D = """\
specc: 1
inputs:
  signal: [B, 2, L]
layers:
  - {type: ReflectionPad1d, padding: [3, 1]}
  - {type: Upsample, scale_factor: 1.5, mode: linear, align_corners: false}
  - {type: ReplicationPad1d, padding: 2}
  - {type: ConstantPad1d, padding: [0, 4], value: -1}
  - {type: ZeroPad1d, padding: 1}
  - {type: Upsample, scale_factor: 0.5}
export: {sizes: {L: 12}}
"""

THREE_D = """\
specc: 1
inputs:
  volume: [B, 1, D, H, W]
layers:
  - {type: ReflectionPad3d, padding: [1, 0, 0, 1, 1, 1]}
  - {type: Upsample, scale_factor: [1, 2, 2], mode: trilinear}
  - {type: ReplicationPad3d, padding: 1}
  - {type: ConstantPad3d, padding: 1, value: 0.5}
  - {type: ZeroPad3d, padding: [0, 2, 0, 0, 1, 0]}
  - {type: Upsample, size: [3, 4, 5], mode: trilinear}
export: {sizes: {D: 3, H: 4, W: 5}}
"""


@pytest.mark.parametrize("text, symbol", [(STYLE, "H"), (ONE_D, "L"), (THREE_D, "D")], ids=["2d", "1d", "3d"])
def test_pads_and_resampling_export_with_dynamic_sizes(text: str, symbol: str, tmp_path: Path) -> None:
    from specc.backends.onnx_export import export_spec

    spec = specc.loads(text)
    assert spec.ok, "\n".join(render_text(d) for d in spec.diagnostics)
    result = export_spec(spec, tmp_path / "model.onnx")
    runs = result.verification.runs  # type: ignore[union-attr]
    assert len({r.env["B"] for r in runs}) >= 3 and len({r.env[symbol] for r in runs}) >= 3


def test_nearest_to_a_size_is_refused_where_onnx_picks_other_pixels(tmp_path: Path) -> None:
    """ONNX Resize finds a nearest source pixel as floor(i / (out / in)), PyTorch as floor(i · (in / out)),
    each scale in float32: 14 -> 4 takes row 6 in one and row 7 in the other. The torch exporters write
    Resize, so a pinned exporter is refused; the direct target computes PyTorch's rows, so `auto` exports."""
    from specc.backends.onnx_export import export_spec
    from specc.backends.routes import export

    rows = F.interpolate(torch.arange(14.0).view(1, 1, 14), size=4).flatten().tolist()
    assert rows == [0, 3, 7, 10]  # ONNX Resize gives [0, 3, 6, 10]
    for shape in (["B", 1, 14], ["B", 1, "L"]):
        spec = _spec("{type: Upsample, size: 4}", shape)
        assert spec.ok and export(spec, tmp_path / "direct.onnx").exporter == "direct"
        pinned = specc.loads(spec.text + "export: {exporter: dynamo}\n")
        (err,) = pinned.errors
        assert err.code == "U002" and "scale_factor" in (err.hint or "") and err.loc is not None, render_text(err)
    assert _spec("{type: Upsample, size: 4, mode: linear}", ["B", 1, "L"]).ok
    grow = specc.loads("specc: 1\ninputs: {x: [B, 2, 4, 5]}\nlayers:\n  - {type: Upsample, size: [12, 10]}\n")
    assert grow.ok
    export_spec(grow, tmp_path / "grow.onnx")  # whole factors: exported and verified


ZERO_PAD_POOL = """\
specc: 1
inputs: {x: [B, 1, 5, 6]}
blocks:
  Padded:
    layers:
      - {type: ConstantPad2d, padding: 1, value: 0}
      - {type: Dropout, p: 0.1}
      - {type: AvgPool2d, kernel_size: 1}
layers:
  - {type: ZeroPad2d, padding: [0, 0, 0, 1], name: pad}
  - {type: MaxPool2d, kernel_size: 2}
"""


def test_a_zero_pad_read_by_a_pool_is_refused_where_the_exporter_writes_a_pad_to_fold(tmp_path: Path) -> None:
    """ONNX Runtime folds a Pad without axes (the torch exporters') into the MaxPool or AveragePool
    reading it: the max pool then pads with -inf instead of zeros, and a pad wider than the kernel
    will not load. The direct target's Pad names its axes (opset 18 on), which ONNX Runtime leaves be."""
    from specc.backends.onnx_export import export_spec
    from specc.backends.routes import export

    in_block = ZERO_PAD_POOL.replace("type: MaxPool2d, kernel_size: 2", "type: Padded")
    for text, line in ((ZERO_PAD_POOL, 11), (in_block, 8)):
        spec = specc.loads(text + "export: {exporter: torchscript}\n")
        assert [(e.code, e.loc.line if e.loc else None) for e in spec.errors] == [("U002", line)]
        assert "own padding" in (spec.errors[0].hint or "")
        direct = specc.loads(text)
        assert direct.ok, "\n".join(render_text(d) for d in direct.diagnostics)
        assert export(direct, tmp_path / "direct.onnx").exporter == "direct"  # and verified against PyTorch
    # a pad of another value, or a layer between, leaves nothing to fold
    fine = ZERO_PAD_POOL.replace("value: 0}", "value: 1}").replace("name: pad}", "name: pad}\n  - {type: ReLU}")
    ok = specc.loads(fine + "export: {exporter: torchscript}\n")
    assert ok.ok, "\n".join(render_text(d) for d in ok.diagnostics)
    export_spec(ok, tmp_path / "model.onnx")
