"""check's export verdict follows the route `specc export` takes (specc/targets/verdict.py).

A layer only the direct target writes (LSTM proj_size, AvgPool divisor_override, a ceil_mode
window PyTorch drops) checks ok and exports by the direct route, verified against PyTorch; a
pinned torch exporter still refuses it at check, and `--via torch` refuses it before exporting.
A layer the direct target cannot write (a low opset) falls back to torch where torch is installed
and is U002 where it is not (simulated by patching the probe). The direct limits are one
statement (specc/targets/onnx/limits.py) that the lowerings refuse through: every layer case, at
the opsets where limits live, lowers exactly when check's verdict says the direct target writes it.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.targets import verdict
from specc.targets.onnx import limits

ROOT = Path(__file__).resolve().parents[1]

DIRECT_ONLY = {
    "lstm-proj": "inputs: {x: [B, T, 4]}\nlayers:\n  - {type: LSTM, hidden_size: 6, proj_size: 3}\n",
    "divisor": "inputs: {x: [B, 2, H, W]}\nlayers:\n  - {type: AvgPool2d, kernel_size: 2, divisor_override: 3}\n",
    # k=1, stride 3, H=3: PyTorch keeps 1 window, the torch exporters' models 2
    "ceil-window": "inputs: {x: [B, 2, 3, 3]}\nlayers:\n  - {type: MaxPool2d, kernel_size: 1, stride: 3, "
                   "ceil_mode: true}\n",
}
# MultiheadAttention is written by the direct target from opset 11 (Range, Pad's pads as an input)
LOW_OPSET = "inputs: {x: [B, T, 8]}\nlayers:\n  - {type: MultiheadAttention, num_heads: 2}\nexport: {opset: 10}\n"


def _spec(body: str, extra: str = "") -> specc.Spec:
    return specc.loads(f"specc: 1\n{body}{extra}", "route.yaml")


def _errors(spec: specc.Spec) -> list[specc.Diagnostic]:
    return [d for d in spec.diagnostics if d.severity == "error"]


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment where `specc export` has the direct target alone (``specc[deploy]``)."""
    monkeypatch.setattr(verdict, "torch_installed", lambda: False)


