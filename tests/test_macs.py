"""MACs you can trust: per-sample counts never contain the batch, wherever the batch sits.

After a ``batch_first: false`` recurrent layer the batch is dim 1 of (T, B, F).  Every layer case
is run again with its inputs given one more leading dim S and the batch in dim 1 (a second input
read by a ``batch_first: false`` LSTM says so): the layer then does, per sample, S times the work
it does per sample of the plain case.  That is the hand rule; a kind that assumed the batch is
dim 0 counted B in place of S.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from layer_cases import CASES, Case

import specc
from specc.cli import main
from specc.shapes.dims import DimLike, evaluate

MARKER = "  - {type: LSTM, hidden_size: 4, batch_first: false, from: seq, name: marker}"
# The same mark where a model with an LSTM cannot export (U002: an attention over a symbolic length).
MARKERS = (MARKER, "  - {type: MultiheadAttention, num_heads: 1, batch_first: false, from: seq, name: marker}")


def _load(text: str) -> specc.Spec:
    """The spec under whichever batch-second marker it takes."""
    spec = specc.loads(text, "moved.yaml")
    return spec if spec.ok else specc.loads(text.replace(MARKERS[0], MARKERS[1]), "moved.yaml")


def _probe(case: Case) -> str:
    """The case's layer named ``probe``, reading the case's first input when it does not say."""
    layer = case.layer
    body = layer[:layer.rindex("}")]
    if not re.search(r"\bfrom:", layer):
        body += f", from: {next(iter(case.inputs))}"
    return body + ", name: probe}"


def _moved(case: Case) -> str:
    """The case's spec with a leading S on every input and the batch in dim 1."""
    lines = ["specc: 1", "inputs:"]
    for name, shape in case.inputs.items():
        dims = ", ".join(str(d) for d in ("S", *shape))
        dtype = case.dtypes.get(name)
        lines.append(f"  {name}: {{shape: [{dims}], dtype: {dtype}}}" if dtype else f"  {name}: [{dims}]")
    lines += ["  seq: [S, B, 4]", "layers:", f"  - {_probe(case)}",
              MARKER, "outputs: [probe, marker]"]
    return "\n".join(lines) + "\n"


def _batched(case: Case) -> bool:
    return all(shape and shape[0] in ("B", 1) for shape in case.inputs.values()) and \
        any(shape[0] == "B" for shape in case.inputs.values())


BATCHED = [c for c in CASES if _batched(c)]


def _counts(case: Case, moved_text: str, skip: str) -> tuple[DimLike, DimLike]:
    """(the plain case's MACs per sample, the probe's in the moved spec); skips where the
    layer does not take the moved input."""
    plain = specc.loads(case.yaml(), "plain.yaml")
    assert plain.ok and plain.graph is not None, plain.diagnostics
    moved = _load(moved_text)
    if not moved.ok:
        pytest.skip(skip)
    assert moved.graph is not None
    probe = moved.graph.node("probe")
    assert probe is not None and probe.result is not None
    return plain.graph.nodes[-1].result.macs, probe.result.macs


@pytest.mark.parametrize("case", BATCHED, ids=[c.id for c in BATCHED])
def test_per_sample_macs_with_the_batch_in_dim_1(case: Case) -> None:
    want, got = _counts(case, _moved(case), "the layer does not take one more leading dim")
    assert isinstance(got, int) or "B" not in got.symbols(), (case.id, got)
    for env in case.envs:
        for s in (1, 5):
            assert evaluate(got, {**env, "S": s}) == s * evaluate(want, env), (case.id, env, s, got, want)


def _swapped(case: Case) -> tuple[str, str] | None:
    """The case with dims 0 and 1 of its inputs swapped, (B, T, ...) -> (T, B, ...), and the
    symbol T; None when dim 1 of the first input is not a symbol of its own."""
    first = next(iter(case.inputs.values()))
    if len(first) < 3 or not isinstance(first[1], str) or first[1] == "B":
        return None
    if any(len(shape) < 2 for shape in case.inputs.values()):
        return None  # an input of the batch alone (a Pick's (B,) index) has no dim 1 to swap
    step = first[1]
    text = case.yaml()
    for shape in case.inputs.values():
        old = ", ".join(map(str, shape))
        new = ", ".join(map(str, (shape[1], shape[0], *shape[2:])))
        text = text.replace(f"[{old}]", f"[{new}]", 1)
    text = text.replace("layers:\n", "  seq: [S, B, 4]\nlayers:\n").replace(f"  - {case.layer}", f"  - {_probe(case)}")
    text += f"{MARKER}\noutputs: [probe, marker]\n"
    return text, step


SWAPPED = [c for c in BATCHED if _swapped(c) is not None]


