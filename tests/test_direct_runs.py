"""The direct target writes what once sent ``--via auto`` to the torch route: a training run's
folder (its fitted scaling around the layers, raw inputs in and the targets' units out) and a
spec with LoRA adapters (merged into the weights).  Each model equals the torch route's ONNX
model, ``specc predict`` and the unmerged PyTorch module on the same inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_cli

import specc

ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

import onnx  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

from specc.backends.errors import WeightsError  # noqa: E402
from specc.backends.routes import export, route  # noqa: E402

# A shared trunk with two heads: a class (targets kept) and a value (targets standardised), so the
# scaled output is the second one; the input's three features are standardised.
TWO_HEADS = """\
specc: 1
name: TwoHeads
inputs: {x: [B, 3]}
layers:
  - {type: Linear, out_features: 16, name: trunk}
  - {type: Tanh, name: act}
  - {type: Linear, out_features: 3, name: kind, from: act}
  - {type: Linear, out_features: 1, name: amount, from: act}
outputs: [kind, amount]
loss:
  kind: {type: CrossEntropyLoss}
  amount: {type: MSELoss}
optimizer: {type: Adam, lr: 0.01}
train:
  epochs: 2
  batch_size: 32
  seed: 0
  data: {source: data.npz, val_split: 0.25, y_key: {kind: kind, amount: amount}}
export: {batch_size: 4}
"""


@pytest.fixture(scope="module")
def two_heads_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(spec, run folder): two epochs on data whose features and amounts are far from 0 and 1,
    so a model that skipped the scaling would be far off."""
    folder = tmp_path_factory.mktemp("two_heads")
    rng = np.random.default_rng(0)
    x = rng.normal([50.0, -3.0, 0.01], [10.0, 0.5, 0.002], (160, 3))
    np.savez(folder / "data.npz", x=x, kind=(x[:, 0] > 50).astype(np.int64) + (x[:, 1] > -3),
             amount=(x[:, :1] * 4.0 + 300.0))
    spec = folder / "two.yaml"
    spec.write_text(TWO_HEADS)
    specc.train(str(spec), folder / "run")
    return spec, folder / "run"


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_auto_takes_the_direct_route_for_a_run_and_a_lora_spec(two_heads_run: tuple[Path, Path]) -> None:
    spec_path, run = two_heads_run
    assert route(specc.load(spec_path), weights=run) == ("direct", None)
    lora = specc.loads(LORA, "lora.yaml")
    assert lora.ok and route(lora) == ("direct", None)


