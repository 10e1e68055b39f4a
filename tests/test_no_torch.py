"""`specc check` and `specc summary` must stay light: no torch, numpy, onnx or onnxruntime.

DESIGN.md: nothing before emit imports torch, so that check runs on every save and in
pre-commit.  Each check runs in a fresh interpreter, where sys.modules tells the truth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml"))
# the bundled specs whose train: names a data file: check reads it as training does (with numpy)
READS_DATA = [s for s in SPECS if "source: data/" in (ROOT / s).read_text(encoding="utf-8")]
HEAVY = ("torch", "numpy", "onnx", "onnxruntime", "onnxscript", "safetensors", "sklearn", "scipy", "jinja2")

PROBE = """
import json, sys
import specc.cli
rc = specc.cli.main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
sys.stderr.write("\\n@@" + json.dumps({"rc": rc, "heavy": heavy}) + "\\n")
"""


def _run(*argv: str) -> tuple[dict, str]:
    code = f"HEAVY = {HEAVY!r}\n{PROBE}"
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
    marker = [line for line in proc.stderr.splitlines() if line.startswith("@@")]
    assert marker, f"the probe did not finish:\n{proc.stderr}"
    return json.loads(marker[-1][2:]), proc.stdout


@pytest.mark.parametrize("argv", [
    ("check", "specs/resnet18.yaml", "--format", "json"),
    ("check", "specs/resnet18.yaml"),
    ("summary", "specs/resnet18.yaml"),
    ("summary", "specs/resnet18.yaml", "--format", "json"),
    ("check", *[s for s in SPECS if s not in READS_DATA]),
    ("layers",),
    ("layers", "Conv2D"),
], ids=lambda a: " ".join(a)[:70])
def test_light_verbs_import_nothing_heavy(argv: tuple[str, ...]) -> None:
    result, out = _run(*argv)
    assert result["rc"] == 0, out
    assert result["heavy"] == [], f"`specc {' '.join(argv)}` imported {result['heavy']}"
    if "--format" in argv and argv[0] == "check":
        report = json.loads(out)
        assert report["ok"] and report["total_params"] == 11_689_512


def test_check_reads_data_with_numpy_alone() -> None:
    assert READS_DATA, "no bundled spec reads a data file any more: choose another"
    result, out = _run("check", *READS_DATA)
    assert result["rc"] == 0, out
    assert result["heavy"] == ["numpy"], f"`specc check {' '.join(READS_DATA)}` imported {result['heavy']}"
    result, out = _run("check", "--no-data", *READS_DATA)
    assert result["rc"] == 0 and result["heavy"] == [], result


def test_check_via_python_m_has_no_torch_in_import_log() -> None:
    """The real entry point, traced by the interpreter itself rather than by asking sys.modules."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "specc", "check", "specs/resnet18.yaml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "specc" in imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
