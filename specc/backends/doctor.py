"""``specc doctor``: what this environment can do, and why not where it cannot.

Versions of Python, specc and the backends (each may be missing: the report says so and
carries on); whether torch and ONNX Runtime can use CUDA, with the reason when they cannot;
which ONNX Runtime providers really load; and the thread counts each library will use.
Only facts that were checked are reported: a provider is "usable" after a session really ran
on it (the probe in :mod:`.ort`), not because a build lists it.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from typing import Any

from ..version import __version__
from .gpu import gpu_present

# (import name, what it is for): the libraries specc's verbs rely on beyond its own three.
PACKAGES = (("torch", "build, compile --train, export, bench"), ("onnx", "export, run"),
            ("onnxruntime", "export verification, run, bench"), ("numpy", "export, run, training"),
            ("safetensors", "checkpoints"), ("sklearn", "bundled training data"))


def _import(name: str) -> tuple[Any | None, str | None]:
    """The module, or None with why: None when it is not installed, else the import's error.

    An installed package that fails to import (a CUDA build missing libcudnn, a dependency
    gone) is reported as such: calling it missing would send the user to reinstall it."""
    try:
        return importlib.import_module(name), None
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None, None
        return None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 -- any failure of a third-party import is a finding to report
        return None, f"{type(exc).__name__}: {exc}".strip()


def _distribution(module: str) -> str | None:
    """Which pip package provides ``module`` (onnxruntime or onnxruntime-gpu), when known."""
    from importlib import metadata

    names = metadata.packages_distributions().get(module, [])
    return names[0] if names else None


def _torch_cuda(torch: Any | None, broken: str | None = None) -> dict[str, Any]:
    if torch is None:
        why = f"torch is installed but fails to import ({broken})" if broken else "torch is not installed"
        return {"usable": False, "reason": why, "devices": []}
    built = getattr(torch.version, "cuda", None)
    info: dict[str, Any] = {"usable": False, "built_for_cuda": built, "devices": []}
    if built is None:
        info["reason"] = f"this torch {torch.__version__} is a CPU-only build (CUDA builds are tagged like +cu121)"
    elif not gpu_present():
        info["reason"] = "no NVIDIA GPU was found on this machine (no /dev/nvidia* device)"
    elif not torch.cuda.is_available():
        info["reason"] = (f"torch was built for CUDA {built} but cannot initialise it: the driver is missing or "
                          "older than that CUDA")
    else:
        info["usable"] = True
        info["reason"] = ""
        info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def _ort_report(ort: Any | None, broken: str | None = None) -> dict[str, Any]:
    if ort is None:
        why = f"onnxruntime is installed but fails to import ({broken})" if broken else "onnxruntime is not installed"
        return {"cuda": {"usable": False, "reason": why}, "available_providers": [], "usable_providers": []}
    listed = list(ort.get_available_providers())
    report: dict[str, Any] = {"available_providers": listed}
    try:  # the CUDA probe: a real session on a tiny model
        runtime = importlib.import_module(f"{__package__}.ort")
    except ImportError as exc:
        report["cuda"] = {"usable": False, "reason": f"the CUDA probe needs {exc.name or 'onnx'}, which is missing"}
        report["usable_providers"] = ["CPUExecutionProvider"] if "CPUExecutionProvider" in listed else []
        return report
    usable, why = runtime.cuda_status()
    report["cuda"] = {"usable": usable, "reason": why}
    report["usable_providers"] = runtime.select_providers("auto")
    report["default_intra_op_threads"] = runtime.physical_cores()
    return report


def collect() -> dict[str, Any]:
    """The whole report as plain data (what ``--format json`` prints)."""
    imported = {name: _import(name) for name, _ in PACKAGES}
    modules = {name: m for name, (m, _) in imported.items()}
    broken = {name: why for name, (_, why) in imported.items() if why}
    versions: dict[str, str | None] = {name: getattr(m, "__version__", "unknown") if m else None
                                       for name, m in modules.items()}
    torch, ort = modules["torch"], modules["onnxruntime"]
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    threads: dict[str, Any] = {"cpu_count": os.cpu_count(), "affinity": affinity,
                               "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    if torch is not None:
        threads["torch_intra_op"] = torch.get_num_threads()
        threads["torch_inter_op"] = torch.get_num_interop_threads()
    ort_info = _ort_report(ort, broken.get("onnxruntime"))
    if "default_intra_op_threads" in ort_info:
        threads["onnxruntime_intra_op"] = ort_info.pop("default_intra_op_threads")
    return {
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": platform.platform(),
        "specc": __version__,
        "packages": versions,
        "onnxruntime_package": _distribution("onnxruntime") if ort is not None else None,
        "missing": [name for name, v in versions.items() if v is None and name not in broken],
        "broken": broken,
        "torch_cuda": _torch_cuda(torch, broken.get("torch")),
        "onnxruntime": ort_info,
        "threads": threads,
    }


def render(report: dict[str, Any]) -> str:
    uses = dict(PACKAGES)
    lines = [f"specc {report['specc']}  Python {report['python']['version']} ({report['python']['executable']})",
             f"platform     {report['platform']}", "", "packages"]
    for name, version in report["packages"].items():
        package = report["onnxruntime_package"] if name == "onnxruntime" else None
        extra = f"  ({package})" if package else ""
        if version is None and name in report["broken"]:
            version = f"installed but fails to import: {report['broken'][name]}  — needed for {uses[name]}"
        lines.append(f"  {name:<12} {version or 'missing  — needed for ' + uses[name]}{extra}")
    tc, oc = report["torch_cuda"], report["onnxruntime"]["cuda"]
    lines += ["", "CUDA",
              f"  torch        {'yes: ' + ', '.join(tc['devices']) if tc['usable'] else 'no: ' + tc['reason']}",
              f"  onnxruntime  {'yes' if oc['usable'] else 'no: ' + oc['reason']}"]
    ort = report["onnxruntime"]
    if ort["available_providers"]:
        lines += ["", "ONNX Runtime providers",
                  f"  listed       {', '.join(ort['available_providers'])}",
                  f"  really load  {', '.join(ort['usable_providers']) or 'none'}"]
    t = report["threads"]
    lines += ["", "threads",
              f"  CPUs         {t['cpu_count']} (this process may use {t['affinity'] or t['cpu_count']})"
              + (f"; OMP_NUM_THREADS={t['omp_num_threads']}" if t["omp_num_threads"] else "")]
    if "torch_intra_op" in t:
        lines.append(f"  torch        {t['torch_intra_op']} intra-op, {t['torch_inter_op']} inter-op")
    if "onnxruntime_intra_op" in t:
        lines.append(f"  onnxruntime  {t['onnxruntime_intra_op']} intra-op (one per physical core, specc's default)")
    return "\n".join(lines)