def test_a_run_exports_direct_with_its_scaling_equal_to_the_torch_route_and_predict(
        two_heads_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_path, run = two_heads_run
    code, out, err = run_cli(capsys, "export", str(spec_path), "--weights", str(run), "--via", "direct",
                             "-o", str(tmp_path / "direct.onnx"), "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["exporter"] == "direct" and report["verification"]["against"] == "PyTorch"
    spec = specc.load(spec_path)
    assert export(spec, tmp_path / "torch.onnx", weights=run, via="torch").exporter != "direct"
    # the scaling is in the graph: the input's before the first layer, the amount's after the last
    ops: dict[str, list[str]] = {}
    for n in onnx.load(str(tmp_path / "direct.onnx")).graph.node:
        ops.setdefault(n.name.split("/")[0], []).append(n.op_type)
    assert ops["x"] == ["Sub", "Div"] and ops["amount"] == ["Gemm", "Mul", "Add", "Identity"]
    assert ops["kind"] == ["Gemm", "Identity"]  # class logits are not scaled

    raw = np.random.default_rng(1).normal([50.0, -3.0, 0.01], [10.0, 0.5, 0.002], (7, 3)).astype(np.float32)
    kind, amount = _session(tmp_path / "direct.onnx").run(None, {"x": raw})
    want_kind, want_amount = _session(tmp_path / "torch.onnx").run(None, {"x": raw})
    np.testing.assert_allclose(kind, want_kind, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(amount, want_amount, rtol=1e-5, atol=1e-4)
    assert abs(amount).min() > 100  # in the targets' own units (about 500), not standardised ones

    from specc.backends.torch_build import generated_module
    from specc.backends.train.predict import load_run, predict

    answer = predict(load_run(run, generated_module(spec)), {"x": raw})["outputs"]
    np.testing.assert_allclose(np.array(answer["amount"]["prediction"]), amount, rtol=1e-5, atol=1e-4)
    probs = np.exp(kind - kind.max(1, keepdims=True))
    np.testing.assert_allclose(np.array(answer["kind"]["probabilities"]), probs / probs.sum(1, keepdims=True),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("damage,words", [
    (lambda meta, arrays: meta["inputs"].update(x="zscore"), ("preprocess.json", "'inputs'", "zscore")),
    (lambda meta, arrays: meta.update(targets=7), ("preprocess.json", "'targets'")),
    (lambda meta, arrays: arrays.pop("inputs.x.scale"), ("preprocess.safetensors", "'inputs.x.scale'")),
    (lambda meta, arrays: arrays["outputs.amount.scale"].fill(0), ("'outputs.amount.scale'", "no zero")),
    (lambda meta, arrays: arrays.update({"inputs.x.shift": np.zeros(5, np.float32)}),
     ("input 'x'", "(5,)", "['B', 3]")),
    (lambda meta, arrays: "not json", ("preprocess.json", "not readable JSON")),
])
def test_a_damaged_run_is_a_plain_error_naming_the_file_and_key(two_heads_run: tuple[Path, Path], tmp_path: Path,
                                                                damage: object, words: tuple[str, ...]) -> None:
    spec_path, run = two_heads_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    meta = json.loads((copy / "preprocess.json").read_text())
    arrays = load_file(str(copy / "preprocess.safetensors"))
    text = damage(meta, arrays)  # type: ignore[operator]
    (copy / "preprocess.json").write_text(text if isinstance(text, str) else json.dumps(meta))
    save_file(arrays, str(copy / "preprocess.safetensors"))
    for via in ("direct", "torch"):
        with pytest.raises(WeightsError) as err:
            export(specc.load(spec_path), tmp_path / "m.onnx", weights=copy, via=via)
        assert all(w in str(err.value) for w in words), str(err.value)
    assert not (tmp_path / "m.onnx").exists()


def test_an_unreadable_scaling_file_is_exit_1_for_export_and_2_for_predict(
        two_heads_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_path, run = two_heads_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "preprocess.safetensors").write_bytes(b"\x00garbage")
    code, out, err = run_cli(capsys, "export", str(spec_path), "--weights", str(copy), "-o", str(tmp_path / "m.onnx"))
    assert code == 1 and "preprocess.safetensors is not a readable .safetensors file" in err
    assert "Traceback" not in err and not (tmp_path / "m.onnx").exists()
    code, out, err = run_cli(capsys, "predict", str(copy), "--input", "[[50, -3, 0.01]]")
    assert code == 2 and "preprocess.safetensors" in err and "Traceback" not in err and out == ""


@pytest.mark.parametrize("name,content,code,words", [
    ("config.json", "{", 2, ("config.json is not readable JSON",)),
    ("config.json", "[]", 2, ("config.json holds list",)),
    ("run.json", "{}", 2, ("run.json does not name the run's spec",)),
    ("spec.yaml", None, 2, ("spec.yaml, the spec the run was trained from, is not readable",)),
    ("spec.yaml", "specc: 1\nname: [\n", 1, ("two.yaml:", "run/spec.yaml, cannot be used")),
    ("model.safetensors", "garbage", 2, ("model.safetensors is not a readable .safetensors file",)),
])
def test_a_damaged_run_folder_is_a_plain_error_for_predict(
        two_heads_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        name: str, content: str | None, code: int, words: tuple[str, ...]) -> None:
    copy = tmp_path / "run"
    shutil.copytree(two_heads_run[1], copy)
    if content is None:
        (copy / name).unlink()
    else:
        (copy / name).write_text(content)
    got, out, err = run_cli(capsys, "predict", str(copy), "--input", "[[50, -3, 0.01]]")
    assert got == code and all(w in err for w in words), err
    assert "bug in specc" not in err and "`specc train" not in err and out == ""


def test_resume_of_a_damaged_checkpoint_or_with_set_is_a_usage_error(
        two_heads_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "run"
    shutil.copytree(two_heads_run[1], copy)
    code, _, err = run_cli(capsys, "train", "--resume", str(copy), "--set", "train.epochs=3")
    assert code == 2 and "--set does not apply with --resume" in err and "--epochs N" in err
    (copy / "last" / "state.safetensors").write_bytes(b"\x00garbage")
    code, _, err = run_cli(capsys, "train", "--resume", str(copy), "--epochs", "3")
    assert code == 2 and "state.safetensors is not a readable .safetensors file" in err and "bug" not in err


# -- LoRA ---------------------------------------------------------------------------------------------------------

LORA = """\
specc: 1
name: Adapted
inputs: {tokens: [B, T, 12], memory: [B, S, 6]}
layers:
  - {type: Linear, out_features: 16, name: fc1, from: tokens}
  - {type: MultiheadAttention, num_heads: 2, name: attn}
  - {type: MultiheadAttention, num_heads: 2, from: [attn, memory], name: cross}
  - {type: TransformerEncoder, d_model: 16, nhead: 2, dim_feedforward: 24, dropout: 0.0, num_layers: 2,
     name: enc}
  - {type: TimeDistributed, layer: {type: Linear, out_features: 8}, name: proj}
  - {type: ReLU}
  - {type: Linear, out_features: 5, name: head}
lora: {rank: 4, alpha: 8, targets: [fc1, attn, cross, enc, proj]}
export: {sizes: {T: 6, S: 3}}
"""


def _trained_adapters(spec: specc.Spec, path: Path) -> torch.nn.Module:
    """The PyTorch target's module, its adapters moved as training moves them (B no longer 0),
    saved to ``path`` as ``specc train`` saves it."""
    from safetensors.torch import save_file as save_torch

    from specc.backends.torch_build import build_module

    model = build_module(spec, seed=3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(0, 0.3)
    save_torch({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model.eval()


def test_a_lora_checkpoint_exports_direct_merged_equal_to_the_unmerged_module(tmp_path: Path) -> None:
    spec = specc.loads(LORA, "lora.yaml")
    model = _trained_adapters(spec, tmp_path / "w.safetensors")
    result = export(spec, tmp_path / "direct.onnx", weights=tmp_path / "w.safetensors")
    assert result.exporter == "direct" and result.verification is not None
    assert result.verification.against == "PyTorch"
    graph = onnx.load(str(tmp_path / "direct.onnx")).graph
    assert not any("lora" in i.name or "parametrizations" in i.name for i in graph.initializer)
    rng = np.random.default_rng(2)
    for t, s in ((6, 3), (9, 2)):  # the export sizes and others
        feeds = {"tokens": rng.standard_normal((2, t, 12)).astype(np.float32),
                 "memory": rng.standard_normal((2, s, 6)).astype(np.float32)}
        with torch.no_grad():  # the adapters applied on the fly: W + alpha / rank · B·A at each call
            want = model(*(torch.from_numpy(v) for v in feeds.values())).numpy()
        got = _session(tmp_path / "direct.onnx").run(None, feeds)[0]
        assert abs(got - want).max() < 1e-4
    # the adapters changed the function: merging them was not a no-op
    base = specc.loads(LORA.replace("lora: {rank: 4, alpha: 8, targets: [fc1, attn, cross, enc, proj]}\n", ""),
                       "base.yaml")
    from specc.backends.finetune import merge_lora as merge_adapters

    state = {k: v.numpy() for k, v in merge_adapters(model).state_dict().items()}
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp_path / "merged.safetensors"))
    plain = export(base, tmp_path / "plain.onnx", weights=tmp_path / "merged.safetensors")
    assert plain.exporter == "direct"
    np.testing.assert_allclose(_session(tmp_path / "plain.onnx").run(None, feeds)[0], got, rtol=1e-5, atol=1e-5)


def test_a_seeded_lora_export_is_direct_and_verified(tmp_path: Path) -> None:
    result = export(specc.loads(LORA, "lora.yaml"), tmp_path / "m.onnx", seed=5)
    assert result.exporter == "direct" and result.verification is not None
    assert result.verification.against == "PyTorch" and result.notes == []


def test_a_checkpoint_without_adapters_is_refused_for_a_lora_spec(tmp_path: Path) -> None:
    from safetensors.torch import save_file as save_torch

    from specc.backends.torch_build import build_module

    base = specc.loads(LORA.replace("targets: [fc1, attn, cross, enc, proj]", "targets: [fc1]"), "one.yaml")
    plain = specc.loads(LORA.replace("lora: {rank: 4, alpha: 8, targets: [fc1, attn, cross, enc, proj]}\n", ""),
                        "base.yaml")
    save_torch(build_module(plain, seed=0).state_dict(), str(tmp_path / "w.safetensors"))
    with pytest.raises(WeightsError) as err:
        export(base, tmp_path / "m.onnx", weights=tmp_path / "w.safetensors", via="direct")
    text = str(err.value)
    assert "missing fc1.parametrizations.weight.original" in text and "fc1.weight without adapters" in text
    assert not (tmp_path / "m.onnx").exists()


def test_a_lora_run_with_wrong_adapter_ranks_names_them(tmp_path: Path) -> None:
    spec = specc.loads(LORA, "lora.yaml")
    _trained_adapters(spec, tmp_path / "w.safetensors")
    state = load_file(str(tmp_path / "w.safetensors"))
    state["fc1.parametrizations.weight.0.lora_A"] = np.zeros((2, 12), np.float32)
    save_file(state, str(tmp_path / "w.safetensors"))
    with pytest.raises(WeightsError, match=r"the adapter of fc1.weight has lora_A \(2, 12\)"):
        export(spec, tmp_path / "m.onnx", weights=tmp_path / "w.safetensors", via="direct")


def test_a_trained_lora_run_exports_direct_with_adapters_merged_and_its_scaling(
        two_heads_run: tuple[Path, Path], tmp_path: Path) -> None:
    """`specc train` on a LoRA spec: the run holds adapter keys and a scaling; the direct model
    merges the one and carries the other, and answers as `specc predict` does."""
    spec_path, _ = two_heads_run
    text = spec_path.read_text().replace("optimizer:", "lora: {rank: 2, alpha: 4, targets: [trunk, amount]}\n"
                                         "optimizer:")
    (tmp_path / "data.npz").write_bytes((spec_path.parent / "data.npz").read_bytes())
    (tmp_path / "lora.yaml").write_text(text)
    specc.train(str(tmp_path / "lora.yaml"), tmp_path / "run")
    assert any(".lora_B" in k for k in load_file(str(tmp_path / "run" / "model.safetensors")))
    result = export(specc.load(tmp_path / "lora.yaml"), tmp_path / "m.onnx", weights=tmp_path / "run")
    assert result.exporter == "direct" and result.verification is not None
    raw = np.array([[50.0, -3.0, 0.01], [70.0, -2.0, 0.012]], np.float32)
    amount = _session(tmp_path / "m.onnx").run(None, {"x": raw})[1]

    from specc.backends.torch_build import generated_module
    from specc.backends.train.predict import load_run, predict

    spec = specc.load(tmp_path / "lora.yaml")
    answer = predict(load_run(tmp_path / "run", generated_module(spec)), {"x": raw})["outputs"]
    np.testing.assert_allclose(np.array(answer["amount"]["prediction"]), amount, rtol=1e-5, atol=1e-4)


def test_the_run_scaling_hook_is_a_no_op_without_a_run() -> None:
    """Without a run the graph is exactly the plain lowering: no scaling nodes sneak in."""
    from specc.targets.onnx.lower import lower_graph
    from specc.targets.onnx.preprocess import Scaling
    from specc.targets.onnx.weights import Weights

    spec = specc.load(Path(__file__).resolve().parents[1] / "specs" / "mlp_regression.yaml")
    one = lower_graph(spec.graph, Weights(seed=1)).model
    two = lower_graph(spec.graph, Weights(seed=1), scaling=Scaling()).model
    assert one.SerializeToString() == two.SerializeToString()
    assert not {"Sub", "Div"} & {n.op_type for n in one.graph.node}


@pytest.mark.parametrize("modules,unwanted", [
    ("specc.backends.run_folder, specc.backends.example_inputs", ("torch", "onnx", "onnxruntime")),
    ("specc.backends.train.predict, specc.backends.torch_build", ("onnx", "onnxruntime")),  # specc[torch]: no onnx
])
def test_what_each_install_reads_imports_no_other_framework(modules: str, unwanted: tuple[str, ...]) -> None:
    probe = f"import sys, {modules}; print(sorted(m for m in {unwanted!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_a_csv_run_exports_its_class_names_and_columns_and_run_reads_its_csv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(90, 2))
    names = np.where(x[:, 0] + x[:, 1] > 0, "up", "down")
    (tmp_path / "t.csv").write_text("a,note,b,label\n" + "".join(
        f"{a:.4f},n{i},{b:.4f},{n}\n" for i, ((a, b), n) in enumerate(zip(x, names))))
    spec = tmp_path / "t.yaml"
    spec.write_text("""\
specc: 1
name: Csv
inputs: {x: [B, 2]}
layers:
  - {type: Linear, out_features: 8}
  - {type: ReLU}
  - {type: Linear, out_features: 2, name: logits}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam, lr: 0.05}
train: {epochs: 25, batch_size: 16, data: {source: t.csv, features: [a, b], target: label}}
""")
    specc.train(str(spec), tmp_path / "run")
    code, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(tmp_path / "t.csv"),
                             "--format", "json")
    assert code == 0, err
    predicted = json.loads(out)["class"]
    for via in ("direct", "torch"):
        model = tmp_path / f"{via}.onnx"
        code, _, err = run_cli(capsys, "export", str(spec), "--weights", str(tmp_path / "run"), "--via", via,
                               "-o", str(model))
        assert code == 0, err
        meta = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
        assert json.loads(meta["specc_classes"]) == ["down", "up"]
        assert json.loads(meta["specc_columns"]) == {"x": ["a", "b"]}
        # the training file itself: its text columns are left out by name, as predict leaves them
        code, out, err = run_cli(capsys, "run", str(model), "-i", str(tmp_path / "t.csv"), "--format", "json")
        assert code == 0, err
        assert json.loads(out)["labels"] == {"logits": predicted}
        (tmp_path / "b.csv").write_text("b\n0.5\n")
        code, out, err = run_cli(capsys, "run", str(model), "-i", str(tmp_path / "b.csv"))
        assert code == 2 and "b.csv has no column 'a'; the model was trained on the columns a, b" in err
