"""``specc[deploy]``: check, export (direct) and run in a virtual environment that has no torch.

The environment is built from requirements/deploy.txt alone (``--no-deps``: nothing else can slip
in) under ``.venv-deploy/`` (or ``$SPECC_DEPLOY_VENV``), reused while the pins are unchanged, and
specc runs from this checkout.  The first run downloads about 40 MB.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "requirements" / "deploy.txt"


def _venv() -> Path:
    venv = Path(os.environ.get("SPECC_DEPLOY_VENV", ROOT / ".venv-deploy"))
    python = venv / "bin" / "python"
    stamp = venv / ".specc-deploy-hash"
    want = hashlib.sha256(PINS.read_bytes()).hexdigest()
    venv.parent.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers reach this side by side: one builds the venv, the others wait and reuse it
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == want:
            return python
        _build(venv, python)
        stamp.write_text(want)
    return python


def _build(venv: Path, python: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-r", str(PINS)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"pip install -r requirements/deploy.txt failed:\n{done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def deploy_python() -> Path:
    return _venv()


def _specc(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("PYTHONHOME", None)
    return subprocess.run([str(python), "-m", "specc", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_deploy_environment_has_no_torch(deploy_python: Path) -> None:
    probe = subprocess.run([str(deploy_python), "-c", "import importlib.util as u; "
                            "print(u.find_spec('torch') is None, u.find_spec('onnxruntime') is not None)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.split() == ["True", "True"]


def test_check_export_and_run_without_torch(deploy_python: Path, tmp_path: Path) -> None:
    spec = str(ROOT / "specs" / "mlp_regression.yaml")
    checked = _specc(deploy_python, "check", spec, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    model = tmp_path / "mlp.onnx"
    exported = _specc(deploy_python, "export", spec, "-o", str(model), "--format", "json", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    report = json.loads(exported.stdout)
    assert report["exporter"] == "direct"
    assert report["verification"]["against"].startswith("shapes only")
    assert len(report["verification"]["runs"]) == 3  # the export sizes and two others
    ran = _specc(deploy_python, "run", str(model), "--batch", "5", "--format", "json", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["outputs"]["prediction"]["shape"] == [5, 1]


def test_weights_from_a_checkpoint_without_torch(deploy_python: Path, tmp_path: Path) -> None:
    """A checkpoint written by numpy's safetensors, named as the PyTorch target names it, fills the model."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(1)
    dims = [(64, 10), (32, 64), (16, 32), (1, 16)]
    names = ["linear_1", "linear_2", "linear_3", "prediction"]
    state = {}
    for name, (o, i) in zip(names, dims):
        state[f"{name}.weight"] = rng.standard_normal((o, i)).astype(np.float32)
        state[f"{name}.bias"] = rng.standard_normal(o).astype(np.float32)
    save_file(state, str(tmp_path / "w.safetensors"))
    spec = str(ROOT / "specs" / "mlp_regression.yaml")
    model = tmp_path / "mlp.onnx"
    exported = _specc(deploy_python, "export", spec, "-o", str(model), "--weights", str(tmp_path / "w.safetensors"),
                      cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    x = rng.standard_normal((3, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ran = _specc(deploy_python, "run", str(model), "-i", f"clinical={tmp_path / 'x.npy'}", "-o",
                 str(tmp_path / "y.npz"), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    h = x
    for k, name in enumerate(names):
        h = h @ state[f"{name}.weight"].T + state[f"{name}.bias"]
        if k < 3:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["prediction"], h, rtol=1e-4, atol=1e-5)
    # one tensor short: named, and exit 1, not a traceback
    del state["prediction.bias"]
    save_file(state, str(tmp_path / "short.safetensors"))
    short = _specc(deploy_python, "export", spec, "-o", str(model), "--weights", str(tmp_path / "short.safetensors"),
                   cwd=tmp_path)
    assert short.returncode == 1 and "missing prediction.bias" in short.stderr, short.stderr


def test_a_training_run_exports_with_its_scaling_without_torch(deploy_python: Path, tmp_path: Path) -> None:
    """A run folder as `specc train` leaves it (written here with numpy): the direct target puts
    its input and target scaling into the graph, so the model takes raw x and answers raw y."""
    from safetensors.numpy import save_file

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({
        "model": "LinearRegression", "inputs": {"x": {"shape": ["B", 1], "dtype": "float32"}},
        "outputs": {"y": ["B", 1]}}))
    (run / "preprocess.json").write_text(json.dumps({"inputs": {"x": "standardize"}, "targets": "standardize"}))
    f32 = np.float32
    save_file({"inputs.x.shift": np.array([50], f32), "inputs.x.scale": np.array([29], f32),
               "target.shift": np.array([101], f32), "target.scale": np.array([58], f32)},
              str(run / "preprocess.safetensors"))
    save_file({"y.weight": np.array([[0.99]], f32), "y.bias": np.array([0.01], f32)}, str(run / "model.safetensors"))
    model = tmp_path / "line.onnx"
    exported = _specc(deploy_python, "export", str(ROOT / "specs" / "linear_regression.yaml"), "-o", str(model),
                      "--weights", str(run), "--format", "json", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["exporter"] == "direct"
    x = np.array([[60.0], [0.0], [-7.5]], f32)
    np.save(tmp_path / "x.npy", x)
    ran = _specc(deploy_python, "run", str(model), "-i", f"x={tmp_path / 'x.npy'}", "-o", str(tmp_path / "y.npz"),
                 cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    want = ((x - f32(50)) / f32(29) * f32(0.99) + f32(0.01)) * f32(58) + f32(101)
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["y"], want, rtol=1e-6)


def test_the_torch_route_says_torch_is_missing(deploy_python: Path, tmp_path: Path) -> None:
    spec = str(ROOT / "specs" / "mlp_regression.yaml")
    done = _specc(deploy_python, "export", spec, "--via", "torch", "-o", str(tmp_path / "m.onnx"), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "needs torch" in done.stderr and "Traceback" not in done.stderr


def test_check_judges_the_direct_target_alone_without_torch(deploy_python: Path, tmp_path: Path) -> None:
    """Without torch, export has the direct target alone: an LSTM with proj_size (which no torch
    exporter writes) checks ok and exports; attention below the direct target's opset is U002 there."""
    (tmp_path / "proj.yaml").write_text("specc: 1\ninputs: {x: [B, T, 4]}\nlayers:\n"
                                        "  - {type: LSTM, hidden_size: 6, proj_size: 3}\n")
    exported = _specc(deploy_python, "export", "proj.yaml", "-o", "proj.onnx", "--format", "json", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["exporter"] == "direct"
    (tmp_path / "low.yaml").write_text("specc: 1\ninputs: {x: [B, T, 8]}\nlayers:\n"
                                       "  - {type: MultiheadAttention, num_heads: 2}\nexport: {opset: 10}\n")
    checked = _specc(deploy_python, "check", "low.yaml", cwd=tmp_path)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    out = checked.stdout + checked.stderr
    assert "error[U002]" in out and "torch is not installed" in out and "export: {opset: 11}" in out
