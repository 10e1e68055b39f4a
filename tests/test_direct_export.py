"""``specc export --via``: which route a spec takes and why, the direct route's weights (drawn as
PyTorch draws them, or from a checkpoint named as the PyTorch target names them), external data
for large models, and plain errors for checkpoints that do not fit."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import specc

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from specc.backends import onnx_files  # noqa: E402
from specc.backends.direct_export import export_direct  # noqa: E402
from specc.backends.errors import WeightsError  # noqa: E402
from specc.backends.routes import export, route  # noqa: E402
from specc.targets.onnx.lower import lower_graph  # noqa: E402
from specc.targets.onnx.weights import Weights  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "specs" / "mlp_regression.yaml"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specc", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_auto_takes_the_direct_route_for_a_spec_it_can_write(tmp_path: Path) -> None:
    done = _cli("export", str(MLP), "-o", str(tmp_path / "m.onnx"), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["exporter"] == "direct" and report["verification"]["against"] == "PyTorch"
    assert report["notes"] == []


def test_a_pinned_torch_exporter_means_the_torch_route() -> None:
    spec = specc.load(MLP, overrides=["export.exporter=dynamo"])
    assert route(spec) == ("torch", "the dynamo exporter is pinned")
    assert route(specc.load(MLP), "auto", "torchscript") == ("torch", "the torchscript exporter is pinned")
    assert route(specc.load(MLP)) == ("direct", None)


def test_drawn_weights_follow_pytorchs_default_distributions() -> None:
    """Linear's weight and bias are U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as nn.Linear draws them."""
    spec = specc.load(MLP)
    weights = Weights(seed=3)
    lower_graph(spec.graph, weights)
    module = torch.nn.Linear(64, 32)
    for name in ("linear_2.weight", "linear_2.bias"):
        ours = weights.drawn[name]
        theirs = getattr(module, name.split(".")[1]).detach().numpy()
        bound = 1 / math.sqrt(64)
        assert ours.shape == theirs.shape and ours.dtype == np.float32
        assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound
        assert np.abs(ours).max() > 0.9 * bound  # spread over the whole interval, as PyTorch's are
    again = Weights(seed=3)
    lower_graph(spec.graph, again)
    assert all(np.array_equal(again.drawn[k], v) for k, v in weights.drawn.items())  # a seed is a seed
    other = Weights(seed=4)
    lower_graph(spec.graph, other)
    assert not np.array_equal(other.drawn["linear_2.weight"], weights.drawn["linear_2.weight"])


def test_a_checkpoint_of_the_pytorch_target_fills_the_direct_model(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from specc.backends.torch_build import build_module

    spec = specc.load(MLP)
    module = build_module(spec, seed=7).eval()
    save_file(module.state_dict(), str(tmp_path / "w.safetensors"))
    result = export_direct(spec, tmp_path / "m.onnx", weights=tmp_path / "w.safetensors", compare="torch")
    assert result.verification is not None and all(r.max_abs_diff for r in result.verification.runs)
    import onnxruntime as ort

    x = np.random.default_rng(0).standard_normal((4, 10)).astype(np.float32)
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"clinical": x})[0]
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_of_another_model_is_refused_by_name(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"linear_1.weight": np.zeros((64, 11), np.float32), "extra.weight": np.zeros(2, np.float32)},
              str(tmp_path / "w.safetensors"))
    with pytest.raises(WeightsError) as err:
        export_direct(specc.load(MLP), tmp_path / "m.onnx", weights=tmp_path / "w.safetensors")
    text = str(err.value)
    assert "linear_1.weight has shape (64, 11), the model needs (64, 10)" in text
    assert "missing linear_1.bias" in text and "not in the model: extra.weight" in text
    assert not (tmp_path / "m.onnx").exists()


def test_a_large_model_keeps_its_weights_in_one_external_file_beside_it(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_files, "EXTERNAL_ABOVE", 1000)
    out = tmp_path / "deploy" / "m.onnx"
    result = export(specc.load(MLP), out, via="direct")
    assert result.exporter == "direct" and result.verification is not None
    files = sorted(p.name for p in out.parent.iterdir())
    assert files[0] == "m.onnx" and len(files) == 2 and files[1].startswith("m.onnx.") and files[1].endswith(".data")
    import onnx

    model = onnx.load(str(out), load_external_data=False)
    locations = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
    assert locations == {files[1]}  # a bare name: inside the output folder


