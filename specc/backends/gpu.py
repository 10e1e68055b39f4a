"""Whether this machine has an NVIDIA GPU at all: device files or the driver's tool, no imports.

Shared by the ONNX Runtime CUDA probe (:mod:`.ort`) and ``specc doctor``, which must answer
even where torch or onnxruntime is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/proc/driver/nvidia/version")


def gpu_present() -> bool:
    if any(Path(p).exists() for p in DEVICE_FILES):
        return True
    return shutil.which("nvidia-smi") is not None
