"""`specc doctor`: honest on this machine, and still a report (not a crash) when torch, onnx or
onnxruntime are missing, simulated by making their import fail."""

from __future__ import annotations

import json
import os
import sys
from types import SimpleNamespace

import pytest

from specc.backends import doctor
from specc.backends.gpu import gpu_present
from specc.cli import main


def test_json_report_matches_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert report["threads"]["cpu_count"] == os.cpu_count()
    for name, version in report["packages"].items():
        module = sys.modules.get(name)
        if module is not None:
            assert version == getattr(module, "__version__", "unknown"), name
    ort = report["onnxruntime"]
    if "onnxruntime" not in report["missing"]:
        assert "CPUExecutionProvider" in ort["usable_providers"]
        assert set(ort["usable_providers"]) <= set(ort["available_providers"])
    if not gpu_present():  # a CPU machine: both say no, and why
        assert report["torch_cuda"]["usable"] is False and report["torch_cuda"]["reason"]
        why = ort["cuda"]["reason"]
        assert ort["cuda"]["usable"] is False and ("GPU" in why or "provider" in why or "installed" in why)
        assert "CUDAExecutionProvider" not in ort["usable_providers"]


def test_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for heading in ("packages", "CUDA", "threads"):
        assert f"\n{heading}\n" in out
    assert "Traceback" not in out


def test_missing_torch_and_onnx(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # None in sys.modules makes `import x` raise ImportError, as if x were not installed.
    for name in ("torch", "onnx"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "specc.backends.ort", raising=False)  # imported afresh: it needs onnx
    report = doctor.collect()
    assert {"torch", "onnx"} <= set(report["missing"])
    assert report["torch_cuda"] == {"usable": False, "reason": "torch is not installed", "devices": []}
    if "onnxruntime" not in report["missing"]:
        assert "onnx" in report["onnxruntime"]["cuda"]["reason"]
        assert report["onnxruntime"]["usable_providers"] == ["CPUExecutionProvider"]
    assert "torch_intra_op" not in report["threads"]
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "torch        missing" in out and "torch is not installed" in out


def test_missing_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    report = doctor.collect()
    assert "onnxruntime" in report["missing"]
    assert report["onnxruntime"]["cuda"] == {"usable": False, "reason": "onnxruntime is not installed"}
    assert "Runtime providers" not in doctor.render(report)


def _fake_torch(cuda: str | None, available: bool) -> SimpleNamespace:
    return SimpleNamespace(__version__="2.9.0", version=SimpleNamespace(cuda=cuda),
                           cuda=SimpleNamespace(is_available=lambda: available, device_count=lambda: 1,
                                                get_device_name=lambda i: "Fake GPU"),
                           backends=SimpleNamespace(cudnn=SimpleNamespace(version=lambda: 90100)))


@pytest.mark.parametrize(("cuda", "device", "available", "reason"), [
    (None, True, False, "CPU-only build"),
    ("12.6", False, False, "no NVIDIA GPU"),
    ("12.6", True, False, "cannot initialise it"),
    ("12.6", True, True, ""),
])
def test_torch_cuda_reasons(monkeypatch: pytest.MonkeyPatch, cuda: str | None, device: bool, available: bool,
                            reason: str) -> None:
    monkeypatch.setattr(doctor, "gpu_present", lambda: device)
    info = doctor._torch_cuda(_fake_torch(cuda, available))
    assert info["usable"] is (reason == "")
    assert reason in info["reason"] if reason else info["devices"] == ["Fake GPU"]


def test_an_installed_package_that_fails_to_import_is_not_called_missing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # A CUDA build of torch without its libraries fails to import with an OSError; reinstalling is not the fix.
    real = doctor.importlib.import_module

    def fake(name: str, *args: object) -> object:
        if name == "torch":
            raise OSError("libcudnn.so.9: cannot open shared object file: No such file or directory")
        if name == "sklearn":
            raise ModuleNotFoundError("No module named 'scipy'", name="scipy")  # a dependency is gone
        return real(name, *args)

    monkeypatch.setattr(doctor.importlib, "import_module", fake)
    report = doctor.collect()
    assert "torch" not in report["missing"] and "sklearn" not in report["missing"]
    assert "libcudnn.so.9" in report["broken"]["torch"] and "scipy" in report["broken"]["sklearn"]
    assert "fails to import" in report["torch_cuda"]["reason"] and "libcudnn" in report["torch_cuda"]["reason"]
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "torch        installed but fails to import: OSError: libcudnn.so.9" in out
    assert "torch        missing" not in out