def test_via_torch_is_still_there(tmp_path: Path) -> None:
    result = export(specc.load(MLP), tmp_path / "m.onnx", via="torch")
    assert result.exporter in ("torchscript", "dynamo")


@pytest.mark.parametrize("opset", [18, 21, 23])
def test_the_ir_version_is_the_one_the_opset_came_with(tmp_path: Path, opset: int) -> None:
    """ONNX pairs each opset with the IR version it was released with (21: 10, 23: 11): the model
    declares at least that one, else 9 (what ONNX Runtime 1.17 and later read)."""
    import onnx
    from onnx import helper

    out = tmp_path / "m.onnx"
    result = export(specc.load(MLP), out, via="direct", opset=opset)
    assert result.opset == opset and result.verification is not None
    model = onnx.load(str(out))
    assert model.ir_version == max(9, helper.find_min_ir_version_for(list(model.opset_import)))
    assert model.ir_version == {18: 9, 21: 10, 23: 11}[opset]


# A model small enough to verify in a blink: the wrong lowerings below replace its ReLU.
RELU_NET = """\
specc: 1
name: ReluNet
inputs: {x: [B, T, 4]}
layers:
  - {type: Linear, out_features: 4}
  - {type: ReLU}
  - {type: Linear, out_features: 3}
"""


@pytest.mark.parametrize("compare, wrong, says", [
    # right shapes, wrong numbers: only ONNX Runtime against PyTorch sees it
    ("torch", lambda layer: layer.op("Sigmoid", [layer.x]), "ONNX Runtime and PyTorch differ"),
    # a wrong shape: shape inference and ONNX Runtime's outputs see it without torch
    ("shapes", lambda layer: layer.op("ReduceMax", [layer.x, layer.const([1])], keepdims=1), "specc says"),
])
def test_verification_refuses_a_wrong_lowering(compare: str, wrong: object, says: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct model is checked, not trusted: a lowering that writes the wrong op fails the
    export, and nothing is published."""
    from specc.backends.errors import VerificationFailed
    from specc.targets.onnx.kinds import LOWERINGS, base

    assert "ReLU" in LOWERINGS  # its family registered before it is replaced
    spec = specc.loads(RELU_NET)
    out = tmp_path / "m.onnx"
    assert export_direct(spec, out, compare=compare).verification is not None  # the real lowering passes
    out.unlink()
    monkeypatch.setitem(base._REGISTERED, "ReLU", wrong)
    with pytest.raises(VerificationFailed, match=says):
        export_direct(spec, out, compare=compare)
    assert sorted(tmp_path.iterdir()) == []


def test_the_pytorch_twin_skips_the_initialisation_its_loaded_weights_overwrite() -> None:
    """--compare torch loads every tensor into the twin: built without PyTorch's init it computes
    exactly what the initialised module loaded with the same tensors computes, its computed buffers
    (a sinusoidal table) included, and torch.nn.init is whole again afterwards."""
    import torch

    from specc.backends.torch_build import build_module, example_inputs

    spec = specc.load(ROOT / "specs" / "transformer_text.yaml")
    plain = build_module(spec, seed=0)
    fills = torch.nn.init.kaiming_uniform_, torch.nn.init.normal_
    bare = build_module(spec, seed=0, init=False)
    assert (torch.nn.init.kaiming_uniform_, torch.nn.init.normal_) == fills
    bare.load_state_dict(plain.state_dict())
    plain.eval(), bare.eval()
    for (name, a), (_, b) in zip(plain.named_buffers(), bare.named_buffers(), strict=True):
        assert torch.equal(a, b), name
    x = example_inputs(spec, batch=3)
    with torch.no_grad():
        assert torch.equal(plain(*x), bare(*x))


@pytest.mark.parametrize("name", ["digits_cnn", "transformer_text"])
def test_compare_torch_builds_its_twin_once_without_init(name: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawn weights cover the whole state dict (BatchNorm's num_batches_tracked aside, which is no
    draw): the twin is built once, uninitialised, and still verifies the export."""
    from specc.backends import torch_build

    calls: list[bool] = []
    real = torch_build.build_module

    def spy(spec: object, seed: int | None = None, *, init: bool = True) -> object:
        calls.append(init)
        return real(spec, seed, init=init)  # type: ignore[arg-type]

    monkeypatch.setattr(torch_build, "build_module", spy)
    spec = specc.load(ROOT / "specs" / f"{name}.yaml")
    result = export_direct(spec, tmp_path / "m.onnx", compare="torch")
    assert calls == [False]
    assert "PyTorch" in json.dumps(result.to_json())
