"""Every example spec in specs/ checks clean, and its static shapes and parameter counts
equal what an independently written PyTorch model (tests/reference_models.py) builds and
computes, at two batch sizes and two values of every other symbolic dim."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc
from specc.shapes.dims import evaluate

torch = pytest.importorskip("torch")
from reference_models import REFERENCES  # noqa: E402  (needs torch)

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
IDS = [p.stem for p in SPECS]

# Warnings an example may carry on purpose, with the reason.  Empty: every example is warning-free.
JUSTIFIED_WARNINGS: dict[str, set[str]] = {}


@pytest.fixture(scope="module")
def loaded() -> dict[str, specc.Spec]:
    return {p.stem: specc.load(p) for p in SPECS}


def test_there_are_examples_and_each_has_a_reference() -> None:
    assert {"course_cnn", "mlp_regression", "xor", "conv1d_signal", "resnet18"} <= set(IDS)
    missing = set(IDS) - set(REFERENCES)
    assert not missing, f"write a torch reference in tests/reference_models.py for: {sorted(missing)}"


@pytest.mark.parametrize("stem", IDS)
def test_example_checks_clean(stem: str, loaded: dict[str, specc.Spec]) -> None:
    spec = loaded[stem]
    problems = "\n".join(f"{d.code} {d.loc}: {d.message}" for d in spec.diagnostics)
    assert spec.ok, problems
    warnings = {d.code for d in spec.diagnostics if d.severity != "error"}
    assert warnings <= JUSTIFIED_WARNINGS.get(stem, set()), problems
    report = spec.check()
    assert report["ok"] is True
    assert report["layers"] and report["outputs"]
    for section in ("loss", "optimizer", "train"):
        assert getattr(spec.document, section) is not None, f"{stem} has no {section}: section"


@pytest.mark.parametrize("stem", IDS)
def test_example_matches_torch(stem: str, loaded: dict[str, specc.Spec]) -> None:
    spec, ref = loaded[stem], REFERENCES.get(stem)
    if ref is None:
        pytest.fail(f"specs/{stem}.yaml has no hand-written torch reference in tests/reference_models.py")
    assert spec.ok and spec.graph is not None
    report = spec.check()
    torch.manual_seed(0)
    module = ref.build().eval()
    assert report["total_params"] == sum(p.numel() for p in module.parameters())
    assert report["trainable_params"] == sum(p.numel() for p in module.parameters() if p.requires_grad)
    assert spec.graph.totals()[3] == sum(b.numel() for b in module.buffers()), "buffers (BatchNorm stats, tables)"

    graph = spec.graph
    assert len(ref.sizes) >= 2
    symbols = {str(d) for t in graph.inputs.values() for d in t.shape if not isinstance(d, int)}
    for sym in symbols:  # every symbolic dim is tried at two (or more) values
        assert len({s[sym] for s in ref.sizes}) >= 2, f"{stem}: try two values of {sym}"

    for sizes in ref.sizes:
        inputs = ref.inputs(sizes)
        assert list(inputs) == list(graph.inputs), "reference forward() takes the spec's inputs in order"
        for name, t in graph.inputs.items():
            assert tuple(inputs[name].shape) == tuple(evaluate(d, sizes) for d in t.shape), name
        with torch.no_grad():
            out = module(**inputs)
        got = list(out.values()) if isinstance(out, dict) else list(out) if isinstance(out, tuple) else [out]
        expected = []
        for name, src in graph.outputs:
            value = graph.value(src)
            assert value is not None, name
            expected.append(tuple(evaluate(d, sizes) for d in value.shape))
        assert [tuple(t.shape) for t in got] == expected, f"{stem} at {sizes}"


def test_resnet18_is_torchvisions() -> None:
    spec = specc.load(ROOT / "specs" / "resnet18.yaml")
    report = spec.check()
    assert report["ok"]
    assert report["total_params"] == 11_689_512
    assert report["outputs"] == [{"name": "fc", "shape": ["B", 1000]}]
    names = [row["name"] for row in report["layers"] if row["depth"] == 0]
    assert names[:4] == ["conv1", "bn1", "relu", "maxpool"]
    assert {"layer1", "layer2", "layer3", "layer4", "avgpool", "fc"} <= set(names)


def test_resnet18_overrides() -> None:
    # --set num_classes=10 changes only the head: 512·1000 + 1000 → 512·10 + 10.
    small = specc.load(ROOT / "specs" / "resnet18.yaml", ["num_classes=10"]).check()
    assert small["ok"] and small["outputs"][0]["shape"] == ["B", 10]
    assert small["total_params"] == 11_689_512 - (512 * 1000 + 1000) + (512 * 10 + 10)
    # The global average pool makes the parameter count independent of the image size.
    other = specc.load(ROOT / "specs" / "resnet18.yaml", ["image_size=160"]).check()
    assert other["ok"] and other["total_params"] == 11_689_512
    assert other["inputs"] == [{"name": "image", "shape": ["B", 3, 160, 160], "dtype": "float32"}]


def test_signal_length_stays_symbolic() -> None:
    report = specc.load(ROOT / "specs" / "conv1d_signal.yaml").check()
    assert report["ok"]
    lengths = [row["output_shape"][-1] for row in report["layers"] if row["output_shape"] and
               len(row["output_shape"]) == 3]
    assert any(isinstance(n, str) and "L" in n for n in lengths), lengths
    assert report["outputs"][0]["shape"] == ["B", 6]
