"""A pinned exporter (``export: {exporter: torchscript}`` or ``dynamo``) gets no fallback, so
`check` refuses every layer that exporter cannot write correctly (specc/targets/torch/export_limits.py,
PINNED). The proof: every layer case of tests/layer_cases.py under each pinned exporter is refused
at check (U002, naming the exporter, with the fix) or exported and verified by ONNX Runtime.

The same under ``specc export --via torch`` with no exporter pinned: check passes what only the
direct target writes, so the torch route refuses it before tracing (naming --via direct), or
exports and verifies it.

CI exports the cases of the kinds that have a limit under that exporter (the limit must be neither
too broad nor too narrow there); ``SPECC_EXPORTER_CASES=all`` exports every case under both
exporters and under ``--via torch`` (about fifteen minutes, most of it in the dynamo exporter).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import specc

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
from layer_cases import CASES

from specc.backends.errors import ExportFailed
from specc.backends.onnx_export import export_spec
from specc.targets.torch.export_limits import LIMITS, PINNED, SHAPED

ALL = os.environ.get("SPECC_EXPORTER_CASES") == "all"
EXPORTERS = ("torchscript", "dynamo")


def _pinned(text: str, exporter: str) -> str:
    return text + f"export: {{exporter: {exporter}}}\n"


def _params() -> list[object]:
    return [pytest.param(exporter, case.yaml(), id=f"{exporter}|{case.id}") for exporter in EXPORTERS
            for case in CASES if ALL or case.kind in PINNED[exporter]]


@pytest.mark.parametrize(("exporter", "text"), _params())
def test_every_layer_case_under_a_pinned_exporter_is_refused_at_check_or_exports(
        exporter: str, text: str, tmp_path: Path) -> None:
    spec = specc.loads(_pinned(text, exporter), "pinned.yaml")
    errors = [d for d in spec.diagnostics if d.severity == "error"]
    if errors:
        assert [d.code for d in errors] == ["U002"], [str(d) for d in errors]
        assert errors[0].loc is not None and errors[0].hint
        if f"the {exporter} exporter" in errors[0].message:  # that exporter's own limit, not both's
            assert "exporter: auto" in errors[0].hint
        # the same layer under `auto` is accepted: the other exporter, or the direct target, writes it
        assert specc.loads(_pinned(text, "auto"), "auto.yaml").ok
        return
    try:
        result = export_spec(spec, tmp_path / "model.onnx")  # verifies against PyTorch at other sizes
    except Exception as exc:  # noqa: BLE001 -- any failure after "ok" is a limit missing from PINNED
        pytest.fail(f"check said ok under {exporter}, export failed: {exc}\n---\n{text}")
    assert result.exporter == exporter


# Kinds whose cases CI exports by the torch route even where no limit fires (cheap ones, beside limits
# found by the full sweep); elsewhere CI checks that the refusals are clean, and the full sweep exports.
NEAR_MISSES = {"PixelShuffle", "Max", "Min", "AvgPool2d", "MaxPool1d", "Upsample"}


def _via_torch_params() -> list[object]:
    kinds = {*LIMITS, *SHAPED, *PINNED["torchscript"], *PINNED["dynamo"]}
    return [pytest.param(case.kind, case.yaml(), id=case.id) for case in CASES if ALL or case.kind in kinds]


@pytest.mark.parametrize(("kind", "text"), _via_torch_params())
def test_every_layer_case_under_via_torch_is_refused_up_front_or_exports(kind: str, text: str, tmp_path: Path) -> None:
    from specc.backends.routes import export, refusal

    spec = specc.loads(text, "case.yaml")
    if not (ALL or kind in NEAR_MISSES or not spec.ok or refusal(spec, "torch")):
        pytest.skip("exported by the torch route with SPECC_EXPORTER_CASES=all")
    if not spec.ok:
        assert [d.code for d in spec.errors] == ["U002"], [str(d) for d in spec.errors]
        return
    try:
        result = export(spec, tmp_path / "model.onnx", via="torch")
    except ExportFailed as exc:
        # refused before tracing: what check passed because the direct target writes it
        assert "the torch route cannot write" in str(exc) and "use --via direct" in str(exc), str(exc)
        assert not (tmp_path / "model.onnx").exists()
        return
    except Exception as exc:  # noqa: BLE001 -- any other failure after "ok" is a limit missing
        pytest.fail(f"check said ok, export --via torch failed: {exc}\n---\n{text}")
    assert result.exporter in EXPORTERS


CONV_LSTM = """\
specc: 1
inputs: {frames: [B, T, 2, 5, 5]}
layers:
  - {type: ConvLSTM2d, hidden_channels: 4, kernel_size: 3}