@pytest.mark.parametrize("case", SWAPPED, ids=[c.id for c in SWAPPED])
def test_per_sample_macs_of_a_layer_that_takes_the_steps_for_its_batch(case: Case) -> None:
    """(T, B, F) into a layer that takes dim 0 for its batch: it does T times its work on B
    steps, which is T/B times that per sample of the batch in dim 1."""
    swapped = _swapped(case)
    assert swapped is not None
    text, step = swapped
    want, got = _counts(case, text, "the layer does not take these dims swapped")
    for env in case.envs:
        b, t = env["B"], env[step]
        total = t * evaluate(want, {**env, step: b})  # the layer's work: its batch T, its steps B
        assert evaluate(got, env) * b == total, (case.id, env, got, want)


def test_most_cases_take_the_moved_batch() -> None:
    """The test above skips kinds of a fixed rank; the kinds that take any rank must all run."""
    ran = [c.kind for c in BATCHED if _load(_moved(c)).ok]
    for kind in ("Linear", "LayerNorm", "GELU", "Softmax", "Dropout", "Add", "Embedding"):
        assert kind in ran, (kind, sorted(set(ran)))
    assert len(ran) >= 40, len(ran)
    swapped = [c.kind for c in SWAPPED if _load(_swapped(c)[0]).ok]  # type: ignore[index]
    for kind in ("MultiheadAttention", "TransformerEncoderLayer", "LSTM", "Mean", "TimeDistributed"):
        assert kind in swapped, (kind, sorted(set(swapped)))


# -- the conventions of torchinfo and fvcore, against numbers derived from their documented rules ------

CNN = """\
specc: 1
inputs: {x: [B, 3, 8, 8]}
layers:
  - {type: Conv2d, out_channels: 4, kernel_size: 3}
  - {type: BatchNorm2d}
  - {type: ReLU}
  - {type: MaxPool2d, kernel_size: 2}
  - {type: Flatten}
  - {type: Linear, out_features: 5}
  - {type: LayerNorm}
"""


def test_torchinfo_counts_parameters_once_per_output_position() -> None:
    """torchinfo: a Conv's weight and bias (4·3·3·3 + 4 = 112) once per output position (6·6);
    any other module's parameters once per sample: BatchNorm 8, Linear 36·5 + 5, LayerNorm 10."""
    s = specc.loads(CNN, "cnn.yaml").summary("torchinfo")
    assert [r.macs for r in s.rows] == [112 * 36, 8, 0, 0, 0, 185, 10]
    assert s.macs == 4032 + 8 + 185 + 10


def test_fvcore_counts_products_and_norms_and_skips_the_rest() -> None:
    """fvcore: the conv 6·6·4 outputs × 3·3·3 (no bias), batch_norm at inference 2 per element
    of (4, 6, 6), no handle for relu or max_pool2d, linear 36·5, layer_norm 5 per element."""
    s = specc.loads(CNN, "cnn.yaml").summary("fvcore")
    assert [r.macs for r in s.rows] == [144 * 27, 2 * 144, 0, 0, 0, 180, 25]
    assert s.macs == 3888 + 288 + 180 + 25


def test_a_linear_over_steps_counts_once_per_sample_in_torchinfo_and_per_step_in_fvcore() -> None:
    spec = specc.loads("specc: 1\ninputs: {x: [B, T, 6]}\nlayers:\n  - {type: Linear, out_features: 4}\n")
    assert spec.summary("torchinfo").macs == 6 * 4 + 4
    fv = spec.summary("fvcore").macs
    assert evaluate(fv, {"T": 7}) == 7 * 24 == evaluate(spec.summary().macs, {"T": 7})


def test_a_count_not_modelled_is_unknown_not_zero() -> None:
    spec = specc.loads("specc: 1\ninputs: {x: [B, T, 8]}\nlayers:\n  - {type: LSTM, hidden_size: 4}\n"
                       "  - {type: Linear, out_features: 2}\n")
    s = spec.summary("fvcore")
    assert s.macs is None and s.macs_left_out == ["LSTM"] and s.rows[1].macs is not None
    assert "? where fvcore's count is not modelled: LSTM" in s.render()
    assert spec.summary("fvcore").to_json()["macs_per_sample"] is None


def test_summary_takes_the_convention_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cnn.yaml"
    path.write_text(CNN, encoding="utf-8")
    assert main(["summary", str(path), "--macs", "torchinfo"]) == 0
    assert "MACs per sample:       4,235 (4.24 K) (as torchinfo counts them)" in capsys.readouterr().out
    assert main(["summary", str(path), "--macs", "fvcore", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["macs_per_sample"] == 4381 and payload["macs_convention"] == "fvcore"
    assert main(["check", str(path), "--format", "json", "--macs", "torchinfo"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["macs_per_sample"] == 4235 and report["macs_convention"] == "torchinfo"
    assert report["layers"][0]["macs"] == 112 * 36
    with pytest.raises(SystemExit) as usage:
        main(["summary", str(path), "--macs", "thop"])
    assert usage.value.code == 2
