"""MACs you can trust: per-sample counts never contain the batch, wherever the batch sits.

After a ``batch_first: false`` recurrent layer the batch is dim 1 of (T, B, F).  Every layer case
is run again with its inputs given one more leading dim S and the batch in dim 1 (a second input
read by a ``batch_first: false`` LSTM says so): the layer then does, per sample, S times the work
it does per sample of the plain case.  That is the hand rule; a kind that assumed the batch is
dim 0 counted B in place of S.
"""

from __future__ import annotations

import re

import pytest
from layer_cases import CASES, Case

import specc
from specc.shapes.dims import evaluate

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


@pytest.mark.parametrize("case", BATCHED, ids=[c.id for c in BATCHED])
def test_per_sample_macs_with_the_batch_in_dim_1(case: Case) -> None:
    plain = specc.loads(case.yaml(), "plain.yaml")
    assert plain.ok and plain.graph is not None, plain.diagnostics
    moved = _load(_moved(case))
    if not moved.ok:
        pytest.skip("the layer does not take one more leading dim")
    assert moved.graph is not None
    probe = moved.graph.node("probe")
    assert probe is not None and probe.result is not None
    want = plain.graph.nodes[-1].result.macs
    got = probe.result.macs
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
    plain = specc.loads(case.yaml(), "plain.yaml")
    assert plain.ok and plain.graph is not None, plain.diagnostics
    moved = _load(text)
    if not moved.ok:
        pytest.skip("the layer does not take these dims swapped")
    assert moved.graph is not None
    probe = moved.graph.node("probe")
    assert probe is not None and probe.result is not None
    want = plain.graph.nodes[-1].result.macs
    for env in case.envs:
        b, t = env["B"], env[step]
        total = t * evaluate(want, {**env, step: b})  # the layer's work: its batch T, its steps B
        assert evaluate(probe.result.macs, env) * b == total, (case.id, env, probe.result.macs, want)


def test_most_cases_take_the_moved_batch() -> None:
    """The test above skips kinds of a fixed rank; the kinds that take any rank must all run."""
    ran = [c.kind for c in BATCHED if _load(_moved(c)).ok]
    for kind in ("Linear", "LayerNorm", "GELU", "Softmax", "Dropout", "Add", "Embedding"):
        assert kind in ran, (kind, sorted(set(ran)))
    assert len(ran) >= 40, len(ran)
    swapped = [c.kind for c in SWAPPED if _load(_swapped(c)[0]).ok]  # type: ignore[index]
    for kind in ("MultiheadAttention", "TransformerEncoderLayer", "LSTM", "Mean", "TimeDistributed"):
        assert kind in swapped, (kind, sorted(set(swapped)))