"""


def test_conv_lstm_under_torchscript_is_refused_at_its_line_with_the_fix() -> None:
    spec = specc.loads(_pinned(CONV_LSTM, "torchscript"), "clstm.yaml")
    [err] = [d for d in spec.diagnostics if d.severity == "error"]
    assert (err.code, err.loc.line if err.loc else None) == ("U002", 4)
    assert "freezes the number of time steps T" in err.message
    assert err.hint is not None and "exporter: auto" in err.hint
    assert specc.loads(_pinned(CONV_LSTM, "dynamo"), "clstm.yaml").ok


def test_an_exporter_pinned_at_export_time_is_refused_with_the_reason(tmp_path: Path) -> None:
    # `specc export --exporter torchscript` on a spec that check saw under `auto`
    spec = specc.loads(CONV_LSTM, "clstm.yaml")
    assert spec.ok
    with pytest.raises(ExportFailed, match="freezes the number of time steps T"):
        export_spec(spec, tmp_path / "m.onnx", exporter="torchscript")
    assert not (tmp_path / "m.onnx").exists()


def test_self_attention_is_refused_under_torchscript_only_over_a_symbolic_length() -> None:
    layer = "  - {type: MultiheadAttention, num_heads: 2}\n"
    free = specc.loads(_pinned(f"specc: 1\ninputs: {{x: [B, T, 8]}}\nlayers:\n{layer}", "torchscript"))
    assert [d.code for d in free.diagnostics if d.severity == "error"] == ["U002"]
    fixed = specc.loads(_pinned(f"specc: 1\ninputs: {{x: [B, 4, 8]}}\nlayers:\n{layer}", "torchscript"))
    assert fixed.ok, fixed.diagnostics



def _model(shape: str, body: str) -> str:
    return f"specc: 1\ninputs: {{x: {shape}}}\nlayers:\n{body}"


RECURRENT_THEN_ATTENTION = ("  - {type: LSTM, hidden_size: 8}\n"
                            "  - {type: TransformerEncoderLayer, nhead: 2, dim_feedforward: 16}\n")


@pytest.mark.parametrize("body", [
    RECURRENT_THEN_ATTENTION,
    "  - {type: MultiheadAttention, num_heads: 2}\n  - {type: GRU, hidden_size: 8}\n",
])
def test_a_model_that_needs_both_exporters_is_refused_where_the_direct_target_cannot_write_it(
        body: str, tmp_path: Path) -> None:
    """TorchScript freezes T in the attention and dynamo in the recurrent layer; the torch route exports
    a model with one of them. The direct target writes both layers from opset 11, so `auto` exports it
    there; at opset 10 no route writes it, and check refuses the second layer of the pair, naming the first."""
    from specc.backends.routes import refusal, route

    ok = specc.loads(_model("[B, T, 8]", body), "both.yaml")
    assert ok.ok and route(ok) == ("direct", None)
    refused = refusal(ok, "torch")  # `specc export --via torch`, before tracing anything
    assert refused is not None and "no torch exporter writes this model" in refused and "--via direct" in refused
    spec = specc.loads(_model("[B, T, 8]", body) + "export: {opset: 10}\n", "both.yaml")
    assert [d.code for d in spec.errors] == ["U002"], spec.errors
    error = spec.errors[0]
    assert error.loc is not None and error.loc.line == 5 and "no torch exporter writes this model" in error.message
    assert "fixed size" in (error.hint or "")
    # the fix the hint gives: with a fixed length the model exports and verifies
    fixed = specc.loads(_model("[B, 16, 8]", body), "fixed.yaml")
    assert fixed.ok, fixed.errors
    export_spec(fixed, tmp_path / "fixed.onnx")


def test_a_recurrent_model_alone_is_not_refused_under_auto() -> None:
    assert specc.loads(_model("[B, T, 8]", "  - {type: LSTM, hidden_size: 8}\n  - {type: Linear, out_features: 3}\n"),
                       "rnn.yaml").ok