@pytest.mark.parametrize("name", DIRECT_ONLY)
def test_a_layer_only_the_direct_target_writes_checks_ok_unless_a_torch_exporter_is_pinned(name: str) -> None:
    assert _spec(DIRECT_ONLY[name]).ok, _errors(_spec(DIRECT_ONLY[name]))
    pinned = _spec(DIRECT_ONLY[name], "export: {exporter: torchscript}\n")
    [error] = _errors(pinned)
    assert error.code == "U002" and error.loc is not None and error.loc.line == 4 and error.hint


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("name", DIRECT_ONLY)
def test_a_layer_only_the_direct_target_writes_exports_direct_and_equals_pytorch(name: str, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from specc.backends.routes import export

    result = export(_spec(DIRECT_ONLY[name]), tmp_path / "m.onnx")
    assert result.exporter == "direct" and result.notes == []
    report = result.verification
    assert report is not None and report.against == "PyTorch" and len(report.runs) == 3


def test_via_torch_refuses_a_layer_only_the_direct_target_writes_before_exporting(tmp_path: Path) -> None:
    (tmp_path / "lstm.yaml").write_text("specc: 1\n" + DIRECT_ONLY["lstm-proj"])
    done = subprocess.run([sys.executable, "-m", "specc", "export", str(tmp_path / "lstm.yaml"), "--via", "torch",
                           "-o", str(tmp_path / "m.onnx")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "LSTM 'lstm_1'" in done.stderr and "proj_size" in done.stderr and "use --via direct" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "m.onnx").exists()


def test_a_direct_limit_falls_back_to_torch_where_torch_is_installed() -> None:
    pytest.importorskip("onnx")
    from specc.backends.routes import refusal, route

    spec = _spec(LOW_OPSET)
    assert spec.ok, _errors(spec)
    which, why = route(spec)
    assert which == "torch" and why is not None and "MultiheadAttention 'multihead_attention_1'" in why
    refused = refusal(spec, "direct")  # `--via direct`: refused before writing, pointing at the torch route
    assert refused is not None and "opset 11" in refused and "use --via torch" in refused
    assert route(spec, opset=11) == ("direct", None)  # `specc export --opset 11`


def test_a_direct_limit_is_u002_where_torch_is_not_installed(no_torch: None) -> None:
    [error] = _errors(_spec(LOW_OPSET))
    assert error.code == "U002" and error.loc is not None and error.loc.line == 4
    assert "opset 11" in error.message and "torch is not installed" in error.message
    assert error.hint is not None and "export: {opset: 11}" in error.hint and "specc[onnx]" in error.hint
    # what only the torch exporters cannot write is no concern there: the direct target writes it
    assert all(_spec(body).ok for body in DIRECT_ONLY.values())
    assert _spec(LOW_OPSET.replace("opset: 10", "opset: 11")).ok


def test_a_model_half_of_which_each_route_alone_writes_is_refused_at_the_second_half() -> None:
    body = ("inputs: {x: [B, T, 8]}\nlayers:\n  - {type: LSTM, hidden_size: 16, proj_size: 8}\n"
            "  - {type: MultiheadAttention, num_heads: 2}\nexport: {opset: 10}\n")
    [error] = _errors(_spec(body))
    assert error.code == "U002" and error.loc is not None and error.loc.line == 5
    assert "no export route writes this model" in error.message and "LSTM 'lstm_1'" in error.message
    assert error.hint == "set export: {opset: 11} or later"


def test_a_layer_neither_route_writes_names_both_reasons_and_both_fixes() -> None:
    body = DIRECT_ONLY["divisor"] + "export: {opset: 10}\n"
    [error] = _errors(_spec(body))
    assert error.code == "U002" and "neither export route writes it" in error.message
    assert error.hint is not None and "export: {opset: 11}" in error.hint and "drop divisor_override" in error.hint


@pytest.mark.parametrize("torch_here", [True, False])
def test_what_onnx_runtime_cannot_run_is_u002_whichever_route_writes_it(torch_here: bool,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """bfloat16 compute (no CPU kernel): the direct target's model fails there too."""
    monkeypatch.setattr(verdict, "torch_installed", lambda: torch_here)
    bf16 = "inputs: {x: [B, 4]}\nlayers:\n  - {type: Cast, dtype: bfloat16}\n  - {type: ReLU}\n"
    [error] = _errors(_spec(bf16))
    assert error.code == "U002" and error.loc is not None and error.loc.line == 5
    assert "no bfloat16 ReLU" in error.message


# DPCNN's downsampling: a zero pad at the end, then max-pool 3 stride 2, over values that may all be
# negative. ONNX Runtime folds a Pad without axes into the pool (which pads with -inf: other maxima),
# and a pad wider than the kernel stops the model from loading.
FUSED = ("inputs: {x: [B, 2, L]}\nlayers:\n  - {type: Tanh}\n  - {type: ZeroPad1d, padding: [0, 1]}\n"
         "  - {type: MaxPool1d, kernel_size: 3, stride: 2}\n")
WIDE = ("inputs: {x: [B, 2, 5, 5]}\nlayers:\n  - {type: Tanh}\n  - {type: ZeroPad2d, padding: 3}\n"
        "  - {type: MaxPool2d, kernel_size: 2}\n")


@pytest.mark.parametrize("torch_here", [True, False])
def test_a_zero_pad_before_a_pool_is_written_directly_from_opset_18(torch_here: bool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verdict, "torch_installed", lambda: torch_here)
    for body in (FUSED, WIDE):
        assert _spec(body).ok, _errors(_spec(body))
        [error] = _errors(_spec(body, "export: {opset: 17}\n"))
        assert error.code == "U002" and error.loc is not None and error.loc.line == 6
        assert "PadFusion" in error.message and error.hint is not None and "export: {opset: 18}" in error.hint
        # the torch exporters' Pad has no axes: a pinned exporter is refused at any opset
        [error] = _errors(_spec(body, "export: {exporter: torchscript}\n"))
        assert error.code == "U002" and error.loc is not None and error.loc.line == 6 and "PadFusion" in error.message
        assert error.hint is not None and "exporter: auto" in error.hint


def test_a_zero_pad_before_a_pool_exports_with_pytorchs_maxima(tmp_path: Path) -> None:
    """Inputs all negative, so that every window the pad reaches has the pad's 0 as its maximum: the
    model that ONNX Runtime folds gives the window's negative maximum instead."""
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from specc.backends.routes import export
    from specc.backends.torch_build import build_module

    for body in (FUSED, WIDE):
        spec = _spec(body)
        result = export(spec, tmp_path / "m.onnx")
        assert result.exporter == "direct"
        x = -np.random.default_rng(0).uniform(0.5, 2.0, (2, 2, 5, 5) if "5, 5" in body else (2, 2, 8))
        x = x.astype(np.float32)
        session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
        [got] = session.run(None, {"x": x})
        with torch.no_grad():
            want = build_module(spec).eval()(torch.from_numpy(x)).numpy()
        assert got.shape == want.shape and np.allclose(got, want, atol=1e-6)
        assert (want[..., -1] == 0).all()  # the padded windows: the pad's 0 wins, as PyTorch pads


# -- the direct limits are the lowerings' -----------------------------------------------------------------

def test_every_layer_case_lowers_exactly_where_the_direct_limits_allow() -> None:
    """Each layer case at the opsets where limits live: the lowering refuses with the limit's own
    reason where check's verdict does, and writes the layer (no internal assertion) everywhere else."""
    pytest.importorskip("onnx")
    from layer_cases import CASES

    from specc.targets.onnx.builder import Unsupported
    from specc.targets.onnx.lower import lower_graph
    from specc.targets.onnx.weights import Weights

    refused = 0
    for case in CASES:
        spec = specc.loads(case.yaml(), f"{case.id}.yaml")
        if not spec.ok:
            continue
        for opset in (9, 10, 18):
            found = verdict.direct_problems(spec.graph, opset)
            try:
                lower_graph(spec.graph, Weights(None, 0), opset=opset)
            except Unsupported as exc:
                assert found and found[0].split(": ", 1)[1] in str(exc), (case.id, opset, str(exc), found)
                refused += 1
                continue
            assert not found, (case.id, opset, found)
    assert refused >= 10  # the sweep reaches the limits


def test_the_float32_helpers_equal_numpys() -> None:
    np = pytest.importorskip("numpy")
    for scale in (1.1, 1.5, 2.0, 2.1, 3.0, 0.5, 0.3, 1.9, 7.0, 10.0, 0.75, 4.0, 1.0):
        inverse = np.float32(1.0 / scale)
        assert limits.f32(1.0 / scale) == float(inverse)
        for n in range(1, 24):
            m = math.floor(n * scale)
            if m not in (n, 2 * n):
                continue
            general = np.floor(np.arange(m, dtype=np.float32) * inverse)
            want = not np.array_equal(np.minimum(general, n - 1), np.arange(m) // (m // n))
            assert limits.kernel_dependent(n, m, scale) == want, (n, m, scale)


def test_a_failing_torch_exporter_leaves_no_library_noise(tmp_path: Path) -> None:
    # at opset 9 the direct target cannot write the position table, TorchScript fails on its slice
    # (its C++ side printed the whole IR graph to the descriptor) and dynamo's opset converter
    # logged a traceback; specc's notes say what happened, stdout stays JSON
    spec = tmp_path / "pos.yaml"
    spec.write_text("specc: 1\ninputs: {x: [B, T, 8]}\nlayers:\n  - {type: PositionalEncoding, max_len: 64}\n"
                    "  - {type: Mean, dim: 1}\n  - {type: Linear, out_features: 2}\nexport: {opset: 9}\n")
    done = subprocess.run([sys.executable, "-m", "specc", "export", str(spec), "-o", str(tmp_path / "m.onnx"),
                           "--format", "json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.lstrip().startswith("{") and "Torch IR graph" not in done.stdout
    assert "Torch IR graph" not in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize(("body", "chosen"), [
    ("inputs: {x: [B, T, 8]}\nlayers:\n  - {type: TransformerEncoder, nhead: 2, num_layers: 1}\n", "dynamo"),
    ("inputs: {x: [B, T, 4]}\nlayers:\n  - {type: LSTM, hidden_size: 6}\n", "torchscript"),
    ("inputs: {x: [B, 12, 8]}\nlayers:\n  - {type: TransformerEncoder, nhead: 2, num_layers: 1}\n", "auto"),
    ("inputs: {x: [B, 8]}\nlayers:\n  - {type: Linear, out_features: 3}\n", "auto"),
])
def test_auto_takes_the_one_torch_exporter_whose_limits_the_model_does_not_meet(body: str, chosen: str) -> None:
    """`specc export --via torch --no-verify` of a TransformerEncoder over a symbolic T published
    TorchScript's model, frozen at the export T (ONNX Runtime's Reshape failed at any other): auto tried
    TorchScript first and only verification sent it on to dynamo. The exporter a layer's limit rules
    out is skipped, with the reason in the notes, verified or not."""
    from specc.backends.onnx_export import auto_exporter

    spec = _spec(body)
    assert spec.ok, _errors(spec)
    which, why = auto_exporter(spec.graph, "auto", 18)
    assert which == chosen
    assert (why is None) == (chosen == "auto")
    if why is not None:
        assert why.startswith(f"exported with {chosen}, not ") and "at the export size" in why, why
    assert auto_exporter(spec.graph, "torchscript", 18) == ("torchscript", None)  # a pinned one is kept
