"""specc's training loop and everything around it: data, preprocessing, run folders,
metrics, predict and evaluate. Submodules that train import torch; ``config`` does not
(``specc compile --train`` uses it), so the names below are imported on first use."""

from __future__ import annotations

from typing import Any

_NAMES = {"DataError": "...data.read", "Options": ".loop", "Result": ".loop", "TrainError": ".loop", "fit": ".loop",
          "TrainRequest": ".api", "evaluate_trained": ".api", "run_training": ".api", "script_main": ".api",
          "train": ".api"}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_NAMES[name], __name__), name)
