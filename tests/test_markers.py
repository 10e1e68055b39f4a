"""The rule in tests/conftest.py that gives tests their `torch` and `onnx` markers reads what it
should: `pytest -m "not torch and not onnx"` then runs without importing either."""

from __future__ import annotations

from pathlib import Path

from conftest import ModuleNeeds, heavy_on_import, needs_of

TESTS = Path(__file__).resolve().parent


def test_what_importing_a_module_loads() -> None:
    assert heavy_on_import("specc.cli") == frozenset()  # every verb's module is imported only when it runs
    assert heavy_on_import("specc.pipeline") == frozenset()
    assert heavy_on_import("specc.backends") == frozenset()  # the package imports nothing heavy itself
    assert heavy_on_import("specc.backends.errors") == frozenset()
    assert "torch" in heavy_on_import("specc.backends.torch_build")
    assert heavy_on_import("specc.backends.onnx_export") >= {"torch", "onnx"}
    assert "torch" in heavy_on_import("specc.backends.train")  # names imported on first use count
    assert heavy_on_import("onnxruntime.capi") == {"onnx"}


def test_modules_and_tests_get_what_they_need() -> None:
    assert needs_of(TESTS / "test_layers_torch.py").module == {"torch"}
    assert needs_of(TESTS / "test_ort.py").module == {"onnx"}
    light = needs_of(TESTS / "test_no_torch.py")
    assert light.module == set() and not any(light.of(name) for name in light.defs)
    stages = needs_of(TESTS / "test_stages.py")  # light at its top, heavy inside some tests
    assert stages.module == set()
    assert any(stages.of(name) for name in stages.defs) and not all(stages.of(name) for name in stages.defs)


def _needs(tmp_path: Path, source: str) -> ModuleNeeds:
    path = tmp_path / "test_probe.py"
    path.write_text(source)
    return ModuleNeeds(path)


def test_lazy_imports_verbs_and_helpers_are_followed(tmp_path: Path) -> None:
    needs = _needs(tmp_path, '''
import pytest
from specc import build
from specc.backends import doctor
from specc.backends.gpu import gpu_present
from specc.cli import main

def helper():
    import onnxruntime

@pytest.fixture
def model():
    return build("specs/xor.yaml")

def test_export():
    main(["export", "x.yaml"])

def test_run_in_a_child(tmp_path):
    subprocess.run([sys.executable, "-m", "specc", "train", "x.yaml", "--run", str(tmp_path / "run")])

def test_helper():
    helper()

def test_fixture(model):
    pass

def test_skip():
    pytest.importorskip("torch")

def test_light(tmp_path):
    main(["check", str(tmp_path / "run")])

def test_doctor_probes():
    doctor.collect()

def test_gpu():
    gpu_present()
''')
    assert needs.module == set()
    assert needs.of("test_export") == {"torch", "onnx"}
    assert needs.of("test_run_in_a_child") == {"torch"}
    assert needs.of("test_helper") == {"onnx"}
    assert needs.of("test_fixture") == {"torch"}
    assert needs.of("test_skip") == {"torch"}
    assert needs.of("test_light") == set()
    assert needs.of("test_doctor_probes") == {"torch", "onnx"}  # it imports every backend by name
    assert needs.of("test_gpu") == set()
