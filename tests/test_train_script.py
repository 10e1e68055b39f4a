"""`specc compile --train`: the generated training script runs, learns on the real bundled
data sets (scikit-learn's digits, iris, wine, diabetes; no download), reads .npz files, and
writes safetensors checkpoints that load back into the spec's module."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import specc
from specc.emit import compile_source

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
safetensors_torch = pytest.importorskip("safetensors.torch")

ROOT = Path(__file__).resolve().parent.parent


def script(tmp_path: Path, spec: specc.Spec, name: str = "train_model") -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(compile_source(spec, train=True))
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def mlp(source: str, n_in: int, n_out: int, loss: str = "CrossEntropyLoss", extra: str = "") -> specc.Spec:
    text = textwrap.dedent(f"""\
        specc: 1
        name: Net
        inputs: {{x: [B, {n_in}]}}
        layers:
          - {{type: Linear, out_features: 32}}
          - {{type: ReLU}}
          - {{type: Linear, out_features: {n_out}}}
        loss: {{type: {loss}}}
        optimizer: {{type: Adam, lr: 0.01}}
        train: {{epochs: 20, batch_size: 32, data: {{source: {source}, val_split: 0.25}}{extra}}}
        """)
    spec = specc.loads(text, "net.yaml")
    assert spec.ok, spec.diagnostics
    return spec


@pytest.mark.parametrize(("source", "n_in", "n_out", "accuracy"), [
    ("iris", 4, 3, 0.85), ("wine", 13, 3, 0.85), ("breast_cancer", 30, 2, 0.85)])
def test_classifiers_learn_the_bundled_data(tmp_path: Path, source: str, n_in: int, n_out: int,
                                            accuracy: float) -> None:
    result = script(tmp_path, mlp(source, n_in, n_out)).main([])
    history = result["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["val_accuracy"] >= accuracy  # far above chance (1/3, 1/2) on held-out data


def test_the_digits_example_trains_to_high_accuracy(tmp_path: Path) -> None:
    spec = specc.load(ROOT / "specs" / "digits_cnn.yaml")
    result = script(tmp_path, spec).main(["--epochs", "8"])
    assert result["history"][-1]["val_accuracy"] > 0.9


def test_regression_on_diabetes_reduces_the_loss(tmp_path: Path) -> None:
    spec = specc.load(ROOT / "specs" / "mlp_regression.yaml")
    history = script(tmp_path, spec).main(["--epochs", "15"])["history"]
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]


def test_xor_is_learned(tmp_path: Path) -> None:
    spec = specc.load(ROOT / "specs" / "xor.yaml")
    history = script(tmp_path, spec).main(["--epochs", "60"])["history"]
    assert history[-1]["val_accuracy"] == 1.0


def test_npz_data_and_checkpoints_that_load_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    data = tmp_path / "data.npz"
    np.savez(data, x=x, y=y)
    spec = mlp(str(data), 6, 2)
    ckpt = tmp_path / "ckpt" / "net.safetensors"
    result = script(tmp_path, spec).main(["--epochs", "10", "--checkpoint", str(ckpt)])
    assert result["history"][-1]["val_accuracy"] > 0.8
    state = safetensors_torch.load_file(str(ckpt))  # safetensors: no pickle anywhere
    model = specc.build(spec)
    model.load_state_dict(state)
    assert not list(ckpt.parent.glob(".*.tmp"))  # written atomically: no temp file left


def test_a_data_set_that_does_not_fit_the_input_says_so(tmp_path: Path) -> None:
    spec = mlp("iris", 5, 3)  # iris has 4 features
    with pytest.raises(SystemExit, match="iris: samples have 4 values, but input 'x' takes"):
        script(tmp_path, spec).main([])


def test_the_script_runs_standalone_with_its_cli(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text(compile_source(specc.load(ROOT / "specs" / "course_cnn.yaml"), train=True))
    out = subprocess.run([sys.executable, str(path), "--epochs", "1", "--max-steps", "2", "--device", "cpu",
                          "--checkpoint", str(tmp_path / "c.safetensors")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "epoch 1/1" in out.stdout and "cpu)" in out.stdout
    assert (tmp_path / "c.safetensors").is_file()
    assert "--checkpoint" in subprocess.run([sys.executable, str(path), "--help"], capture_output=True,
                                            text=True, timeout=120).stdout


def test_cuda_asked_for_where_there_is_none_fails_clearly(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit, match="CUDA is not available"):
        script(tmp_path, mlp("iris", 4, 3)).main(["--device", "cuda"])
